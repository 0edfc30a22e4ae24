"""``aifedge sweep``: a claim's robustness over a grid of simulator assumptions.

Every grid point × policy × seed is one executor job (``aifedge.executor``; serial or
``--ray``): ``episodes`` episodes of the policy on ``make_params(**point)``. Seed ``s``
uses the episode keys ``split(PRNGKey(base_seed + s), episodes)`` at every grid point and
for every policy (common random numbers), so a run's numbers depend on what it is, never
on where or when it ran.

Supported: env ``aif-llm``; its heuristic policies, ``aif`` and ``aif-llm`` (template
advisor); grid fields: the env's scalar ``EnvParams`` fields (float or int).

A claim ``METRIC:A>B`` (or ``METRIC:A<B``) states "policy A's METRIC is higher (lower)
than policy B's", e.g. ``qos:aif>greedy`` or ``latency_ms:aif<greedy``. Per grid cell it
is tested with Welch's t-test on the per-episode values (n = seeds × episodes each).

Outputs (``write``): ``sweep.csv`` (one row per run: grid fields, policy, seed, episodes,
metric means over its episodes), ``summary.csv`` (per cell and policy: mean, std, n over
episodes), ``claims.csv`` (per claim and cell: means, difference, holds, Welch p),
``METRIC.png`` (line plot for one grid field, heatmaps per policy for two),
``claim_K.png`` and ``sweep.json`` (provenance). Plots need one or two grid fields.
"""

import dataclasses
import functools
import itertools
import re
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aifedge import executor, results
from aifedge.config import ConfigError
from aifedge.environments import ENVS
from aifedge.environments.metrics import METRIC_NAMES, welch_test

SUPPORTED_ENVS = ("aif-llm",)
ALPHA = 0.05
"""Significance level of the claim plots (``claims.csv`` keeps the p-values)."""


@dataclasses.dataclass(frozen=True)
class Claim:
    """``metric`` of policy ``a`` is higher (``higher``) or lower than policy ``b``'s."""

    metric: str
    a: str
    b: str
    higher: bool

    @property
    def text(self) -> str:
        return f"{self.metric}:{self.a}{'>' if self.higher else '<'}{self.b}"


def parse_claim(text: str, policies: tuple[str, ...]) -> Claim:
    """``"METRIC:A>B"`` or ``"METRIC:A<B"``; ``ConfigError`` naming what is wrong."""
    m = re.fullmatch(r"\s*([\w-]+)\s*:\s*([\w-]+)\s*([<>])\s*([\w-]+)\s*", text)
    if m is None:
        raise ConfigError(
            f"--claim: {text!r} is not METRIC:A>B or METRIC:A<B (e.g. qos:aif>greedy)"
        )
    metric, a, op, b = m.groups()
    if metric not in METRIC_NAMES:
        raise ConfigError(
            f"--claim: unknown metric {metric!r}; choose from {', '.join(METRIC_NAMES)}"
        )
    for name in (a, b):
        if name not in policies:
            raise ConfigError(
                f"--claim: policy {name!r} is not in --policies ({', '.join(policies)})"
            )
    return Claim(metric, a, b, op == ">")


def grid_fields(env: str) -> dict[str, type]:
    """Sweepable fields of ``env``'s ``EnvParams`` and their types (scalar int/float)."""
    if env not in SUPPORTED_ENVS:
        raise ConfigError(f"--env: sweeps run on {', '.join(SUPPORTED_ENVS)}, not {env!r}")
    defaults = ENVS[env].EnvParams._field_defaults
    return {k: type(v) for k, v in defaults.items() if type(v) in (int, float)}


def parse_grid(texts: list[str], env: str) -> tuple[tuple[str, tuple], ...]:
    """``["field=v1,v2", ...]`` → ``((field, (v1, v2)), ...)``, values cast to the field's
    type; ``ConfigError`` naming the field and the allowed ones otherwise."""
    fields = grid_fields(env)
    grid: list[tuple[str, tuple]] = []
    for text in texts:
        name, eq, values = text.partition("=")
        name = name.strip()
        if not eq or name not in fields:
            raise ConfigError(
                f"--grid {name or text!r}: not a sweepable field of {env}; use FIELD=V1,V2 "
                f"with FIELD one of {', '.join(sorted(fields))}"
            )
        if name in dict(grid):
            raise ConfigError(f"--grid {name}: given twice; list all values in one --grid")
        kind = fields[name]
        try:
            vals = tuple(kind(v) for v in values.split(",") if v.strip())
        except ValueError:
            raise ConfigError(
                f"--grid {name}: expected {kind.__name__} values, got {values!r}"
            ) from None
        if not vals or len(set(vals)) != len(vals):
            raise ConfigError(f"--grid {name}: needs distinct values, got {values!r}")
        grid.append((name, vals))
    if not grid:
        raise ConfigError("--grid: give at least one FIELD=V1,V2")
    return tuple(grid)


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """One sweep: ``grid`` = ((field, values), ...); ``seeds`` runs per point and policy
    of ``episodes`` episodes each, seeds ``base_seed .. base_seed + seeds − 1``."""

    env: str
    policies: tuple[str, ...]
    grid: tuple[tuple[str, tuple], ...]
    seeds: int = 3
    episodes: int = 20
    base_seed: int = 0
    claims: tuple[Claim, ...] = ()

    @property
    def fields(self) -> list[str]:
        return [name for name, _ in self.grid]

    def points(self) -> list[dict]:
        """Grid points in row-major order of ``grid``."""
        return [
            dict(zip(self.fields, vals, strict=True))
            for vals in itertools.product(*(v for _, v in self.grid))
        ]


def validate(cfg: SweepConfig) -> None:
    """``ConfigError`` for an unsupported env or policy, or a grid point the env rejects."""
    from aifedge.simulate import policy_names

    grid_fields(cfg.env)  # checks the env
    allowed = policy_names(cfg.env)
    for name in cfg.policies:
        if name not in allowed:
            raise ConfigError(
                f"--policies: unknown policy {name!r}; choose from {', '.join(allowed)}"
            )
    for point in cfg.points():
        try:
            ENVS[cfg.env].make_params(**point)
        except ConfigError as err:
            raise ConfigError(f"--grid: {err}") from None


def run_one(
    env: str, point: dict, policy: str, seed: int, episodes: int, scenario: str = "v1"
) -> dict:
    """One job: per-episode metrics ``{metric: (episodes,) array}`` of ``policy`` at grid
    point ``point`` (episode keys ``split(PRNGKey(seed), episodes)``); ``scenario`` of
    ``aif-llm`` (``environments.SCENARIOS``)."""
    from aifedge.environments import SCENARIOS
    from aifedge.simulate import simulate

    params = (SCENARIOS[scenario] if env == "aif-llm" else ENVS[env]).make_params(**point)
    frame = simulate(env, policy, episodes, seed, params, progress=False)
    return {m: frame[m].to_numpy() for m in METRIC_NAMES}


def run(cfg: SweepConfig) -> pd.DataFrame:
    """Per-episode metrics of every run: columns grid fields, policy, seed, episode,
    metrics; rows in grid × policy × seed order (whatever order the jobs finished in)."""
    calls = []
    for i, point in enumerate(cfg.points()):
        for policy in cfg.policies:
            for s in range(cfg.seeds):
                seed = cfg.base_seed + s
                kwargs: dict[str, Any] = dict(point=point, policy=policy, seed=seed)
                calls.append((f"{i}:{policy}:{seed}", kwargs))
    job = functools.partial(run_one, cfg.env, episodes=cfg.episodes)
    done = executor.map_jobs(job, calls, label="sweep")
    frames = [
        pd.DataFrame(
            {
                **kw["point"],
                "policy": kw["policy"],
                "seed": kw["seed"],
                "episode": np.arange(cfg.episodes),
                **metrics,
            }
        )
        for (_, kw), metrics in zip(calls, done, strict=True)
    ]
    return pd.concat(frames, ignore_index=True)


def per_run(episodes: pd.DataFrame, cfg: SweepConfig) -> pd.DataFrame:
    """``sweep.csv``: one row per run, metric means over its episodes."""
    keys = [*cfg.fields, "policy", "seed"]
    out = episodes.groupby(keys, sort=False)[list(METRIC_NAMES)].mean().reset_index()
    out.insert(len(keys), "episodes", cfg.episodes)
    return out


def summary(episodes: pd.DataFrame, cfg: SweepConfig) -> pd.DataFrame:
    """``summary.csv``: per grid cell and policy, mean / std / n of each metric over
    its ``seeds × episodes`` episodes."""
    agg = episodes.groupby([*cfg.fields, "policy"], sort=False)[list(METRIC_NAMES)]
    out = agg.agg(["mean", "std"])
    out.columns = [f"{m}_{s}" for m, s in out.columns]
    out.insert(0, "n", agg.size())
    return out.reset_index()


def _welch_p(a: np.ndarray, b: np.ndarray) -> float:
    """Welch p of ``a`` vs ``b``; NaN where undefined (fewer than 2 values in a group, or
    both groups constant, e.g. QoS 1.0 in every episode)."""
    if len(a) < 2 or len(b) < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return np.nan
    with warnings.catch_warnings():  # scipy warns of precision loss for near-constant data
        warnings.simplefilter("ignore", RuntimeWarning)
        return welch_test(a, b)[1]


def claim_table(episodes: pd.DataFrame, cfg: SweepConfig, claim: Claim) -> pd.DataFrame:
    """Per grid cell: both means, ``diff`` = mean A − mean B, ``holds`` (sign of the
    difference agrees with the claim), Welch t-test p on the per-episode values."""
    rows = []
    for point, cell in episodes.groupby(cfg.fields, sort=False):
        a = cell.loc[cell.policy == claim.a, claim.metric].dropna()
        b = cell.loc[cell.policy == claim.b, claim.metric].dropna()
        diff = float(a.mean() - b.mean())
        p = _welch_p(a.to_numpy(), b.to_numpy())
        point = point if isinstance(point, tuple) else (point,)
        rows.append(
            {
                "claim": claim.text,
                **dict(zip(cfg.fields, point, strict=True)),
                f"{claim.a}": float(a.mean()),
                f"{claim.b}": float(b.mean()),
                "diff": diff,
                "holds": bool(diff > 0 if claim.higher else diff < 0),
                "welch_p": p,
            }
        )
    return pd.DataFrame(rows)


def _axes_grid(n: int):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * n, 3.4), layout="constrained")
    return fig, np.atleast_1d(fig.subplots(1, n))


def _heat(ax, table: pd.DataFrame, cfg: SweepConfig, value: str, **kw):
    """``value`` of ``table`` as a heatmap over the two grid fields; returns the image."""
    (fy, ys), (fx, xs) = cfg.grid
    grid = table.set_index([fy, fx])[value].reindex(pd.MultiIndex.from_product([ys, xs]))
    cells = grid.to_numpy(float).reshape(len(ys), len(xs))
    img = ax.imshow(cells, origin="lower", aspect="auto", **kw)
    ax.set(xticks=range(len(xs)), xticklabels=xs, xlabel=fx)
    ax.set(yticks=range(len(ys)), yticklabels=ys, ylabel=fy)
    return img


def plot_metric(summ: pd.DataFrame, cfg: SweepConfig, metric: str):
    """One grid field: mean ± std vs the field per policy; two: a heatmap per policy."""
    if len(cfg.grid) == 1:
        fig, (ax,) = _axes_grid(1)
        field = cfg.fields[0]
        for policy, g in summ.groupby("policy", sort=False):
            mean, std = g[f"{metric}_mean"], g[f"{metric}_std"]
            ax.errorbar(g[field], mean, yerr=std, marker="o", capsize=3, label=policy)
        ax.set(xlabel=field, ylabel=metric, title=f"{cfg.env}: {metric} (mean ± std over episodes)")
        ax.legend(fontsize=7)
        return fig
    fig, axes = _axes_grid(len(cfg.policies))
    lo, hi = summ[f"{metric}_mean"].min(), summ[f"{metric}_mean"].max()
    for ax, policy in zip(axes, cfg.policies, strict=True):
        cells = summ[summ.policy == policy]
        img = _heat(ax, cells, cfg, f"{metric}_mean", vmin=lo, vmax=hi, cmap="viridis")
        ax.set_title(f"{policy}: {metric}")
    fig.colorbar(img, ax=list(axes))
    return fig


def plot_claim(table: pd.DataFrame, cfg: SweepConfig, claim: Claim):
    """Sign of the claim per cell (green: holds, red: reversed; pale: Welch p ≥ ALPHA),
    each cell annotated with its p."""
    sign = np.where(table["holds"], 1.0, -1.0) * np.where(table["welch_p"] < ALPHA, 1.0, 0.4)
    table = table.assign(sign=sign)
    fig, (ax,) = _axes_grid(1)
    title = f"claim {claim.text}: holds (green) / reversed (red), pale = p ≥ {ALPHA}"
    if len(cfg.grid) == 1:
        field = cfg.fields[0]
        xs = np.arange(len(table))
        ax.bar(xs, table["diff"], color=[_sign_colour(v) for v in sign])
        ax.axhline(0, color="k", lw=0.8)
        ax.set(xticks=xs, xticklabels=table[field], xlabel=field)
        ax.set_ylabel(f"{claim.metric}: {claim.a} − {claim.b}")
        for x, (d, p) in enumerate(zip(table["diff"], table["welch_p"], strict=True)):
            ax.annotate(f"p={p:.2g}", (x, d), ha="center", fontsize=7)
    else:
        _heat(ax, table, cfg, "sign", vmin=-1, vmax=1, cmap="RdYlGn")
        (fy, ys), (fx, xs) = cfg.grid
        for row in table.itertuples(index=False):
            r = row._asdict()
            where = (xs.index(r[fx]), ys.index(r[fy]))
            ax.text(*where, f"p={r['welch_p']:.2g}", ha="center", va="center", fontsize=7)
    ax.set_title(title, fontsize=9)
    return fig


def _sign_colour(v: float) -> str:
    return {1.0: "#1a9850", 0.4: "#a6d96a", -0.4: "#fdae61", -1.0: "#d73027"}[float(v)]


def write(out: str | Path, cfg: SweepConfig, episodes: pd.DataFrame, meta: dict) -> list[Path]:
    """Write every output file (atomically) into ``out``; returns the paths."""
    out = Path(out)
    summ = summary(episodes, cfg)
    paths = [
        results.write_csv(out / "sweep.csv", per_run(episodes, cfg)),
        results.write_csv(out / "summary.csv", summ),
    ]
    tables = [claim_table(episodes, cfg, c) for c in cfg.claims]
    if tables:
        paths.append(results.write_csv(out / "claims.csv", pd.concat(tables, ignore_index=True)))
    if len(cfg.grid) <= 2:
        for metric in METRIC_NAMES:
            paths.append(results.save_figure(out / f"{metric}.png", plot_metric(summ, cfg, metric)))
        for k, (claim, table) in enumerate(zip(cfg.claims, tables, strict=True), 1):
            paths.append(results.save_figure(out / f"claim_{k}.png", plot_claim(table, cfg, claim)))
    record = {
        "env": cfg.env,
        "policies": list(cfg.policies),
        "grid": {k: list(v) for k, v in cfg.grid},
        "seeds": [cfg.base_seed + s for s in range(cfg.seeds)],
        "episodes": cfg.episodes,
        "claims": [c.text for c in cfg.claims],
        "commit": results.git_commit(),
        "versions": results.versions(),
        **meta,
    }
    paths.append(results.write_json(out / "sweep.json", record))
    return paths


def sweep(cfg: SweepConfig, out: str | Path) -> list[Path]:
    """Validate, run every job on the current executor, write the outputs."""
    validate(cfg)
    start = time.perf_counter()
    episodes = run(cfg)
    ex = executor.current()
    meta = {"backend": ex.name, "wall_s": time.perf_counter() - start}
    return write(out, cfg, episodes, meta)


BENCH = SweepConfig(
    env="aif-llm",
    policies=("random", "greedy"),
    grid=(("spike_prob", (0.02, 0.05, 0.1, 0.2)),),
    seeds=3,
    episodes=50,
)
"""``aifedge bench sweep``'s fixed toy sweep: 4 grid points × 2 policies × 3 seeds = 24 jobs."""


def bench_sweep(repeats: int = 1, workers: int = 2) -> list[dict]:
    """Wall time of ``BENCH`` serially and on a local Ray with ``workers`` CPUs, in one run;
    ``speedup`` = serial median / Ray median, ``identical``: both gave the same frame.
    ``ray.init`` is timed apart (``ray_start_s``); the first Ray sweep includes starting
    the worker processes and their imports. Records the 1-min load average before/after.
    At most 3 timed runs each (``repeats`` is capped: one toy sweep takes about a minute)."""
    import os

    repeats = min(repeats, 3)

    def timed_runs() -> tuple[list[float], pd.DataFrame]:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            frame = run(BENCH)
            times.append(time.perf_counter() - start)
        return times, frame

    load_before = os.getloadavg()[0]
    with executor.using(executor.SerialExecutor()):
        t_serial, serial = timed_runs()
    start = time.perf_counter()
    with executor.using(executor.RayExecutor(None, workers)):
        ray_start = time.perf_counter() - start
        t_ray, on_ray = timed_runs()
    jobs = len(BENCH.points()) * len(BENCH.policies) * BENCH.seeds
    common = {
        "n_repeats": repeats,
        "jobs": jobs,
        "load_avg_1min": [load_before, os.getloadavg()[0]],
    }
    serial_row: dict[str, Any] = {
        "name": "sweep_serial",
        "median_s": float(np.median(t_serial)),
        **common,
    }
    ray_row: dict[str, Any] = {
        "name": f"sweep_ray_{workers}_workers",
        "median_s": float(np.median(t_ray)),
        "ray_start_s": ray_start,
        **common,
    }
    ray_row["speedup"] = serial_row["median_s"] / ray_row["median_s"]
    ray_row["identical"] = bool(serial.equals(on_ray))
    for row, times in ((serial_row, t_serial), (ray_row, t_ray)):
        row["p95_s"] = float(np.percentile(times, 95))
    return [serial_row, ray_row]
