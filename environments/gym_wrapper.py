"""Gymnasium wrapper over the pure-JAX ``aif-llm`` step (for the RL baselines).

The dynamics are exactly ``aif_llm.step`` (scenario v1) or ``aif_llm_paper.step`` (scenario
paper: pass its ``EnvParams``); key and state handling: ``gym_base.JaxEnv``. Observation:
``Box`` of the scenario's ``flatten_obs`` (its docstring gives the layout); action:
``Discrete(n_nodes)``. The raw ``Obs`` and ``StepInfo`` are in ``info``.
"""

from functools import partial

import gymnasium as gym
import jax
import numpy as np

from . import aif_llm, aif_llm_paper, env_module
from .gym_base import JaxEnv


# Compiled once per process and per ``EnvParams`` (hashable, hence static), not once per
# env instance: vector envs build many instances.
@partial(jax.jit, static_argnames=("params",))
def _reset(key, params):
    env = env_module("aif-llm", params)
    obs, state = env.reset(key, params)
    return env.flatten_obs(obs, params), obs, state


@partial(jax.jit, static_argnames=("params",))
def _step(key, state, action, params):
    env = env_module("aif-llm", params)
    obs, state, reward, done, info = env.step(key, state, action, params)
    return env.flatten_obs(obs, params), obs, state, reward, done, info


class AifLlmEnv(JaxEnv):
    def __init__(self, params: aif_llm.EnvParams | aif_llm_paper.EnvParams | None = None):
        self.params = params if params is not None else aif_llm.make_params()
        # Every feature is >= 0 (``flatten_obs``); the upper bound is finite but loose.
        box = gym.spaces.Box(
            0.0,
            np.finfo(np.float32).max,
            shape=(env_module("aif-llm", self.params).obs_dim(self.params),),
            dtype=np.float32,
        )
        super().__init__(box, self.params.n_nodes)

    def _reset_fn(self, key):
        return _reset(key, params=self.params)

    def _step_fn(self, key, state, action):
        return _step(key, state, action, params=self.params)
