"""``aif`` / ``aif-llm`` on scenario ``paper``: QoS, miss causes and ablations (issue 16).

``python -m aifedge.paper_repro.paper_agents --config FILE --seed S --episodes N --out DIR
[--variants a,b,…]`` runs every variant on the same episodes (keys of ``aifedge compare``:
``split(PRNGKey(seed), N)``), and writes ``episodes.csv`` (one row per variant × episode:
QoS, the ``metrics.paper_miss_causes`` shares, the dispatch share per node), ``summary.csv``
(means, standard errors, Welch p against ``aif``, ``aif-llm`` and greedy) and
``summary.json`` (the command and provenance). Variants (``VARIANTS``): the references,
the two agents, and one change each.
"""

import argparse
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from aifedge.environments import aif_llm_paper, batch_rollout
from aifedge.environments.metrics import MISS_CAUSES, paper_miss_causes, welch_test

VARIANTS = {
    "greedy": None,
    "oracle": None,
    "aif": {},
    "aif-llm": {"d_llm": True, "semantic": True},
    "aif-llm -prior": {"semantic": True},
    "aif-llm -semantic": {"d_llm": True},
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
before this fix (base-rate requirement prior, κ = 3, no occupancy price)."""
REFERENCES = ("aif", "aif-llm", "greedy")


def _policy(name: str, params):
    from aifedge.inference.aif_llm_paper_agent import PAPER_CONFIG, build_paper_agent
    from aifedge.simulate import get_policy

    kw = VARIANTS[name]
    if kw is None:
        return get_policy(name, "aif-llm", params)
    kw = dict(kw)
    if kw.pop("epistemic", False):
        kw["config"] = PAPER_CONFIG._replace(use_states_info_gain=True)
    return build_paper_agent(params, **kw).policy()


def run(params, seed: int, episodes: int, variants=tuple(VARIANTS)) -> pd.DataFrame:
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
        row = {"variant": name, "qos_se": 100 * g["qos"].std(ddof=1) / np.sqrt(len(g))}
        row.update({c: 100 * g[c].mean() for c in g.columns if c not in ("variant", "episode")})
        for ref in REFERENCES:
            if ref in groups and ref != name:
                row[f"p_vs_{ref}"] = welch_test(g["qos"], groups[ref]["qos"])[1]
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    from aifedge import results
    from aifedge.config import load_overrides

    ap = argparse.ArgumentParser(prog="python -m aifedge.paper_repro.paper_agents")
    ap.add_argument("--config", required=True, help="TOML of scenario paper knobs/fields")
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"--variants: unknown {unknown}; choose from {', '.join(VARIANTS)}")
    params = aif_llm_paper.make_params(**load_overrides(args.config))
    frame = run(params, args.seed, args.episodes, variants)
    summary = summarise(frame)
    args.out.mkdir(parents=True, exist_ok=True)
    results.write_csv(args.out / "episodes.csv", frame)
    results.write_csv(args.out / "summary.csv", summary)
    record = {**results.provenance(), "seed": args.seed, "episodes": args.episodes,
              "config": params._asdict(), "causes": list(MISS_CAUSES),
              "summary": summary.to_dict("records")}  # fmt: skip
    results.write_json(args.out / "summary.json", record)
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(summary.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
