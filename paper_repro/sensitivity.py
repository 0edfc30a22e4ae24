"""Sensitivity of the verdicts on scenario ``paper`` (issue #17, ``aifedge repro sensitivity``).

Each calibration knob (``aif_llm_paper.KNOBS``) is moved by ±``delta`` (20 %) around the
frozen point (``calibration.FROZEN``), one knob at a time; every method runs at every point
on the same episode keys (common random numbers). Per point and claim ``METRIC:A>B``
(``sweep.parse_claim``): the difference A − B in points, whether its sign is the claim's,
and Welch's p (``sweep.claim_table``); and the ordering of the methods by mean ``order_by``,
with whether it is the frozen point's (and, over the Table 4 variants among the methods, the
Table 4 ordering). Every (point, method) is one executor job (``run_point``), so ``--ray``
runs them in parallel. Methods: any ``aif-llm`` policy name (``greedy``, ``oracle``, ``mpc``,
``aif``, ``aif-llm``), an ``aif-llm`` ablation as Table 4 names it (``aif-llm w/o prior``,
``aif-llm w/o semantic``), or an RL baseline (``sac``, …) trained afresh at every point for
``train_steps`` env steps (AIF-LLM Table 3's baselines, at a stated budget).
"""

import dataclasses

import numpy as np
import pandas as pd

from aifedge import executor, sweep
from aifedge.config import ConfigError, load_overrides
from aifedge.environments import aif_llm_paper
from aifedge.environments.metrics import METRIC_NAMES
from aifedge.registry import RL_ALGOS

from . import aif_llm
from .calibration import FROZEN
from .common import Artifact

BASE = "frozen point"
_NAMES: dict[tuple[str, ...] | None, str] = {(): "aif-llm", None: "aif"}
TABLE4 = {
    _NAMES.get(ablate, f"aif-llm {variant}"): ablate
    for variant, ablate in aif_llm.ABLATIONS.items()
    if variant in aif_llm.TABLE4_VARIANTS
}
"""Table 4's variants on ``paper`` as method names -> ``ablate`` (``None``: pure AIF)."""


@dataclasses.dataclass(frozen=True)
class SensitivityConfig:
    """methods: policies run at every point; claims: ``METRIC:A>B`` (or ``<``) tested at
    every point; knobs: the knobs moved; delta: relative move; episodes, seed: episode keys
    ``split(PRNGKey(seed), episodes)`` at every point; base: TOML of the frozen knobs;
    train_steps, train_seed: budget and seed of the RL methods, trained at every point."""

    methods: tuple = ("greedy", "oracle", "mpc", *TABLE4, "sac")
    claims: tuple = (
        "qos:oracle>greedy", "qos:mpc>oracle", "qos:mpc>greedy", "qos:aif-llm>sac",
    )  # fmt: skip
    knobs: tuple = aif_llm_paper.KNOBS
    delta: float = 0.2
    episodes: int = 50
    seed: int = 1000
    order_by: str = "qos"
    base: str = FROZEN
    train_steps: int = 20_000
    train_seed: int = 0

    def __post_init__(self):
        from aifedge.simulate import policy_names

        known = tuple(dict.fromkeys((*policy_names("aif-llm"), *TABLE4, *RL_ALGOS)))
        bad = [m for m in self.methods if m not in known]
        if bad:
            raise ConfigError(
                f"SensitivityConfig.methods: unknown {bad}; choose from {', '.join(known)}"
            )
        if not isinstance(self.train_steps, int) or self.train_steps < 2:
            raise ConfigError(
                f"SensitivityConfig.train_steps: must be an integer ≥ 2 (got {self.train_steps!r})"
            )
        if not 0 < self.delta < 1:
            raise ConfigError(f"SensitivityConfig.delta: must lie in (0, 1) (got {self.delta})")
        if self.order_by not in METRIC_NAMES:
            raise ConfigError(
                f"SensitivityConfig.order_by: choose from {', '.join(METRIC_NAMES)} "
                f"(got {self.order_by!r})"
            )
        unknown = [k for k in self.knobs if k not in aif_llm_paper.KNOBS]
        if unknown:
            raise ConfigError(
                f"SensitivityConfig.knobs: unknown {unknown}; choose from "
                f"{', '.join(aif_llm_paper.KNOBS)}"
            )


def points(cfg: SensitivityConfig, base: dict) -> list[tuple[str, float, dict]]:
    """``(knob, factor, knobs)``: the frozen point (``BASE``, 1.0), then each knob of
    ``cfg.knobs`` × (1 − delta) and × (1 + delta), the others at the frozen values."""
    out = [(BASE, 1.0, dict(base))]
    for knob in cfg.knobs:
        for factor in (1 - cfg.delta, 1 + cfg.delta):
            out.append((knob, factor, {**base, knob: base[knob] * factor}))
    return out


def run_point(point: dict, policy: str, seed: int, episodes: int, train: tuple = ()) -> dict:
    """One job: per-episode metrics ``{metric: (episodes,) array}`` of method ``policy`` on
    ``paper`` at knobs ``point`` (episode keys ``split(PRNGKey(seed), episodes)``); an RL
    method is first trained there with ``train = (train_steps, train_seed)``."""
    from aifedge.registry import AGENTS, load
    from aifedge.simulate import simulate

    params = aif_llm_paper.make_params(**point)
    if policy in RL_ALGOS:
        agent = aif_llm.trained_policy(aif_llm.train_files(policy, params, *train), params)
    elif policy in TABLE4 and policy not in _NAMES.values():  # an ablated aif-llm
        agent = load(AGENTS["aif-llm"])(params, ablate=TABLE4[policy])
    else:  # a registry name, "aif" and "aif-llm" included
        return sweep.run_one("aif-llm", point, policy, seed, episodes, scenario="paper")
    frame = simulate("aif-llm", policy, episodes, seed, params, policy=agent, progress=False)
    return {m: frame[m].to_numpy() for m in METRIC_NAMES}


def episodes(cfg: SensitivityConfig) -> pd.DataFrame:
    """Per-episode metrics: columns knob, factor, the four knob values, policy, episode,
    ``METRIC_NAMES``."""
    base = {k: float(v) for k, v in load_overrides(cfg.base).items()}
    pts = points(cfg, base)
    common = {"seed": cfg.seed, "episodes": cfg.episodes}
    rl = {m: {"train": (cfg.train_steps, cfg.train_seed)} for m in RL_ALGOS}
    calls = [
        (f"{knob}:{factor}:{m}", {**common, "point": knobs, "policy": m, **rl.get(m, {})})
        for knob, factor, knobs in pts
        for m in cfg.methods
    ]
    done = executor.map_jobs(run_point, calls, label="sensitivity")  # plain kwargs: --resume
    labels = [(knob, factor) for knob, factor, _ in pts for _ in cfg.methods]
    frames = [
        pd.DataFrame(
            {
                "knob": knob,
                "factor": factor,
                **kw["point"],
                "policy": kw["policy"],
                "episode": np.arange(cfg.episodes),
                **metrics,
            }
        )
        for (knob, factor), (_, kw), metrics in zip(labels, calls, done, strict=True)
    ]
    return pd.concat(frames, ignore_index=True)


def ranking(means: pd.Series) -> str:
    """``"A > B > C"``: the methods (index) by decreasing mean (a tie keeps the given order)."""
    return " > ".join(means.sort_values(ascending=False, kind="stable").index)


def run(cfg: SensitivityConfig) -> pd.DataFrame:
    """One row per point: knob values, mean ``order_by`` per method (%), per claim A − B
    (points), sign as claimed, Welch p; the methods' ordering and whether it is the frozen
    point's; likewise the ordering of the Table 4 variants among the methods (``TABLE4``).
    Per-episode rows in ``frame.attrs["data"]``."""
    eps = episodes(cfg)
    grid = (("knob", ()), ("factor", ()))  # claim_table groups by these fields only
    scfg = sweep.SweepConfig("aif-llm", tuple(cfg.methods), grid)
    claims = [sweep.parse_claim(c, tuple(cfg.methods)) for c in cfg.claims]
    tables = [sweep.claim_table(eps, scfg, c) for c in claims]
    rows = []
    for i, (key, cell) in enumerate(eps.groupby(["knob", "factor"], sort=False)):
        means = cell.groupby("policy", sort=False)[cfg.order_by].mean()
        row = {"knob": key[0], "factor": key[1], **cell.iloc[0][list(aif_llm_paper.KNOBS)]}
        row |= {f"{m} {cfg.order_by} %": 100 * means[m] for m in cfg.methods}
        for c, table in zip(claims, tables, strict=True):
            t = table.iloc[i]
            name = f"{c.a}−{c.b}"
            row |= {f"{name} (pts)": 100 * t["diff"], f"{name} as claimed": t["holds"],
                    f"{name} Welch p": t["welch_p"]}  # fmt: skip
        row["ordering"] = ranking(means)
        if len(table4 := [m for m in cfg.methods if m in TABLE4]) > 1:
            row["Table 4 ordering"] = ranking(means[table4])
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["same ordering"] = frame.ordering == frame.ordering.iloc[0]
    if "Table 4 ordering" in frame:
        table4 = frame["Table 4 ordering"]
        frame["same Table 4 ordering"] = table4 == table4.iloc[0]
    frame.attrs["data"] = eps
    return frame


QUICK = SensitivityConfig(
    methods=("greedy", "oracle"), claims=("qos:oracle>greedy",), knobs=("rho",), episodes=4
)
SENSITIVITY = Artifact(
    "sensitivity",
    "Scenario paper: each knob ±20 % around the frozen point (sign, Welch p, ordering)",
    run,
    QUICK,
    SensitivityConfig(),
)
