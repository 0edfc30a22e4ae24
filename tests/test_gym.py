"""The Gymnasium wrapper passes gymnasium's checker and follows the JAX step."""

import numpy as np
from gymnasium.utils.env_checker import check_env

from aifedge.environments.gym_wrapper import AifLlmEnv


def test_check_env_passes():
    check_env(AifLlmEnv(), skip_render_check=True)


def test_episode_terminates_after_max_steps_and_is_seeded():
    from aifedge.environments import make_params

    env = AifLlmEnv(make_params(max_steps=5))
    obs, _ = env.reset(seed=3)
    rewards = []
    for i in range(5):
        obs, r, terminated, truncated, _ = env.step(i % env.action_space.n)
        rewards.append(r)
    assert truncated and not terminated
    assert obs.shape == env.observation_space.shape and obs.dtype == np.float32
    env.reset(seed=3)
    again = [env.step(i % env.action_space.n)[1] for i in range(5)]
    assert rewards == again
