"""Gymnasium wrapper over the pure-JAX ``aif-llm`` step (for the RL baselines).

The wrapper owns a PRNG key (split once per call) and the ``EnvState``; the
dynamics are exactly ``aif_llm.step``. Observation: ``Box`` of ``flatten_obs``;
action: ``Discrete(n_nodes)``. The raw ``Obs`` and ``StepInfo`` are in ``info``.
"""

import gymnasium as gym
import jax
import numpy as np

from . import aif_llm

# Compiled once per process and per ``EnvParams`` (hashable, hence a static argument),
# not once per env instance: vector envs build many instances.
_RESET = jax.jit(aif_llm.reset, static_argnums=1)
_STEP = jax.jit(aif_llm.step, static_argnums=3)
_FLAT = jax.jit(aif_llm.flatten_obs, static_argnums=1)


def _to_numpy(tree):
    """NamedTuple of jax arrays -> same NamedTuple of numpy arrays (for ``info``)."""
    return jax.tree.map(np.asarray, tree)


class AifLlmEnv(gym.Env):
    metadata = {"render_modes": ()}  # noqa: RUF012 (gymnasium API)

    def __init__(self, params: aif_llm.EnvParams | None = None):
        self.params = params if params is not None else aif_llm.make_params()
        dim = aif_llm.obs_dim(self.params)
        # Every feature is >= 0 (``flatten_obs``); the upper bound is finite but loose.
        high = np.finfo(np.float32).max
        self.observation_space = gym.spaces.Box(0.0, high, shape=(dim,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(self.params.n_nodes)
        p = self.params
        self._reset = lambda k: _RESET(k, p)
        self._step = lambda k, s, a: _STEP(k, s, a, p)
        self._flat = lambda o: _FLAT(o, p)
        self._key = jax.random.PRNGKey(0)
        self._state = None

    def _next_key(self) -> jax.Array:
        self._key, sub = jax.random.split(self._key)
        return sub

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self._key = jax.random.PRNGKey(seed)
        obs, self._state = self._reset(self._next_key())
        return np.asarray(self._flat(obs)), {"obs": _to_numpy(obs)}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("AifLlmEnv.step called before reset(); call env.reset() first")
        if not self.action_space.contains(int(action)):
            raise ValueError(f"action: {action!r} is not in 0..{self.params.n_nodes - 1}")
        obs, self._state, reward, done, info = self._step(self._next_key(), self._state,
                                                          int(action))
        return (np.asarray(self._flat(obs)), float(reward), False, bool(done),
                {"obs": _to_numpy(obs), "step": _to_numpy(info)})
