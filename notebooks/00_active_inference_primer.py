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
# # 00 — Active inference in one sitting
#
# An active-inference agent holds a **generative model** of how hidden states produce
# observations and how its actions move the states. In pymdp's discrete form it has four
# parts:
#
# | | meaning | shape |
# |---|---|---|
# | **A** | likelihood P(o \| s): what each state looks like | (outcomes, states…) per modality |
# | **B** | transitions P(s′ \| s, u): what actions do | (next, states, actions) per factor |
# | **C** | log-preferences ln P̃(o): which outcomes the agent wants | (outcomes,) per modality |
# | **D** | prior P(s₀): what it believes before seeing anything | (states,) per factor |
#
# It **perceives** by Bayesian belief updating (minimising variational free energy, VFE)
# and **acts** by choosing the policy with the lowest expected free energy (EFE), which
# trades off reaching preferred outcomes (risk) against resolving uncertainty (ambiguity).
#
# We use two small models: the classic **T-maze** and its scheduling twin, a
# **two-node offloading toy** (edge or cloud, with a probe that reveals whether the edge
# is busy). Everything computed here comes from `aifedge.generative_models.teaching`,
# `aifedge.inference` and `aifedge.viz`; the notebook only calls and displays.

# %% tags=["parameters"]
QUICK = True  # nothing here is slow; kept for symmetry with the other notebooks
SEED = 0

# %%
import jax
import numpy as np

from aifedge.generative_models import describe, plots, teaching, tmaze
from aifedge.inference import make_agent, split_factors
from aifedge.viz import decision as dplots
from aifedge.viz.widgets import explore

maze = tmaze.build_tmaze(cue_validity=1.0)
print(describe(maze))

# %% [markdown]
# ## A, B, C, D on the T-maze
# The agent starts in the centre. One arm pays (+2 nats of preference), the other costs
# (−4); which is which (the *context*) is hidden. The cue location shows the context.
# **A** for the cue and reward modalities depends on both factors (location, context):

# %%
plots.plot_A(maze, "cue")
# %%
plots.plot_A(maze, "reward")
# %% [markdown]
# **B** of the location factor: the action "go to X" moves the agent to X from anywhere
# (here u = cue). The context never changes (B = identity). **D** puts the agent in the
# centre and knows nothing about the context; **C** is printed by `describe` above.

# %%
plots.plot_B(maze, "location", action=1)
# %%
dplots.plot_beliefs(maze, maze.D, title="D: prior beliefs")
# %% [markdown]
# ## The same structure for offloading
# A task waits on the device. Sending it to the **edge** is fast if the edge is free and
# late if it is busy; the **cloud** never queues but its WAN makes it late 30 % of the
# time. A **probe** (a ping of the edge queue) reveals the load. Hidden factor
# `edge_load` ∈ {free, busy} plays the role of the T-maze's context.

# %%
toy = teaching.build_offload_toy()
print(describe(toy))
plots.plot_A(toy, "latency")
# %% [markdown]
# ## Perception is Bayes' rule
# Suppose the probe is 80 % accurate and reads "looks-busy". The posterior over the load
# is p(s | o) ∝ p(o | s) p(s):

# %%
noisy = teaching.build_offload_toy(probe_accuracy=0.8)
prior = noisy.D[1]
likelihood = noisy.A[1][2, 1, :]  # P(looks-busy | at probe, load)
posterior, evidence = teaching.bayes_posterior(prior, likelihood)
{"prior": prior, "posterior": posterior.round(3), "evidence p(o)": evidence}

# %% [markdown]
# The agent's state inference (pymdp's fixed-point iteration) gives the same numbers for
# the observation (dispatch = probe, probe = looks-busy, latency = none):

# %%
noisy_agent = make_agent(noisy)
qs = noisy_agent.infer_states(noisy_agent.init().prior, np.array([1, 2, 0]))
split_factors(noisy, np.asarray(qs))[1]

# %% [markdown]
# ## Variational free energy
# Exact Bayes is usually intractable, so the agent picks the belief q(s) that minimises
# F[q] = E_q[ln q(s) − ln p(o, s)] = KL[q ‖ p(s | o)] − ln p(o). F is an upper bound on the
# surprise −ln p(o), reached exactly at the posterior:

# %%
dplots.plot_free_energy(prior, likelihood, labels=toy.factor_levels[1])
# %%
{
    "F at the posterior": teaching.free_energy(posterior, prior, likelihood),
    "F at the prior": teaching.free_energy(prior, prior, likelihood),
    "surprise -ln p(o)": -np.log(evidence),
}

# %% [markdown]
# ## Expected free energy: risk + ambiguity
# For each policy π the agent predicts Q(s | π) and Q(o | π) and scores
#
# G(π) = KL[Q(o | π) ‖ P̃(o)] (**risk**: predicted outcomes vs preferred ones)
#       + E_{Q(s|π)} H[P(o | s)] (**ambiguity**: how unclear outcomes are about states).
#
# At the start (belief: load unknown) the probe carries no risk from the latency modality
# and no ambiguity; the edge is risky (it may be busy); the cloud is moderately risky and
# ambiguous (its outcome is uncertain whatever the state). Risk is summed over all
# modalities: for those without preferences (dispatch, probe; C = 0) it is
# ln n − H[Q(o)], the same for every policy except the probe, whose reading is uncertain
# beforehand — exactly the uncertainty the probe resolves.

# %%
table = teaching.efe_table(toy)
table.round(3)

# %%
dplots.plot_risk_ambiguity(table, title="Offloading toy: EFE of each first move")
# %% [markdown]
# The decision core (`aifedge.inference.make_agent`, on pymdp) writes the same quantity
# as **pragmatic** (−E[C], expected utility) plus **epistemic** (−information gain) value.
# The two decompositions differ only by the constant Σ_m ln Σ_o exp C_m(o), so they rank
# policies identically:

# %%
toy_agent = make_agent(toy)
action, _, info = toy_agent.step(jax.random.PRNGKey(SEED), toy_agent.init(), np.array([0, 0, 0]))
decision = dplots.decision_table(toy_agent, info)
decision.assign(G_risk_ambiguity=table["G"].to_numpy())[
    ["policy", "G_pragmatic", "G_epistemic", "G", "G_risk_ambiguity", "q_pi"]
].round(3)

# %%
dplots.plot_efe_terms(decision, title="Offloading toy: pragmatic vs epistemic value")
# %% [markdown]
# ## Behaviour: explore, then exploit
# In a world that *is* the model, the agent first probes (pure information gain), then
# sends the task to the edge if the probe says free, to the cloud if it says busy.

# %%
dplots.run_trial(toy_agent, true_state=[0, 1], steps=2, key=jax.random.PRNGKey(SEED))[
    ["t", "o[probe]", "o[latency]", "q[edge_load]", "action"]
]

# %%
dplots.run_trial(toy_agent, true_state=[0, 0], steps=2, key=jax.random.PRNGKey(SEED))[
    ["t", "o[probe]", "o[latency]", "q[edge_load]", "action"]
]

# %% [markdown]
# The T-maze agent does the same: cue first, then the arm the cue points to.

# %%
maze_agent = make_agent(maze)
dplots.run_trial(maze_agent, true_state=[0, 1], steps=2, key=jax.random.PRNGKey(SEED))[
    ["t", "o[cue]", "q[context]", "action"]
]

# %% [markdown]
# ## How preferences change behaviour
# Make the cloud reliable (90 % on time): its expected utility now beats the information
# the probe would bring, and the agent goes straight to the cloud — exploitation wins.

# %%
reliable = teaching.build_offload_toy(p_met_cloud=0.9)
teaching.efe_table(reliable)

# %% [markdown]
# Try it: the sliders rebuild the toy and redraw its EFE (static figure when headless).

# %%
explore(
    lambda met=2.0, late=-4.0, p_met_cloud=0.7, probe_accuracy=1.0: dplots.plot_risk_ambiguity(
        teaching.efe_table(
            teaching.build_offload_toy(
                probe_accuracy=probe_accuracy, p_met_cloud=p_met_cloud, met=met, late=late
            )
        )
    ),
    met=(0.0, 6.0, 0.5),
    late=(-10.0, 0.0, 0.5),
    p_met_cloud=(0.0, 1.0, 0.05),
    probe_accuracy=(0.5, 1.0, 0.05),
)

# %% [markdown]
# ## Policy precision γ
# The agent does not have to pick the minimum-G policy: q(π) = softmax(−γ G). With low
# precision it is almost indifferent; with high precision it is decisive.

# %%
dplots.plot_policy_precision(table["G"], table["action"])
# %%
explore(
    lambda gamma=1.0: dplots.plot_efe_terms(
        dplots.decision_table(toy_agent, info, gamma=gamma), title=f"γ = {gamma}"
    ),
    gamma=(0.1, 16.0, 0.1),
)

# %% [markdown]
# ## Exercises
# 1. Set `probe_accuracy=0.5` in `build_offload_toy`. What happens to the probe's
#    epistemic value and to the agent's first move?
#
# <details><summary>Answer</summary>
#
# An uninformative probe carries no information gain (epistemic value 0), so it is a
# wasted step; its G equals "hold". The agent's first move is the cloud, the least-risk
# option under an unknown load (`teaching.efe_table(teaching.build_offload_toy(
# probe_accuracy=0.5))`).
# </details>
#
# 2. Why is the edge's epistemic value not zero, although the edge is not a probe?
#
# <details><summary>Answer</summary>
#
# Its latency outcome depends on the load (95 % met when free, 10 % when busy), so
# observing it also tells the agent about the load. The cloud's outcome does not depend on
# the load: zero information gain.
# </details>
#
# 3. Show numerically that F[q] ≥ −ln p(o) for any q, with equality only at the posterior.
#
# <details><summary>Answer</summary>
#
# F[q] = KL[q ‖ p(s | o)] − ln p(o) and KL ≥ 0 with equality iff q = p(s | o). Evaluate
# `teaching.free_energy(q, prior, likelihood)` on a grid of q (as `plot_free_energy` does).
# </details>
#
# 4. With γ → 0, what does q(π) become? With γ → ∞?
#
# <details><summary>Answer</summary>
#
# Uniform over the (unpruned) policies; a point mass on the policy of lowest G.
# </details>
