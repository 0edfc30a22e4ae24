"""Convergence rule of AIF-LLM Table 4 (``paper_repro.convergence``): synthetic curves with a
known answer, the bootstrap interval, and learning curves of real policies on the simulator
(a non-learning policy scores 0; a policy whose state carries a switch converges at it)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aifedge.baselines.heuristics import cloud_only, greedy
from aifedge.config import ConfigError
from aifedge.environments import aif_llm
from aifedge.environments.rollout import rollout, stateless
from aifedge.paper_repro import convergence as cv
from aifedge.protocols import Policy


def _step_curves(seed, step, runs=20, episodes=100, before=80.0, after=95.0, sd=3.0):
    rng = np.random.default_rng(seed)
    level = np.where(np.arange(episodes) < step, before, after)
    return level + rng.normal(0.0, sd, (runs, episodes))


def test_step_change_converges_at_the_step():
    assert cv.convergence_episode(_step_curves(0, 30)) == 30  # a block boundary (5 episodes)
    one = cv.ConvergenceRule(block=1)
    assert cv.convergence_episode(_step_curves(1, 33), one) == 33
    # a rise after the plateau window began: not settled within the run
    assert np.isnan(cv.convergence_episode(_step_curves(2, 90)))
    # resampled runs settle at the step or later (a last-exceedance statistic: resampling
    # adds noise, so the upper end is loose); the lower end is the step itself
    lo, hi = cv.bootstrap_ci(_step_curves(0, 30), n_boot=200, seed=0)
    assert lo == 30 <= hi
    assert cv.bootstrap_ci(_step_curves(0, 30), n_boot=200, seed=0) == (lo, hi)  # seeded


def test_flat_stream_scores_zero():
    """A curve at its plateau from the start: 0 in ≥ 42 of 50 independent draws (the band is
    simultaneous at 5 %, so ≈ 2.5 of 50 are expected non-zero; P(≥ 9) ≈ 1e-3). The sd of 6.7
    points per episode is the cloud-only policy's on the simulator."""
    rng = np.random.default_rng(0)
    eps = [cv.convergence_episode(rng.normal(70.0, 6.7, (20, 200))) for _ in range(50)]
    assert sum(e == 0 for e in eps) >= 42


def test_band_hand_case():
    # two runs, 4 episodes, block 2, plateau = last block: diffs per run (−10, 0) and
    # (−12, 0) → mean −11, sd √2 → SE 1; t_1(1 − 0.05/4) = 25.45 → band 25.45
    curves = np.array([[80.0, 80.0, 90.0, 90.0], [78.0, 78.0, 90.0, 90.0]])
    rule = cv.ConvergenceRule(block=2, plateau_frac=0.5)
    mean, band, plateau = cv.block_band(curves, rule)
    np.testing.assert_allclose(mean, [-11.0, 0.0])
    np.testing.assert_allclose(band, [25.452, 1.0], rtol=1e-3)  # the 1-point floor
    assert plateau == 90.0


def test_validation():
    with pytest.raises(ValueError, match="runs ≥ 2"):
        cv.convergence_episode(np.ones((1, 50)))
    with pytest.raises(ValueError, match="too few"):
        cv.convergence_episode(np.ones((20, 6)))
    with pytest.raises(ConfigError, match="block"):
        cv.ConvergenceRule(block=0)
    with pytest.raises(ConfigError, match="plateau_frac"):
        cv.ConvergenceRule(plateau_frac=1.0)


PARAMS = aif_llm.make_params(max_steps=20)
STEPS, RUNS, EPISODES = 20, 20, 20
QOS = functools.partial(cv.carried_qos, params=PARAMS, steps=STEPS)


@pytest.mark.slow  # two simulator compilations: ≈ 10–20 s on 2 shared cores
def test_carried_qos_of_a_stateless_policy_equals_rollout():
    keys = jax.random.split(jax.random.PRNGKey(3), 4)
    policy = stateless(cloud_only)
    ours = jax.jit(lambda k: QOS(policy, k))(keys)
    ref = jax.jit(jax.vmap(lambda k: rollout(k, policy, PARAMS, STEPS).outcome == aif_llm.MET))
    np.testing.assert_allclose(ours, ref(keys).mean(axis=1))


def _switching_policy(switch: int) -> Policy:
    """Cloud for its first ``switch`` decisions (counted in its state), then greedy."""

    def act(key, count, obs, params):
        action = jnp.where(count < switch, params.n_nodes - 1, greedy(key, obs, params))
        return action, count + 1

    return Policy(init=lambda key, params: jnp.int32(0), act=act)


@pytest.mark.slow  # three compiled 20 × 20-episode curve sets: ≈ 20–50 s on 2 cores
def test_learning_curves_non_learner_zero_learner_at_its_switch():
    keys = cv.curve_keys(0, RUNS, EPISODES)
    flat = cv.learning_curves(stateless(cloud_only), keys, QOS)
    assert flat.shape == (RUNS, EPISODES) and 50 < flat.mean() < 90
    assert cv.convergence_episode(flat) == 0
    learner = _switching_policy(10 * STEPS)  # learns after 10 episodes, if its state carries
    curves = cv.learning_curves(learner, keys, QOS)
    assert curves[:, 10:].mean() - curves[:, :10].mean() > 15
    assert cv.convergence_episode(curves) == 10

    def fresh(policy, ks):  # the same policy re-initialised every episode: never switches
        return jax.vmap(lambda k: jnp.mean(rollout(k, policy, PARAMS, STEPS).outcome == 0))(ks)

    assert cv.convergence_episode(cv.learning_curves(learner, keys, fresh)) == 0


def test_applies_by_hand():
    """Two 5-episode blocks and a plateau (⌈0.2 E⌉, at least 5) shorter than the run."""
    rule = cv.ConvergenceRule()
    assert [e for e in range(1, 13) if rule.applies(e)] == [10, 11, 12]
    wide = cv.ConvergenceRule(plateau_frac=0.99)  # plateau ⌈0.99 E⌉ = E while E < 100
    assert not wide.applies(10) and not wide.applies(99) and wide.applies(100)
