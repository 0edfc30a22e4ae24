"""Matplotlib/ArviZ views of the decision core, the EVT tail and U_t / λ_t (notebooks).

Every ``plot_*`` function returns a ``matplotlib.figure.Figure`` and runs headless
(``MPLBACKEND=Agg``). The non-plot functions prepare the data the plots show:

* decisions: ``decision_table`` (one row per policy: Eq. 4 score, kept/pruned, Eq. 5
  terms, q(π)), ``plot_efe_terms``, ``plot_risk_ambiguity``, ``plot_beliefs``,
  ``plot_policy_precision``, ``plot_free_energy``, ``plot_evt_penalty``;
* EVT (``inference.evt``): ``gpd_summary``, ``plot_gpd_trace``, ``plot_gpd_posterior``,
  ``gpd_predictive`` + ``plot_gpd_ppc``, ``plot_gpd_survival``, ``plot_exceedance``,
  ``plot_mean_residual_life``, ``threshold_stability`` + ``plot_threshold_stability``;
* U_t and λ_t (``inference.uncertainty``, ``inference.meta``): ``uncertainty_trace``
  (an episode with injected congestion / failures, Eq. 6 per step), ``phase_summary``,
  ``plot_uncertainty_trace``, ``plot_meta_history``, ``checkpoint_history``,
  ``plot_lambda_response``, and a toy task family for meta-λ demonstrations
  (``toy_lambda_task``, ``toy_best_lambda``, ``toy_lambda_loss``);
* ``explore``: a static call plus an ipywidgets slider panel (when ipywidgets is installed),
  so that notebooks with sliders also execute headless.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from functools import partial

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.special import softmax

from aifedge.environments import aif_llm
from aifedge.environments.aif_llm import NET_NAMES, OUTCOME_NAMES, EnvParams

from . import evt
from .uncertainty import UncertaintyConfig, init_window, uncertainty_index, update_window

OUTCOME_COLORS = ("tab:green", "tab:orange", "tab:red")


# ---------------------------------------------------------------- decisions (Eqs. 4–5)
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

    Columns: ``policy`` (label), ``vfe`` (Eq. 4 score), ``kept``, ``G_pragmatic``,
    ``G_epistemic``, ``G_semantic`` (−semantic score), ``lam_G_semantic`` (λ·G_semantic),
    ``G`` (Eq. 5), ``q_pi``.

    With ``top_k`` (and optionally ``gamma``), Eq. 4 and q(π) are re-applied to the
    unpruned terms: keep the ``top_k`` policies of lowest ``vfe`` (ties: lower index first,
    as ``jax.lax.top_k``) and q(π) = softmax(−γ G) over them. This needs ``info`` from an
    agent that pruned nothing (``AgentConfig(top_k=None)``), so that every G is finite;
    it lets a slider change K and γ without recompiling the agent.
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
        order = np.argsort(vfe, kind="stable")
        kept = np.zeros(len(G), bool)
        kept[order[:k]] = True
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
    """Eq. 5 per policy: pragmatic / epistemic / λ·semantic bars (lower = preferred),
    pruned policies (Eq. 4) greyed out, and q(π) below."""
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
    ax.set_title(title or "Expected free energy per policy (Eq. 5), pruning (Eq. 4)")
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
    """The EVT penalty of C (``cloud_edge.evt_penalty``): ρ and the tail probability τ as
    the GPD shape ζ of the latency spikes varies (scale and rate from ``params``)."""
    from aifedge.generative_models import cloud_edge

    rho, tau = [], []
    for z in shapes:
        tail = cloud_edge.EvtTail(
            0.0, float(params.spike_scale_ms), float(z), float(params.spike_prob)
        )
        opt = cloud_edge.make_options(params, **{**model_options, "evt_tail": tail})
        rho.append(cloud_edge.evt_penalty(params, opt))
        tau.append(cloud_edge.violation_tail_prob(tail, params))
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


# ---------------------------------------------------------------- EVT (inference.evt)
@contextmanager
def _arviz_quiet():
    """ArviZ 0.23's matplotlib backend calls an API matplotlib 3.11 deprecates; the warning
    says nothing to a user of these plots, so only that one is silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Passing a dict or None as alias_mapping", category=DeprecationWarning
        )
        yield


def gpd_summary(idata) -> pd.DataFrame:
    """``arviz.summary`` of ``scale`` and ``concentration`` (means, HDI, ESS, R-hat)."""
    return evt._import_arviz().summary(idata, var_names=["scale", "concentration"])


def plot_gpd_trace(idata, true: Mapping[str, float] | None = None):
    """ArviZ trace plot of ``scale`` and ``concentration`` (``true`` values as lines)."""
    az = evt._import_arviz()
    lines = [(k, {}, [v]) for k, v in (true or {}).items()]
    with _arviz_quiet():
        axes = az.plot_trace(
            idata, var_names=["scale", "concentration"], lines=lines, figsize=(9, 4)
        )
    fig = np.asarray(axes).ravel()[0].figure
    fig.tight_layout()
    return fig


def plot_gpd_posterior(idata, true: Mapping[str, float] | None = None, hdi_prob: float = 0.9):
    """ArviZ posterior densities with an HDI (``true`` values as reference lines)."""
    az = evt._import_arviz()
    ref = None if true is None else {k: [{"ref_val": v}] for k, v in true.items()}
    with _arviz_quiet():
        axes = az.plot_posterior(
            idata,
            var_names=["scale", "concentration"],
            hdi_prob=hdi_prob,
            ref_val=ref,
            figsize=(9, 3),
        )
    fig = np.asarray(axes).ravel()[0].figure
    fig.tight_layout()
    return fig


def gpd_predictive(idata, excesses, seed: int = 0, num_draws: int = 100):
    """``InferenceData`` with ``posterior_predictive`` and ``observed_data`` of
    ``log10_excess`` for ``az.plot_ppc``: ``num_draws`` posterior draws per chain, each
    simulating as many GPD excesses as were observed (log scale: with ξ > 1/2 the
    excesses span orders of magnitude)."""
    az = evt._import_arviz()
    y = np.asarray(excesses, float).ravel()
    post = idata.posterior
    scale, xi = np.asarray(post["scale"]), np.asarray(post["concentration"])  # (C, D)
    step = max(1, scale.shape[1] // num_draws)
    scale, xi = scale[:, ::step], xi[:, ::step]
    dist = evt.GeneralizedPareto(0.0, jnp.asarray(scale)[..., None], jnp.asarray(xi)[..., None])
    pp = np.asarray(dist.sample(jax.random.PRNGKey(seed), (y.size,)))  # (n, C, D, 1)
    pp = np.moveaxis(pp[..., 0], 0, -1)
    tiny = np.finfo(np.float32).tiny
    return az.from_dict(
        posterior_predictive={"log10_excess": np.log10(np.maximum(pp, tiny))},
        observed_data={"log10_excess": np.log10(np.maximum(y, tiny))},
    )


def plot_gpd_ppc(predictive, num_pp_samples: int = 50):
    """ArviZ posterior predictive check of ``gpd_predictive``'s output."""
    az = evt._import_arviz()
    with _arviz_quiet():
        ax = az.plot_ppc(predictive, num_pp_samples=num_pp_samples, figsize=(6, 3.5), random_seed=0)
    fig = np.asarray(ax).ravel()[0].figure
    fig.axes[0].set_xlabel("log10 excess")
    fig.tight_layout()
    return fig


def plot_gpd_survival(
    idata, excesses, cred_mass: float = 0.9, true: Mapping[str, float] | None = None
):
    """Empirical survival of the excesses vs the posterior GPD survival (median and
    ``cred_mass`` band), log-log; ``true`` = {"scale", "concentration"} adds scipy's GPD."""
    from scipy import stats

    y = np.sort(np.asarray(excesses, float).ravel())
    emp = 1.0 - np.arange(1, y.size + 1) / (y.size + 1)
    grid = np.logspace(np.log10(max(y[0], 1e-12)), np.log10(y[-1] * 10), 200)
    scale, xi = evt._posterior(idata)
    log_s = np.asarray(evt.gpd_log_survival(grid[None, :], scale[:, None], xi[:, None]))
    lo, mid, hi = np.quantile(
        np.exp(log_s), [(1 - cred_mass) / 2, 0.5, (1 + cred_mass) / 2], axis=0
    )
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.fill_between(grid, lo, hi, alpha=0.3, label=f"{cred_mass:.0%} credible band")
    ax.plot(grid, mid, label="posterior median")
    ax.plot(y, emp, ".", ms=2, color="k", label="excesses")
    if true is not None:
        ax.plot(
            grid,
            stats.genpareto.sf(grid, true["concentration"], scale=true["scale"]),
            "--",
            color="tab:red",
            label="true GPD",
        )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="excess over threshold",
        ylabel="P(Y > y)",
        ylim=(0.1 / y.size, 1.05),
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_exceedance(
    idata,
    threshold: float,
    levels: Sequence[float],
    rate: float = 1.0,
    cred_mass: float = 0.9,
    empirical=None,
):
    """P(X > level) = rate · S_GPD(level − u) with its credible interval
    (``evt.exceedance_probability``) over ``levels``; ``empirical`` samples add their
    observed exceedance fractions."""
    est = [
        evt.exceedance_probability(idata, threshold, lv, rate=rate, cred_mass=cred_mass)
        for lv in levels
    ]
    mean = np.array([e.mean for e in est])
    lo, hi = np.array([e.lower for e in est]), np.array([e.upper for e in est])
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.fill_between(levels, lo, hi, alpha=0.3, label=f"{cred_mass:.0%} credible interval")
    ax.plot(levels, mean, label="posterior mean")
    if empirical is not None:
        x = np.asarray(empirical, float)
        x = x[np.isfinite(x)]
        ax.plot(levels, [(x > lv).mean() for lv in levels], "k.", label="observed fraction")
    ax.set(yscale="log", xlabel="level", ylabel="P(X > level)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_mean_residual_life(mrl: evt.MeanResidualLife, chosen: float | None = None):
    """Mean excess vs threshold with its 95 % band (``evt.mean_residual_life``); above a
    good threshold the curve is linear with slope ξ/(1 − ξ)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ax.fill_between(mrl.threshold, mrl.lower, mrl.upper, alpha=0.3, label="95 % band")
    ax.plot(mrl.threshold, mrl.mean_excess, label="mean excess")
    if chosen is not None:
        ax.axvline(chosen, color="k", ls="--", lw=1, label=f"threshold u = {chosen:.3g}")
    ax.set(xlabel="threshold u", ylabel="E[X − u | X > u]", title="Mean residual life")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def threshold_stability(samples, thresholds: Sequence[float]) -> pd.DataFrame:
    """GPD maximum-likelihood fit above each threshold (``evt.online_update`` from a cold
    start, flat prior): columns ``threshold``, ``n_exceed``, ``scale``, ``concentration``
    and the modified scale σ* = σ − ξ·u. Above a threshold where the GPD holds, ξ and σ*
    are constant (Coles 2001, §4.3.4)."""
    x = np.asarray(samples, float).ravel()
    x = x[np.isfinite(x)]
    counts = [int((x > u).sum()) for u in thresholds]
    if min(counts) < 2:
        raise ValueError(
            "threshold_stability: every threshold needs ≥ 2 samples above it "
            f"(counts {counts}); lower the largest threshold"
        )
    config = evt.OnlineGPDConfig(capacity=max(64, 1 << int(np.ceil(np.log2(max(counts))))))
    rows = []
    for u, n in zip(thresholds, counts, strict=True):
        excess = np.zeros(config.capacity, np.float32)
        excess[:n] = evt.peaks_over_threshold(x, u)
        state = evt.online_update(
            evt.online_init(config), excess, np.arange(config.capacity) < n, config=config
        )
        scale, xi = (float(v) for v in evt.online_params(state))
        rows.append(
            {
                "threshold": float(u),
                "n_exceed": n,
                "scale": scale,
                "concentration": xi,
                "modified_scale": scale - xi * float(u),
            }
        )
    return pd.DataFrame(rows)


def plot_threshold_stability(frame: pd.DataFrame, chosen: float | None = None):
    """ξ̂ and σ* = σ̂ − ξ̂u against the threshold (``threshold_stability``)."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.2))
    a1.plot(frame["threshold"], frame["concentration"], "o-", ms=3)
    a1.set(xlabel="threshold u", ylabel="ξ̂ (MLE)", title="shape stability")
    a2.plot(frame["threshold"], frame["modified_scale"], "o-", ms=3)
    a2.set(xlabel="threshold u", ylabel="σ̂ − ξ̂u", title="modified scale stability")
    if chosen is not None:
        for ax in (a1, a2):
            ax.axvline(chosen, color="k", ls="--", lw=1)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- U_t and λ_t
PHASE_FIELDS: tuple[str, ...] = (
    "net_transition",
    "edge_fail_prob",
    "edge_recover_prob",
    "bg_util",
    "spike_prob",
)
"""``EnvParams`` fields a phase of ``uncertainty_trace`` may override (they enter the
simulator's step only arithmetically, so they can change inside one compiled scan)."""


def uncertainty_trace(
    key: jax.Array,
    policy,
    params: EnvParams,
    phases: Sequence[tuple[str, int, Mapping]],
    config: UncertaintyConfig | None = None,
) -> pd.DataFrame:
    """One ``aif-llm`` episode in phases with injected conditions, U_t (Eq. 6) per step.

    ``phases``: ``(name, steps, overrides)`` run back to back, ``overrides`` a dict of
    ``PHASE_FIELDS`` (e.g. ``{"net_transition": ((0, 0, 1),) * 3}`` forces congestion,
    ``{"edge_fail_prob": 0.3}`` makes nodes fail). The episode is one jitted ``lax.scan``:
    the phase's field values are selected per step, everything else is ``params``.
    ``policy``: a ``Policy`` (its ``act`` receives the phase's params).

    U_t at step t uses what a scheduler sees before deciding: the measured cloud RTT
    ``Obs.rtt_ms`` (window of ``config.window`` steps), the nodes observed down
    ``Σ(1 − Obs.up)`` and the task's deadline, with ``config.alpha`` and ``config.n_total``
    (``config`` default: ``UncertaintyConfig()``).

    Returns one row per step: ``t``, ``phase``, ``net`` (true WAN state 0..2),
    ``rtt_ms`` (measured), ``n_down`` (observed), ``deadline_ms``, ``u_t``, ``trigger``
    (U_t > δ), ``node``, ``outcome`` (0 met / 1 violated / 2 failed), ``latency_ms``.
    """
    config = UncertaintyConfig() if config is None else config
    if not phases:
        raise ValueError("uncertainty_trace.phases: give at least one (name, steps, overrides)")
    per_phase = []
    for name, steps, overrides in phases:
        bad = sorted(set(overrides) - set(PHASE_FIELDS))
        if bad:
            raise ValueError(
                f"uncertainty_trace: phase {name!r} overrides {bad}; only "
                f"{', '.join(PHASE_FIELDS)} may change within an episode"
            )
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"uncertainty_trace: phase {name!r} needs steps ≥ 1 (got {steps!r})")
        per_phase.append(aif_llm.make_params(**{**params._asdict(), **overrides}))
    names = [p[0] for p in phases]
    phase_of_step = np.repeat(np.arange(len(phases)), [p[1] for p in phases])
    tables = {f: jnp.asarray([getattr(p, f) for p in per_phase], jnp.float32) for f in PHASE_FIELDS}
    frame = _trace_scan(key, policy, params, tables, jnp.asarray(phase_of_step), config)
    frame = {k: np.asarray(v) for k, v in jax.device_get(frame).items()}
    out = pd.DataFrame(
        {
            "t": np.arange(phase_of_step.size),
            "phase": np.asarray(names, dtype=object)[phase_of_step],
            **frame,
        }
    )
    out["trigger"] = out["u_t"] > config.trigger
    return out


@partial(jax.jit, static_argnames=("policy", "params", "config"))
def _trace_scan(key, policy, params, tables, phase_of_step, config):
    """The scan of ``uncertainty_trace``; compiled once per (policy, params, config, length),
    so phases with other field values reuse it."""
    k_reset, k_init, k_loop = jax.random.split(key, 3)
    obs, state = aif_llm.reset(k_reset, params)
    pstate = policy.init(k_init, params)

    def body(carry, xs):
        obs, state, pstate, window = carry
        k, phase = xs
        p = params._replace(**{f: tables[f][phase] for f in PHASE_FIELDS})
        n_down = jnp.sum(1.0 - obs.up)
        window = update_window(window, obs.rtt_ms, n_down)
        u_t = uncertainty_index(window, obs.task.deadline_ms, config.n_total, config.alpha)
        k_act, k_step = jax.random.split(k)
        action, pstate = policy.act(k_act, pstate, obs, p)
        obs2, state2, _, _, info = aif_llm.step(k_step, state, action, p)
        row = {
            "net": state.net,
            "rtt_ms": obs.rtt_ms,
            "n_down": n_down,
            "deadline_ms": obs.task.deadline_ms,
            "u_t": u_t,
            "node": info.node,
            "outcome": info.outcome,
            "latency_ms": info.latency_ms,
        }
        return (obs2, state2, pstate, window), row

    carry = (obs, state, pstate, init_window(config.window))
    keys = jax.random.split(k_loop, phase_of_step.shape[0])
    return jax.lax.scan(body, carry, (keys, phase_of_step))[1]


def plot_uncertainty_trace(
    frame: pd.DataFrame, trigger: float | None = None, lam: Sequence[float] | None = None
):
    """Measured RTT and failed nodes, U_t (with the advisor trigger δ), λ_t (optional) and
    the task outcomes over an ``uncertainty_trace`` episode; phases shaded."""
    n_panels = 4 if lam is not None else 3
    fig, axes = plt.subplots(n_panels, 1, figsize=(8, 1.9 * n_panels + 0.5), sharex=True)
    t = frame["t"].to_numpy()
    starts = np.flatnonzero(
        np.r_[True, frame["phase"].to_numpy()[1:] != frame["phase"].to_numpy()[:-1]]
    )
    for ax in axes:
        for i, s in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(t)
            if i % 2:
                ax.axvspan(t[s] - 0.5, t[end - 1] + 0.5, color="0.92", zorder=0)
    for s in starts:
        axes[0].text(
            t[s], 1.02, frame["phase"].iloc[s], transform=axes[0].get_xaxis_transform(), fontsize=8
        )
    axes[0].plot(t, frame["rtt_ms"], label="measured cloud RTT (ms)")
    axes[0].set_ylabel("RTT (ms)")
    ax_d = axes[0].twinx()
    ax_d.step(t, frame["n_down"], where="mid", color="tab:red", label="edge nodes down")
    ax_d.set_ylabel("nodes down", color="tab:red")
    axes[1].plot(t, frame["u_t"], color="tab:purple")
    if trigger is not None:
        axes[1].axhline(trigger, color="k", ls="--", lw=1, label=f"trigger δ = {trigger}")
        axes[1].legend(fontsize=8, loc="upper left")
    axes[1].set_ylabel("U_t (Eq. 6)")
    if lam is not None:
        axes[2].plot(t, lam, color="tab:green")
        axes[2].set_ylabel("λ_t (Eq. 7)")
    ax_o = axes[-1]
    for o, (name, color) in enumerate(zip(OUTCOME_NAMES, OUTCOME_COLORS, strict=True)):
        sel = frame["outcome"].to_numpy() == o
        ax_o.scatter(t[sel], frame["node"].to_numpy()[sel], s=10, color=color, label=name)
    ax_o.set(ylabel="node (0 local … cloud)", xlabel="step")
    ax_o.legend(fontsize=7, ncol=3, loc="upper left")
    fig.tight_layout()
    return fig


def phase_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per phase of an ``uncertainty_trace``: steps, mean U_t, fraction of steps above the
    trigger, share of tasks met / violated / failed, fraction of steps with a congested WAN."""
    g = frame.groupby("phase", sort=False)
    return pd.DataFrame(
        {
            "steps": g.size(),
            "mean_u_t": g["u_t"].mean(),
            "triggered": g["trigger"].mean(),
            **{
                name: g["outcome"].apply(lambda s, o=o: float((s == o).mean()))
                for o, name in enumerate(OUTCOME_NAMES)
            },
            "congested": g["net"].apply(
                lambda s: float((s == NET_NAMES.index("congested")).mean())
            ),
        }
    ).reset_index()


def plot_meta_history(
    history: Mapping[str, np.ndarray], title: str = "Meta-training of f_meta", log: bool = True
):
    """FOMAML meta-training curve (``meta.meta_train``'s history): query loss before and
    after the inner adaptation steps, per meta-step."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ax.plot(history["pre_loss"], label="before adaptation (meta-parameters)", alpha=0.8)
    ax.plot(history["post_loss"], label="after inner steps (meta-loss)", alpha=0.8)
    ax.set(yscale="log" if log else "linear", xlabel="meta-step", ylabel="query loss", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def checkpoint_history(path) -> dict[str, np.ndarray]:
    """``pre_loss`` / ``post_loss`` recorded in the metadata of an f_meta checkpoint
    (``meta.save_checkpoint``'s ``.json``, as written by ``inference.meta_train``)."""
    import json
    from pathlib import Path

    from .meta import _config_path

    info = _config_path(Path(path))
    if not info.is_file():
        raise ValueError(
            f"checkpoint_history: {str(info)!r} does not exist; pass the path "
            "of a checkpoint written by meta.save_checkpoint"
        )
    meta_data = json.loads(info.read_text()).get("metadata", {})
    missing = [k for k in ("pre_loss", "post_loss") if k not in meta_data]
    if missing:
        raise ValueError(
            f"checkpoint_history: {info.name} records no {missing} in its "
            "metadata (train it with inference.meta_train)"
        )
    return {k: np.asarray(meta_data[k], float) for k in ("pre_loss", "post_loss")}


def plot_lambda_response(
    cfg,
    nets: Mapping[str, object],
    targets: Mapping[str, Callable] | None = None,
    u: Sequence[float] = tuple(np.linspace(0.0, 1.5, 61)),
):
    """λ = Eq. 7 (``meta.meta_lambda``) against U for each f_meta in ``nets``;
    ``targets`` maps a label to ``fn(u) -> λ`` drawn dashed (e.g. a task's best λ)."""
    from .meta import meta_lambda

    u = np.asarray(u, float)
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for label, net in nets.items():
        ax.plot(u, np.asarray(meta_lambda(net, u, cfg)), label=label)
    for label, fn in (targets or {}).items():
        ax.plot(u, np.asarray(fn(u)), "--", label=label)
    ax.set(
        xlabel="U_t",
        ylabel="λ_t",
        ylim=(cfg.lambda_min - 0.02, cfg.lambda_max + 0.02),
        title="λ_t = λ_min + (λ_max − λ_min)·σ(f_meta(U_t))",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def toy_lambda_task(key: jax.Array) -> dict:
    """A toy meta-λ condition: slope a ~ U(4, 10), knee b ~ U(0.2, 0.8) (see
    ``toy_best_lambda``). A stand-in for simulator conditions, used to show what FOMAML
    does; the real training target is the agent's QoS (``inference.meta``)."""
    ka, kb = jax.random.split(key)
    return {
        "a": jax.random.uniform(ka, minval=4.0, maxval=10.0),
        "b": jax.random.uniform(kb, minval=0.2, maxval=0.8),
    }


def toy_best_lambda(task: Mapping, u, cfg) -> jax.Array:
    """The toy condition's best λ(U) = λ_min + (λ_max − λ_min)·σ(a (U − b)): lean on the
    LLM more once U passes the condition's knee b."""
    return cfg.lambda_min + (cfg.lambda_max - cfg.lambda_min) * jax.nn.sigmoid(
        task["a"] * (jnp.asarray(u) - task["b"])
    )


def toy_lambda_loss(cfg) -> Callable:
    """``loss_fn(model, task, key)`` for ``meta.meta_train``: mean squared distance of
    Eq. 7's λ to ``toy_best_lambda`` at 32 uniform U ∈ [0, 1]."""
    from .meta import meta_lambda

    def loss_fn(model, task, key):
        u = jax.random.uniform(key, (32,))
        return jnp.mean((meta_lambda(model, u, cfg) - toy_best_lambda(task, u, cfg)) ** 2)

    return loss_fn


# ---------------------------------------------------------------- sliders
def explore(fn: Callable, *, manual: bool = False, widgets: bool = True, **sliders):
    """Call ``fn()`` once with its defaults (so errors surface and a static figure exists
    when the notebook runs headless), then, if ipywidgets is installed and ``widgets``,
    return an ``ipywidgets.interactive`` panel over ``sliders`` (ipywidgets abbreviations
    such as ``(0.1, 10.0, 0.1)``; initial values are ``fn``'s defaults). ``manual``: only
    rerun on a button press (for slow functions). Returns the panel, or None."""
    from IPython.display import display

    result = fn()
    if isinstance(result, plt.Figure):
        display(result)
        plt.close(result)
    elif result is not None:
        display(result)
    if not widgets:
        return None
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets.interactive(fn, {"manual": manual}, **sliders)
