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
# # 03 — The LLM prior and semantic preferences (AIF-LLM §4.2–4.3, Algorithm 1)
#
# The language side enters active inference in two places:
#
# * **Eq. 3, the keyword prior**: D_LLM(s) = softmax(Base(s) + α Σ_k 1[k ∈ text] w_k a_k(s)),
#   a belief prior shaped by the keywords of the task's text, with weights w_k learnt from
#   historical scheduling logs (TF-IDF × mutual information with the best decision).
# * **Eq. 5's semantic term**: advice text from an LLM is embedded (all-MiniLM-L6-v2,
#   384-d) into v_pref; each policy is scored by the cosine between the embedding of its
#   predicted state and v_pref, and G(π) gets −λ·score.
#
# The LLM is called asynchronously, only when the uncertainty U_t exceeds a trigger
# (Algorithm 1); decisions never wait for it. Functions: `aifedge.llm_bridge` and
# `aifedge.viz.llm`. Nothing is downloaded: the encoder and the small instruct
# LLM (SmolLM2-135M) ship as Python packages.

# %% tags=["parameters"]
QUICK = True  # False: more logs, and the embedded SmolLM2 advisor (≈ 20 s to load)
SEED = 0
LOG_EPISODES = 4 if QUICK else 20
USE_SMOLLM = not QUICK

# %%
import jax
import numpy as np

from aifedge.environments import aif_llm
from aifedge.environments.task_texts import CLASS_NAMES, TASK_TEXTS
from aifedge.llm_bridge import KeywordPrior, SentenceEncoder, make_logs
from aifedge.viz import llm as lplots

params = aif_llm.make_params()
logs = make_logs(params, policies=("random", "greedy"), episodes=LOG_EPISODES, seed=SEED)
logs[["policy", "text", "class_name", "net", "load_e1", "node", "best_node", "outcome_name"]].head()

# %% [markdown]
# ## Keyword weights from the scheduling logs
# Every keyword of the task texts gets w_k ∝ MI(keyword present; best node) × IDF,
# normalised to a maximum of 1; a_k(s) (shrunk pointwise mutual information with each
# level of each factor) says which levels the keyword makes more likely.

# %%
prior = KeywordPrior.fit(logs)
lplots.plot_keyword_weights(prior, top=20)
# %% [markdown]
# ## D_LLM for example texts
# The prior over the task class (stored D uniform, α = 1) for simulator texts and two
# new ones. Keywords shift the belief toward the classes they co-occur with; a text
# without known keywords keeps the stored prior.

# %%
examples = [
    TASK_TEXTS[0],
    TASK_TEXTS[7],
    TASK_TEXTS[14],
    TASK_TEXTS[20],
    "real-time video call from a privacy-sensitive camera",
    "completely unrelated words here",
]
base = {"class": np.full(len(CLASS_NAMES), 1.0 / len(CLASS_NAMES))}
d_frame = lplots.d_llm_frame(prior, examples, base, "class", CLASS_NAMES)
lplots.plot_d_llm(d_frame)
# %%
d_frame[["keywords"]]

# %% [markdown]
# ## Embeddings of state descriptions
# Every level of a hidden-state factor gets one sentence (`llm_bridge.semantic`); their
# MiniLM embeddings, projected on the first two principal components, cluster by what
# they describe. Advice sentences (stars) land near the states they talk about.

# %%
from aifedge.generative_models import build_model
from aifedge.llm_bridge import semantic
from aifedge.llm_bridge.advisors import summarise, template_advice

model = build_model(params)
encoder = SentenceEncoder()
factors = semantic.factor_texts(
    ["load:edge1", "load:edge5", "net", "class"],
    [
        model.factor_levels[model.factor_index(n)]
        for n in ("load:edge1", "load:edge5", "net", "class")
    ],
)
sentences = [d for f in factors for d in f.descriptions]
obs, _ = aif_llm.reset(jax.random.PRNGKey(SEED), params)
advice = template_advice(summarise(obs, params))
advice_examples = [
    advice.text,
    "Send the task to the cloud; the edge nodes are overloaded.",
    "Run the task on the local device; the network is congested.",
]
lplots.plot_embedding_map(
    encoder.encode(sentences),
    sentences,
    groups=[f.name for f in factors for _ in f.descriptions],
    extra=dict(
        zip([f"advice {i + 1}" for i in range(3)], encoder.encode(advice_examples), strict=True)
    ),
)
# %% [markdown]
# ## The semantic score per policy
# One decision of the active-inference core on the first observation (as in notebook 02).
# Each policy's predicted `sent:*` state ("a batch job was sent to the cloud while the
# network was congested", …) is embedded as the belief-weighted sum of its level
# embeddings and compared with the advice.

# %%
from aifedge.generative_models import aif_llm_model
from aifedge.inference import AgentConfig, make_agent, split_factors, with_semantic
from aifedge.viz import decision as dplots
from aifedge.viz.widgets import explore

options = aif_llm_model.make_options(params)
seen = np.concatenate(
    [
        np.asarray(aif_llm_model.observation_indices(obs, params, options)),
        np.asarray(aif_llm_model.outcome_indices(obs, params)),
    ]
)
agent = make_agent(model, AgentConfig(top_k=None))
state = agent.init()
_, _, info = agent.step(jax.random.PRNGKey(SEED), state, seen)
sent = semantic.aif_llm_texts(model)
tables = semantic.build_tables(encoder, sent)
marginals = semantic.predicted_marginals(
    model, split_factors(model, info.qs), [f.name for f in sent], agent.policies[:, 0]
)
v_pref = encoder.encode([advice.text])[0]
scores = np.asarray(semantic.g_semantic(marginals, tables, v_pref))
lplots.plot_semantic_scores(dplots.policy_labels(agent), scores, advice.text)

# %% [markdown]
# Note what the embedding can and cannot say: the advice's node type (edge vs cloud vs
# local device) separates the scores clearly, but MiniLM barely distinguishes "edge node
# 3" from "edge node 4" — the per-edge scores are nearly equal, and the highest need not
# be the node the advice names. The semantic term steers between *kinds* of placement.
#
# With λ > 0 the semantic term moves q(π) toward the advised kind of node (Eq. 5,
# G = G_prag + G_epis − λ·score). The slider sets λ; notebook 05 shows how λ_t is set
# from U_t.


# %%
def decision_with(lam=1.0):
    _, _, inf = agent.step(jax.random.PRNGKey(SEED), with_semantic(state, scores, lam), seen)
    return dplots.plot_efe_terms(
        dplots.decision_table(agent, inf, lam=lam, top_k=5), title=f"λ = {lam:.2f}"
    )


explore(decision_with, lam=(0.0, 10.0, 0.25))

# %% [markdown]
# ## The advisor loop (Algorithm 1, lines 5–8)
# An `AsyncAdvisor` runs the advisor in a background thread: when U_t (Eq. 6, here from
# the current observation) exceeds δ and no call is in flight, it is called; its advice
# arrives `delay_steps` decisions later and stays in force until newer advice arrives.
# Here the **template advisor** (deterministic rules, microseconds) advises, and a
# deliberately naive scheduler just follows the advice in force (the cloud before any
# advice) — the AIF-LLM agent instead uses it through the semantic term above.
# With `QUICK = False` the embedded SmolLM2 advisor answers one observation below (it
# takes ≈ 20 s to load (`aifedge bench advisor`), so quick runs skip it).

# %%
from aifedge.llm_bridge import AsyncAdvisor, advised_episode, make_advisor

THRESHOLD = 0.3
with AsyncAdvisor(
    make_advisor("template"), THRESHOLD, params.step_ms / 1000.0, encoder=encoder, delay_steps=1
) as runner:
    rec = advised_episode(
        jax.random.PRNGKey(SEED),
        params,
        lplots.follow_advice(params),
        runner,
        lplots.observed_uncertainty(),
        steps=params.max_steps,
    )
    stats = runner.stats()
lplots.plot_advised_episode(rec, THRESHOLD)
# %% [markdown]
# Following advice blindly goes wrong: advice is refreshed only when U_t > δ, so the
# follower keeps sending tasks to the node named by old advice until its queue
# overflows (red: failed). Advice is a hint about the state, not a decision — which is
# why AIF-LLM weighs it, through λ·G_semantic, against the expected free energy.

# %%
{k: stats[k] for k in ("calls", "successes", "busy_skips", "mean_delay_steps")} | {
    "QoS met": float(np.mean(rec["outcome"] == 0)),
    "advised steps": float(rec["advised"].mean()),
}

# %%
if USE_SMOLLM:
    smollm = make_advisor("smollm")
    smollm.load()
    print(smollm(summarise(obs, params)).text)
else:
    print("QUICK mode: SmolLM2 skipped; template advice:", advice.text)

# %% [markdown]
# ## Scenario `paper`: D_LLM on the hidden task requirements (issue 16 item 4)
# On `paper` the class is observed but a task's **requirements** are hidden: private (it must
# stay on premises: the cloud fails it) and strict (a deadline tighter than its type's). The
# text states them, with noise (`text_noise` flips a stated flag). The keyword table is fitted
# on greedy scheduling logs of `paper` itself (MI of each keyword with `req` = 2·private +
# strict), and α of Eq. 3 is fitted on the same logs (maximum likelihood over a grid, never on
# an evaluation episode). Base(s) is P(req | the task's observed type); code and dictation
# tasks only appear from `new_types_slot` on (cold start), so their Base is the mix's rate.

# %%
from aifedge.inference.aif_llm_paper_agent import fitted_alpha, paper_keyword_prior
from aifedge.viz import paper as pplots

paper_params = pplots.frozen_params(400)  # the scenario's episodes, as the agent's fit
lplots.plot_keyword_weights(paper_keyword_prior(paper_params), top=12)
# %%
alpha = fitted_alpha(paper_params)
req_frame = pplots.req_prior_frame(paper_params, [0, 3, 6, 9, 61, 70], alpha)
print(f"fitted α = {alpha}")
pplots.plot_req_priors(req_frame)
# %% [markdown]
# Without the text (upper bars) every task of a type gets the same prior; with it (lower
# bars) "real-time" moves mass to the strict levels and "personal data, keep it on premises"
# to the private ones. The fitted α is small because the stated flags are noisy: the text is
# weighted as much as the logs support. The `aif-llm` agent uses this D_LLM as its `req`
# prior for each task (`inference.aif_llm_paper_agent`).

# %%
req_frame.round(3)
