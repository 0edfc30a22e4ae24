"""Calibration of scenario ``paper`` (issue #17), as pre-registered in
``paper_repro/calibration.md``: four knobs, fitted to the SAC row of AIF-LLM Table 3 only.

    python -m aifedge.paper_repro.calibration --stage surrogate   # greedy + oracle grid
    python -m aifedge.paper_repro.calibration --stage sac         # frozen SAC on the best points
    python -m aifedge.paper_repro.calibration --stage freeze      # write the chosen knobs

Both stages append their trials (one row per knob point and method) to ``trials.csv``
(rewritten atomically after every point, so an interrupted run keeps what it did);
``--quick`` runs a toy grid for tests and smoke runs.
"""

import argparse
import dataclasses
import itertools
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from aifedge import results
from aifedge.config import ConfigError, load_overrides
from aifedge.environments import aif_llm_paper
from aifedge.simulate import get_policy, simulate

from .common import Artifact

TARGET = {"qos_completed": (89.67, 2.54), "latency_ms": (451.99, 30.61), "tcr": (91.40, 2.22)}
"""SAC row of AIF-LLM Table 3 (§5.2.1): mean and per-episode s.d.; QoS read as met/completed."""
KNOBS = aif_llm_paper.KNOBS


@dataclasses.dataclass(frozen=True)
class CalibrationConfig:
    """The pre-registered search (``calibration.md``); grids are the knob values tried."""

    rho: float = 0.9
    hazard: tuple = (0.25, 0.5, 1.0, 2.0)
    tail: tuple = (0.5, 1.0, 2.0)
    tightness: tuple = (1.5, 2.0, 2.5, 3.0)
    episodes: int = 32
    seed: int = 0
    n_sac: int = 4
    sac_steps: int | None = None  # None: the frozen SAC config's budget
    sac_eval_episodes: int = 200
    sac_train_seed: int = 0
    sac_eval_seed: int = 1
    sac_point: int | None = None  # run only the k-th best admissible point (1-based)
    out: str = "paper_repro/results/calibration/trials.csv"


QUICK = CalibrationConfig(
    hazard=(1.0,), tail=(1.0,), tightness=(2.0, 3.0), episodes=4, n_sac=1, sac_steps=800,
    sac_eval_episodes=4, out="results/calibration-quick/trials.csv",
)  # fmt: skip


def episode_summary(frame: pd.DataFrame) -> dict:
    """Means over episodes in % / ms: qos (met/all), qos_completed (met/completed), tcr,
    failure_rate, latency_ms, and the s.d. of qos_completed."""
    qc = frame.qos / frame.tcr.where(frame.tcr > 0)
    return {
        "qos": 100 * frame.qos.mean(),
        "qos_completed": 100 * qc.mean(),
        "qos_completed_sd": 100 * qc.std(),
        "tcr": 100 * frame.tcr.mean(),
        "failure_rate": 100 * frame.failure_rate.mean(),
        "latency_ms": frame.latency_ms.mean(),
    }


def distance(m: dict) -> float:
    """D = Σ ((m − target) / s.d.)² over QoS (met/completed), latency, TCR (calibration.md)."""
    return float(sum(((m[k] - mu) / sd) ** 2 for k, (mu, sd) in TARGET.items()))


def _row(stage, method, knobs, cfg, episodes, summary, wall) -> dict:
    return {
        "stage": stage,
        "method": method,
        **knobs,
        "episodes": episodes,
        **summary,
        "distance": distance(summary),
        "wall_s": wall,
        "seed": cfg.seed,
        "commit": results.git_commit(),
        "run_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def grid(cfg: CalibrationConfig) -> list[dict]:
    """Knob points of the surrogate stage (ρ fixed)."""
    return [
        {"rho": cfg.rho, "hazard": h, "tail": t, "tightness": d}
        for h, t, d in itertools.product(cfg.hazard, cfg.tail, cfg.tightness)
    ]


def surrogate_stage(cfg: CalibrationConfig, progress: bool = False) -> pd.DataFrame:
    """greedy and oracle on every grid point (``cfg.episodes`` episodes, seed ``cfg.seed``);
    each point's trials are appended to ``cfg.out`` as soon as they exist."""
    rows = []
    for knobs in grid(cfg):
        point = []
        params = aif_llm_paper.make_params(**knobs)
        for method in ("greedy", "oracle"):
            start = time.perf_counter()
            frame = simulate(
                "aif-llm", method, cfg.episodes, cfg.seed, params, progress=progress,
                policy=get_policy(method, "aif-llm", params),
            )  # fmt: skip
            wall = time.perf_counter() - start
            point.append(
                _row("surrogate", method, knobs, cfg, cfg.episodes, episode_summary(frame), wall)
            )
        append_trials(cfg.out, pd.DataFrame(point))
        rows += point
        if progress:
            print(f"surrogate {len(rows) // 2}/{len(grid(cfg))}: {knobs}", flush=True)
    return pd.DataFrame(rows)


def rank_points(trials: pd.DataFrame, cfg: CalibrationConfig) -> pd.DataFrame:
    """Admissible surrogate points ranked by D of the greedy–oracle midpoint.

    Admissible: the SAC target of QoS (met/completed) and TCR lies within
    [greedy − 2 s.e., oracle + 2 s.e.], s.e. = the paper's SAC s.d. / √episodes.
    """
    sur = trials[trials.stage == "surrogate"]
    keys = list(KNOBS)
    out = []
    for knobs, group in sur.groupby(keys):
        by = group.drop_duplicates("method", keep="last").set_index("method")
        if not {"greedy", "oracle"} <= set(by.index):
            continue
        g, o = by.loc["greedy"], by.loc["oracle"]
        ok = True
        for k in ("qos_completed", "tcr"):
            mu, sd = TARGET[k]
            se = sd / np.sqrt(g.episodes)
            ok &= g[k] - 2 * se <= mu <= o[k] + 2 * se
        mid = {k: (g[k] + o[k]) / 2 for k in TARGET}
        out.append(
            {
                **dict(zip(keys, knobs, strict=True)),
                "admissible": bool(ok),
                "mid_distance": distance(mid),
                "headroom_qos": o.qos - g.qos,
                "headroom_qos_completed": o.qos_completed - g.qos_completed,
            }
        )
    frame = pd.DataFrame(out)
    if frame.empty:
        return frame
    return frame.sort_values(["admissible", "mid_distance"], ascending=[False, True])


def sac_stage(trials: pd.DataFrame, cfg: CalibrationConfig, progress: bool = False):
    """Frozen SAC (``rl.make_config("sac")``) on the ``cfg.n_sac`` best admissible points."""
    try:
        from aifedge.baselines import rl
    except ImportError:
        raise ConfigError("calibration --stage sac: needs the [rl] extra") from None
    from aifedge.environments.gym_wrapper import AifLlmEnv

    ranked = rank_points(trials, cfg)
    best = ranked[ranked.admissible].head(cfg.n_sac) if not ranked.empty else ranked
    if best.empty:
        raise ConfigError("calibration --stage sac: no admissible surrogate point; run the grid")
    if cfg.sac_point is not None:  # one point only (SAC points in parallel processes)
        best = best.iloc[cfg.sac_point - 1 : cfg.sac_point]
    best = best[~_done(best, trials[trials.stage == "sac"])]  # resume: skip points already run
    sac_cfg = rl.make_config("sac")
    assert isinstance(sac_cfg, rl.SACConfig)
    if cfg.sac_steps is not None:  # a smaller budget (--quick): warm-up within it
        start = min(sac_cfg.learning_starts, cfg.sac_steps // 2)
        sac_cfg = rl.make_config("sac", steps=cfg.sac_steps, learning_starts=start)
    rows = []
    for point in best.to_dict("records"):
        knobs = {k: point[k] for k in KNOBS}
        params = aif_llm_paper.make_params(**knobs)
        start = time.perf_counter()
        res = rl.train(
            "sac", partial(AifLlmEnv, params), sac_cfg, seed=cfg.sac_train_seed,
            progress=progress,
        )  # fmt: skip
        frame = simulate(
            "aif-llm", "sac", cfg.sac_eval_episodes, cfg.sac_eval_seed, params,
            progress=False, policy=rl.jax_policy(res.policy, params),
        )  # fmt: skip
        wall = time.perf_counter() - start
        summary = {**episode_summary(frame), "sac_steps": sac_cfg.steps}
        rows.append(_row("sac", "sac", knobs, cfg, cfg.sac_eval_episodes, summary, wall))
        append_trials(cfg.out, pd.DataFrame(rows[-1:]))
    return pd.DataFrame(rows)


def _done(points: pd.DataFrame, trials: pd.DataFrame) -> np.ndarray:
    """Boolean mask over ``points``: a trial with the same knobs (to 1e-9) exists."""
    if trials.empty:
        return np.zeros(len(points), bool)
    a = points[list(KNOBS)].to_numpy(float)[:, None, :]
    b = trials[list(KNOBS)].to_numpy(float)[None, :, :]
    return np.isclose(a, b, rtol=0, atol=1e-9).all(-1).any(-1)


def append_trials(path: str | Path, new: pd.DataFrame) -> pd.DataFrame:
    """``trials.csv`` with ``new`` appended (the whole file rewritten atomically);
    ``path == ""``: nothing is written (the ``calibration`` artifact keeps trials in memory)."""
    if not str(path):
        return new
    path = Path(path)
    old = pd.read_csv(path) if path.is_file() else None
    frame = new if old is None else pd.concat([old, new], ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    results.write_csv(path, frame)
    return frame


FROZEN = "paper_repro/configs/paper_calibrated.toml"
"""The frozen knobs of scenario ``paper`` (``--config`` file of ``aifedge simulate``)."""


def choose(trials: pd.DataFrame, cfg: CalibrationConfig) -> tuple[dict, str]:
    """``(knobs, status)`` of the chosen point: the SAC trial of least D once SAC has run on
    ``cfg.n_sac`` distinct points (fewer when fewer are admissible), else the best admissible
    surrogate point, marked PROVISIONAL (calibration.md steps 2–4)."""
    sac = trials[trials.stage == "sac"].drop_duplicates(list(KNOBS), keep="last")  # distinct
    ranked = rank_points(trials, cfg)
    ranked = ranked[ranked.admissible] if not ranked.empty else ranked
    if ranked.empty:
        raise ConfigError("calibration: no admissible surrogate point; run the grid")
    if len(sac) >= min(cfg.n_sac, len(ranked)):
        best, status = sac.sort_values("distance").iloc[0], "frozen (SAC stage)"
    else:
        best = ranked.iloc[0]
        status = f"PROVISIONAL (surrogate stage; {len(sac)} of {cfg.n_sac} SAC trials run)"
    return {k: float(best[k]) for k in KNOBS}, status


def freeze(trials: pd.DataFrame, cfg: CalibrationConfig, path: str | Path = FROZEN) -> dict:
    """Write the knobs ``choose`` picks as TOML (its status in the header comment)."""
    knobs, status = choose(trials, cfg)
    lines = [
        f"# Scenario paper, calibrated knobs: {status}.",
        f"# From {cfg.out} at commit {results.git_commit()}; see paper_repro/calibration.md.",
        *(f"{k} = {v!r}" for k, v in knobs.items()),
    ]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    results.write_text_atomic(path, "\n".join(lines) + "\n")
    return {**knobs, "status": status}


def run_search(cfg: CalibrationConfig) -> pd.DataFrame:
    """The whole protocol from ``cfg`` (``aifedge repro calibration``): surrogate grid, frozen
    SAC on the best admissible points, the chosen point; trials kept in memory unless
    ``cfg.out`` names a file. One row per grid point (``rank_points``) with SAC's metrics where
    it ran, ``chosen`` and ``shipped`` (the knobs of ``paper_calibrated.toml``); the trials
    are ``frame.attrs["data"]``."""
    trials = surrogate_stage(cfg)
    trials = pd.concat([trials, sac_stage(trials, cfg)], ignore_index=True)
    knobs, status = choose(trials, cfg)
    metrics = ["qos", "qos_completed", "tcr", "latency_ms", "distance"]
    sac = trials[trials.stage == "sac"][[*KNOBS, *metrics]]
    frame = rank_points(trials, cfg).merge(
        sac.rename(columns={m: f"sac_{m}" for m in metrics}), on=list(KNOBS), how="left"
    )
    shipped = load_overrides(FROZEN) if Path(FROZEN).is_file() else {}
    frame["chosen"] = _done(frame, pd.DataFrame([knobs]))
    frame["shipped"] = _done(frame, pd.DataFrame([shipped])) if shipped else False
    frame["status"] = np.where(frame.chosen, status, "")
    frame.attrs["data"] = trials
    return frame


CALIBRATION = Artifact(
    "calibration",
    "Calibration of scenario paper to the SAC row (calibration.md)",
    run_search,
    dataclasses.replace(QUICK, out=""),
    dataclasses.replace(CalibrationConfig(), out=""),
)
"""``aifedge repro calibration``: the pre-registered search re-run; ``--quick`` = ``QUICK``."""


def run(cfg: CalibrationConfig, stage: str = "surrogate", progress: bool = False):
    """Run ``stage`` (surrogate | sac), appending its trials to ``cfg.out`` point by point;
    returns all trials of the file."""
    if stage == "surrogate":
        surrogate_stage(cfg, progress)
        return pd.read_csv(cfg.out)
    if stage == "sac":
        path = Path(cfg.out)
        if not path.is_file():
            raise ConfigError(f"--stage sac: {path} does not exist; run --stage surrogate first")
        sac_stage(pd.read_csv(path), cfg, progress)
        return pd.read_csv(path)
    if stage == "freeze":
        trials = pd.read_csv(cfg.out)
        print(freeze(trials, cfg))
        return trials
    raise ConfigError(f"--stage: unknown stage {stage!r}; choose surrogate, sac or freeze")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m aifedge.paper_repro.calibration")
    ap.add_argument("--stage", default="surrogate", choices=("surrogate", "sac", "freeze"))
    ap.add_argument("--quick", action="store_true", help="toy grid (smoke test)")
    ap.add_argument("--out", default=None, help="trials CSV (default: the config's)")
    ap.add_argument(
        "--point", type=int, default=None, help="--stage sac: only the K-th best point (1-based)"
    )
    args = ap.parse_args(argv)
    cfg = QUICK if args.quick else CalibrationConfig()
    if args.out:
        cfg = dataclasses.replace(cfg, out=args.out)
    if args.point is not None:
        cfg = dataclasses.replace(cfg, sac_point=args.point)
    trials = run(cfg, args.stage, progress=True)
    ranked = rank_points(trials, cfg)
    print(f"wrote {cfg.out} ({len(trials)} trials)")
    if not ranked.empty:
        print(ranked.head(8).to_string(index=False))


if __name__ == "__main__":
    main()
