"""Scenario ``paper`` in the notebooks (issue 16): what the ``aif`` agent believes about the
hidden factors along one episode, D_LLM on the hidden requirement, and the stored learning
curves.

``true_hidden`` reads the simulator's state (``Obs.state``) for the truth the agent never sees;
``belief_trace`` runs one jitted episode of a ``PaperAgent`` and returns one row per decision
with its posteriors beside that truth; ``plot_health_beliefs`` / ``plot_req_beliefs`` draw it;
``req_prior_frame`` / ``plot_req_priors``: D_req per text with and without the keyword
evidence (AIF-LLM Eq. 3); ``frozen_params``: the scenario at its frozen calibration;
``stored_learning``: a stored ``aifedge repro aif-learning`` run.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from aifedge.environments import aif_llm_paper
from aifedge.environments.aif_llm_paper import EnvParams, EnvState
from aifedge.environments.task_texts import PAPER_CLASS_NAMES, PAPER_TASK_TEXTS
from aifedge.generative_models.aif_llm_paper_model import HEALTH_LEVELS, REQ_LEVELS
from aifedge.inference.agent import segments


def true_hidden(state: EnvState) -> tuple[jax.Array, jax.Array]:
    """``(health (E,), req ())`` of the simulator's state at a decision: health 0 ok,
    1 degraded (now ≥ t_deg), 2 down (``up`` false); req = 2 · private + strict of the task
    being decided (strict: its true deadline is below the type's nominal one)."""
    health = jnp.where(~state.up, 2, (state.now_ms >= state.t_deg).astype(jnp.int32))
    private = state.hidden.private[state.idx].astype(jnp.int32)
    strict = state.hidden.deadline_ms[state.idx] < state.tasks.deadline_ms[state.idx] - 1e-3
    return health.astype(jnp.int32), 2 * private + strict.astype(jnp.int32)


def belief_trace(agent, key: jax.Array, steps: int) -> pd.DataFrame:
    """One episode of ``agent`` (a ``PaperAgent``) on its own ``params``, one row per
    decision: ``step``, ``slot``, ``node``, ``outcome``, ``req`` (true) and
    ``P(<req level>)`` (posterior), per edge ``health:<edge>`` (true) and
    ``P(<level>):<edge>`` (posterior)."""
    params, model = agent.params, agent.model
    k_reset, k_loop = jax.random.split(key)
    _, sl = segments(model.num_states)

    def body(carry, k):
        obs, env, s = carry
        k_act, k_step = jax.random.split(k)
        health, req = true_hidden(obs.state)
        action, s, info = agent.step(k_act, s, obs)
        obs, env, _, _, step_info = aif_llm_paper.step(k_step, env, action, params)
        return (obs, env, s), (info.qs, health, req, step_info)

    obs, env = aif_llm_paper.reset(k_reset, params)
    run = jax.jit(lambda c, ks: jax.lax.scan(body, c, ks)[1])
    qs, health, req, info = jax.device_get(
        run((obs, env, agent.init()), jax.random.split(k_loop, steps))
    )
    cols = {
        "step": np.arange(steps),
        "slot": np.asarray(info.slot),
        "node": np.asarray(info.node),
        "outcome": np.asarray(info.outcome),
        "req": np.asarray(req),
    }
    f_req = model.factor_index("req")
    cols.update({f"P({lv})": qs[:, sl[f_req]][:, i] for i, lv in enumerate(REQ_LEVELS)})
    for e in range(params.n_edge):
        name = f"edge{e + 1}"
        cols[f"health:{name}"] = np.asarray(health)[:, e]
        f = model.factor_index(f"health:{name}")
        cols.update({f"P({lv}):{name}": qs[:, sl[f]][:, i] for i, lv in enumerate(HEALTH_LEVELS)})
    return pd.DataFrame(cols)


def plot_health_beliefs(trace: pd.DataFrame, edges=None):
    """Per edge: Q(degraded) and Q(down) along the episode, true health shaded (orange:
    degraded, red: down)."""
    edges = (
        sorted({c.split(":")[1] for c in trace if c.startswith("health:")})
        if edges is None
        else edges
    )
    fig, axes = plt.subplots(len(edges), 1, figsize=(7, 1.4 * len(edges) + 0.6), sharex=True)
    for ax, name in zip(np.atleast_1d(axes), edges, strict=True):
        true = trace[f"health:{name}"].to_numpy()
        for level, colour in ((1, "tab:orange"), (2, "tab:red")):
            ax.fill_between(
                trace["step"], 0, 1, where=true == level, color=colour, alpha=0.2, step="mid"
            )
        ax.plot(
            trace["step"], trace[f"P(degraded):{name}"], color="tab:orange", label="Q(degraded)"
        )
        ax.plot(trace["step"], trace[f"P(down):{name}"], color="tab:red", label="Q(down)")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(name)
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="upper right")
    np.atleast_1d(axes)[-1].set_xlabel("decision (shaded: true health degraded / down)")
    fig.tight_layout()
    return fig


def req_accuracy(trace: pd.DataFrame) -> pd.DataFrame:
    """Mean posterior of the true requirement level, and how often it is the posterior's
    mode, per true level (one row per level that occurs)."""
    probs = trace[[f"P({lv})" for lv in REQ_LEVELS]].to_numpy()
    req = trace["req"].to_numpy()
    frame = pd.DataFrame(
        {"req": np.asarray(REQ_LEVELS)[req], "Q(true req)": probs[np.arange(len(req)), req],
         "mode is true": probs.argmax(1) == req}
    )  # fmt: skip
    agg = {"mean Q(true req)": ("Q(true req)", "mean"), "mode is true": ("mode is true", "mean")}
    return frame.groupby("req").agg(n=("mode is true", "size"), **agg)


def plot_req_beliefs(trace: pd.DataFrame):
    """Q(private) and Q(strict) per decision (the marginals of the ``req`` posterior), with
    the true flags as markers (1 = private / strict)."""
    fig, axes = plt.subplots(2, 1, figsize=(7, 3.2), sharex=True)
    q = trace[[f"P({lv})" for lv in REQ_LEVELS]].to_numpy()
    req = trace["req"].to_numpy()
    for ax, name, post, true in (
        (axes[0], "private", q[:, 2] + q[:, 3], req // 2),
        (axes[1], "strict", q[:, 1] + q[:, 3], req % 2),
    ):
        ax.plot(trace["step"], post, lw=0.8, label=f"Q({name})")
        ax.scatter(trace["step"], true, s=6, color="k", label=f"true {name}")
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel(name)
        ax.legend(fontsize=7, loc="center right")
    axes[-1].set_xlabel("decision")
    fig.tight_layout()
    return fig


def req_prior_frame(params: EnvParams, text_ids, alpha: float) -> pd.DataFrame:
    """D_req of each ``text_ids`` text: ``type`` (P(req | observed type), the ``aif`` prior)
    and ``D_LLM`` (AIF-LLM Eq. 3 with that as Base and α = ``alpha``), one row per (text,
    prior), columns ``REQ_LEVELS``."""
    from aifedge.inference.aif_llm_paper_agent import req_prior_table

    tables = {"type": req_prior_table(params, False), "D_LLM": req_prior_table(params, True, alpha)}
    per_type = len(PAPER_TASK_TEXTS) // len(PAPER_CLASS_NAMES)
    rows = [
        {"text": PAPER_TASK_TEXTS[i], "type": PAPER_CLASS_NAMES[i // per_type], "prior": name,
         **dict(zip(REQ_LEVELS, table[i], strict=True))}
        for i in text_ids
        for name, table in tables.items()
    ]  # fmt: skip
    return pd.DataFrame(rows)


def plot_req_priors(frame: pd.DataFrame):
    """Stacked bars of D_req per text (``req_prior_frame``): the type prior and D_LLM side
    by side."""
    texts = list(dict.fromkeys(frame["text"]))
    fig, ax = plt.subplots(figsize=(8, 0.7 * len(texts) + 1.2))
    colours = ("tab:green", "tab:olive", "tab:purple", "tab:red")
    for k, (_, row) in enumerate(frame.iterrows()):
        y = texts.index(row["text"]) + (-0.2 if row["prior"] == "type" else 0.2)  # y inverted
        left = 0.0
        for lv, c in zip(REQ_LEVELS, colours, strict=True):
            ax.barh(y, row[lv], left=left, height=0.38, color=c, label=lv if k == 0 else None)
            left += row[lv]
    ax.set_yticks(range(len(texts)), [textwrap.fill(t, 40) for t in texts], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("D_req (upper bar: type prior, lower: D_LLM)")
    ax.legend(fontsize=7, ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig


def _repo_root() -> Path:
    """The source tree's root (an editable install: where ``paper_repro/`` lives)."""
    from aifedge import paper_repro

    return Path(paper_repro.__file__).resolve().parent.parent


def frozen_params(steps: int) -> EnvParams:
    """``paper`` at the frozen calibration (``calibration.FROZEN``, resolved from the source
    tree: ``paper_meta_lambda.FROZEN_CONFIG``), ``max_steps = steps``; readable from any
    working directory (notebooks run in a temporary one)."""
    from aifedge.config import load_overrides
    from aifedge.inference.paper_meta_lambda import FROZEN_CONFIG

    return aif_llm_paper.make_params(**load_overrides(FROZEN_CONFIG), max_steps=steps)


def stored_learning(folder: str = "paper") -> pd.DataFrame:
    """The stored ``aifedge repro aif-learning`` run in ``paper_repro/results/aif_learning/
    <folder>`` ("" = the v1 run): its table, with the curves in ``attrs["data"]`` (what
    ``aif_learning.plot`` draws)."""
    base = _repo_root() / "paper_repro" / "results" / "aif_learning" / folder
    frame = pd.read_csv(base / "aif-learning.csv")
    frame.attrs["data"] = pd.read_csv(base / "aif-learning_data.csv")
    return frame
