"""Policies as pure function pairs and jitted, vmapped episode rollouts.

A ``Policy`` (``aifedge.protocols``) is ``init(key, params) -> pstate`` and
``act(key, pstate, obs, params) -> (action, pstate)`` (blackjax style), so
stateful agents (active inference) and stateless heuristics share one rollout.
"""

from collections.abc import Callable

import jax

from aifedge.protocols import Policy

from . import aif_llm


def stateless(fn: Callable) -> Policy:
    """Wrap ``fn(key, obs, params) -> action`` as a ``Policy`` with no state."""
    return Policy(init=lambda key, params: (), act=lambda key, s, obs, p: (fn(key, obs, p), s))


def rollout(
    key: jax.Array, policy: Policy, params: aif_llm.EnvParams, n_steps: int, env=aif_llm
) -> aif_llm.StepInfo:
    """One episode of ``n_steps``; returns the stacked ``StepInfo`` (fields (T,))."""
    k_reset, k_init, k_loop = jax.random.split(key, 3)
    obs, state = env.reset(k_reset, params)
    pstate = policy.init(k_init, params)

    def body(carry, k):
        obs, state, pstate = carry
        k_act, k_step = jax.random.split(k)
        action, pstate = policy.act(k_act, pstate, obs, params)
        obs, state, _, _, info = env.step(k_step, state, action, params)
        return (obs, state, pstate), info

    _, infos = jax.lax.scan(body, (obs, state, pstate), jax.random.split(k_loop, n_steps))
    return infos


def batch_rollout(
    keys: jax.Array, policy: Policy, params: aif_llm.EnvParams, n_steps: int, env=aif_llm
) -> aif_llm.StepInfo:
    """``rollout`` vmapped over ``keys`` (B, 2); returned fields are (B, T)."""
    return jax.vmap(lambda k: rollout(k, policy, params, n_steps, env))(keys)
