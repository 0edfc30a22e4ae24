"""Gymnasium wrapper over the pure-JAX ``aif-llm`` step (for the RL baselines).

The dynamics are exactly ``aif_llm.step``; key and state handling: ``gym_base.JaxEnv``.
Observation: ``Box`` of ``flatten_obs``; action: ``Discrete(n_nodes)``. The raw ``Obs``
and ``StepInfo`` are in ``info``.
"""

from functools import partial

import gymnasium as gym
import jax
import numpy as np

from . import aif_llm
from .gym_base import JaxEnv


# Compiled once per process and per ``EnvParams`` (hashable, hence static), not once per
# env instance: vector envs build many instances.
@partial(jax.jit, static_argnames=("params",))
def _reset(key, params):
    obs, state = aif_llm.reset(key, params)
    return aif_llm.flatten_obs(obs, params), obs, state


@partial(jax.jit, static_argnames=("params",))
def _step(key, state, action, params):
    obs, state, reward, done, info = aif_llm.step(key, state, action, params)
    return aif_llm.flatten_obs(obs, params), obs, state, reward, done, info


class AifLlmEnv(JaxEnv):
    def __init__(self, params: aif_llm.EnvParams | None = None):
        self.params = params if params is not None else aif_llm.make_params()
        # Every feature is >= 0 (``flatten_obs``); the upper bound is finite but loose.
        box = gym.spaces.Box(
            0.0, np.finfo(np.float32).max, shape=(aif_llm.obs_dim(self.params),), dtype=np.float32
        )
        super().__init__(box, self.params.n_nodes)

    def _reset_fn(self, key):
        return _reset(key, params=self.params)

    def _step_fn(self, key, state, action):
        return _step(key, state, action, params=self.params)
