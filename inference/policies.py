"""The ``aif`` scheduler for the ``aif-llm`` env: pure active inference (Table 4, "pure AIF").

No LLM prior (D uniform), no semantic term (λ = 0), AIF-LLM Eq. 4 pruning with K = 5, horizon 1.
Each step maps the simulator's ``Obs`` to the model's discrete observations
(``cloud_edge.observation_indices``: load bins, RTT bin, task class;
``cloud_edge.outcome_indices``: how the previous task ended) and runs one jitted decision.
"""

import jax.numpy as jnp

from aifedge.environments import Policy
from aifedge.environments.aif_llm import EnvParams, Obs
from aifedge.generative_models import cloud_edge

from .agent import AgentConfig, make_agent


def make_aif_policy(
    params: EnvParams, config: AgentConfig | None = None, **model_options
) -> Policy:
    """``Policy(init, act)`` of the decision core on ``cloud_edge.build_model(params)``.

    ``config``: ``AgentConfig`` (default: K = 5, horizon 1, deterministic actions);
    ``model_options``: ``cloud_edge.ModelOptions`` fields.
    """
    model = cloud_edge.build_model(params, **model_options)
    options = model.options
    agent = make_agent(model, config)

    def init(key, env_params):
        del key, env_params
        return agent.init()

    def act(key, pstate, obs: Obs, env_params):
        del env_params
        seen = jnp.concatenate(
            [
                cloud_edge.observation_indices(obs, params, options),
                cloud_edge.outcome_indices(obs, params),
            ]
        )
        action, pstate, _ = agent.step(key, pstate, seen)
        return action[0].astype(jnp.int32), pstate

    return Policy(init=init, act=act)
