"""ArviZ/matplotlib views of the GPD tail fits (``aifedge.inference.evt``) for the notebooks.

``gpd_summary``, ``plot_gpd_trace``, ``plot_gpd_posterior``, ``gpd_predictive`` +
``plot_gpd_ppc``, ``plot_gpd_survival``, ``plot_exceedance``, ``plot_mean_residual_life``,
``threshold_stability`` + ``plot_threshold_stability``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from contextlib import contextmanager

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from aifedge.inference import evt


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
    return evt.import_arviz().summary(idata, var_names=["scale", "concentration"])


def plot_gpd_trace(idata, true: Mapping[str, float] | None = None):
    """ArviZ trace plot of ``scale`` and ``concentration`` (``true`` values as lines)."""
    az = evt.import_arviz()
    lines: list[tuple[str, dict, list[float]]] = [(k, {}, [v]) for k, v in (true or {}).items()]
    with _arviz_quiet():
        axes = az.plot_trace(
            idata, var_names=["scale", "concentration"], lines=lines, figsize=(9, 4)
        )
    fig = np.asarray(axes).ravel()[0].figure
    fig.tight_layout()
    return fig


def plot_gpd_posterior(idata, true: Mapping[str, float] | None = None, hdi_prob: float = 0.9):
    """ArviZ posterior densities with an HDI (``true`` values as reference lines)."""
    az = evt.import_arviz()
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
    az = evt.import_arviz()
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
    az = evt.import_arviz()
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
    scale, xi = evt.posterior_draws(idata)
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
