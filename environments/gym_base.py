"""Shared Gymnasium plumbing for the pure-JAX simulators (``gym_wrapper``, ``he2024_gym``).

``JaxEnv`` owns one PRNG key, split once per call (``reset(seed=s)`` restarts it from
``PRNGKey(s)``), and the env state. A subclass supplies two jitted pure functions::

    _reset_fn(key)                -> (flat_obs, obs, state)
    _step_fn(key, state, action)  -> (flat_obs, obs, state, reward, done, info)

Episodes end by truncation (``done``), never by termination. The raw ``Obs`` and
``StepInfo`` (as numpy) are in ``info["obs"]`` / ``info["step"]``.
"""

import gymnasium as gym
import jax
import numpy as np


def to_numpy(tree):
    """NamedTuple of jax arrays -> the same NamedTuple of numpy arrays."""
    return jax.tree.map(np.asarray, tree)


class JaxEnv(gym.Env):
    metadata = {"render_modes": ()}  # noqa: RUF012 (gymnasium API)

    def __init__(self, observation_space: gym.spaces.Box, n_actions: int):
        self.observation_space = observation_space
        self.action_space = gym.spaces.Discrete(n_actions)
        self._key = jax.random.PRNGKey(0)
        self._state = None

    def _reset_fn(self, key):
        raise NotImplementedError

    def _step_fn(self, key, state, action):
        raise NotImplementedError

    def _next_key(self) -> jax.Array:
        self._key, sub = jax.random.split(self._key)
        return sub

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self._key = jax.random.PRNGKey(seed)
        flat, obs, self._state = self._reset_fn(self._next_key())
        return np.asarray(flat), {"obs": to_numpy(obs)}

    def step(self, action):
        name = type(self).__name__
        if self._state is None:
            raise RuntimeError(f"{name}.step called before reset(); call env.reset() first")
        if not self.action_space.contains(int(action)):
            raise ValueError(f"action: {action!r} is not in 0..{self.action_space.n - 1}")
        flat, obs, self._state, reward, done, info = self._step_fn(
            self._next_key(), self._state, int(action)
        )
        return (
            np.asarray(flat),
            float(reward),
            False,
            bool(done),
            {"obs": to_numpy(obs), "step": to_numpy(info)},
        )
