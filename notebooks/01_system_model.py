# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 — The cloud-edge system model (AIF-LLM §3, §5.1)
#
# The `aif-llm` simulator: one cloud node (10,000 GFLOPS, unbounded capacity, WAN
# round trip), five heterogeneous edge nodes (50–200 GFLOPS, finite queues, failures)
# and the requesting device. One task arrives per step; a scheduler picks its node.
#
# Latency of a task on node *j*:
# $L = L_{tx} + L_{prop} + L_{queue} + L_{comp} + L_{spike}$, with
# $L_{spike} \sim \mathrm{GPD}(\zeta = 1.5, \sigma)$ on a fraction of tasks.
#
# Every function used here lives in the library (`aifedge.environments`,
# `aifedge.simulate`); this notebook only calls and displays.

# %% tags=["parameters"]
QUICK = True  # False: the paper's protocol size (200 episodes)
EPISODES = 20 if QUICK else 200
SEED = 0

# %%
import jax
import numpy as np

from aifedge.environments import aif_llm, plots
from aifedge.environments.tails import sample_gpd
from aifedge.simulate import records, simulate, summarise

params = aif_llm.make_params()
plots.params_table(params)

# %% [markdown]
# ## Where the time goes
# A typical task of each class on an idle system: the cloud is fast to compute but
# pays the WAN round trip and a thin uplink (video!), small edges are close but slow.

# %%
plots.plot_latency_components(params, net=0)
# %%
plots.plot_latency_components(params, net=2)  # congested WAN

# %% [markdown]
# ## The heavy tail and why tasks need timeouts
# With shape ζ = 1.5 ≥ 1 the GPD has **infinite mean**: the sample mean of spikes never
# settles. The simulator therefore turns any task slower than 3·L_QoS into a failure;
# averages are only ever taken over completed tasks.

# %%
spikes = np.asarray(
    sample_gpd(jax.random.PRNGKey(SEED), params.spike_shape, params.spike_scale_ms, (20_000,))
)
plots.plot_tail_survival(spikes, params.spike_shape, params.spike_scale_ms)
# %%
{n: float(np.mean(spikes[:n])) for n in (100, 1_000, 10_000, 20_000)}  # running means drift

# %% [markdown]
# ## Heuristic schedulers on the same seeds

# %%
import pandas as pd

frame = pd.concat(
    [
        simulate("aif-llm", name, EPISODES, SEED, params, progress=False)
        for name in ("random", "cloud", "edge", "greedy")
    ],
    ignore_index=True,
)
summarise(frame)

# %%
tasks = pd.concat(
    [records("aif-llm", name, 5, SEED, params) for name in ("cloud", "greedy")], ignore_index=True
)
plots.plot_latency_hist(tasks)
