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
# # 05 — Environmental uncertainty U_t and the meta-learned weight λ_t (AIF-LLM §4.5)
#
# **Eq. 6** summarises how unsettled the system is:
# U_t = α · L̄_net / L_QoS + β · N_fail / N_total (α + β = 1, α > β), the mean measured
# network delay over a sliding window relative to a fixed reference latency L_QoS
# (`UncertaintyConfig.u_ref_ms`; default the tightest class deadline, 300 ms), plus the
# share of failed nodes. Algorithm 1 calls the LLM advisor when U_t exceeds a trigger δ.
# The paper divides by "the task's maximum allowed delay"; with the current task's deadline
# U_t would follow the task class (deadlines from 300 ms to 4 s) more than the network, so
# here it uses one reference for every task: at a fixed environment U_t does not depend
# on which task is waiting.
#
# **Eq. 7** turns U_t into the weight of the semantic term of the EFE,
# λ_t = λ_min + (λ_max − λ_min) · σ(f_meta(U_t)), with f_meta a small network
# meta-trained (first-order MAML) over a distribution of conditions, so that a few
# gradient steps adapt it to a new one.
#
# Functions: `aifedge.inference.uncertainty`, `aifedge.inference.meta`, and
# `aifedge.viz.meta` (`uncertainty_trace` runs an episode with injected
# conditions as one jitted scan).

# %% tags=["parameters"]
QUICK = True  # False: longer phases and 300 meta-steps
SEED = 0
PHASE_STEPS = 25 if QUICK else 100
META_STEPS = 150 if QUICK else 300

# %%
import jax
import numpy as np

from aifedge.environments import aif_llm
from aifedge.inference import meta
from aifedge.inference.policies import make_aif_policy
from aifedge.inference.uncertainty import UncertaintyConfig
from aifedge.viz import meta as mplots
from aifedge.viz.widgets import explore

params = aif_llm.make_params()
u_config = UncertaintyConfig()
print(u_config)

# %% [markdown]
# ## An episode with injected congestion and failures
# Four phases of the same episode: calm (WAN held in its good state), the WAN forced
# into its congested state, a burst of edge failures (30 % per step, slow recovery; WAN
# good again), and recovery (the defaults). The scheduler is the pure active-inference
# agent (`aif`, λ = 0): its model is built for the nominal system, the world is not.

# %%
good, congested = ((1.0, 0.0, 0.0),) * 3, ((0.0, 0.0, 1.0),) * 3
phases = [
    ("calm", PHASE_STEPS, {"net_transition": good}),
    ("congestion", PHASE_STEPS, {"net_transition": congested}),
    (
        "failures",
        PHASE_STEPS,
        {"net_transition": good, "edge_fail_prob": 0.3, "edge_recover_prob": 0.05},
    ),
    ("recovery", PHASE_STEPS, {}),
]
policy = make_aif_policy(params)
trace = mplots.uncertainty_trace(jax.random.PRNGKey(SEED), policy, params, phases, u_config)
mplots.phase_summary(trace).round(3)

# %% [markdown]
# ## Meta-training f_meta
# The meta-network is trained with first-order MAML on a toy family of conditions
# (`toy_lambda_task`): in each, the best λ rises as a logistic function of U past a
# condition-specific knee. This stands in for the real target — the agent's QoS as a
# function of λ under simulator conditions — to show what the meta-training does:
# the loss *after* a few inner adaptation steps (the meta-loss) falls below the loss of
# the meta-parameters themselves.

# %%
meta_cfg = meta.MetaConfig(meta_steps=META_STEPS)
f_meta, history = meta.meta_train(
    meta_cfg, mplots.toy_lambda_task, mplots.toy_lambda_loss(meta_cfg), jax.random.PRNGKey(SEED)
)
mplots.plot_meta_history(history)
# %% [markdown]
# Adaptation: three held-out conditions, `inner_steps` SGD steps each from the
# meta-trained f_meta (dashed: each condition's best λ).

# %%
tasks = {
    f"condition {i}": mplots.toy_lambda_task(k)
    for i, k in enumerate(jax.random.split(jax.random.PRNGKey(SEED + 1), 3))
}
loss_fn = mplots.toy_lambda_loss(meta_cfg)
adapted = {
    f"adapted: {name}": meta.adapt(f_meta, task, loss_fn, meta_cfg, jax.random.PRNGKey(SEED + 2))
    for name, task in tasks.items()
}
mplots.plot_lambda_response(
    meta_cfg,
    {"meta-trained f_meta": f_meta, **adapted},
    targets={
        f"best: {name}": (lambda u, task=task: mplots.toy_best_lambda(task, u, meta_cfg))
        for name, task in tasks.items()
    },
)
# %% [markdown]
# ## U_t and λ_t over the episode
# Congestion raises the measured RTT and U_t (the network term dominates, α = 0.7);
# failures add the node term. Because L_QoS is a fixed reference, U_t moves only with
# the measured network and the failed nodes, not with the class of the task that happens
# to be waiting. λ_t follows U_t through the meta-trained f_meta: the agent
# would lean on the LLM's advice when the environment becomes uncertain. (The `aif`
# scheduler that acted here ignores λ; the full agent is `inference.aif_llm_agent`.)

# %%
lam = np.asarray(meta.meta_lambda(f_meta, trace["u_t"].to_numpy(), meta_cfg))
mplots.plot_uncertainty_trace(trace, trigger=u_config.trigger, lam=lam)
# %% [markdown]
# ## The shipped f_meta, meta-trained on the full agent
# `inference.meta_train` meta-trains f_meta on the real objective: the QoS-violation
# rate of the full AIF-LLM agent over short episodes under random simulator conditions
# (load, failure rate, WAN volatility), with evolution-strategies gradients because the
# agent's argmax is not differentiable. Its checkpoint ships with the package; below are
# its recorded training curve and its λ(U). Each loss comes from a few short episodes of
# one random condition, so the curve is noisy — compare it with the toy curve above,
# whose target is exact.

# %%
from aifedge.inference.aif_llm_agent import META_FILE

shipped, shipped_cfg = meta.load_checkpoint(META_FILE)
mplots.plot_meta_history(
    mplots.checkpoint_history(META_FILE),
    title="Shipped f_meta: meta-training on the agent's QoS",
    log=False,
)
# %%
mplots.plot_lambda_response(shipped_cfg, {"shipped f_meta": shipped})

# %% [markdown]
# ## Does λ matter? The same conditions for every λ
# The training curve above cannot show whether meta-training helped: each step draws new
# conditions, and their spread (several points of violation rate) is larger than any
# effect of λ. `train_meta` therefore also measures, on 32 fixed conditions of the
# training distribution with the same episodes for every model (common random numbers),
# the violation rate of the initial f_meta (λ = 2 for every U), the trained one, and of
# each constant λ. The best constant is what the "w/o meta-λ" ablation of Table 4 uses.
# In this simulator the task class is observed and the template advice is a coarser
# function of the same observation, so the semantic term can only add noise: the best
# λ is the smallest, and a λ(U) that rises with U has nothing to gain. Training λ to fall
# when advice is stale needs the `paper` scenario's event log (advice about what the
# agent does not observe).

# %%
mplots.checkpoint_check_losses(META_FILE).round(3)

# %% [markdown]
# ## Explore: load and failure rate
# The same four phases with another background load and failure rate in the failure
# phase (the compiled scan is reused; press "Run Interact" after moving the sliders).


# %%
def with_stress(bg_util=0.3, edge_fail_prob=0.3):
    stress = {
        "net_transition": good,
        "bg_util": bg_util,
        "edge_fail_prob": edge_fail_prob,
        "edge_recover_prob": 0.05,
    }
    tr = mplots.uncertainty_trace(
        jax.random.PRNGKey(SEED),
        policy,
        params,
        [*phases[:2], ("failures", PHASE_STEPS, stress), phases[3]],
        u_config,
    )
    return mplots.plot_uncertainty_trace(
        tr,
        trigger=u_config.trigger,
        lam=np.asarray(meta.meta_lambda(f_meta, tr["u_t"].to_numpy(), meta_cfg)),
    )


explore(with_stress, manual=True, bg_util=(0.0, 0.95, 0.05), edge_fail_prob=(0.0, 0.5, 0.01))

# %% [markdown]
# ## Scenario `paper`: U_t and λ_t around a regime shift (issue 16 item 5)
# On `paper` the same Eqs. 6–7 drive the `aif-llm` agent of
# `aifedge.inference.aif_llm_paper_agent`: U_t from the measured RTT (its window of 10
# decisions) and the seen-down edges over a fixed 600-ms reference, λ_t = f_meta(U_t) from
# `inference/data/meta_lambda_paper.eqx` (FOMAML with evolution-strategies gradients over
# `paper` conditions; `aifedge.inference.paper_meta_lambda`). The advice it weights comes
# from the event log (advisor v2: the named edge dispreferred after a maintenance notice,
# "own device or nearby edge" after a congestion report). Shaded: the hidden stressed
# regime. On the held-out seed 3000 (100 episodes, `paper_repro/paper_agent_plan.md`) the
# full agent scored 87.55 % QoS, λ fixed at the best constant 0.25: 87.56 %, no advice:
# 87.53 %: the trained λ_t stays near 0.3–0.4 whatever U_t, and the advice it weights
# changes almost nothing on `paper`.

# %%
from aifedge.config import load_overrides
from aifedge.environments import aif_llm_paper
from aifedge.inference.aif_llm_paper_agent import build_paper_agent
from aifedge.inference.paper_meta_lambda import FROZEN_CONFIG, trace_episode

paper = aif_llm_paper.make_params(**load_overrides(FROZEN_CONFIG))
paper_agent = build_paper_agent(paper, semantic=True)
paper_trace = trace_episode(paper_agent, paper, jax.random.PRNGKey(SEED))
mplots.plot_uncertainty_trace(paper_trace, lam=paper_trace["lam"].to_numpy())

# %%
paper_trace.groupby("phase")[["rtt_ms", "n_down", "u_t", "lam", "advised"]].mean().round(3)
