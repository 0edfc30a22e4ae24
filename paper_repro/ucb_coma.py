"""Seed 001 (UCB-COMA, Liao, Tao et al., 电子学报 2025) Figs. 4–9 on ``dag-offload``.

Every figure is a ``common.Artifact``: one frozen ``UcbComaConfig`` (``full`` = the paper's
700 episodes, ``quick`` = 120 episodes, one seed), ``run(cfg) -> DataFrame`` of claims with
a verdict, the raw per-episode data in ``frame.attrs["data"]``, and a matplotlib figure.

The paper prints no numbers in its text, only curves and bars, so the ``paper`` column
states the qualitative claim the text makes about each figure, and ``ours`` is a number
measured on our runs whose sign decides it:

* "highest" / "lowest": margin of the named scheme over the best (worst) other scheme,
  per setting; reproduced if margin ≥ −tol (highest) or ≤ +tol (lowest).
* "improves": mean over the last ``tail`` fraction of training episodes minus the mean
  over the first; reproduced if > tol.
* "flat": |last − first| ≤ tol.
* "decreasing" / "increasing": least-squares slope vs the swept value; reproduced if the
  slope has that sign and |slope · range| > tol.

``tol`` = ``cfg.tol`` × the spread (max − min) of the metric across all schemes and
settings of the figure, so it scales with the env's reward units. "Average reward" of a
scheme is its mean training reward over the last ``tail`` of its episodes (the paper does
not say how its averages were taken). The weighted sum is the objective (1) per completed
task, γ T_i + (1 − γ) Cost_i, min–max normalised to [0.1, 1] over the figure's cells as
in the paper's Figs. 6 and 8.
"""

import dataclasses
import functools
import math

import jax
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aifedge.baselines import marl
from aifedge.config import ConfigError
from aifedge.environments import dag_offload as dag
from aifedge.executor import map_jobs

from .common import Artifact

SCHEMES = ("ucb-coma", "coma", "mappo", "maddpg", "cs-ucb", "random")
COLORS = {
    "ucb-coma": "tab:red",
    "coma": "tab:blue",
    "mappo": "tab:green",
    "maddpg": "tab:purple",
    "cs-ucb": "tab:orange",
    "random": "tab:gray",
    "aif": "tab:cyan",
}
AIF_SCHEMES = ("aif", "cs-ucb", "ucb-coma", "random")
"""Schemes of the ``ucbcoma-aif`` extension (not a paper figure)."""


@dataclasses.dataclass(frozen=True)
class UcbComaConfig:
    """One configuration for Figs. 4–9.

    seeds           independent runs 0..seeds−1 (the paper shows one run).
    n_episodes      training episodes per scheme and setting (Fig. 4: 700).
    schemes         learners (``marl.LEARNERS`` names), each with its frozen default config.
    tail            fraction of final (and first) episodes averaged for "average reward".
    bandwidths_mhz  W sweep of Figs. 5–6 (Table 2), at T_max = 3.0 s.
    t_max_values    T_max sweep of Figs. 7–8 (Table 2), at W = 6 MHz.
    fault_probs     edge fault probabilities of Fig. 9, at W = 6 MHz, T_max = 3.0 s.
    fig9_scheme     the scheme Fig. 9 stresses with faults (the paper: UCB-COMA).
    env_overrides   ((field, value), ...) for ``dag_offload.make_params`` (tests, studies).
    quick_compile   lower XLA optimisation (short runs are compile-bound).
    tol             verdict tolerance as a fraction of the figure's metric spread.
    """

    seeds: int = 1
    n_episodes: int = 700
    schemes: tuple = SCHEMES
    tail: float = 0.2
    bandwidths_mhz: tuple = (5.0, 5.5, 6.0)
    t_max_values: tuple = (2.5, 2.8, 3.0)
    fault_probs: tuple = (0.0, 0.1, 0.2)
    fig9_scheme: str = "ucb-coma"
    env_overrides: tuple = ()
    quick_compile: bool = False
    tol: float = 0.05

    def __post_init__(self):
        if not isinstance(self.seeds, int) or self.seeds < 1:
            raise ConfigError(f"UcbComaConfig.seeds: must be an integer ≥ 1 (got {self.seeds!r})")
        if not isinstance(self.n_episodes, int) or self.n_episodes < 5:
            raise ConfigError(
                f"UcbComaConfig.n_episodes: must be an integer ≥ 5 (got {self.n_episodes!r})"
            )
        if self.fig9_scheme not in marl.LEARNERS:
            raise ConfigError(
                f"UcbComaConfig.fig9_scheme: unknown {self.fig9_scheme!r}; "
                f"choose from {', '.join(marl.LEARNERS)}"
            )
        bad = [s for s in self.schemes if s not in marl.LEARNERS]
        if bad or not self.schemes:
            raise ConfigError(
                f"UcbComaConfig.schemes: unknown {bad}; choose from {', '.join(marl.LEARNERS)}"
            )
        if not 0 < self.tail <= 0.5:
            raise ConfigError(f"UcbComaConfig.tail: must lie in (0, 0.5] (got {self.tail})")
        if not self.tol >= 0:
            raise ConfigError(f"UcbComaConfig.tol: must be ≥ 0 (got {self.tol})")
        try:
            dag.make_params(**dict(self.env_overrides))
        except (ConfigError, TypeError) as err:
            raise ConfigError(f"UcbComaConfig.env_overrides: {err}") from None

    def env_params(self, **setting) -> dag.EnvParams:
        return dag.make_params(**{**dict(self.env_overrides), **setting})


FULL = UcbComaConfig()
QUICK = UcbComaConfig(n_episodes=120, quick_compile=True)


def _curve(cfg: UcbComaConfig, setting: tuple, scheme: str, seed: int) -> pd.DataFrame:
    """One executor job: per-episode training stats of ``scheme``, seed ``seed``."""
    _, st = marl.train(
        jax.random.PRNGKey(seed),
        scheme,
        cfg.env_params(**dict(setting)),
        marl.make_config(scheme),
        cfg.n_episodes,
        quick_compile=cfg.quick_compile,
    )
    data = {f: np.asarray(getattr(st, f), float) for f in marl.EpisodeStats._fields}
    frame = pd.DataFrame(data)
    frame.insert(0, "episode", np.arange(1, cfg.n_episodes + 1))
    frame.insert(0, "seed", seed)
    frame.insert(0, "scheme", scheme)
    for k, v in setting:
        frame[k] = v
    return frame


@functools.lru_cache(maxsize=64)
def _curves(cfg: UcbComaConfig, setting: tuple) -> pd.DataFrame:
    """Per-episode training stats of every scheme and seed in one env setting (one job
    of the current executor, ``--ray``, per scheme and seed)."""
    calls = [
        (f"{scheme}:{seed}", {"cfg": cfg, "setting": setting, "scheme": scheme, "seed": seed})
        for scheme in cfg.schemes
        for seed in range(cfg.seeds)
    ]
    return pd.concat(map_jobs(_curve, calls, "ucb-coma"), ignore_index=True)


def _tail(data: pd.DataFrame, cfg: UcbComaConfig, head=False) -> pd.DataFrame:
    """The rows of the last (or first) ``tail`` fraction of each run's episodes."""
    k = max(1, round(cfg.tail * cfg.n_episodes))
    return data[data.episode <= k] if head else data[data.episode > cfg.n_episodes - k]


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


def _row(fig, claim, setting, paper, ours, tol, ok) -> dict:
    verdict = "n/a" if ours is None or math.isnan(ours) else ("yes" if ok else "no")
    return {
        "figure": fig,
        "claim": claim,
        "setting": setting,
        "paper": paper,
        "ours": ours,
        "tol": tol,
        "reproduced?": verdict,
    }


def _extreme_rows(
    fig, means: pd.Series, key: str, scheme: str, which: str, paper: str, metric: str, frac: float
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
        rows.append(
            _row(fig, f"{scheme} {which} {metric}", f"{key}={value}", paper, float(margin), tol, ok)
        )
    return rows


def _tol_of(values, frac: float) -> float:
    """``frac`` × (max − min) of ``values``: the verdict tolerance in the metric's units."""
    v = np.asarray(values, float)
    return frac * float(np.nanmax(v) - np.nanmin(v)) if v.size else math.nan


def _sweep(cfg: UcbComaConfig, key: str, values: tuple, **fixed) -> pd.DataFrame:
    frames = [_curves(cfg, tuple(sorted({**fixed, key: v}.items()))) for v in values]
    return pd.concat(frames, ignore_index=True)


def _finish(rows: list[dict], data: pd.DataFrame, summary: pd.DataFrame | None = None):
    out = pd.DataFrame(
        rows, columns=["figure", "claim", "setting", "paper", "ours", "tol", "reproduced?"]
    )
    out.attrs["data"] = data
    if summary is not None:
        out.attrs["summary"] = summary
    return out


def run_fig4(cfg: UcbComaConfig) -> pd.DataFrame:
    """Fig. 4: reward of the six schemes over training, W = 6 MHz, T_max = 3.0 s."""
    data = _curves(cfg, (("bandwidth_mhz", 6.0), ("t_max_s", 3.0)))
    tail = _tail_means(data, cfg, [])["reward"]
    head = _tail_means(data, cfg, [], head=True)["reward"]
    tol = _tol_of(pd.concat([tail, head]), cfg.tol)
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
            )
        )
    for scheme in tail.index:
        gain = float(tail[scheme] - head[scheme])
        if scheme == "random":
            rows.append(
                _row(
                    "fig4",
                    "random flat",
                    "W=6, T_max=3.0",
                    "Random oscillates at a low level",
                    gain,
                    tol,
                    abs(gain) <= tol,
                )
            )
        else:
            rows.append(
                _row(
                    "fig4",
                    f"{scheme} improves",
                    "W=6, T_max=3.0",
                    "reward rises with training",
                    gain,
                    tol,
                    gain > tol,
                )
            )
    summary = pd.DataFrame({"first": head, "last": tail})
    return _finish(rows, data, summary)


def run_aif(cfg: UcbComaConfig) -> pd.DataFrame:
    """Not in the paper: the pymdp ``aif`` learner (``inference.dag_aif``) beside CS-UCB,
    UCB-COMA and Random in Fig. 4's setting (W = 6 MHz, T_max = 3.0 s).

    One row per scheme: mean episode reward over the first and the last ``tail`` of
    training episodes, and over the last ``tail``: weighted sum, task completion and
    deadline-met fractions (each the mean over seeds and episodes; ``*_std`` over
    episodes). The paper has no such numbers, so there is no verdict.
    """
    data = _curves(cfg, (("bandwidth_mhz", 6.0), ("t_max_s", 3.0)))
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
    # figure kind -> (column of the tail means, metric label, ((scheme, which, paper), ...))
    "reward": (
        "reward",
        "reward",
        (
            ("ucb-coma", "highest", "UCB-COMA has the highest average reward"),
            ("random", "lowest", "Random has a low, flat average reward"),
        ),
    ),
    "weighted": (
        "weighted_norm",
        "weighted sum",
        (
            ("ucb-coma", "lowest", "UCB-COMA has the lowest weighted sum"),
            ("cs-ucb", "highest", "CS-UCB has the highest weighted sum"),
        ),
    ),
}


def _run_sweep(cfg, fig, kind: str, key, values, **fixed):
    """Figs. 5–8: the ``_SWEEP_CLAIMS[kind]`` claims over the ``key`` sweep."""
    data = _sweep(cfg, key, values, **fixed)
    means = _tail_means(data, cfg, [key])
    means["weighted_norm"] = normalise(means["weighted"].to_numpy())
    column, metric, claims = _SWEEP_CLAIMS[kind]
    rows = []
    for scheme, which, paper in claims:
        rows += _extreme_rows(fig, means[column], key, scheme, which, paper, metric, cfg.tol)
    return _finish(rows, data, means.reset_index())


def run_fig5(cfg: UcbComaConfig) -> pd.DataFrame:
    """Fig. 5: average reward vs edge bandwidth W, T_max = 3.0 s."""
    return _run_sweep(cfg, "fig5", "reward", "bandwidth_mhz", cfg.bandwidths_mhz, t_max_s=3.0)


def run_fig6(cfg: UcbComaConfig) -> pd.DataFrame:
    """Fig. 6: normalised delay-and-cost weighted sum vs W, T_max = 3.0 s."""
    return _run_sweep(cfg, "fig6", "weighted", "bandwidth_mhz", cfg.bandwidths_mhz, t_max_s=3.0)


def run_fig7(cfg: UcbComaConfig) -> pd.DataFrame:
    """Fig. 7: average reward vs T_max, W = 6 MHz."""
    return _run_sweep(cfg, "fig7", "reward", "t_max_s", cfg.t_max_values, bandwidth_mhz=6.0)


def run_fig8(cfg: UcbComaConfig) -> pd.DataFrame:
    """Fig. 8: normalised weighted sum vs T_max, W = 6 MHz."""
    return _run_sweep(cfg, "fig8", "weighted", "t_max_s", cfg.t_max_values, bandwidth_mhz=6.0)


def run_fig9(cfg: UcbComaConfig) -> pd.DataFrame:
    """Fig. 9: UCB-COMA's average reward and weighted sum vs edge fault probability."""
    one = dataclasses.replace(cfg, schemes=(cfg.fig9_scheme,))
    data = _sweep(one, "fault_prob", cfg.fault_probs, bandwidth_mhz=6.0, t_max_s=3.0)
    means = _tail_means(data, one, ["fault_prob"]).droplevel("scheme")
    x = np.asarray(means.index, float)
    rows = []
    for metric, sign, paper in (
        ("reward", -1, "average reward falls slightly as faults rise"),
        ("weighted", 1, "weighted sum rises as faults rise"),
    ):
        y = means[metric].to_numpy(float)
        ok_pts = ~np.isnan(y)
        slope = float(np.polyfit(x[ok_pts], y[ok_pts], 1)[0]) if ok_pts.sum() >= 2 else math.nan
        tol = _tol_of(y[ok_pts], cfg.tol)
        change = slope * float(x.max() - x.min())
        ok = sign * change > tol
        trend = "decreasing" if sign < 0 else "increasing"
        rows.append(
            _row(
                "fig9",
                f"{cfg.fig9_scheme} {metric} {trend}",
                "W=6, T_max=3.0",
                paper,
                slope,
                tol,
                ok,
            )
        )
    return _finish(rows, data, means.reset_index())


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
    """Reward vs episode: EMA-smoothed lines, raw per-episode reward shaded behind."""
    data = frame.attrs["data"]
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    for scheme, g in data.groupby("scheme", sort=False):
        curve = g.groupby("episode")["reward"].mean()
        c = COLORS.get(scheme)
        ax.plot(curve.index, curve.to_numpy(), color=c, alpha=0.2, lw=0.6)
        ax.plot(curve.index, ema(curve.to_numpy()), color=c, label=scheme)
    ax.set_xlabel("episode")
    ax.set_ylabel("episode reward Σ_t Σ_i r_i")
    name = "dag-offload, with aif" if "aif" in set(data.scheme) else "UCB-COMA Fig. 4"
    ax.set_title(f"{name} (W = 6 MHz, T_max = 3.0 s)", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def _bars(frame: pd.DataFrame, key: str, metric: str, ylabel: str, title: str) -> Figure:
    summary = frame.attrs["summary"]
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    schemes = list(dict.fromkeys(summary.scheme))
    values = list(dict.fromkeys(summary[key]))
    width = 0.8 / max(len(schemes), 1)
    for k, scheme in enumerate(schemes):
        sub = summary[summary.scheme == scheme].set_index(key).reindex(values)
        ax.bar(
            np.arange(len(values)) + k * width,
            sub[metric].to_numpy(),
            width,
            label=scheme,
            color=COLORS.get(scheme),
        )
    ax.set_xticks(np.arange(len(values)) + 0.4 - width / 2, [str(v) for v in values])
    ax.set_xlabel(key)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return fig


def plot_fig5(frame):
    return _bars(frame, "bandwidth_mhz", "reward", "average reward", "UCB-COMA Fig. 5")


def plot_fig6(frame):
    return _bars(
        frame, "bandwidth_mhz", "weighted_norm", "normalised weighted sum", "UCB-COMA Fig. 6"
    )


def plot_fig7(frame):
    return _bars(frame, "t_max_s", "reward", "average reward", "UCB-COMA Fig. 7")


def plot_fig8(frame):
    return _bars(frame, "t_max_s", "weighted_norm", "normalised weighted sum", "UCB-COMA Fig. 8")


def plot_fig9(frame: pd.DataFrame) -> Figure:
    summary = frame.attrs["summary"]
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, metric, label in zip(
        axes, ("reward", "weighted"), ("average reward", "weighted sum γT + (1−γ)Cost"), strict=True
    ):
        ax.bar([str(v) for v in summary.fault_prob], summary[metric], color=COLORS["ucb-coma"])
        ax.set_xlabel("edge fault probability")
        ax.set_ylabel(label)
    fig.suptitle("UCB-COMA Fig. 9", fontsize=10)
    return fig


def _artifact(n: int, title: str, run, plot) -> Artifact:
    return Artifact(f"ucbcoma-fig{n}", title, run, quick=QUICK, full=FULL, plot=plot)


FIG4 = _artifact(4, "UCB-COMA Fig. 4: reward over training, six schemes", run_fig4, plot_fig4)
FIG5 = _artifact(5, "UCB-COMA Fig. 5: average reward vs edge bandwidth W", run_fig5, plot_fig5)
FIG6 = _artifact(6, "UCB-COMA Fig. 6: normalised weighted sum vs W", run_fig6, plot_fig6)
FIG7 = _artifact(7, "UCB-COMA Fig. 7: average reward vs T_max", run_fig7, plot_fig7)
FIG8 = _artifact(8, "UCB-COMA Fig. 8: normalised weighted sum vs T_max", run_fig8, plot_fig8)
FIG9 = _artifact(9, "UCB-COMA Fig. 9: UCB-COMA under edge faults", run_fig9, plot_fig9)
AIF = Artifact(
    "ucbcoma-aif",
    "dag-offload, not in the paper: active inference (pymdp) beside "
    "CS-UCB, UCB-COMA and Random, W = 6 MHz, T_max = 3.0 s",
    run_aif,
    quick=dataclasses.replace(QUICK, schemes=AIF_SCHEMES),
    full=dataclasses.replace(FULL, schemes=AIF_SCHEMES),
    plot=plot_fig4,
)
ARTIFACTS = {a.name: a for a in (FIG4, FIG5, FIG6, FIG7, FIG8, FIG9, AIF)}
