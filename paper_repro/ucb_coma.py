"""UCB-COMA (Liao, Tao et al., 电子学报 2025) Figs. 4–9 on ``ucb-coma``.

Every figure is a ``common.Artifact``: one frozen ``UcbComaConfig`` (``full`` = the paper's
700 episodes, ``quick`` = 120), ``run(cfg) -> DataFrame`` of claims with a verdict, the raw
per-episode training data in ``frame.attrs["data"]``, a per-scheme summary in
``frame.attrs["final"]`` and a matplotlib figure. Every run uses ``seeds`` independent
seeds (3 by default; the paper shows one run).

The paper prints no numbers in its text, only curves and bars, so the ``paper`` column
states the qualitative claim the text makes about each figure, and ``ours`` is a number
measured on our runs whose sign decides it:

* "highest" / "lowest": margin of the named scheme over the best (worst) other *paper*
  scheme, per setting; reproduced if margin ≥ −tol (highest) or ≤ +tol (lowest).
* "improves": mean over the last ``tail`` fraction of training episodes minus the mean
  over the first; reproduced if > tol.
* "flat": |last − first| ≤ tol.
* "decreasing" / "increasing": least-squares slope vs the swept value; reproduced if the
  slope has that sign and |slope · range| > tol.

``tol`` = ``cfg.tol`` × the spread (max − min) of the metric across the figure's paper
schemes and settings. "Average reward" (Figs. 5, 7, 9) is a scheme's mean training reward
over the last ``tail`` of its episodes (the paper does not say how its averages were
taken). Figs. 6 and 8 are judged on the weighted sum of the objective (1) per completed
task, γ T_i + (1 − γ) Cost_i, of the trained policy's greedy evaluation (``eval_episodes``
episodes per seed, no exploration), in its own units; the plots also show it min–max
normalised to [0.1, 1] over the figure's cells as the paper does.

Beside every claim: ``headroom`` = the metric's gap between the reference policies
``ready-cloud`` (the ceiling) and ``masked-random`` (uniform over feasible actions) in that
setting, i.e. how far apart two policies that complete every task can be; ``noise`` = the
two references' mean standard deviation of the metric across seeds (the seed-to-seed noise
of a fixed feasible policy); ``testable?`` = headroom > 2 · noise. Where it is "no", every
feasible policy scores within seed noise of every other, so an ordering claim among schemes
that complete their tasks cannot be decided by the paper's parameters (a scheme that fails
tasks still loses reward).

``summary`` tables (``attrs["final"]``) give per setting and scheme (paper schemes,
``references``, and in Fig. 4 the ``extras``): training reward (mean and std over
seeds), greedy-evaluation reward, completion rate and weighted sum, and the greedy
episodes' reward decomposition (θ term, objective term, η1, η2, η3, fault penalties;
``ucb_coma.REWARD_TERMS``).
"""

import dataclasses
import math
import time
from pathlib import Path

import jax
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aifedge import results
from aifedge.baselines import marl
from aifedge.config import ConfigError
from aifedge.environments import ucb_coma as dag
from aifedge.executor import map_jobs

from .common import Artifact, to_markdown, with_overrides, write_artifact

SCHEMES = ("ucb-coma", "coma", "mappo", "maddpg", "cs-ucb", "random")
REFERENCES = ("ready-cloud", "masked-random")
"""Reference policies (not in the paper): the ceiling and uniform-over-feasible actions."""
EXTRAS = ("ucb-coma-softmax",)
"""Named variants that are not the paper's method (Fig. 4 and the sensitivity study)."""
COLORS = {
    "ucb-coma": "tab:red",
    "coma": "tab:blue",
    "mappo": "tab:green",
    "maddpg": "tab:purple",
    "cs-ucb": "tab:orange",
    "random": "tab:gray",
    "aif": "tab:cyan",
    "ready-cloud": "black",
    "masked-random": "tab:brown",
    "ucb-coma-softmax": "tab:pink",
}
AIF_SCHEMES = ("aif", "cs-ucb", "ucb-coma", "random")
"""Schemes of the ``ucbcoma-aif`` extension (not a paper figure)."""
SUMMARY_COLS = (
    "reward",
    "completion",
    "weighted",
    *dag.REWARD_TERMS,
)


@dataclasses.dataclass(frozen=True)
class UcbComaConfig:
    """One configuration for Figs. 4–9.

    seeds           independent runs 0..seeds−1 (the paper shows one run).
    n_episodes      training episodes per scheme and setting (Fig. 4: 700).
    schemes         the compared learners (``marl.LEARNERS`` names), frozen default configs.
    references      reference policies reported beside them (not compared in the claims).
    extras          named variants shown in Fig. 4 and the sensitivity study only.
    eval_episodes   greedy-evaluation episodes per trained seed.
    tail            fraction of final (and first) episodes averaged for "average reward".
    bandwidths_mhz  W sweep of Figs. 5–6 (Table 2), at T_max = 3.0 s.
    t_max_values    T_max sweep of Figs. 7–8 (Table 2), at W = 6 MHz.
    fault_probs     edge fault probabilities of Fig. 9, at W = 6 MHz, T_max = 3.0 s.
    fig9_scheme     the scheme Fig. 9 stresses with faults (the paper: UCB-COMA).
    sensitivity     env variants of the sensitivity study beside the paper's parameters,
                    each ((field, value), ...): the delay term in ms, θ = 0.
    env_overrides   ((field, value), ...) for ``ucb_coma.make_params`` (tests, studies).
    quick_compile   lower XLA optimisation (short runs are compile-bound).
    tol             verdict tolerance as a fraction of the figure's metric spread.
    """

    seeds: int = 3
    n_episodes: int = 700
    schemes: tuple = SCHEMES
    references: tuple = REFERENCES
    extras: tuple = EXTRAS
    eval_episodes: int = 50
    tail: float = 0.2
    bandwidths_mhz: tuple = (5.0, 5.5, 6.0)
    t_max_values: tuple = (2.5, 2.8, 3.0)
    fault_probs: tuple = (0.0, 0.1, 0.2)
    fig9_scheme: str = "ucb-coma"
    sensitivity: tuple = ((("delay_unit_s", 1e-3),), (("theta", 0.0),))
    env_overrides: tuple = ()
    quick_compile: bool = False
    tol: float = 0.05

    def __post_init__(self):
        if not isinstance(self.seeds, int) or self.seeds < 1:
            raise ConfigError(f"UcbComaConfig.seeds: must be an integer ≥ 1 (got {self.seeds!r})")
        for name in ("n_episodes", "eval_episodes"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 5:
                raise ConfigError(f"UcbComaConfig.{name}: must be an integer ≥ 5 (got {v!r})")
        if self.fig9_scheme not in marl.LEARNERS:
            raise ConfigError(
                f"UcbComaConfig.fig9_scheme: unknown {self.fig9_scheme!r}; "
                f"choose from {', '.join(marl.LEARNERS)}"
            )
        for name in ("schemes", "references", "extras"):
            v = getattr(self, name)
            bad = [x for x in v if x not in marl.LEARNERS]
            if bad or (name == "schemes" and not v):
                raise ConfigError(
                    f"UcbComaConfig.{name}: unknown {bad}; choose from {', '.join(marl.LEARNERS)}"
                )
        if not 0 < self.tail <= 0.5:
            raise ConfigError(f"UcbComaConfig.tail: must lie in (0, 0.5] (got {self.tail})")
        if not self.tol >= 0:
            raise ConfigError(f"UcbComaConfig.tol: must be ≥ 0 (got {self.tol})")
        for name, extra in (("env_overrides", ()), *(("sensitivity", v) for v in self.sensitivity)):
            try:
                dag.make_params(**{**dict(self.env_overrides), **dict(extra)})
            except (ConfigError, TypeError, ValueError) as err:
                raise ConfigError(f"UcbComaConfig.{name}: {err}") from None

    def env_params(self, **setting) -> dag.EnvParams:
        return dag.make_params(**{**dict(self.env_overrides), **setting})


FULL = UcbComaConfig()
QUICK = UcbComaConfig(n_episodes=120, quick_compile=True)
TOY = UcbComaConfig(
    seeds=2,
    n_episodes=100,
    eval_episodes=5,
    schemes=("cs-ucb", "random"),
    extras=(),
    bandwidths_mhz=(5.0, 6.0),
    t_max_values=(2.5, 3.0),
    fault_probs=(0.0, 0.5),
    fig9_scheme="cs-ucb",
    env_overrides=(("n_tasks", 2), ("task_types", (0, 2)), ("max_steps", 8)),
    quick_compile=True,
)
"""Toy size for tests and notebook 08 (2-task env, two schemes; seconds, not results)."""


def _run_one(cfg: UcbComaConfig, scheme: str, seed: int, setting: tuple):
    """One executor job: a training run and its greedy evaluation, as (per-episode
    training, per-episode evaluation) frames."""
    params = cfg.env_params(**dict(setting))
    lcfg = marl.make_config(scheme)
    key = jax.random.PRNGKey(seed)
    state, st = marl.train(key, scheme, params, lcfg, cfg.n_episodes, cfg.quick_compile)
    ev = marl.evaluate(
        jax.random.fold_in(key, 1),
        scheme,
        state,
        params,
        lcfg,
        cfg.eval_episodes,
        cfg.quick_compile,
    )
    frames = []
    for stats in (st, ev):
        frame = pd.DataFrame({f: np.asarray(getattr(stats, f), float) for f in stats._fields})
        frame.insert(0, "episode", np.arange(1, len(frame) + 1))
        frame.insert(0, "seed", seed)
        frame.insert(0, "scheme", scheme)
        for k, v in setting:
            frame[k] = v
        frames.append(frame)
    return tuple(frames)


def _run_key(cfg: UcbComaConfig) -> UcbComaConfig:
    """``cfg`` stripped of the fields a single run does not depend on (the cache key)."""
    return UcbComaConfig(
        n_episodes=cfg.n_episodes,
        eval_episodes=cfg.eval_episodes,
        env_overrides=cfg.env_overrides,
        quick_compile=cfg.quick_compile,
        sensitivity=(),
    )


_RUNS: dict = {}
"""(run key, scheme, seed, setting) -> ``_run_one``'s frames: figures share runs."""


def _curves(cfg: UcbComaConfig, setting: tuple, schemes: tuple | None = None):
    """(training, evaluation) frames of ``schemes`` (default: paper schemes + references)
    and every seed in one env setting; runs not done yet go to the current executor
    (``--ray``) as one job per scheme and seed."""
    schemes = (*cfg.schemes, *cfg.references) if schemes is None else schemes
    key = _run_key(cfg)
    wanted = [(s, seed) for s in schemes for seed in range(cfg.seeds)]
    todo = [(s, seed) for s, seed in wanted if (key, s, seed, setting) not in _RUNS]
    calls = [
        (f"{s}:{seed}", {"cfg": key, "scheme": s, "seed": seed, "setting": setting})
        for s, seed in todo
    ]
    for (s, seed), frames in zip(todo, map_jobs(_run_one, calls, "ucb-coma"), strict=True):
        _RUNS[(key, s, seed, setting)] = frames
    runs = [_RUNS[(key, s, seed, setting)] for s, seed in wanted]
    return tuple(pd.concat(list(part), ignore_index=True) for part in zip(*runs, strict=True))


def _tail(data: pd.DataFrame, cfg: UcbComaConfig, head=False) -> pd.DataFrame:
    """The rows of the last (or first) ``tail`` fraction of each run's episodes."""
    k = max(1, round(cfg.tail * cfg.n_episodes))
    return data[data.episode <= k] if head else data[data.episode > cfg.n_episodes - k]


def _role(scheme: str, cfg: UcbComaConfig) -> str:
    return (
        "paper" if scheme in cfg.schemes else "reference" if scheme in cfg.references else "extra"
    )


def _summary(train: pd.DataFrame, evald: pd.DataFrame, cfg: UcbComaConfig, keys: list):
    """Per (keys, scheme): training-tail reward and greedy-evaluation metrics, mean and
    std over seeds (``*_sd``), and the evaluation reward decomposition per episode."""
    by = [*keys, "scheme", "seed"]
    seed_tr = _tail(train, cfg).groupby(by, sort=False)["reward"].mean()
    seed_ev = evald.groupby(by, sort=False)[list(SUMMARY_COLS)].mean().add_prefix("eval_")
    per_seed = seed_ev.join(seed_tr)
    grouped = per_seed.groupby(level=[*keys, "scheme"], sort=False)
    cols = ["reward", "eval_reward", "eval_completion", "eval_weighted"]
    out = grouped.mean().join(grouped[cols].std().add_suffix("_sd"))
    order = [
        "reward",
        "reward_sd",
        "eval_reward",
        "eval_reward_sd",
        "eval_completion",
        "eval_completion_sd",
        "eval_weighted",
        "eval_weighted_sd",
        *(f"eval_{t}" for t in dag.REWARD_TERMS),
    ]
    out = out[order].reset_index()
    out.insert(len(keys) + 1, "role", [_role(x, cfg) for x in out.scheme])
    return out


def _tail_means(data: pd.DataFrame, cfg: UcbComaConfig, keys: list[str], head=False):
    """Mean of reward / weighted over the last (or first) ``tail`` of each run."""
    part = _tail(data, cfg, head)
    return part.groupby([*keys, "scheme"], sort=False)[["reward", "weighted"]].mean()


def normalise(values: np.ndarray) -> np.ndarray:
    """Min–max to [0.1, 1] (Figs. 6, 8); NaN stays NaN; constant input -> 0.1."""
    v = np.asarray(values, float)
    if np.all(np.isnan(v)):
        return v
    lo, hi = np.nanmin(v), np.nanmax(v)
    return 0.1 + 0.9 * (v - lo) / (hi - lo) if hi > lo else np.where(np.isnan(v), v, 0.1)


COLUMNS = [
    "figure",
    "claim",
    "setting",
    "paper",
    "ours",
    "tol",
    "reproduced?",
    "headroom",
    "noise",
    "testable?",
]


def _row(fig, claim, setting, paper, ours, tol, ok, headroom=math.nan, noise=math.nan) -> dict:
    verdict = "n/a" if ours is None or math.isnan(ours) else ("yes" if ok else "no")
    testable = "n/a" if math.isnan(headroom) or math.isnan(noise) else "yes"
    if testable == "yes" and not headroom > 2 * noise:
        testable = "no"
    return dict(
        zip(
            COLUMNS,
            [fig, claim, setting, paper, ours, tol, verdict, headroom, noise, testable],
            strict=True,
        )
    )


def _headroom(summary: pd.DataFrame, keys: list, metric: str) -> dict:
    """setting -> (|ceiling − masked-random| of ``metric``, the references' mean seed std)."""
    out = {}
    groups = summary.groupby(keys, sort=False) if keys else [((), summary)]
    for value, g in groups:
        g = g.set_index("scheme")
        value = value[0] if isinstance(value, tuple) and len(value) == 1 else value
        refs = [r for r in REFERENCES if r in g.index]
        head = abs(g.loc[refs[0], metric] - g.loc[refs[1], metric]) if len(refs) == 2 else math.nan
        noise = g.loc[refs, f"{metric}_sd"].mean() if refs else math.nan
        out[value] = (float(head), float(noise))
    return out


def _extreme_rows(
    fig,
    means: pd.Series,
    key: str,
    scheme: str,
    which: str,
    paper: str,
    metric: str,
    frac: float,
    head: dict | None = None,
) -> list[dict]:
    """Margin of ``scheme`` over the best (highest) or worst (lowest) other scheme."""
    tol = _tol_of(means, frac)
    rows = []
    for value, per in means.groupby(level=0, sort=False):
        per = per.droplevel(0)
        if scheme not in per or len(per) < 2:
            continue
        others = per.drop(scheme)
        margin = (
            (per[scheme] - others.max()) if which == "highest" else (per[scheme] - others.min())
        )
        ok = margin >= -tol if which == "highest" else margin <= tol
        hr = (head or {}).get(value, (math.nan, math.nan))
        rows.append(
            _row(
                fig,
                f"{scheme} {which} {metric}",
                f"{key}={value}",
                paper,
                float(margin),
                tol,
                ok,
                *hr,
            )
        )
    return rows


def _tol_of(values, frac: float) -> float:
    """``frac`` × (max − min) of ``values``: the verdict tolerance in the metric's units."""
    v = np.asarray(values, float)
    return frac * float(np.nanmax(v) - np.nanmin(v)) if v.size else math.nan


def _sweep(cfg: UcbComaConfig, key: str, values: tuple, schemes=None, **fixed):
    runs = [_curves(cfg, tuple(sorted({**fixed, key: v}.items())), schemes) for v in values]
    return tuple(pd.concat(list(part), ignore_index=True) for part in zip(*runs, strict=True))


def _finish(rows: list[dict], data: pd.DataFrame, summary: pd.DataFrame | None = None):
    out = pd.DataFrame(rows, columns=COLUMNS)
    out.attrs["data"] = data
    if summary is not None:
        out.attrs["final"] = summary
    return out


def run_fig4(cfg: UcbComaConfig) -> pd.DataFrame:
    """Fig. 4: reward of the six schemes over training, W = 6 MHz, T_max = 3.0 s."""
    setting = (("bandwidth_mhz", 6.0), ("t_max_s", 3.0))
    data, evald = _curves(cfg, setting, (*cfg.schemes, *cfg.references, *cfg.extras))
    summary = _summary(data, evald, cfg, [])
    paper = data[data.scheme.isin(cfg.schemes)]
    tail = _tail_means(paper, cfg, [])["reward"]
    head = _tail_means(paper, cfg, [], head=True)["reward"]
    tol = _tol_of(pd.concat([tail, head]), cfg.tol)
    hr = _headroom(summary, [], "reward")[()]
    rows = []
    if "ucb-coma" in tail and len(tail) > 1:
        margin = float(tail["ucb-coma"] - tail.drop("ucb-coma").max())
        rows.append(
            _row(
                "fig4",
                "ucb-coma highest final reward",
                "W=6, T_max=3.0",
                "UCB-COMA ends with the highest reward",
                margin,
                tol,
                margin >= -tol,
                *hr,
            )
        )
    for scheme in tail.index:
        gain = float(tail[scheme] - head[scheme])
        if scheme == "random":
            claim, paper_txt, ok = (
                "random flat",
                "Random oscillates at a low level",
                abs(gain) <= tol,
            )
        else:
            claim, paper_txt, ok = f"{scheme} improves", "reward rises with training", gain > tol
        rows.append(_row("fig4", claim, "W=6, T_max=3.0", paper_txt, gain, tol, ok))
    first = _tail(data, cfg, head=True).groupby("scheme", sort=False)["reward"].mean()
    summary.insert(2, "first_reward", summary.scheme.map(first))
    return _finish(rows, data, summary)


def run_aif(cfg: UcbComaConfig) -> pd.DataFrame:
    """Not in the paper: the pymdp ``aif`` learner (``inference.ucb_coma_agent``) beside CS-UCB,
    UCB-COMA and Random in Fig. 4's setting (W = 6 MHz, T_max = 3.0 s).

    One row per scheme: mean episode reward over the first and the last ``tail`` of
    training episodes, and over the last ``tail``: weighted sum, task completion and
    deadline-met fractions (each the mean over seeds and episodes; ``*_std`` over
    episodes). The paper has no such numbers, so there is no verdict.
    """
    data, _ = _curves(cfg, (("bandwidth_mhz", 6.0), ("t_max_s", 3.0)), cfg.schemes)
    first = _tail(data, cfg, head=True).groupby("scheme", sort=False)["reward"].mean()
    last = _tail(data, cfg).groupby("scheme", sort=False)
    cols = ["reward", "weighted", "completion", "deadline"]
    out = (
        last[cols]
        .mean()
        .add_prefix("last_")
        .join(last[cols].std().add_suffix("_std").add_prefix("last_"))
    )
    out.insert(0, "first_reward", first)
    out = out.reset_index()[
        [
            "scheme",
            "first_reward",
            "last_reward",
            "last_reward_std",
            "last_weighted",
            "last_completion",
            "last_deadline",
        ]
    ]
    out.attrs["data"] = data
    return out


_SWEEP_CLAIMS = {
    # figure kind -> (summary column, metric label, ((scheme, which, paper), ...))
    "reward": (
        "reward",
        "reward",
        (
            ("ucb-coma", "highest", "UCB-COMA has the highest average reward"),
            ("random", "lowest", "Random has a low, flat average reward"),
        ),
    ),
    "weighted": (
        "eval_weighted",
        "weighted sum",
        (
            ("ucb-coma", "lowest", "UCB-COMA has the lowest weighted sum"),
            ("cs-ucb", "highest", "CS-UCB has the highest weighted sum"),
        ),
    ),
}


def _claims(fig, kind, summary: pd.DataFrame, cfg, keys: list, key_label: str) -> list[dict]:
    """The ``_SWEEP_CLAIMS[kind]`` rows over the paper schemes of ``summary``."""
    column, metric, claims = _SWEEP_CLAIMS[kind]
    paper = summary[summary.role == "paper"].set_index([*keys, "scheme"])[column]
    head = _headroom(summary, keys, column)
    rows = []
    for scheme, which, text in claims:
        rows += _extreme_rows(fig, paper, key_label, scheme, which, text, metric, cfg.tol, head)
    return rows


def _run_sweep(cfg, fig, kind: str, key, values, **fixed):
    """Figs. 5–8: the ``_SWEEP_CLAIMS[kind]`` claims over the ``key`` sweep."""
    data, evald = _sweep(cfg, key, values, **fixed)
    summary = _summary(data, evald, cfg, [key])
    summary["eval_weighted_norm"] = normalise(summary["eval_weighted"].to_numpy())
    return _finish(_claims(fig, kind, summary, cfg, [key], key), data, summary)


def run_fig5(cfg: UcbComaConfig) -> pd.DataFrame:
    """Fig. 5: average reward vs edge bandwidth W, T_max = 3.0 s."""
    return _run_sweep(cfg, "fig5", "reward", "bandwidth_mhz", cfg.bandwidths_mhz, t_max_s=3.0)


def run_fig6(cfg: UcbComaConfig) -> pd.DataFrame:
    """Fig. 6: delay-and-cost weighted sum (greedy evaluation) vs W, T_max = 3.0 s."""
    return _run_sweep(cfg, "fig6", "weighted", "bandwidth_mhz", cfg.bandwidths_mhz, t_max_s=3.0)


def run_fig7(cfg: UcbComaConfig) -> pd.DataFrame:
    """Fig. 7: average reward vs T_max, W = 6 MHz."""
    return _run_sweep(cfg, "fig7", "reward", "t_max_s", cfg.t_max_values, bandwidth_mhz=6.0)


def run_fig8(cfg: UcbComaConfig) -> pd.DataFrame:
    """Fig. 8: weighted sum (greedy evaluation) vs T_max, W = 6 MHz."""
    return _run_sweep(cfg, "fig8", "weighted", "t_max_s", cfg.t_max_values, bandwidth_mhz=6.0)


def run_fig9(cfg: UcbComaConfig) -> pd.DataFrame:
    """Fig. 9: UCB-COMA's average reward and weighted sum vs edge fault probability."""
    scheme = cfg.fig9_scheme
    data, evald = _sweep(
        cfg, "fault_prob", cfg.fault_probs, (scheme,), bandwidth_mhz=6.0, t_max_s=3.0
    )
    summary = _summary(data, evald, cfg, ["fault_prob"])
    x = summary.fault_prob.to_numpy(float)
    rows = []
    for metric, sign, paper in (
        ("reward", -1, "average reward falls slightly as faults rise"),
        ("eval_weighted", 1, "weighted sum rises as faults rise"),
    ):
        y = summary[metric].to_numpy(float)
        ok_pts = ~np.isnan(y)
        slope = float(np.polyfit(x[ok_pts], y[ok_pts], 1)[0]) if ok_pts.sum() >= 2 else math.nan
        tol = _tol_of(y[ok_pts], cfg.tol)
        change = slope * float(x.max() - x.min())
        trend = "decreasing" if sign < 0 else "increasing"
        label = metric.removeprefix("eval_")
        rows.append(
            _row(
                "fig9",
                f"{scheme} {label} {trend}",
                "W=6, T_max=3.0",
                paper,
                slope,
                tol,
                sign * change > tol,
            )
        )
    return _finish(rows, data, summary)


def _variant_label(variant: tuple) -> str:
    return ", ".join(f"{k}={v}" for k, v in variant) or "paper (s, θ=2)"


def run_sensitivity(cfg: UcbComaConfig) -> pd.DataFrame:
    """Not a paper figure: Fig. 4's setting under the paper's parameters and under each
    ``cfg.sensitivity`` variant (delay term in ms; θ = 0), with the claims of Figs. 4–8
    (UCB-COMA highest reward; UCB-COMA lowest and CS-UCB highest weighted sum) re-judged
    in each. Says which ordering claims the reward's scale lets schemes separate."""
    schemes = (*cfg.schemes, *cfg.references, *cfg.extras)
    base = (("bandwidth_mhz", 6.0), ("t_max_s", 3.0))
    parts, rows = [], []
    for variant in ((), *cfg.sensitivity):
        label = _variant_label(variant)
        data, evald = _curves(cfg, tuple(sorted((*base, *variant))), schemes)
        summary = _summary(
            data.assign(variant=label), evald.assign(variant=label), cfg, ["variant"]
        )
        parts.append((data.assign(variant=label), summary))
        for kind in ("reward", "weighted"):
            rows += _claims("sensitivity", kind, summary, cfg, ["variant"], "variant")
    data = pd.concat([p[0] for p in parts], ignore_index=True)
    summary = pd.concat([p[1] for p in parts], ignore_index=True)
    return _finish(rows, data, summary)


# --------------------------------------------------------------------------- figures


def ema(values: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Exponential moving average s_t = α x_t + (1 − α) s_{t−1} (Fig. 4's smoothing)."""
    out = np.empty(len(values))
    acc = float(values[0]) if len(values) else 0.0
    for i, v in enumerate(values):
        acc = alpha * float(v) + (1 - alpha) * acc
        out[i] = acc
    return out


def plot_fig4(frame: pd.DataFrame) -> Figure:
    """Reward and completion vs episode: EMA of each seed, mean line, band = seed range."""
    data = frame.attrs["data"]
    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, metric, label in zip(
        axes,
        ("reward", "completion"),
        ("episode reward Σ_t Σ_i r_i", "task completion rate (training)"),
        strict=True,
    ):
        for scheme, g in data.groupby("scheme", sort=False):
            runs = np.stack([ema(r[metric].to_numpy()) for _, r in g.groupby("seed")])
            ep = np.arange(1, runs.shape[1] + 1)
            c = COLORS.get(scheme)
            style = "--" if scheme in REFERENCES else "-"
            ax.plot(ep, runs.mean(0), style, color=c, label=f"{scheme} ({len(runs)} seeds)")
            ax.fill_between(ep, runs.min(0), runs.max(0), color=c, alpha=0.15, lw=0)
        ax.set_xlabel("episode")
        ax.set_ylabel(label)
    name = "ucb-coma, with aif" if "aif" in set(data.scheme) else "UCB-COMA Fig. 4"
    fig.suptitle(f"{name} (W = 6 MHz, T_max = 3.0 s); EMA α = 0.05, band = seed range", fontsize=10)
    axes[1].legend(fontsize=7)
    return fig


def _bars(frame: pd.DataFrame, key: str, metrics, title: str) -> Figure:
    """One panel per (column, label) in ``metrics``: bars per scheme, error = seed std."""
    summary = frame.attrs["final"]
    fig = Figure(figsize=(6.5 * len(metrics), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    schemes = list(dict.fromkeys(summary.scheme))
    values = list(dict.fromkeys(summary[key]))
    width = 0.8 / max(len(schemes), 1)
    for ax, (metric, ylabel) in zip(axes, metrics, strict=True):
        for k, scheme in enumerate(schemes):
            sub = summary[summary.scheme == scheme].set_index(key).reindex(values)
            sd = sub.get(f"{metric}_sd")
            ax.bar(
                np.arange(len(values)) + k * width,
                sub[metric].to_numpy(),
                width,
                yerr=None if sd is None else sd.to_numpy(),
                label=scheme,
                color=COLORS.get(scheme),
                hatch="//" if scheme in REFERENCES else None,
            )
        ax.set_xticks(np.arange(len(values)) + 0.4 - width / 2, [str(v) for v in values])
        ax.set_xlabel(key)
        ax.set_ylabel(ylabel)
    axes[0].set_title(title, fontsize=10)
    axes[-1].legend(fontsize=7)
    return fig


_REWARD_BARS = (
    ("reward", "average training reward (last 20 %)"),
    ("eval_completion", "greedy-evaluation completion rate"),
)
_WEIGHTED_BARS = (
    ("eval_weighted", "weighted sum γT + (1−γ)Cost (greedy, per task)"),
    ("eval_weighted_norm", "normalised to [0.1, 1] as in the paper"),
)


def plot_fig5(frame):
    return _bars(frame, "bandwidth_mhz", _REWARD_BARS, "UCB-COMA Fig. 5")


def plot_fig6(frame):
    return _bars(frame, "bandwidth_mhz", _WEIGHTED_BARS, "UCB-COMA Fig. 6")


def plot_fig7(frame):
    return _bars(frame, "t_max_s", _REWARD_BARS, "UCB-COMA Fig. 7")


def plot_fig8(frame):
    return _bars(frame, "t_max_s", _WEIGHTED_BARS, "UCB-COMA Fig. 8")


def plot_fig9(frame: pd.DataFrame) -> Figure:
    return _bars(
        frame,
        "fault_prob",
        (("reward", "average training reward"), _WEIGHTED_BARS[0]),
        "UCB-COMA Fig. 9",
    )


def plot_sensitivity(frame: pd.DataFrame) -> Figure:
    return _bars(
        frame,
        "variant",
        (("eval_reward", "greedy-evaluation reward"), _WEIGHTED_BARS[0]),
        "ucb-coma reward sensitivity (W = 6 MHz, T_max = 3.0 s)",
    )


def _artifact(n: int, title: str, run, plot) -> Artifact:
    return Artifact(f"ucbcoma-fig{n}", title, run, quick=QUICK, full=FULL, plot=plot)


FIG4 = _artifact(4, "UCB-COMA Fig. 4: reward over training, six schemes", run_fig4, plot_fig4)
FIG5 = _artifact(5, "UCB-COMA Fig. 5: average reward vs edge bandwidth W", run_fig5, plot_fig5)
FIG6 = _artifact(6, "UCB-COMA Fig. 6: weighted delay-cost sum vs W", run_fig6, plot_fig6)
FIG7 = _artifact(7, "UCB-COMA Fig. 7: average reward vs T_max", run_fig7, plot_fig7)
FIG8 = _artifact(8, "UCB-COMA Fig. 8: weighted delay-cost sum vs T_max", run_fig8, plot_fig8)
FIG9 = _artifact(9, "UCB-COMA Fig. 9: UCB-COMA under edge faults", run_fig9, plot_fig9)
SENSITIVITY = Artifact(
    "ucbcoma-sensitivity",
    "ucb-coma, not in the paper: the ordering claims under the delay term in ms and θ = 0",
    run_sensitivity,
    quick=QUICK,
    full=FULL,
    plot=plot_sensitivity,
)
AIF = Artifact(
    "ucbcoma-aif",
    "ucb-coma, not in the paper: active inference (pymdp) beside "
    "CS-UCB, UCB-COMA and Random, W = 6 MHz, T_max = 3.0 s",
    run_aif,
    quick=dataclasses.replace(QUICK, schemes=AIF_SCHEMES),
    full=dataclasses.replace(FULL, schemes=AIF_SCHEMES),
    plot=plot_fig4,
)
ARTIFACTS = {a.name: a for a in (FIG4, FIG5, FIG6, FIG7, FIG8, FIG9, SENSITIVITY, AIF)}

ORDER = (FIG4, SENSITIVITY, FIG7, FIG8, FIG5, FIG6, FIG9)
"""``run_all``'s order: Fig. 4 and the sensitivity study first, then the sweeps (Figs. 8
and 6 reuse the runs of Figs. 7 and 5)."""


def run_all(overrides: dict, out: str | Path, quick: bool = False) -> list[Path]:
    """Every UCB-COMA artifact (``aifedge repro ucbcoma``) on ``QUICK`` or ``FULL`` with config
    ``overrides``, in one process so figures share training runs (the cache of ``_run_one``),
    each written by ``write_artifact``. Returns the Markdown paths; ``SUMMARY.md`` lists every
    artifact's wall time."""
    cfg = with_overrides(QUICK if quick else FULL, **overrides)
    written, lines = [], []
    head = (
        f"# UCB-COMA artifacts (code at commit {results.git_commit()} when the run started; "
        f"{cfg.seeds} seeds, {cfg.n_episodes} episodes)\n\nWall time per artifact:\n\n"
    )
    for art in ORDER:
        start = time.perf_counter()
        frame = art.run(cfg)
        wall = time.perf_counter() - start
        written.append(write_artifact(art, frame, cfg, out, wall)["md"])
        lines.append(f"- `{art.name}`: {wall:.0f} s (new training runs included)")
        print(f"{art.title} ({wall:.0f} s)\n\n{to_markdown(frame)}", flush=True)
    results.write_text_atomic(Path(out) / "SUMMARY.md", head + "\n".join(lines) + "\n")
    return written
