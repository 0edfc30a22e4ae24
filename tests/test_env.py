"""The aif-llm simulator against hand computation, scipy and its own invariants."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from aifedge.baselines import HEURISTICS, greedy, random_policy
from aifedge.config import ConfigError
from aifedge.environments import aif_llm, batch_rollout, make_params, rollout, stateless
from aifedge.environments.aif_llm import FAILED, MET, VIOLATED, EnvState, Task
from aifedge.environments.metrics import episode_metrics, welch_test
from aifedge.environments.tails import gpd_icdf, sample_gpd

KEY = jax.random.PRNGKey(0)


def _idle_state(params, task):
    n = params.n_edge
    return EnvState(
        backlog=jnp.zeros(n), up=jnp.ones(n, bool), net=jnp.int32(0), task=task, t=jnp.int32(0)
    )


def _task(compute=25.0, data_in=0.5, data_out=0.0, deadline=300.0):
    return Task(
        jnp.float32(compute),
        jnp.float32(data_in),
        jnp.float32(data_out),
        jnp.float32(deadline),
        jnp.int32(0),
        jnp.int32(0),
    )


@pytest.mark.parametrize(
    ("action", "expected_ms"),
    [
        # edge node 3 (125 GFLOPS): tx 8*0.5/100 s = 40 ms, prop 10 ms, comp 25/125 s = 200 ms
        (3, 40.0 + 10.0 + 200.0),
        # cloud: tx 8*0.5/20 s = 200 ms, prop 80 ms, comp 25/10000 s = 2.5 ms
        (6, 200.0 + 80.0 + 2.5),
        # local device (30 GFLOPS): comp only, 25/30 s
        (0, 25.0 / 30.0 * 1000.0),
    ],
)
def test_hand_computed_latency_on_idle_node(action, expected_ms):
    params = make_params(jitter_sigma=0.0, spike_prob=0.0)
    task = _task(deadline=1000.0)
    _, _, reward, _, info = aif_llm.step(KEY, _idle_state(params, task), action, params)
    assert float(info.latency_ms) == pytest.approx(expected_ms, rel=1e-5)
    assert int(info.outcome) == MET and float(reward) == 1.0


def test_queue_wait_and_deadline_classification():
    params = make_params(jitter_sigma=0.0, spike_prob=0.0)
    task = _task(deadline=300.0)
    state = _idle_state(params, task)._replace(backlog=jnp.array([0.0, 0.0, 12.5, 0.0, 0.0]))
    # queue 12.5 GFLOP / 125 GFLOPS = 100 ms -> 350 ms > 300 ms deadline: violated
    _, _, reward, _, info = aif_llm.step(KEY, state, 3, params)
    assert float(info.latency_ms) == pytest.approx(350.0, rel=1e-5)
    assert int(info.outcome) == VIOLATED and float(reward) == 0.0


def test_down_node_and_full_queue_fail():
    params = make_params(jitter_sigma=0.0, spike_prob=0.0)
    task = _task()
    down = _idle_state(params, task)._replace(up=jnp.array([True, True, False, True, True]))
    assert int(aif_llm.step(KEY, down, 3, params)[4].outcome) == FAILED
    full = _idle_state(params, task)._replace(backlog=jnp.full(5, 1e6))
    assert int(aif_llm.step(KEY, full, 1, params)[4].outcome) == FAILED


def test_gpd_sampler_matches_scipy_ks():
    x = np.asarray(sample_gpd(KEY, 1.5, 50.0, (5000,)))
    assert stats.kstest(x, stats.genpareto(c=1.5, scale=50.0).cdf).pvalue > 0.01


@pytest.mark.parametrize("shape", [-0.3, 0.0, 1e-8, 0.5, 1.5])
def test_gpd_icdf_matches_scipy(shape):
    u = np.linspace(0.01, 0.99, 25)
    ref = stats.genpareto(c=shape, scale=2.0).ppf(u)
    np.testing.assert_allclose(np.asarray(gpd_icdf(u, shape, 2.0)), ref, rtol=1e-4)


def test_heavy_tail_spikes_become_failures_not_infinities():
    params = make_params(spike_prob=1.0, spike_scale_ms=500.0)
    infos = rollout(KEY, stateless(greedy), params, 200)
    completed = np.asarray(infos.outcome) != FAILED
    lat = np.asarray(infos.latency_ms)
    assert (~completed).sum() > 10  # ζ = 1.5 spikes of this scale time out often
    limit = params.timeout_factor * np.asarray(infos.deadline_ms)
    assert np.all(lat[completed] <= limit[completed] + 1e-3)
    m = episode_metrics(infos.outcome, infos.latency_ms)
    assert all(np.isfinite(float(v)) for v in m.values())


def test_same_key_same_episode_and_every_task_ends_once():
    params = make_params()
    a = rollout(KEY, stateless(random_policy), params, 100)
    b = rollout(KEY, stateless(random_policy), params, 100)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    outcome = np.asarray(a.outcome)
    assert outcome.shape == (100,)
    assert set(np.unique(outcome)) <= {MET, VIOLATED, FAILED}
    counts = [(outcome == o).sum() for o in (MET, VIOLATED, FAILED)]
    assert sum(counts) == 100


def test_queues_stay_within_capacity():
    params = make_params()
    obs, state = aif_llm.reset(KEY, params)
    step = jax.jit(lambda k, s, a: aif_llm.step(k, s, a, params))
    cap = np.asarray(params.edge_gflops) * params.edge_queue_s
    for i, k in enumerate(jax.random.split(KEY, 200)):
        obs, state, *_ = step(k, state, 1 + i % 5)
        b = np.asarray(state.backlog)
        assert np.all(b >= 0) and np.all(b <= cap + 1e-3)
        assert np.all(np.asarray(obs.queue_ms)[~np.asarray(state.up)] == 0)


@pytest.mark.slow
def test_vmapped_equals_looped_episodes():
    params = make_params()
    keys = jax.random.split(KEY, 4)
    batched = batch_rollout(keys, stateless(greedy), params, 50)
    for i, k in enumerate(keys):
        single = rollout(k, stateless(greedy), params, 50)
        np.testing.assert_array_equal(np.asarray(batched.outcome[i]), np.asarray(single.outcome))
        np.testing.assert_allclose(
            np.asarray(batched.latency_ms[i]), np.asarray(single.latency_ms), rtol=1e-5
        )


@pytest.mark.slow
def test_task_stream_matches_class_mix():
    params = make_params()
    infos = batch_rollout(jax.random.split(KEY, 50), stateless(random_policy), params, 100)
    counts = np.bincount(np.asarray(infos.task_class).ravel(), minlength=4)
    expected = np.asarray(params.class_probs) * counts.sum()
    assert stats.chisquare(counts, expected).pvalue > 0.001


@pytest.mark.slow
def test_greedy_beats_random_on_qos():
    params = make_params()
    keys = jax.random.split(KEY, 20)
    qos = {}
    for name in ("random", "greedy"):
        infos = batch_rollout(keys, stateless(HEURISTICS[name]), params, 100)
        qos[name] = np.asarray(episode_metrics(infos.outcome, infos.latency_ms)["qos"])
    t, p = welch_test(qos["greedy"], qos["random"])
    assert t > 0 and p < 0.01


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("edge_gflops", (50.0, -1.0), "edge_gflops"),
        ("cloud_gflops", 0.0, "cloud_gflops"),
        ("deadline_ms", (300.0, 0.0, 1.0, 1.0), "deadline_ms"),
        ("class_probs", (0.5, 0.5, 0.5, 0.5), "sum to 1"),
        ("spike_prob", 1.5, "spike_prob"),
        ("no_such_field", 1, "allowed fields"),
    ],
)
def test_make_params_rejects_bad_values(field, value, needle):
    with pytest.raises(ConfigError, match=needle):
        make_params(**{field: value})
