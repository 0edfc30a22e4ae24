"""Tianshou baselines (``aifedge.baselines.rl``): train, checkpoint, reload, act, evaluate.

Tiny budgets on a toy contextual bandit (``MatchEnv``) and on ``aif-llm``; the learning test
tests a trained DQN against the uniform-random rate with scipy's binomial test.
"""

import json

import gymnasium as gym
import jax
import numpy as np
import pandas as pd
import pytest
from scipy import stats

pytest.importorskip("tianshou")

from aifedge.baselines import rl
from aifedge.config import ConfigError
from aifedge.environments import aif_llm, make_params
from aifedge.environments.gym_wrapper import AifLlmEnv
from aifedge.environments.metrics import METRIC_NAMES, episode_metrics

EPISODE = 10


class MatchEnv(gym.Env):
    """Contextual bandit: obs = one-hot of a uniform context c ∈ {0, 1, 2}; reward 1 iff
    action == c; 10 steps per episode. Optimal return 10, uniform-random return 10/3."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(3,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(3)
        self._c, self._t = 0, 0

    def _obs(self):
        self._c = int(self.np_random.integers(3))
        return np.eye(3, dtype=np.float32)[self._c]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return self._obs(), {}

    def step(self, action):
        reward = float(int(action) == self._c)
        self._t += 1
        return self._obs(), reward, False, self._t >= EPISODE, {}


class UniformPolicy:
    algo = "uniform"

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def act(self, obs_batch):
        return self.rng.integers(3, size=len(obs_batch))


TINY = {
    "dqn": {"learning_starts": 50, "collect_steps": 8, "batch_size": 32},
    "rainbow": {"learning_starts": 50, "collect_steps": 8, "batch_size": 32},
    "sac": {"learning_starts": 50, "collect_steps": 8, "batch_size": 32},
    "ppo": {"collect_steps": 64, "batch_size": 32},
    "a2c": {"collect_steps": 10},
}


def tiny(algo, steps=300, **extra):
    return rl.make_config(algo, steps=steps, n_envs=2, **TINY[algo], **extra)


@pytest.mark.slow
@pytest.mark.parametrize("algo", rl.ALGOS)
def test_each_algorithm_trains_saves_reloads_and_acts_greedily(algo, tmp_path):
    cfg = tiny(algo)
    res = rl.train(algo, MatchEnv, cfg, seed=0, out_dir=tmp_path, progress=False)
    assert res.env_steps >= cfg.steps
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "curve.csv", "policy.pt"]
    record = json.loads((tmp_path / "config.json").read_text())
    assert record["algo"] == algo and record["config"]["steps"] == cfg.steps
    curve = pd.read_csv(tmp_path / "curve.csv")
    assert len(curve) == len(res.curve) >= cfg.steps // EPISODE - 2
    assert (curve["length"] == EPISODE).all() and curve["return"].between(0, EPISODE).all()
    assert curve["env_step"].is_monotonic_increasing

    policy = rl.load_policy(res.checkpoint, MatchEnv)
    obs = np.random.default_rng(1).random((64, 3), dtype=np.float32)
    actions = policy.act(obs)
    assert actions.shape == (64,) and actions.dtype == np.int64
    assert set(actions.tolist()) <= {0, 1, 2}
    np.testing.assert_array_equal(actions, policy.act(obs))  # deterministic at evaluation
    np.testing.assert_array_equal(actions, res.policy.act(obs))  # checkpoint = trained weights


def test_same_seed_same_weights_and_global_rng_restored():
    before = np.random.get_state()[1].copy()  # noqa: NPY002 (train must not disturb it)
    runs = [
        rl.train("dqn", MatchEnv, tiny("dqn", steps=200), seed=s, progress=False) for s in (3, 3, 4)
    ]
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    weights = [{k: v.numpy() for k, v in r.policy.module.state_dict().items()} for r in runs]
    for name in weights[0]:
        np.testing.assert_array_equal(weights[0][name], weights[1][name])
    assert any(not np.array_equal(weights[0][n], weights[2][n]) for n in weights[0])


@pytest.mark.slow
def test_trained_dqn_beats_uniform_random_on_toy_env():
    res = rl.train("dqn", MatchEnv, tiny("dqn", steps=2_000, lr=1e-3), seed=0, progress=False)
    trained = rl.evaluate(res.policy, MatchEnv, episodes=30, seed=11)
    uniform = rl.evaluate(UniformPolicy(0), MatchEnv, episodes=30, seed=11)
    assert list(trained["episode"]) == list(range(30)) and (trained["length"] == EPISODE).all()
    n = 30 * EPISODE  # steps; a random policy is right with probability 1/3 at each step
    # Null "no better than random": exact one-sided binomial test, p < 1e-6 at seed 0.
    assert stats.binomtest(int(trained["return"].sum()), n, 1 / 3, "greater").pvalue < 1e-6
    # The evaluation loop itself is unbiased: the uniform policy is consistent with 1/3.
    assert stats.binomtest(int(uniform["return"].sum()), n, 1 / 3).pvalue > 1e-3


@pytest.mark.slow
def test_aif_llm_metrics_match_episode_metrics_and_jax_policy_matches_act(tmp_path):
    params = make_params(max_steps=12)
    env = AifLlmEnv(params)  # one instance everywhere: the wrapper jit-compiles per instance
    factory = lambda: env  # noqa: E731
    cfg = rl.make_config("a2c", steps=30, n_envs=1, collect_steps=5)
    res = rl.train("a2c", factory, cfg, seed=0, out_dir=tmp_path, progress=False)
    frame = rl.evaluate(res.policy, factory, episodes=3, seed=7, n_envs=1)
    assert list(frame.columns[:5]) == ["policy", "episode", "seed", "return", "length"]
    assert set(METRIC_NAMES) <= set(frame.columns) and (frame["policy"] == "a2c").all()

    for i, seed in enumerate(rl.episode_seeds(7, 3)):  # reference: a plain Gymnasium loop
        obs, _ = env.reset(seed=int(seed))
        outcome, latency, total = [], [], 0.0
        for _ in range(params.max_steps):
            obs, reward, _, _, info = env.step(int(res.policy.act(obs[None])[0]))
            outcome.append(int(info["step"].outcome))
            latency.append(float(info["step"].latency_ms))
            total += reward
        ref = episode_metrics(np.array(outcome), np.array(latency))
        for name in METRIC_NAMES:
            np.testing.assert_allclose(frame.loc[i, name], float(ref[name]), rtol=1e-6)
        counts = np.bincount(outcome, minlength=3)  # reward: +1 met, 0 violated, −1 failed
        assert frame.loc[i, "return"] == total == counts[aif_llm.MET] - counts[aif_llm.FAILED]

    keys = jax.random.split(jax.random.PRNGKey(0), 5)
    obs, _ = jax.vmap(lambda k: aif_llm.reset(k, params))(keys)
    policy = rl.checkpoint_policy(res.checkpoint, params, algo="a2c")
    jax_actions = jax.vmap(lambda o: policy.act(None, (), o, params)[0])(obs)
    flat = jax.vmap(lambda o: aif_llm.flatten_obs(o, params))(obs)
    np.testing.assert_array_equal(np.asarray(jax_actions), res.policy.act(np.asarray(flat)))
    with pytest.raises(ConfigError, match="holds a 'a2c' policy"):
        rl.checkpoint_policy(res.checkpoint, params, algo="sac")


def test_bad_input_raises_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="choose from sac, ppo, dqn, a2c, rainbow"):
        rl.make_config("ddpg")
    with pytest.raises(ConfigError, match="unknown field 'learning_rate'"):
        rl.make_config("dqn", learning_rate=1e-3)
    with pytest.raises(ConfigError, match="collect_steps: 10 must be a multiple of n_envs = 4"):
        rl.make_config("ppo", collect_steps=10)
    with pytest.raises(ConfigError, match="gamma"):
        rl.make_config("sac", gamma=1.5)
    with pytest.raises(ValueError, match="needs a DQNConfig"):
        rl.train("dqn", MatchEnv, rl.make_config("ppo"), progress=False)
    with pytest.raises(ConfigError, match="does not exist"):
        rl.load_policy(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ConfigError, match="not a loadable aifedge checkpoint") as rl_err:
        rl.load_policy(tmp_path / "junk.pt")
    assert "weights_only" not in str(rl_err.value)
    res = rl.train("a2c", MatchEnv, tiny("a2c", steps=20), out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"trained on obs \(3,\) / 3 actions"):
        rl.load_policy(res.checkpoint, lambda: AifLlmEnv(make_params()))
    with pytest.raises(ValueError, match="obs_batch"):
        res.policy.act(np.zeros((2, 4)))
