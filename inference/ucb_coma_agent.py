"""The ``aif`` scheme on ``ucb-coma`` (UCB-COMA): one active-inference agent per task.

Each task agent ag_i (§4.1, one per LLM task L_i) runs the decision core of
``inference.agent`` (UCB-COMA Eq. 5: G = G_prag + G_epis, horizon ``policy_len``, deterministic
argmax q(π), no pruning, λ = 0) on the placement POMDP of
``generative_models.ucb_coma_model`` and acts a_i = j_i · 4 + α_i: j_i the task's
lowest-index ready sub-task (``ready_subtask``), α_i the location its policy chooses.
The I agents share the model and decide in one ``vmap``-ed, jitted call.

The scheme fits ``baselines.marl``'s episode loop (``train`` / ``evaluate``) as a
learner without learning: ``LEARNER`` is an ``aifedge.protocols.Learner`` (init, act, observe,
end_episode, config), ``init`` returns no state and ``observe`` / ``end_episode`` change
nothing, so a "training" curve is the fixed model's performance. That loop's ``act``
carries no state between steps, so every decision starts from D; this loses nothing:
the factors a decision depends on (the ready sub-task's modality, each edge's queue
level and up flag) are observed exactly at every step, and ``Obs`` carries no outcome of
the previous placement (``outcome:*`` and ``cost:*`` are passed as not observed, −1).

Exploration (marl's ``explore`` flag) is ignored: the scheme acts the same in training
and evaluation; epistemic value (G_epis) is its own exploration term.
"""

from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import NamedTuple

import jax
import jax.numpy as jnp

from aifedge.config import ConfigError, check_fields
from aifedge.environments import ucb_coma as env
from aifedge.generative_models import ucb_coma_model as gm
from aifedge.generative_models.base import GenerativeModel
from aifedge.protocols import Learner

from .agent import AgentConfig, AifAgent, DecisionInfo, make_agent


@dataclass(frozen=True)
class DagAifConfig(gm.ModelOptions):
    """``generative_models.ucb_coma_model.ModelOptions`` plus the planning horizon.

    policy_len  H of UCB-COMA Eq. 5 (policies = all 4^H location sequences).
    """

    policy_len: int = 1


def make_config(**overrides) -> DagAifConfig:
    """``DagAifConfig`` with validated overrides; ``ConfigError`` names the field and fix."""
    check_fields(overrides, [f.name for f in fields(DagAifConfig)], "DagAifConfig")
    return check_config(DagAifConfig(**overrides))


def check_config(cfg: DagAifConfig) -> DagAifConfig:
    gm.check_options(cfg)
    h = cfg.policy_len
    if not isinstance(h, int) or isinstance(h, bool) or not 1 <= h <= 3:
        raise ConfigError(
            f"DagAifConfig.policy_len: must be an integer in 1..3 (got {h!r}); "
            "4^H policies are evaluated per decision"
        )
    return cfg


@lru_cache(maxsize=32)
def scheme_agent(params: env.EnvParams, cfg: DagAifConfig) -> AifAgent:
    """The decision core on ``gm.build_model(params, cfg)`` (memoised per params, config).

    Built eagerly even when called while an outer ``jit`` traces the episode loop.
    """
    check_config(cfg)
    with gm.eager_if_tracing():
        model = gm.build_model(params, cfg)
        return make_agent(model, AgentConfig(policy_len=cfg.policy_len, top_k=None), engine="fast")


def decide(
    agent: AifAgent, key: jax.Array, obs: env.Obs, params: env.EnvParams, cfg: DagAifConfig
) -> tuple[jax.Array, DecisionInfo]:
    """One joint decision: actions (I,) = j_i · 4 + α_i, and each agent's ``DecisionInfo``.

    Agent i observes ``gm.observation_indices(obs)[i]`` (its sub-task, the edges' queues);
    the outcome modalities are not observed (−1).
    """
    j, _ = gm.ready_subtask(obs)
    seen = gm.observation_indices(obs, params, cfg)
    n = seen.shape[0]
    n_mod = len(agent.model.num_obs)
    seen = jnp.concatenate([seen, jnp.full((n, n_mod - seen.shape[1]), -1, jnp.int32)], -1)
    state = agent.init()
    states = jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *x.shape)), state)
    loc, _, info = agent.batch_step(jax.random.split(key, n), states, seen)
    return env.encode_action(j, loc[:, 0]), info


class DagAifScheme(NamedTuple):
    """The ``aif`` scheme for one ``EnvParams``.

    model: the placement POMDP; agent: its decision core; config: ``DagAifConfig``;
    act(key, obs) -> (actions (I,), DecisionInfo with a leading (I,) axis), jitted.
    """

    model: GenerativeModel
    agent: AifAgent
    config: DagAifConfig
    act: Callable


def make_dag_aif_scheme(
    params: env.EnvParams | None = None, cfg: DagAifConfig | None = None, **overrides
) -> DagAifScheme:
    """Build the scheme for ``params`` (default ``ucb_coma.make_params()``).

    ``cfg`` or keyword ``overrides`` (``DagAifConfig`` fields; ``ConfigError`` if bad).
    """
    params = env.make_params() if params is None else params
    if cfg is not None and overrides:
        raise ValueError("make_dag_aif_scheme: pass cfg or keyword overrides, not both")
    cfg = make_config(**overrides) if cfg is None else check_config(cfg)
    agent = scheme_agent(params, cfg)
    act = jax.jit(lambda key, obs: decide(agent, key, obs, params, cfg))
    return DagAifScheme(model=agent.model, agent=agent, config=cfg, act=act)


# ---------------------------------------------------------------- marl Learner adapter
def init(key, params, cfg: DagAifConfig, n_episodes: int) -> tuple:
    """No learnable state: the model is fixed by ``params`` and ``cfg``."""
    return ()


def act(key, state, obs, params, cfg: DagAifConfig, explore: bool) -> jax.Array:
    """marl ``Learner.act``: actions (I,) of ``decide`` (``explore`` is ignored)."""
    return decide(scheme_agent(params, cfg), key, obs, params, cfg)[0]


def observe(key, state, transition, params, cfg):
    return state


def end_episode(key, state, params, cfg):
    return state


LEARNER = Learner(init, act, observe, end_episode, DagAifConfig)
"""This scheme as a multi-agent ``Learner`` (``baselines.marl.LEARNERS["aif"]``)."""
