"""Matplotlib views of the ``aif-llm`` simulator (notebooks, README, teaching).

Every function returns a ``matplotlib.figure.Figure`` and takes plain data, so it
also runs headless (``MPLBACKEND=Agg``).
"""

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from . import aif_llm
from .task_texts import CLASS_NAMES

PART_NAMES = ("transmission", "propagation", "queueing", "computation")


def node_names(params: aif_llm.EnvParams) -> list[str]:
    """Action labels: ``local, edge1..edgeE, cloud``."""
    return ["local", *(f"edge{i + 1}" for i in range(params.n_edge)), "cloud"]


def params_table(params: aif_llm.EnvParams) -> pd.DataFrame:
    """Every simulator parameter and its value (the docstring of ``EnvParams`` has units)."""
    return pd.DataFrame({"parameter": params._fields, "value": [str(v) for v in params]})


def typical_task(params: aif_llm.EnvParams, task_class: int) -> aif_llm.Task:
    """The mid-range task of a class (midpoints of its uniform ranges)."""
    c = task_class
    return aif_llm.Task(
        compute_gflop=jnp.asarray((params.compute_lo[c] + params.compute_hi[c]) / 2),
        data_in_mb=jnp.asarray((params.data_in_lo[c] + params.data_in_hi[c]) / 2),
        data_out_mb=jnp.asarray(params.data_out_mb[c]),
        deadline_ms=jnp.asarray(params.deadline_ms[c]),
        task_class=jnp.asarray(c),
        text_id=jnp.asarray(0),
    )


def plot_latency_components(params: aif_llm.EnvParams, net: int = 0):
    """Stacked latency parts per target node for a typical task of each class, idle queues."""
    fig, axes = plt.subplots(1, len(CLASS_NAMES), figsize=(4 * len(CLASS_NAMES), 3.5), sharey=False)
    names = node_names(params)
    for c, ax in enumerate(axes):
        parts = np.asarray(
            aif_llm.latency_components(
                typical_task(params, c), jnp.zeros(params.n_edge), jnp.asarray(net), params
            )
        )
        bottom = np.zeros(len(names))
        for k, label in enumerate(PART_NAMES):
            ax.bar(names, parts[:, k], bottom=bottom, label=label)
            bottom += parts[:, k]
        ax.axhline(params.deadline_ms[c], color="k", ls="--", lw=1, label="L_QoS")
        ax.set_title(f"{CLASS_NAMES[c]} (WAN {aif_llm.NET_NAMES[net]})")
        ax.set_ylabel("ms")
        ax.tick_params(axis="x", rotation=60)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_latency_hist(records: pd.DataFrame, bins: int = 60):
    """Log-scale latency histograms of completed tasks, one curve per policy."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    done = records.dropna(subset=["latency_ms"])
    edges = np.logspace(
        np.log10(max(done["latency_ms"].min(), 1e-1)), np.log10(done["latency_ms"].max()), bins
    )
    for name, group in done.groupby("policy", sort=False):
        ax.hist(group["latency_ms"], bins=edges.tolist(), histtype="step", label=str(name))
    ax.set(xscale="log", yscale="log", xlabel="latency of completed tasks (ms)", ylabel="count")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_tail_survival(samples: np.ndarray, concentration: float, scale: float):
    """Empirical survival P(X > x) of spike samples vs GPD(ζ = concentration, σ) and an
    exponential, log-log.

    A straight line with slope −1/ζ on log-log axes is the signature of a
    power-law (heavy) tail; the exponential of the same scale drops off quickly.
    """
    x = np.sort(np.asarray(samples))
    emp = 1.0 - np.arange(1, len(x) + 1) / (len(x) + 1)
    grid = np.logspace(np.log10(x[0] + 1e-9), np.log10(x[-1]), 200)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.loglog(x, emp, ".", ms=2, label="samples")
    ax.loglog(
        grid, stats.genpareto.sf(grid, concentration, scale=scale), label=f"GPD ζ={concentration}"
    )
    ax.loglog(grid, stats.expon.sf(grid, scale=scale), "--", label="exponential (ζ=0)")
    ax.set(xlabel="spike (ms)", ylabel="P(X > x)", ylim=(1.0 / len(x), 1.0))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
