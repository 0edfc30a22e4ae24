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
# # 08 — UCB-COMA: DAG offloading of LLM inference sub-tasks
#
# The `ucb-coma` simulator (UCB-COMA: 3-stage DAGs, modality-specialised edges and
# a multimodal cloud, Table 1 parameters) and the multi-agent learners of
# `aifedge.baselines.marl` (UCB-COMA, COMA, MAPPO, MADDPG, CS-UCB, Random, and the
# toolkit's `aif` agent). Figures come from `aifedge.paper_repro.ucb_coma`, the same code as
# `aifedge repro ucbcoma-fig4 … fig9`.
#
# `TOY = True` (default, used by the test suite) runs two schemes and the two reference
# policies on a 2-task toy env, 2 seeds; its numbers are not results. `TOY = False` runs
# the `--quick` protocol (minutes).

# %% tags=["parameters"]
TOY = True

# %%
from aifedge.environments import ucb_coma
from aifedge.paper_repro import ucb_coma as repro

ucb_coma.make_params()

# %%
cfg = repro.TOY if TOY else repro.QUICK
fig4 = repro.run_fig4(cfg)
repro.plot_fig4(fig4)
fig4

# %% [markdown]
# Per scheme: training reward (mean, std over seeds), greedy-evaluation reward, completion
# and weighted sum, and the reward decomposition (θ term, objective, η1, η2, η3, faults).

# %%
fig4.attrs["final"]
