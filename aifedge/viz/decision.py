"""Views of one decision of the AIF core (AIF-LLM Eqs. 4–5) for the notebooks.

``decision_table`` (one row per policy: AIF-LLM Eq. 4 score, kept/pruned, Eq. 5 terms, q(π)),
``plot_efe_terms``, ``plot_risk_ambiguity``, ``plot_beliefs``, ``plot_policy_precision``,
``plot_free_energy``, ``plot_evt_penalty``, and ``run_trial`` (a short episode of an agent in
a world that is its own model). Every ``plot_*`` returns a ``matplotlib.figure.Figure``.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.special import softmax

from aifedge.environments.aif_llm import EnvParams
from aifedge.generative_models.teaching import action_index
from aifedge.inference.agent import split_factors


def policy_labels(agent) -> list[str]:
    """One label per policy of an ``AifAgent``: its actions joined by "→"."""
    levels = agent.model.control_levels
    acts = np.asarray(agent.actions)  # (P, H, n_control)
    return [
        "→".join("/".join(levels[c][u] for c, u in enumerate(step)) for step in pol) for pol in acts
    ]


def observation_frame(model, obs) -> pd.DataFrame:
    """The outcome label of each modality for an observation vector ``obs`` (M,) of
    outcome indices (−1 = not observed), one row per modality."""
    obs = np.asarray(obs, int)
    if obs.shape != (len(model.modality_names),):
        raise ValueError(
            f"observation_frame: need one index per modality "
            f"({len(model.modality_names)}), got shape {obs.shape}"
        )
    return pd.DataFrame(
        {
            "outcome": [
                model.modality_levels[m][o] if o >= 0 else "(unseen)" for m, o in enumerate(obs)
            ]
        },
        index=pd.Index(model.modality_names, name="modality"),
    )


def decision_table(
    agent, info, lam: float = 0.0, top_k: int | None = None, gamma: float | None = None
) -> pd.DataFrame:
    """One row per policy of one decision (``DecisionInfo`` of ``agent.step``).

    Columns: ``policy`` (label), ``vfe`` (AIF-LLM Eq. 4 score), ``kept``, ``G_pragmatic``,
    ``G_epistemic``, ``G_semantic`` (−semantic score), ``lam_G_semantic`` (λ·G_semantic),
    ``G`` (AIF-LLM Eq. 5), ``q_pi``.

    With ``top_k`` (and optionally ``gamma``), AIF-LLM Eq. 4 and q(π) are re-applied to the
    unpruned terms: keep the ``top_k`` first actions of lowest ``vfe`` with all their
    continuations (ties: lower index first, as ``jax.lax.top_k``) and q(π) = softmax(−γ G)
    over them. This needs ``info`` from an agent that pruned nothing
    (``AgentConfig(top_k=None)``), so that every G is finite; it lets a slider change K and
    γ without recompiling the agent.
    """
    prag, epis = np.asarray(info.G_pragmatic), np.asarray(info.G_epistemic)
    sem = np.asarray(info.G_semantic)
    G = np.asarray(info.G)
    kept, q_pi = np.asarray(info.kept), np.asarray(info.q_pi)
    vfe = np.asarray(info.vfe)
    if top_k is not None or gamma is not None:
        if not np.all(np.isfinite(G)):
            raise ValueError(
                "decision_table: top_k/gamma need the DecisionInfo of an agent "
                "with AgentConfig(top_k=None) (every policy evaluated)"
            )
        k = len(G) if top_k is None else int(top_k)
        if not 1 <= k:
            raise ValueError(f"decision_table.top_k: must be ≥ 1 (got {top_k})")
        g = agent.config.gamma if gamma is None else float(gamma)
        first = np.asarray(agent.actions)[:, 0]  # (P, n_control) first actions
        _, u1 = np.unique(first, axis=0, return_inverse=True)  # first-action major order
        n_cont = len(G) // (u1.max() + 1)
        order = np.argsort(vfe[::n_cont], kind="stable")
        kept = np.isin(u1.ravel(), order[:k])
        q_pi = softmax(np.where(kept, -g * G, -np.inf))
        prag, epis = np.where(kept, prag, np.nan), np.where(kept, epis, np.nan)
        G = np.where(kept, G, np.inf)
    return pd.DataFrame(
        {
            "policy": policy_labels(agent),
            "vfe": vfe,
            "kept": kept,
            "G_pragmatic": prag,
            "G_epistemic": epis,
            "G_semantic": sem,
            "lam_G_semantic": lam * sem,
            "G": G,
            "q_pi": q_pi,
        }
    )


def plot_efe_terms(table: pd.DataFrame, title: str = ""):
    """AIF-LLM Eq. 5 per policy: pragmatic / epistemic / λ·semantic bars (lower = preferred),
    pruned policies (AIF-LLM Eq. 4) greyed out, and q(π) below."""
    n = len(table)
    x = np.arange(n)
    fig, (ax, ax_q) = plt.subplots(
        2, 1, figsize=(max(6.0, 0.8 * n), 5), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    terms = [("G_pragmatic", "pragmatic (−E[C])"), ("G_epistemic", "epistemic (−info gain)")]
    if np.any(np.asarray(table["lam_G_semantic"]) != 0):
        terms.append(("lam_G_semantic", "λ·semantic"))
    width = 0.8 / len(terms)
    for i, (col, label) in enumerate(terms):
        vals = np.where(table["kept"], table[col], np.nan)
        ax.bar(x + (i - (len(terms) - 1) / 2) * width, vals, width, label=label)
    ax.plot(x, np.where(table["kept"], table["G"], np.nan), "kD", ms=5, label="G (sum)")
    for i in np.flatnonzero(~np.asarray(table["kept"])):
        ax.axvspan(i - 0.45, i + 0.45, color="0.85", zorder=0)
        ax.text(i, 0.0, "pruned", rotation=90, ha="center", va="bottom", fontsize=8, color="0.4")
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_ylabel("nats (lower = preferred)")
    ax.legend(fontsize=7, ncol=2, loc="best")
    ax.set_title(
        title or "Expected free energy per policy (AIF-LLM Eq. 5), pruning (AIF-LLM Eq. 4)"
    )
    ax_q.bar(x, table["q_pi"], color=np.where(table["kept"], "tab:blue", "0.7"))
    ax_q.set_ylabel("q(π)")
    ax_q.set_ylim(0, 1)
    ax_q.set_xticks(x, table["policy"], rotation=45, ha="right")
    fig.tight_layout()
    return fig


def plot_risk_ambiguity(table: pd.DataFrame, title: str = ""):
    """Stacked risk + ambiguity per action (``generative_models.teaching.efe_table``)."""
    x = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(table)), 3.5))
    ax.bar(x, table["risk"], label="risk  KL[Q(o|π) ‖ P̃(o)]")
    ax.bar(x, table["ambiguity"], bottom=table["risk"], label="ambiguity  E[H[P(o|s)]]")
    ax.plot(x, table["G"], "kD", label="G = risk + ambiguity")
    ax.set_xticks(x, table["action"])
    ax.set_ylabel("nats (lower = preferred)")
    ax.set_title(title or "EFE as risk + ambiguity")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_beliefs(model, beliefs: Sequence, factors: Sequence[str] | None = None, title: str = ""):
    """Bar chart of a belief (one probability vector per factor of ``model``, e.g. D,
    ``split_factors(model, info.qs)``) for the named ``factors`` (default: all)."""
    names = list(model.factor_names) if factors is None else list(factors)
    fig, axes = plt.subplots(1, len(names), figsize=(2.4 * len(names) + 1, 2.8), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        f = model.factor_index(name)
        p = np.asarray(beliefs[f], float)
        ax.bar(range(len(p)), p)
        ax.set_xticks(range(len(p)), model.factor_levels[f], rotation=60, ha="right", fontsize=7)
        ax.set_ylim(0, 1)
        ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_policy_precision(
    G: Sequence[float],
    labels: Sequence[str],
    gammas: Sequence[float] = tuple(np.logspace(-1, 1.5, 40)),
):
    """q(π) = softmax(−γ G) against the policy precision γ (log axis)."""
    G = np.asarray(G, float)
    gammas = np.asarray(gammas, float)
    q = softmax(-gammas[:, None] * G[None, :], axis=1)
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for i, label in enumerate(labels):
        ax.plot(gammas, q[:, i], label=label)
    ax.set(
        xscale="log",
        xlabel="policy precision γ",
        ylabel="q(π)",
        ylim=(0, 1),
        title="Low γ: near-uniform choice; high γ: the min-G policy",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_free_energy(
    prior: Sequence[float], likelihood: Sequence[float], labels: Sequence[str] = ("s0", "s1")
):
    """F[q] over q(s0) for a two-state belief: the minimum is the Bayes posterior, where F
    equals the surprise −ln p(o) (``generative_models.teaching.free_energy``)."""
    from aifedge.generative_models.teaching import bayes_posterior, free_energy

    post, evidence = bayes_posterior(prior, likelihood)
    grid = np.linspace(1e-3, 1 - 1e-3, 199)
    F = [free_energy([g, 1 - g], prior, likelihood) for g in grid]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(grid, F, label="F[q]")
    ax.axhline(-np.log(evidence), color="k", ls="--", lw=1, label="surprise −ln p(o)")
    ax.axvline(post[0], color="tab:red", lw=1, label=f"posterior q({labels[0]}) = {post[0]:.2f}")
    ax.axvline(
        np.asarray(prior)[0],
        color="0.5",
        lw=1,
        ls=":",
        label=f"prior p({labels[0]}) = {np.asarray(prior)[0]:.2f}",
    )
    ax.set(xlabel=f"q({labels[0]})", ylabel="nats", title="Variational free energy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_evt_penalty(
    params: EnvParams, shapes: Sequence[float] = tuple(np.linspace(0, 2, 41)), **model_options
):
    """The EVT penalty of C (``aif_llm_model.evt_penalty``): ρ and the tail probability τ as
    the GPD shape ζ of the latency spikes varies (scale and rate from ``params``)."""
    from aifedge.generative_models import aif_llm_model

    rho, tau = [], []
    for z in shapes:
        tail = aif_llm_model.EvtTail(
            0.0, float(params.spike_scale_ms), float(z), float(params.spike_prob)
        )
        opt = aif_llm_model.make_options(params, **{**model_options, "evt_tail": tail})
        rho.append(aif_llm_model.evt_penalty(params, opt))
        tau.append(aif_llm_model.violation_tail_prob(tail, params))
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ax.plot(shapes, rho, label="ρ = w·exp(η τ)  (C[violated] = −ρ)")
    ax.axvline(params.spike_shape, color="k", ls=":", lw=1, label=f"ζ = {params.spike_shape}")
    ax.set(xlabel="GPD shape ζ of latency spikes", ylabel="penalty ρ (nats)")
    ax2 = ax.twinx()
    ax2.plot(shapes, tau, color="tab:orange", ls="--", label="τ = P(L > L_QoS) (right axis)")
    ax2.set_ylabel("τ", color="tab:orange")
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=8, loc="upper left")
    ax.set_title("EVT penalty on QoS violations (§4.4.2)")
    fig.tight_layout()
    return fig


def run_trial(agent, true_state: Sequence[int], steps: int, key: jax.Array) -> pd.DataFrame:
    """``steps`` decisions of ``agent`` (an ``AifAgent``) in a world that is its own model.

    The hidden state starts at ``true_state`` (one level per factor); each step the
    world emits outcomes sampled from A at the true state, the agent decides, and the
    controlled factors move by B under the chosen action (uncontrolled factors by
    sampling their B). Returns one row per step: ``t``, the observation labels per
    modality, the posterior per factor (``q[<factor>]`` as a tuple), ``action`` and the
    policy terms ``G``, ``G_pragmatic``, ``G_epistemic``, ``q_pi`` (arrays over policies).
    """
    model = agent.model
    state = [int(s) for s in true_state]
    if len(state) != len(model.B) or any(
        not 0 <= s < n for s, n in zip(state, model.num_states, strict=True)
    ):
        raise ValueError(
            f"run_trial.true_state: need one level per factor in "
            f"{model.num_states} (got {true_state})"
        )
    if steps < 1:
        raise ValueError(f"run_trial.steps: must be ≥ 1 (got {steps})")
    a_state = agent.init()
    rows = []
    for t, k in enumerate(jax.random.split(key, steps)):
        k_obs, k_act, k_move = jax.random.split(k, 3)
        obs = []
        for m, (a, deps) in enumerate(zip(model.A, model.A_dependencies, strict=True)):
            p = np.asarray(a, float)[(slice(None), *(state[f] for f in deps))]
            obs.append(
                int(jax.random.choice(jax.random.fold_in(k_obs, m), len(p), p=jnp.asarray(p)))
            )
        action, a_state, info = agent.step(k_act, a_state, jnp.asarray(obs, jnp.int32))
        action = [int(x) for x in np.asarray(action)]
        qs = split_factors(model, np.asarray(info.qs))
        row = {
            "t": t,
            **{
                f"o[{name}]": model.modality_levels[m][obs[m]]
                for m, name in enumerate(model.modality_names)
            },
            **{
                f"q[{name}]": tuple(np.round(qs[f], 3)) for f, name in enumerate(model.factor_names)
            },
            "action": model.control_levels[0][action[0]],
            "G": np.asarray(info.G),
            "G_pragmatic": np.asarray(info.G_pragmatic),
            "G_epistemic": np.asarray(info.G_epistemic),
            "q_pi": np.asarray(info.q_pi),
        }
        rows.append(row)
        for f, b in enumerate(model.B):
            u = action_index(model, action, f)
            col = np.asarray(b, float)[
                (slice(None), *(state[d] for d in model.B_dependencies[f]), u)
            ]
            state[f] = int(
                jax.random.choice(jax.random.fold_in(k_move, f), len(col), p=jnp.asarray(col))
            )
    return pd.DataFrame(rows)
