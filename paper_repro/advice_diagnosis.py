"""What the event log predicts that the ``paper`` agent does not see (issue 16 item 5).

``event_table(params, seed, episodes)`` runs ``aif`` + D_LLM (no semantic term) and logs,
per decision, the advice kind in force (the agent's rule: an event seen at one decision is
in force from the next for ``advice_slots`` slots; ``aif_llm_paper_agent.EVENT_KINDS``,
"named" = the maintenance notice's own edge), each node's TRUE P(miss) (``Obs.oracle``) and
the agent's predicted P(miss) (G_pragmatic = P(miss) with C = (0, −1, −1, 0)). The table:
per kind × node, the mean true P(miss), the agent's mean bias (predicted − true) and the
miss rate of the node the agent chose. Method-free where it says "true".

``rule_effects(params, seed, episodes)``: QoS per episode of ``RULE_VARIANTS`` (one advice
rule at a time, λ = 1) on the same episodes. Both stored for seed 1000 in
``results/paper_agents/advice_diagnosis1000`` (the event table before its "other edges"
rows were added)."""

import jax
import numpy as np
import pandas as pd

from aifedge.environments import aif_llm_paper


def _log(key, agent, params):
    k_reset, _, k_loop = jax.random.split(key, 3)
    obs, env = aif_llm_paper.reset(k_reset, params)

    def body(carry, k):
        obs, env, s = carry
        k_act, k_step = jax.random.split(k)
        a, s, info = agent.step(k_act, s, obs)
        n = params.n_nodes
        prag = info.G_pragmatic.reshape(n, -1)[:, 0]
        rec = (obs.event, obs.slot, 1.0 - obs.oracle[:, 0], prag, a)
        obs, env, _, _, step = aif_llm_paper.step(k_step, env, a, params)
        return (obs, env, s), (*rec, step.outcome)

    keys = jax.random.split(k_loop, params.max_steps)
    _, out = jax.lax.scan(body, (obs, env, agent.init()), keys)
    return out


def in_force(event: np.ndarray, slot: np.ndarray, n_edge: int, slots: int = 10) -> np.ndarray:
    """(T,) event id in force at each decision of one episode (0 none), the agent's rule."""
    out = np.zeros_like(event)
    cur, until = 0, -1
    for t in range(len(event)):
        if t and slot[t] < slot[t - 1]:
            cur, until = 0, -1
        out[t] = cur if slot[t] <= until else 0
        if event[t] > 0:
            cur, until = int(event[t]), int(slot[t]) + slots
    return out


def event_table(params, seed: int = 1000, episodes: int = 40) -> pd.DataFrame:
    """The module docstring's table (one row per kind × node)."""
    from aifedge.generative_models.aif_llm_model import node_names
    from aifedge.inference.aif_llm_paper_agent import EVENT_KINDS, build_paper_agent
    from aifedge.simulate import episode_keys

    agent = build_paper_agent(params, d_llm=True)
    keys = episode_keys(seed, 0, episodes)
    ev, slot, true_miss, pred_miss, act, outcome = jax.device_get(
        jax.jit(jax.vmap(lambda k: _log(k, agent, params)))(keys)
    )
    e = params.n_edge
    force = np.stack([in_force(a, b, e) for a, b in zip(ev, slot, strict=True)]).ravel()
    true_miss = true_miss.reshape(-1, params.n_nodes)
    bias = pred_miss.reshape(-1, params.n_nodes) - true_miss
    act, miss = act.ravel(), outcome.ravel() != aif_llm_paper.MET
    nodes = node_names(params)
    kind = np.where(force == 0, "none", np.where(force <= e, "maintenance", ""))
    kind = np.where(force == e + 1, EVENT_KINDS[1], np.where(force == e + 2, EVENT_KINDS[2], kind))
    rows = []
    for k in ("none", *EVENT_KINDS):
        sel = kind == k
        for j, n in enumerate(nodes):
            rel = n
            if k == "maintenance" and 0 < j <= e:
                sub = sel & (force == j)
                rel = "named edge"
                rows.append(_row(k, rel, sub, j, true_miss, bias, act, miss))
                other = sel & (force != j)
                rows.append(_row(k, "other edges", other, j, true_miss, bias, act, miss))
                continue
            rows.append(_row(k, rel, sel, j, true_miss, bias, act, miss))
    frame = pd.DataFrame(rows)
    return frame.groupby(["kind", "node"], sort=False).apply(_pool, include_groups=False)


def _row(kind, node, sel, j, true_miss, bias, act, miss):
    chosen = sel & (act == j)
    return {
        "kind": kind,
        "node": node,
        "n": int(sel.sum()),
        "true_miss_sum": float(true_miss[sel, j].sum()),
        "bias_sum": float(bias[sel, j].sum()),
        "chosen": int(chosen.sum()),
        "chosen_miss": int((miss & chosen).sum()),
    }


def _pool(g: pd.DataFrame) -> pd.Series:
    n = g["n"].sum()
    return pd.Series(
        {
            "decisions": n,
            "true_p_miss": g["true_miss_sum"].sum() / max(n, 1),
            "agent_bias": g["bias_sum"].sum() / max(n, 1),
            "share_chosen": g["chosen"].sum() / max(n, 1),
            "miss_when_chosen": g["chosen_miss"].sum() / max(g["chosen"].sum(), 1),
        }
    )


_LLM = {"d_llm": True, "semantic": True, "meta": None}
RULE_VARIANTS = {
    "no advice (aif + D_LLM)": {"d_llm": True},
    "v1 all": {**_LLM, "advisor": "v1"},
    "v1 maintenance": {**_LLM, "advisor": "v1", "advice_kinds": ("maintenance",)},
    "v1 forecast": {**_LLM, "advisor": "v1", "advice_kinds": ("forecast",)},
    "v1 congestion": {**_LLM, "advisor": "v1", "advice_kinds": ("congestion",)},
    "v2 maintenance (avoid named)": {**_LLM, "advice_kinds": ("maintenance",)},
    "v2 congestion avoid cloud": {
        **_LLM,
        "advice_kinds": ("congestion",),
        "avoid": {"congestion": "cloud"},
    },
    "v2 congestion avoid local": {
        **_LLM,
        "advice_kinds": ("congestion",),
        "avoid": {"congestion": "local"},
    },
    "v2 forecast avoid cloud": {
        **_LLM,
        "advice_kinds": ("forecast",),
        "avoid": {"forecast": "cloud"},
    },
    "v2 forecast avoid local": {
        **_LLM,
        "advice_kinds": ("forecast",),
        "avoid": {"forecast": "local"},
    },
}
"""One advice rule at a time (λ = 1): ``build_paper_agent`` keywords."""


def rule_effects(params, seed: int = 1000, episodes: int = 40, variants=RULE_VARIANTS):
    """QoS per episode (columns: variants) on the same episodes (``episode_keys``)."""
    from aifedge.environments import batch_rollout
    from aifedge.inference.aif_llm_paper_agent import build_paper_agent
    from aifedge.simulate import episode_keys

    keys = episode_keys(seed, 0, episodes)
    out = {}
    for name, kw in variants.items():
        pol = build_paper_agent(params, **kw).policy()
        run = jax.jit(
            lambda k, pol=pol: batch_rollout(k, pol, params, params.max_steps, aif_llm_paper)
        )
        out[name] = (np.asarray(jax.device_get(run(keys)).outcome) == aif_llm_paper.MET).mean(-1)
    return pd.DataFrame(out)
