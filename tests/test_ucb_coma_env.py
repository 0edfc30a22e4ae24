"""The ucb-coma simulator (UCB-COMA) against hand computation and brute-force enumeration."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from aifedge.config import ConfigError
from aifedge.environments import ucb_coma as d

KEY = jax.random.PRNGKey(0)
NOISE_W = 10 ** ((-43 - 30) / 10)
STEP = jax.jit(d.step, static_argnums=3)  # EnvParams is hashable: one compile per params
RESET = jax.jit(d.reset, static_argnums=1)


def _state(types, d_in, r_out, gain=1e-7, up=(True, True, True)):
    """A hand-made state: sizes in bit, every channel gain ``gain`` (linear)."""
    types = jnp.asarray(types, jnp.int32)
    n = types.shape[0]
    d_in = jnp.asarray(d_in, jnp.float32)
    return d.EnvState(
        types=types,
        d_in=d_in,
        r_out=jnp.asarray(r_out, jnp.float32),
        cycles=1900.0 * d_in,
        gain=jnp.full((n, 3), gain),
        scheduled=~jnp.asarray(d.DAG_VALID)[types],
        loc=jnp.full((n, d.J_MAX), -1, jnp.int32),
        st=jnp.zeros((n, d.J_MAX)),
        en=jnp.zeros((n, d.J_MAX)),
        busy=jnp.zeros(3),
        up=jnp.asarray(up),
        t=jnp.int32(0),
    )


def _act(state, pairs, params):
    acts = jnp.asarray([d.encode_action(j, a) for j, a in pairs])
    return STEP(KEY, state, acts, params)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bandwidth_mhz", 0.0),
        ("fault_prob", 1.5),
        ("gamma", -0.1),
        ("n_tasks", 0),
        ("task_types", (0, 7, 1, 2, 3)),
        ("edge_ghz", (2.0, 2.3)),
        ("max_steps", 2.5),
        ("data_in_lo_kbit", (5.0, 100.0, 200.0, 300.0)),
        ("no_such_field", 1),
    ],
)
def test_bad_params_name_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        d.make_params(**{field: value})


def test_n_tasks_override_sets_matching_types():
    p = d.make_params(n_tasks=7)
    assert p.task_types == (0, 1, 2, 3, 4, 0, 1)


def test_hand_computed_schedule_of_branch_merge_dag():
    """Image DAG 0 -> {1, 2} -> 3 placed edge-image, cloud, edge-image, edge-text."""
    p = d.make_params(n_tasks=1, task_types=(1,), bandwidth_mhz=6.0, t_max_s=3.0)
    dd = [200e3, 150e3, 250e3, 2e3]
    rr = [3e3, 4e3, 2e3, 1.5e3]
    s = _state([1], [dd], [rr])
    ul = 6e6 * math.log2(1 + 0.3 * 1e-7 / NOISE_W)
    dl = 6e6 * math.log2(1 + 0.8 * 1e-7 / NOISE_W)
    f = [2.0e9, 2.3e9, 2.5e9, 10e9]
    # sub-task 0 on the image edge (index 1), idle, no predecessors
    tr0, tc0 = dd[0] / ul, 1900 * dd[0] / f[1]
    en0 = tr0 + tc0
    # sub-task 1 on the cloud: waits for R_0 over r_ec = 12 Mbit/s
    st1 = en0 + rr[0] / 12e6
    tr1, tc1 = dd[1] / 3e6, 1900 * dd[1] / f[3]
    en1 = st1 + tr1 + tc1
    # sub-task 2 on the image edge again: same server as its predecessor, no transfer; queue
    st2 = en0
    tr2, tc2 = dd[2] / ul, 1900 * dd[2] / f[1]
    en2 = st2 + tr2 + tc2
    # sub-task 3 on the text edge: R_1 from the cloud (r_ec), R_2 from an edge (r_e = 22)
    st3 = max(en1 + rr[1] / 12e6, en2 + rr[2] / 22e6)
    tr3, tc3 = dd[3] / ul, 1900 * dd[3] / f[0]
    en3 = st3 + tr3 + tc3
    prices = [0.01, 0.03, 0.01, 0.01]
    costs = [1900 * x / 1e9 * c for x, c in zip(dd, prices, strict=True)]
    parts = [(tr0, tc0), (tr1, tc1), (tr2, tc2), (tr3, tc3)]
    plan = [(0, 1), (1, 3), (2, 1), (3, 0)]
    for (j, a), (tr, tc), cost in zip(plan, parts, costs, strict=True):
        _, s, r, done, info = _act(s, [(j, a)], p)
        assert bool(info.executed[0])
        assert float(r[0]) == pytest.approx(2.0 - 0.5 * (tr + tc) - 0.5 * cost, rel=1e-5)
        assert float(info.cost[0]) == pytest.approx(cost, rel=1e-5)
        assert float(info.energy[0]) == pytest.approx(0.3 * tr, rel=1e-5)
    assert bool(done)
    np.testing.assert_allclose(np.asarray(s.st[0]), [0.0, st1, st2, st3], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(s.en[0]), [en0, en1, en2, en3], rtol=1e-5)
    m = d.task_metrics(s, p)
    t_i = en3 - 0.0 + rr[3] / dl
    assert float(m.delay[0]) == pytest.approx(t_i, rel=1e-5)
    assert float(m.cost[0]) == pytest.approx(sum(costs), rel=1e-5)
    assert float(m.weighted[0]) == pytest.approx(0.5 * t_i + 0.5 * sum(costs), rel=1e-5)
    energy = 0.3 * (tr0 + tr1 + tr2 + tr3) + 0.8 * rr[3] / dl
    assert float(m.energy[0]) == pytest.approx(energy, rel=1e-5)
    assert bool(m.deadline_met[0])


def test_edge_queue_is_fifo_in_agent_order_and_cloud_has_none():
    p = d.make_params(n_tasks=3, task_types=(0, 0, 0))
    dd = [[2e3, 2e3, 2e3, 0.0]] * 3
    s = _state([0, 0, 0], dd, [[1e3, 1e3, 1e3, 0.0]] * 3)
    _, s, _, _, info = _act(s, [(0, 0), (0, 0), (0, 3)], p)
    ul = 6e6 * math.log2(1 + 0.3 * 1e-7 / NOISE_W)
    one = 2e3 / ul + 1900 * 2e3 / 2e9
    np.testing.assert_allclose(np.asarray(info.st), [0.0, one, 0.0], atol=1e-9)
    np.testing.assert_allclose(np.asarray(info.en[:2]), [one, 2 * one], rtol=1e-5)
    assert float(s.busy[0]) == pytest.approx(2 * one, rel=1e-5)


def test_penalties_eta1_eta2_and_deadline_eta3():
    p = d.make_params(n_tasks=1, task_types=(1,), vartheta=1.0, theta=2.0)
    s = _state([1], [[200e3, 150e3, 250e3, 2e3]], [[3e3] * 4])
    # sub-task 3 has 2 open predecessors (η1 = 2ϑ); on the audio edge also mismatched (η2 = ϑ)
    _, s2, r, _, info = _act(s, [(3, 2)], p)
    assert float(r[0]) == pytest.approx(-3.0)
    assert not bool(info.executed[0]) and int(info.n_pred_open[0]) == 2
    assert not bool(s2.scheduled[0, 3])
    # mismatch only: image sub-task 0 on the text edge
    _, _, r, _, _ = _act(s, [(0, 0)], p)
    assert float(r[0]) == pytest.approx(-1.0)
    # an already scheduled sub-task, or the padding slot of a 3-node DAG, lies outside the
    # action space (§4.1.2: the sub-task awaiting scheduling): a no-op, no penalty
    _, s3, _, _, _ = _act(s, [(0, 3)], p)
    _, s4, r, _, info = _act(s3, [(0, 3)], p)
    assert float(r[0]) == 0.0 and bool(info.not_pending[0]) and not bool(info.executed[0])
    np.testing.assert_array_equal(np.asarray(s4.en), np.asarray(s3.en))
    s_text = _state([0], [[2e3, 2e3, 2e3, 0.0]], [[1e3] * 4])
    _, _, r, _, info = _act(s_text, [(3, 3)], d.make_params(n_tasks=1, task_types=(0,)))
    assert float(r[0]) == 0.0 and bool(info.not_pending[0])
    # η3 = ϑ · max(0, EN − T_max): with T_max = 0.01 s the cloud sub-task is late
    tight = d.make_params(n_tasks=1, task_types=(1,), t_max_s=0.01)
    _, _, r, _, info = _act(s, [(0, 3)], tight)
    late = float(info.en[0]) - 0.01
    expect = 2.0 - late - 0.5 * float(info.delay[0]) - 0.5 * float(info.cost[0])
    assert late > 0 and float(r[0]) == pytest.approx(expect, rel=1e-5)


def test_fault_injection_fails_exactly_subtasks_on_down_servers():
    # agents: text, image, audio, VQA (image sub-task 0), audio-text (text sub-task 1 -> cloud)
    p = d.make_params(n_tasks=5)
    _, s = RESET(KEY, p)
    s = s._replace(up=jnp.array([True, False, True]))
    pairs = [(0, 0), (0, 1), (0, 2), (0, 1), (1, 3)]
    _, s2, r, _, info = _act(s, pairs, p)
    np.testing.assert_array_equal(np.asarray(info.fault), [False, True, False, True, False])
    np.testing.assert_array_equal(np.asarray(info.executed), [True, False, True, False, True])
    np.testing.assert_allclose(np.asarray(r)[[1, 3]], [-1.0, -1.0])
    assert not bool(s2.scheduled[1, 0]) and not bool(s2.scheduled[3, 0])


def test_fault_draws_match_fault_probability():
    p = d.make_params(fault_prob=0.2)
    keys = jax.random.split(KEY, 4000)
    up = jax.jit(jax.vmap(lambda k: d.reset(k, p)[1].up))(keys)
    downs = int((~up).sum())
    res = stats.binomtest(downs, up.size, 0.2)
    assert res.pvalue > 0.001


def test_valid_action_mask_matches_brute_force_enumeration():
    """For random mid-episode states, mask[a] == 'step executes a' for every action a."""
    p = d.make_params(n_tasks=5, fault_prob=0.3)
    _, s = RESET(KEY, p)
    every = jnp.repeat(jnp.arange(d.N_ACTIONS)[:, None], 5, axis=1)  # (16, I)

    @jax.jit
    def check(key, s):
        mask = d.valid_action_mask(d.observe(s, p))
        info = jax.vmap(lambda a: d.step(key, s, a, p)[4])(every)
        k1, k2 = jax.random.split(key)
        s = d.step(k1, s, jax.random.randint(k2, (5,), 0, d.N_ACTIONS), p)[1]
        return mask, info.executed.T, info.active[0], s

    key = jax.random.PRNGKey(3)
    for _ in range(4):
        mask, executed, active, s = check(key, s)
        active = np.asarray(active)
        np.testing.assert_array_equal(np.asarray(executed)[active], np.asarray(mask)[active])
        key = jax.random.split(key)[0]


def test_pending_mask_is_the_action_space_and_terms_sum_to_reward():
    """mask[a] == 'a picks a sub-task awaiting scheduling' for random mid-episode states,
    and the six reward terms of ``StepInfo`` sum to r_i (§4.1.2) for every action."""
    p = d.make_params(n_tasks=5, fault_prob=0.3, t_max_s=0.05)
    _, s = RESET(KEY, p)
    every = jnp.repeat(jnp.arange(d.N_ACTIONS)[:, None], 5, axis=1)  # (16, I)

    @jax.jit
    def check(key, s):
        mask = d.pending_action_mask(d.observe(s, p))
        _, _, r, _, info = jax.vmap(lambda a: d.step(key, s, a, p))(every)
        terms = sum(getattr(info, f) for f in d.REWARD_TERMS)
        k1, k2 = jax.random.split(key)
        s = d.step(k1, s, jax.random.randint(k2, (5,), 0, d.N_ACTIONS), p)[1]
        return mask, info.not_pending.T, info.active[0], r, terms, info.r_eta3, s

    key = jax.random.PRNGKey(5)
    eta3_seen = False
    for _ in range(4):
        mask, not_pending, active, r, terms, eta3, s = check(key, s)
        active = np.asarray(active)
        np.testing.assert_array_equal(~np.asarray(not_pending)[active], np.asarray(mask)[active])
        assert not np.asarray(mask)[~active].any()
        np.testing.assert_allclose(np.asarray(terms), np.asarray(r), rtol=1e-6, atol=1e-6)
        eta3_seen |= bool((np.asarray(eta3) < 0).any())
        key = jax.random.split(key)[0]
    assert eta3_seen  # T_max = 0.05 s makes late sub-tasks, so η3 is exercised


def test_delay_unit_scales_only_the_delay_term():
    s = _state([0], [[2e3, 2e3, 2e3, 0.0]], [[1e3] * 4])
    sec, ms = (d.make_params(n_tasks=1, task_types=(0,), delay_unit_s=u) for u in (1.0, 1e-3))
    _, _, _, _, a = _act(s, [(0, 3)], sec)
    _, _, _, _, b = _act(s, [(0, 3)], ms)
    delay, cost = float(a.delay[0]), float(a.cost[0])
    assert float(a.r_objective[0]) == pytest.approx(-0.5 * delay - 0.5 * cost, rel=1e-5)
    assert float(b.r_objective[0]) == pytest.approx(-0.5 * delay * 1e3 - 0.5 * cost, rel=1e-5)
    assert float(a.r_theta[0]) == float(b.r_theta[0]) == 2.0


@pytest.mark.slow
def test_random_rollouts_respect_precedence_and_modality():
    """Whatever the agents do, every executed sub-task starts after its predecessors end."""
    p = d.make_params(n_tasks=5, max_steps=40, fault_prob=0.1)

    def episode(key):
        k0, k1 = jax.random.split(key)
        _, s = d.reset(k0, p)

        def body(s, k):
            ka, ks = jax.random.split(k)
            a = jax.random.randint(ka, (5,), 0, d.N_ACTIONS)
            _, s, _, _, info = d.step(ks, s, a, p)
            return s, info

        return jax.lax.scan(body, s, jax.random.split(k1, p.max_steps))

    s, info = jax.jit(jax.vmap(episode))(jax.random.split(KEY, 32))
    pred = np.asarray(d.DAG_PRED)[np.asarray(s.types)]  # (B, I, J, J)
    sched = np.asarray(s.scheduled)
    st, en = np.asarray(s.st), np.asarray(s.en)
    valid = np.asarray(d.DAG_VALID)[np.asarray(s.types)]
    both = pred & sched[..., :, None] & valid[..., :, None]
    assert both.sum() > 100
    assert np.all(~both | (st[..., :, None] >= en[..., None, :] - 1e-7))
    # a scheduled sub-task never has an unscheduled predecessor
    assert not np.any(pred & sched[..., :, None] & ~sched[..., None, :])
    loc = np.asarray(s.loc)
    mod = np.asarray(d.DAG_MODALITY)[np.asarray(s.types)]
    on = sched & valid
    assert np.all(np.asarray(d.SUPPORT)[loc[on], mod[on]])
    ex = np.asarray(info.executed)
    assert not np.any(ex & np.asarray(info.fault))


def test_rollout_jits_vmaps_and_ends_when_all_scheduled():
    p = d.make_params()
    obs, s = RESET(KEY, p)
    step = jax.jit(lambda k, s, a: d.step(k, s, a, p))
    done, n = False, 0
    while not done:
        a = jnp.argmax(d.valid_action_mask(obs), -1)  # first feasible action
        obs, s, _, done, _ = step(KEY, s, a)
        n += 1
    assert n == 4  # the longest DAG has 4 sub-tasks, one per step
    m = d.task_metrics(s, p)
    assert bool(jnp.all(m.complete)) and bool(jnp.all(jnp.isfinite(m.weighted)))
    # an unfinished task reports NaN, never a partial delay
    _, s0 = RESET(KEY, p)
    assert bool(jnp.all(jnp.isnan(d.task_metrics(s0, p).delay)))


@pytest.mark.slow
def test_pettingzoo_parallel_api_and_same_dynamics():
    from pettingzoo.test import parallel_api_test

    from aifedge.environments.ucb_coma_pz import DagOffloadParallelEnv, flatten_agent_obs

    p = d.make_params(n_tasks=2, task_types=(0, 2), max_steps=8, fault_prob=0.1)
    parallel_api_test(DagOffloadParallelEnv(p), num_cycles=20)
    env = DagOffloadParallelEnv(p)
    obs, infos = env.reset(seed=3)
    jobs, _ = RESET(jax.random.split(jax.random.PRNGKey(3))[1], p)
    np.testing.assert_allclose(obs["task_0"], flatten_agent_obs(jobs)[0], rtol=1e-5)
    for agent, i in (("task_0", 0), ("task_1", 1)):
        np.testing.assert_array_equal(
            infos[agent]["action_mask"], np.asarray(d.pending_action_mask(jobs))[i]
        )
        np.testing.assert_array_equal(
            infos[agent]["feasible_mask"], np.asarray(d.valid_action_mask(jobs))[i]
        )
    acts = {a: int(np.argmax(infos[a]["feasible_mask"])) for a in env.agents}
    _, rew, term, trunc, _ = env.step(acts)
    assert all(r > 0 for r in rew.values()) and not any(term.values()) and not any(trunc.values())
    assert env.state().shape == (2 * obs["task_0"].shape[0],)
    # after a step the masks still match the env's functions on the new state, and the
    # sub-task just scheduled has left the action space
    _, _, _, _, infos2 = env.step({a: acts[a] for a in env.agents})
    jobs2 = d.observe(env._state, p)
    for agent, i in (("task_0", 0), ("task_1", 1)):
        np.testing.assert_array_equal(
            infos2[agent]["action_mask"], np.asarray(d.pending_action_mask(jobs2))[i]
        )
        np.testing.assert_array_equal(
            infos2[agent]["feasible_mask"], np.asarray(d.valid_action_mask(jobs2))[i]
        )
    with pytest.raises(ValueError, match="actions"):
        env.step({"task_0": 99})
