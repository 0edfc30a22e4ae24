"""``aif`` / ``aif-llm`` on scenario ``paper``: QoS, miss causes and ablations (issue 16).

``aifedge repro paper-agents [--config FILE]`` runs every variant (``VARIANTS``: the
references, the two agents, and one change each) on the same episodes (keys of ``aifedge
compare``: ``split(PRNGKey(seed), episodes)``) at the scenario knobs of ``Config.scenario``
(a TOML of ``paper`` fields), and writes ``paper-agents.csv`` (per variant: mean and SE of
QoS, the ``metrics.paper_miss_causes`` shares, the dispatch share per node, Welch p against
``aif``, ``aif-llm`` and greedy) and ``paper-agents_data.csv`` (one row per variant ×
episode), with the command and provenance in ``paper-agents.json``.
"""

from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
import pandas as pd

from aifedge.environments import aif_llm_paper, batch_rollout
from aifedge.environments.metrics import paper_miss_causes, welch_test

from .calibration import FROZEN
from .common import Artifact

VARIANTS = {
    "greedy": None,
    "oracle": None,
    "aif": {},
    "aif-llm": {"d_llm": True, "semantic": True},
    "aif-llm -prior": {"semantic": True},
    "aif-llm -semantic": {"d_llm": True},
    "aif-llm -meta": {"d_llm": True, "semantic": True, "meta": None, "lam": "best"},
    "aif-llm advice v1": {"d_llm": True, "semantic": True, "meta": None, "advisor": "v1"},
    "aif-llm alpha=1": {"d_llm": True, "semantic": True, "alpha": 1.0},
    "aif -occupancy": {"occupancy_price": 0.0},
    "aif -booking": {"booking": False},
    "aif -health": {"health": False},
    "aif +epistemic": {"epistemic": True},
    "aif kappa=3": {"fail_cost": 3.0},
    "aif mix-prior": {"req_by_type": False},
    "aif before #16 fix": {"req_by_type": False, "fail_cost": 3.0, "occupancy_price": 0.0},
}
"""Name -> ``build_paper_agent`` keywords (None: the reference policy of that name);
``epistemic``: G_epis on (``PAPER_CONFIG`` has it off). ``aif before #16 fix``: the agent
before this fix (base-rate requirement prior, κ = 3, no occupancy price). ``aif-llm`` uses the
stored meta-λ (``inference.paper_meta_lambda``) and advisor v2; ``-meta``: λ fixed at the best
constant on the meta-training conditions (``lam="best"``: the checkpoint's
``best_constant``); ``advice v1``: the advisor before issue 16 item 5 at λ = 1."""
REFERENCES = ("aif", "aif-llm", "greedy")


@dataclass(frozen=True)
class Config:
    """``scenario``: TOML of ``paper`` knobs/fields; ``seed``/``episodes``: evaluation
    episodes (seed 2000 was held out for the issue-16 fix, seed 1000 diagnosed it)."""

    scenario: str = FROZEN
    seed: int = 2000
    episodes: int = 100
    variants: tuple = tuple(VARIANTS)

    def __post_init__(self):
        from aifedge.config import ConfigError

        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise ConfigError(f"variants: unknown {unknown}; choose from {', '.join(VARIANTS)}")


QUICK = Config(episodes=4, variants=("greedy", "aif", "aif-llm"))
FULL = Config()


def _policy(name: str, params):
    from aifedge.inference.aif_llm_paper_agent import PAPER_CONFIG, build_paper_agent
    from aifedge.simulate import get_policy

    spec = VARIANTS[name]
    if spec is None:
        return get_policy(name, "aif-llm", params)
    kw: dict[str, Any] = dict(spec)
    if kw.get("lam") == "best":
        from aifedge.inference.paper_meta_lambda import fixed_lambda

        kw["lam"] = fixed_lambda()
    if kw.pop("epistemic", False):
        kw["config"] = PAPER_CONFIG._replace(use_states_info_gain=True)
    return build_paper_agent(params, **kw).policy()


def episodes(params, seed: int, episodes: int, variants=tuple(VARIANTS)) -> pd.DataFrame:
    """One row per (variant, episode): ``qos``, the miss-cause shares, ``to_<node>`` shares."""
    from aifedge.generative_models.aif_llm_model import node_names
    from aifedge.simulate import episode_keys

    keys = episode_keys(seed, 0, episodes)
    nodes = node_names(params)
    frames = []
    for name in variants:
        pol = _policy(name, params)
        run_all = jax.jit(
            lambda k, pol=pol: batch_rollout(k, pol, params, params.max_steps, aif_llm_paper)
        )
        info = jax.device_get(run_all(keys))
        nominal = np.asarray(params.deadline_ms)[np.asarray(info.task_class)]
        node = np.asarray(info.node)
        cols = {
            "qos": (np.asarray(info.outcome) == aif_llm_paper.MET).mean(-1),
            **paper_miss_causes(info, nominal, params.n_nodes),
            **{f"to_{n}": (node == j).mean(-1) for j, n in enumerate(nodes)},
        }
        frames.append(pd.DataFrame({"variant": name, "episode": np.arange(episodes), **cols}))
    return pd.concat(frames, ignore_index=True)


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Per variant: mean and SE of ``qos`` (%), mean of the other columns (%), Welch p of
    ``qos`` against each of ``REFERENCES`` that ran."""
    rows = []
    groups = dict(tuple(frame.groupby("variant", sort=False)))
    for name, g in groups.items():
        row = {"variant": name, "qos": 100 * g["qos"].mean()}
        row["qos_se"] = 100 * g["qos"].std(ddof=1) / np.sqrt(len(g))
        row.update({c: 100 * g[c].mean() for c in g.columns if c not in ("variant", "episode")})
        for ref in REFERENCES:
            if ref in groups and ref != name:
                row[f"p_vs_{ref}"] = welch_test(g["qos"], groups[ref]["qos"])[1]
        rows.append(row)
    return pd.DataFrame(rows)


def run(cfg: Config) -> pd.DataFrame:
    """``summarise`` of every variant's episodes (module docstring); the episodes in
    ``attrs["data"]``."""
    from aifedge.config import load_overrides

    params = aif_llm_paper.make_params(**load_overrides(cfg.scenario))
    data = episodes(params, cfg.seed, cfg.episodes, cfg.variants)
    frame = summarise(data)
    frame.attrs["data"] = data
    return frame


PAPER_AGENTS = Artifact(
    "paper-agents", "aif / aif-llm on scenario paper: QoS, miss causes, ablations", run, QUICK, FULL
)
