"""The ``he2024`` simulator (He et al. §III): formulas vs hand computation, invariants."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aifedge.config import ConfigError
from aifedge.environments import he2024
from aifedge.environments.he2024_gym import He2024Env

P = he2024.make_params()
STEP_ALLOC = jax.jit(he2024.step_alloc, static_argnames="params")
STEP = jax.jit(he2024.step, static_argnames="params")
RESET = jax.jit(he2024.reset, static_argnames="params")


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"t_max": 3.0}, "t_max"),
        ({"t_max_s": 0.0}, "t_max_s"),
        ({"server_share": (0.5, 0.5)}, "server_share"),
        ({"server_share": (0.3, 0.2, 0.2, 0.2, 0.2)}, "server_share"),
        ({"share_levels": (1.0, 0.5)}, "share_levels"),
        ({"n_tasks": 0}, "n_tasks"),
        ({"n_tasks": 10.5}, "n_tasks"),
        ({"edge_pass": 1.5}, "edge_pass"),
        ({"edge_xy_m": ((2000.0, 0.0),)}, "edge_xy_m"),
        ({"uav_height_m": 50.0}, "uav_height_m"),
        ({"full_alloc": (1.0, 1.0)}, "full_alloc"),
    ],
)
def test_bad_params_name_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field):
        he2024.make_params(**overrides)


def test_defaults_follow_the_paper():
    cap = np.asarray(he2024.capacity(P))
    # cloud : four edges = 1 : 4 (§V.C); total = demand of 100 tasks at full allocation (§V.A)
    assert cap[0, 0] / cap[1:, 0].sum() == pytest.approx(0.25)
    np.testing.assert_allclose(cap.sum(0), 100 * np.asarray(P.full_alloc))
    assert (P.cloud_pass, P.edge_pass) == (0.1159, 0.1892)  # Table I
    assert P.n_actions == 5 * 27 and P.load == 1.0


# --------------------------------------------------------------------------- channel


def test_path_loss_models_match_hand_computation():
    d = jnp.array([50.0, 500.0, 2000.0])
    g2g = he2024.path_loss_db(jnp.full(3, he2024.G2G), d, P)
    np.testing.assert_allclose(
        g2g, [128.1 + 37.6 * math.log10(x / 1000) for x in (50, 500, 2000)], rtol=1e-6
    )
    g2a = he2024.path_loss_db(jnp.full(3, he2024.G2A), d, P)
    np.testing.assert_allclose(
        g2a, [22.0 * math.log10(x) + 38.5 for x in (50, 500, 2000)], rtol=1e-6
    )
    a2a = he2024.path_loss_db(jnp.full(3, he2024.A2A), d, P)
    np.testing.assert_allclose(a2a, [20.0 * math.log10(x) for x in (50, 500, 2000)], rtol=1e-6)


def test_channel_kind_by_height():
    h = jnp.array([1.5, 1.5, 120.0, 120.0])
    other = jnp.array([25.0, 150.0, 25.0, 300.0])
    kinds = he2024.channel_kind(h, other, 100.0)
    assert kinds.tolist() == [he2024.G2G, he2024.G2A, he2024.G2A, he2024.A2A]


def test_shannon_rate_matches_hand_computation():
    w_hz, gain_db = 2e6, -110.0
    p_w = 10 ** ((23 - 30) / 10)
    noise_w = 10 ** ((-174 - 30) / 10) * w_hz
    expected = w_hz * math.log2(1 + p_w * 10 ** (gain_db / 10) / noise_w)
    assert float(he2024.shannon_rate(w_hz, gain_db, P)) == pytest.approx(expected, rel=1e-5)


# --------------------------------------------------------------------------- latency (Eq. 8)

DET = he2024.make_params(
    shadow_sigma_db=(0.0, 0.0, 0.0),
    lc_jitter=0.0,
    n_fixed=1,
    n_phone=0,
    n_car=0,
    n_uav=0,
    parallel_limit=1,
)


def _placed(key, xy):
    _, state = RESET(key, DET)
    pos = state.pos.at[0, :2].set(jnp.asarray(xy, jnp.float32))
    return state._replace(pos=pos)


def _hand_latency(state, server, c, w_mhz, params, queue=0.0):
    """Eq. 8 written out with numpy/math from the paper's formulas."""
    srv = np.asarray(he2024.server_positions(params))[server]
    pos = np.asarray(state.pos[0])
    d = float(np.linalg.norm(pos - srv))
    pl = 128.1 + 37.6 * math.log10(d / 1000.0)  # ground terminal, ground server: G2G
    p_w = 10 ** ((params.tx_power_dbm - 30) / 10)
    noise = 10 ** ((params.noise_dbm_hz - 30) / 10) * w_mhz * 1e6
    rate = w_mhz * 1e6 * math.log2(1 + p_w * 10 ** ((0.0 - pl) / 10) / noise)
    backhaul = params.cloud_backhaul_m if server == 0 else 0.0
    l_min = params.cloud_lc_min_s if server == 0 else params.edge_lc_min_s
    compute = l_min * (0.5 + 0.5 / min(c, 1.0))
    bits = float(state.task.ps_x_bit + state.task.ps_y_bit)
    return bits / rate + 2 * (d + backhaul) / 299_792_458.0 + queue + compute


@pytest.mark.parametrize(("server", "c", "w"), [(0, 1.0, 1.0), (2, 2 / 3, 1 / 3), (4, 1.0, 2 / 3)])
def test_latency_eq8_matches_hand_computation(server, c, w):
    state = _placed(jax.random.PRNGKey(1), (300.0, 640.0))
    _, _, reward, _, info = STEP_ALLOC(
        jax.random.PRNGKey(2), state, server, jnp.array([c, w, 2.0]), DET
    )
    expected = _hand_latency(state, server, c, w, DET)
    assert bool(info.executed) and int(info.channel) == he2024.G2G
    assert float(info.latency_s) == pytest.approx(expected, rel=1e-4)
    pas = DET.cloud_pass if server == 0 else DET.edge_pass
    assert bool(info.completed) == (expected <= DET.t_max_s)
    assert float(reward) == pytest.approx(
        (1 / expected + pas) * (expected <= DET.t_max_s), rel=1e-4
    )


def test_queue_waits_for_the_earliest_running_task():
    state = _placed(jax.random.PRNGKey(3), (260.0, 240.0))
    alloc = jnp.array([1.0, 1.0, 2.0])
    _, s1, _, _, i1 = STEP_ALLOC(jax.random.PRNGKey(4), state, 1, alloc, DET)
    _, _, _, _, i2 = STEP_ALLOC(jax.random.PRNGKey(5), s1, 1, alloc, DET)

    # parallel_limit = 1: the second request waits until the first finishes.
    def arrive(info, s):
        return float(s.t) * DET.arrival_s + float(s.task.ps_x_bit) / float(info.rate_bps)

    first_done = arrive(i1, state) + float(i1.compute_s)
    assert float(i1.queue_s) == 0.0
    assert float(i2.queue_s) == pytest.approx(first_done - arrive(i2, s1), rel=1e-4)
    assert float(i2.latency_s) > float(i1.latency_s)


def test_tasks_past_t_max_are_dropped():
    params = DET._replace(t_max_s=5.0)
    state = _placed(jax.random.PRNGKey(6), (500.0, 520.0))
    full = jnp.array([1.0, 1.0, 2.0])
    _, _, r_edge, _, edge = STEP_ALLOC(jax.random.PRNGKey(7), state, 1, full, params)
    _, _, r_cloud, _, cloud = STEP_ALLOC(jax.random.PRNGKey(7), state, 0, full, params)
    assert bool(edge.executed) and not bool(edge.completed) and float(r_edge) == 0.0
    assert float(edge.pass_at_100) == 0.0
    assert bool(cloud.completed) and float(r_cloud) > 0.0


def test_no_action_completes_when_t_max_is_2s():
    """§V.C: with t_max ≤ 2 s nothing completes (the cloud alone needs > 2 s)."""
    params = P._replace(t_max_s=2.0)
    _, state = RESET(jax.random.PRNGKey(8), params)
    keys = jax.random.split(jax.random.PRNGKey(9), params.n_actions)
    done = jax.vmap(lambda k, a: STEP(k, state, a, params)[4].completed)(
        keys, jnp.arange(params.n_actions)
    )
    assert not bool(done.any())


def test_invalid_and_out_of_memory_allocations_fail():
    state = _placed(jax.random.PRNGKey(10), (100.0, 100.0))
    cap = he2024.capacity(DET)
    _, s_inv, _, _, inv = STEP_ALLOC(
        jax.random.PRNGKey(11), state, 3, jnp.array([float(cap[3, 0]) + 1.0, 1.0, 2.0]), DET
    )
    assert bool(inv.invalid) and not bool(inv.completed)
    np.testing.assert_array_equal(s_inv.remaining, state.remaining)
    _, s_oom, _, _, oom = STEP_ALLOC(
        jax.random.PRNGKey(11), state, 3, jnp.array([1.0, 1.0, 0.5]), DET
    )
    assert bool(oom.oom) and not bool(oom.executed) and float(oom.reward) == 0.0
    # an allocation is reserved even when the request then fails
    np.testing.assert_allclose(s_oom.remaining[3], state.remaining[3] - jnp.array([1, 1, 0.5]))


# --------------------------------------------------------------------------- invariants


@settings(max_examples=40, deadline=None)
@given(
    x=st.floats(0, 1000),
    y=st.floats(0, 1000),
    speed=st.floats(0, 40),
    heading=st.floats(0, 2 * math.pi),
    dt=st.floats(0, 600),
)
def test_mobility_stays_in_area_and_matches_small_steps(x, y, speed, heading, dt):
    pos = jnp.array([x, y, 1.5], jnp.float32)
    vel = jnp.array([speed * math.cos(heading), speed * math.sin(heading), 0.0], jnp.float32)
    new_pos, new_vel = he2024.move(pos, vel, dt, 1000.0)
    assert bool(jnp.all((new_pos[:2] >= 0) & (new_pos[:2] <= 1000.0)))
    assert float(jnp.linalg.norm(new_vel)) == pytest.approx(speed, rel=1e-5, abs=1e-5)
    # brute force: many small steps, reflecting at the walls
    p, v = np.array([x, y], float), np.array(vel[:2], float)
    n = 2000
    for _ in range(n):
        p = p + v * dt / n
        for i in range(2):
            if p[i] < 0:
                p[i], v[i] = -p[i], -v[i]
            elif p[i] > 1000:
                p[i], v[i] = 2000 - p[i], -v[i]
    np.testing.assert_allclose(new_pos[:2], p, atol=0.05 + 1e-4 * speed * dt)


def test_terminals_stay_in_area_over_an_episode():
    params = P
    _, state = RESET(jax.random.PRNGKey(12), params)
    for t in range(params.n_tasks):
        _, state, *_ = STEP(jax.random.PRNGKey(t), state, t % params.n_actions, params)
        assert bool(jnp.all((state.pos[:, :2] >= 0) & (state.pos[:, :2] <= params.area_m)))
    assert (
        float(jnp.abs(state.pos[:, 2] - jnp.asarray(he2024.device_kinds(params)[1])).max()) == 0.0
    )


alloc_st = st.tuples(
    st.integers(0, 4),
    *(st.floats(0.0, hi, width=32, allow_subnormal=False) for hi in (8.0, 8.0, 16.0)),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seq=st.lists(alloc_st, min_size=1, max_size=12), seed=st.integers(0, 2**16))
def test_resource_constraints_never_violated(seq, seed):
    """Eq. 10: W_rest, C_rest, M_rest ≥ 0 always; the pool is conserved."""
    cap = np.asarray(he2024.capacity(P))
    _, state = RESET(jax.random.PRNGKey(seed), P)
    spent = np.zeros_like(cap)
    for i, (j, c, w, m) in enumerate(seq):
        alloc = np.array([c, w, m], np.float32)
        before = np.asarray(state.remaining)
        _, state, _, _, info = STEP_ALLOC(jax.random.PRNGKey(seed + i), state, j, alloc, P)
        remaining = np.asarray(state.remaining)
        assert (remaining >= 0).all() and (remaining <= cap + 1e-5).all()
        fits = bool((alloc <= before[j] + 1e-6).all() and (alloc > 0).all())
        assert bool(info.invalid) == (not fits)
        if fits:
            spent[j] += alloc
        np.testing.assert_allclose(remaining + spent, cap, atol=1e-3)


def test_episode_metrics_match_brute_force():
    params = P
    _, state = RESET(jax.random.PRNGKey(13), params)
    infos = []
    for t in range(params.n_tasks):
        action = (7 * t + 3) % params.n_actions
        _, state, _, done, info = STEP(jax.random.PRNGKey(100 + t), state, action, params)
        infos.append(jax.tree.map(np.asarray, info))
    assert bool(done)
    stacked = jax.tree.map(lambda *xs: np.stack(xs), *infos)
    m = he2024.episode_metrics(stacked)
    done_ = [bool(i.completed) for i in infos]
    assert float(m["tcr"]) == pytest.approx(np.mean(done_))
    assert float(m["sum_reward"]) == pytest.approx(
        sum(1 / float(i.latency_s) + float(i.server_pass) for i in infos if i.completed), rel=1e-5
    )
    assert float(m["avg_latency_s"]) == pytest.approx(
        np.mean([float(i.latency_s) for i in infos if i.completed]), rel=1e-5
    )
    assert float(m["avg_pass"]) == pytest.approx(
        np.mean([float(i.server_pass) if i.completed else 0.0 for i in infos]), rel=1e-5
    )


# --------------------------------------------------------------------------- actions and gym


def test_action_encoding_round_trips():
    for a in range(P.n_actions):
        j, alloc = he2024.decode_action(a, P)
        levels = np.asarray(alloc) / np.asarray(P.full_alloc)
        idx = [int(np.argmin(np.abs(np.asarray(P.share_levels) - lv))) for lv in levels]
        assert he2024.encode_action(int(j), *idx, P) == a


def test_gym_wrapper_passes_check_env_and_is_seeded():
    env = He2024Env(he2024.make_params(n_tasks=6))
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=4)
    rewards = []
    for i in range(6):
        obs, r, terminated, truncated, _ = env.step((31 * i) % env.action_space.n)
        rewards.append(r)
        assert env.observation_space.contains(obs)
    assert truncated and not terminated
    env.reset(seed=4)
    assert rewards == [env.step((31 * i) % env.action_space.n)[1] for i in range(6)]
    with pytest.raises(ValueError, match="action"):
        env.step(env.action_space.n)
