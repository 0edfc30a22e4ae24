"""Gymnasium wrapper over the pure-JAX ``he2024`` step (for the discrete RL baselines).

Action space: ``Discrete(n_servers · L³)`` with L = ``len(share_levels)`` (default 5 · 27 =
135). Index ``a`` decodes (``he2024.decode_action``) as

    a = ((j · L + i_c) · L + i_w) · L + i_m,   [c, w, m] = share_levels[i_*] · full_alloc

j = 0 cloud, 1..4 MEC; with the default levels (1/3, 2/3, 1) of the full per-task
allocation (1 CPU unit, 1 MHz, 2 GB). The paper's action a = [j, c_j, w_j, m_j]
(§IV.A) is continuous in the resource shares; this grid is our discretisation.

Observation: ``Box`` of ``he2024.flatten_obs`` (28 float32 features, all ≥ 0).
Reward: He et al. Eq. 14. Episodes end by truncation after ``n_tasks`` requests (a round has no
terminal state). Key and state handling: ``gym_base.JaxEnv``; the raw ``Obs`` and
``StepInfo`` (numpy) are in ``info``.
"""

from functools import partial

import gymnasium as gym
import jax
import numpy as np

from . import he2024
from .gym_base import JaxEnv


def observation_high(params: he2024.EnvParams) -> np.ndarray:
    """Finite upper bounds of ``flatten_obs`` features (lower bounds are all 0)."""
    n_srv = params.n_servers
    diag_km = float(np.hypot(params.area_m * np.sqrt(2.0), params.uav_height_m)) / 1000.0
    # A slot is never booked beyond now + t_max (a dropped task frees its slot at t_max).
    wait_high = params.t_max_s / 10.0
    return np.concatenate(
        [
            np.ones(3 * n_srv),
            np.full(n_srv, diag_km + 0.01),
            np.full(n_srv, wait_high + 0.01),
            [1.0, params.t_max_s / 15.0 + 0.01, 1.0],
        ]
    ).astype(np.float32)


def _canonical(params: he2024.EnvParams) -> he2024.EnvParams:
    return params._replace(t_max_s=he2024.EnvParams().t_max_s)


# Module-level jitted functions: every env instance with equal params (t_max aside, which is
# traced) shares one compilation.
@partial(jax.jit, static_argnames=("params",))
def _reset(key, t_max_s, params):
    obs, state = he2024.reset(key, params._replace(t_max_s=t_max_s))
    return he2024.flatten_obs(obs, params), obs, state


@partial(jax.jit, static_argnames=("params",))
def _step(key, state, action, t_max_s, params):
    obs, state, reward, done, info = he2024.step(
        key, state, action, params._replace(t_max_s=t_max_s)
    )
    return he2024.flatten_obs(obs, params), obs, state, reward, done, info


class He2024Env(JaxEnv):
    def __init__(self, params: he2024.EnvParams | None = None):
        self.params = params if params is not None else he2024.make_params()
        p = self.params
        box = gym.spaces.Box(0.0, observation_high(p), dtype=np.float32)
        super().__init__(box, p.n_actions)
        self._canonical, self._t_max = _canonical(p), np.float32(p.t_max_s)

    def _reset_fn(self, key):
        return _reset(key, self._t_max, self._canonical)

    def _step_fn(self, key, state, action):
        return _step(key, state, action, self._t_max, self._canonical)
