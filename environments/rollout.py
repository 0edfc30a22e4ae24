"""Policies as pure function pairs and jitted, vmapped episode rollouts.

A ``Policy`` (``aifedge.protocols``) is ``init(key, params) -> pstate`` and
``act(key, pstate, obs, params) -> (action, pstate)`` (blackjax style), so
stateful agents (active inference) and stateless heuristics share one rollout.

Protocols: ``batch_rollout`` runs independent episodes (each starts from ``policy.init``;
what ``aifedge simulate``/``compare`` use); with ``carry_policy_state=True`` the episodes run
one after another and each starts from the policy state the previous one ended with (a
learning agent's counts and online fits carry over: learning curves).
"""

from collections.abc import Callable

import jax

from aifedge.protocols import Policy

from . import aif_llm


def stateless(fn: Callable) -> Policy:
    """Wrap ``fn(key, obs, params) -> action`` as a ``Policy`` with no state."""
    return Policy(init=lambda key, params: (), act=lambda key, s, obs, p: (fn(key, obs, p), s))


def agent_policy(init: Callable, step: Callable) -> Policy:
    """Wrap an agent's ``init() -> state`` and ``step(key, state, obs) -> (action, state,
    info)`` as a ``Policy`` (the env params are ignored: the agent is built for its own)."""
    return Policy(init=lambda key, params: init(), act=lambda key, s, obs, p: step(key, s, obs)[:2])


def episode(key: jax.Array, policy: Policy, params, n_steps: int, pstate, env=aif_llm):
    """One episode of ``n_steps`` from policy state ``pstate``: ``(infos (T,), final pstate)``.

    ``key`` splits into (reset, init, loop) keys; the init key is ``init_key(key)``."""
    k_reset, _, k_loop = jax.random.split(key, 3)
    obs, state = env.reset(k_reset, params)

    def body(carry, k):
        obs, state, pstate = carry
        k_act, k_step = jax.random.split(k)
        action, pstate = policy.act(k_act, pstate, obs, params)
        obs, state, _, _, info = env.step(k_step, state, action, params)
        return (obs, state, pstate), info

    (_, _, pstate), infos = jax.lax.scan(
        body, (obs, state, pstate), jax.random.split(k_loop, n_steps)
    )
    return infos, pstate


def init_key(key: jax.Array) -> jax.Array:
    """The key ``policy.init`` gets in the episode of ``key``."""
    return jax.random.split(key, 3)[1]


def rollout(
    key: jax.Array, policy: Policy, params: aif_llm.EnvParams, n_steps: int, env=aif_llm
) -> aif_llm.StepInfo:
    """One episode of ``n_steps`` from ``policy.init``; returns the stacked ``StepInfo`` (T,)."""
    return episode(key, policy, params, n_steps, policy.init(init_key(key), params), env)[0]


def batch_rollout(
    keys: jax.Array,
    policy: Policy,
    params: aif_llm.EnvParams,
    n_steps: int,
    env=aif_llm,
    carry_policy_state: bool = False,
) -> aif_llm.StepInfo:
    """Episodes for ``keys`` (B, 2); returned fields are (B, T).

    ``carry_policy_state=False``: ``rollout`` vmapped (independent episodes).
    ``True``: a ``lax.scan`` over the keys in order; the policy is initialised once (from
    the first key) and each episode starts from the previous one's final policy state.
    """
    if not carry_policy_state:
        return jax.vmap(lambda k: rollout(k, policy, params, n_steps, env))(keys)

    def body(pstate, k):
        infos, pstate = episode(k, policy, params, n_steps, pstate, env)
        return pstate, infos

    pstate0 = policy.init(init_key(keys[0]), params)
    return jax.lax.scan(body, pstate0, keys)[1]
