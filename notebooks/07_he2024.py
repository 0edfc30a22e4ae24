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
# # 07 — He et al.: LLM inference offloading with active inference and rewardless guidance
#
# The `he2024` simulator (He et al.: 1 cloud + 4 MEC servers, mobile terminals,
# Shannon rate with G2G/G2A/A2A path loss, latency Eq. 8, drops past t_max) and the
# `aif-rg` agent (ensemble transition model, rewardless guidance rg = tc·(1/L + P), Eq. 11,
# CEM-refined expected free energy). Figures come from `aifedge.paper_repro.he2024`, the
# same code as `aifedge repro he2024-fig3|fig4|fig5`.
#
# `TOY = True` (default, used by the test suite) shows the machinery at toy size; its
# numbers are not results. `TOY = False` runs the `--quick` protocol (minutes).

# %% tags=["parameters"]
TOY = True

# %%
from aifedge.environments import he2024
from aifedge.inference import he2024_agent
from aifedge.paper_repro import he2024 as repro

params = he2024.make_params()
repro.paper_values()

# %%
if TOY:
    agent = he2024_agent.AifRgConfig(
        n_candidates=48,
        top_k=6,
        n_iters=2,
        horizon=2,
        ensemble_size=3,
        fit_steps=200,
        buffer_size=4096,
    )
    cfg = repro.Fig3Config(
        methods=("aif-rg", "he-greedy", "random"),
        final_window=1,
        seeds=1,
        n_episodes=2,
        eval_episodes=2,
        agent=agent,
    )
else:
    cfg = repro.QUICK_FIG3
fig3 = repro.run_fig3(cfg)
repro.plot_fig3(fig3)
fig3
