"""The ``aif`` scheduler for the ``aif-llm`` env: pure active inference (Table 4, "pure AIF").

No LLM prior (D uniform), no semantic term (λ = 0), no AIF-LLM Eq. 4 pruning (``AIF_CONFIG``),
horizon 1, on the slack-conditioned model (``generative_models.aif_llm_slack_model``). Each step
maps the simulator's ``Obs`` to the model's discrete observations (``aif_llm_slack_model.
observation_indices``: slack bin of the task on every node, RTT bin, class, how the previous
task ended) and runs one jitted decision; with ``AgentConfig.learn_A`` (off by default,
``AIF_CONFIG``) the outcome likelihoods' Dirichlet counts are updated from every observed
outcome first.
"""

import jax.numpy as jnp

from aifedge.environments import Policy, aif_llm_paper
from aifedge.environments.aif_llm import EnvParams, Obs
from aifedge.generative_models import aif_llm_slack_model

from .agent import AgentConfig, make_agent

AIF_CONFIG = AgentConfig(top_k=None)
"""The shipped ``aif`` settings: ``AgentConfig()`` without AIF-LLM Eq. 4 pruning, learning off.

Pruning: on the slack model no non-bookkeeping factor depends on the action, so Eq. 4's
score is the same for every first action and K = 5 would drop the last two nodes (edge 5
and the cloud) by index: 46 % QoS against 97.8 % without pruning (50 episodes, seed 1000).
Learning (``learn_A=True``) is off because it hurts from this prior: with carried state it
ends 4 points below the fixed model (``aifedge repro aif-learning``), since the learned
horizon-1 likelihoods rate slow edges at moderate slack as safe as fast nodes, and the
queueing cost of using them is not in the model; from a wrong prior it helps.
"""


def make_aif_policy(
    params: EnvParams, config: AgentConfig | None = None, **model_options
) -> Policy:
    """``Policy(init, act)`` of the decision core on ``aif_llm_slack_model.build_slack_model``.

    ``config``: ``AgentConfig`` (default ``AIF_CONFIG``: K = 5, horizon 1, deterministic
    actions, no pruning, learning off); ``model_options``:
    ``aif_llm_slack_model.SlackOptions`` fields.
    The policy state is the decision core's ``AgentState`` (its ``pA`` holds the learned
    counts, which ``rollout(..., carry_policy_state=True)`` keeps across episodes).
    """
    if isinstance(params, aif_llm_paper.EnvParams):  # scenario paper: its own model
        from .aif_llm_paper_agent import build_paper_agent

        return build_paper_agent(params, config=config, **model_options).policy()
    model = aif_llm_slack_model.build_slack_model(params, **model_options)
    options = model.options
    agent = make_agent(model, AIF_CONFIG if config is None else config)

    def init(key, env_params):
        del key, env_params
        return agent.init()

    def act(key, pstate, obs: Obs, env_params):
        del env_params
        seen = aif_llm_slack_model.observation_indices(obs, params, options)
        action, pstate, _ = agent.step(key, pstate, seen)
        return action[0].astype(jnp.int32), pstate

    return Policy(init=init, act=act)
