"""Multi-agent learners on dag-offload: pieces against references, learning against Random."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from aifedge.baselines import marl
from aifedge.baselines import marl_nets as nets
from aifedge.config import ConfigError
from aifedge.environments import dag_offload as d

TINY = d.make_params(n_tasks=2, task_types=(0, 2), max_steps=8)
TINY_EPISODES = 100
RESET = jax.jit(d.reset, static_argnums=1)


def test_ucb_score_matches_eqs_2_3_by_hand():
    logp = jnp.log(jnp.full((1, 16), 1 / 16))
    counts = jnp.zeros((1, 16)).at[0, 3].set(4.0)
    tries = jnp.array([10.0])
    g = marl.ucb_scores(logp, counts, tries, 0.5)
    assert float(g[0, 3]) == pytest.approx(np.log(1 / 16) + 0.5 * np.sqrt(2 * np.log(10) / 5))
    assert float(g[0, 0]) == pytest.approx(np.log(1 / 16) + 0.5 * np.sqrt(2 * np.log(10) / 1))


def test_coma_advantage_matches_explicit_counterfactual_sum():
    key = jax.random.PRNGKey(1)
    logp = jax.nn.log_softmax(jax.random.normal(key, (3, 2, 16)), -1)
    q = jax.random.normal(jax.random.PRNGKey(2), (3, 2, 16))
    acts = jnp.array([[0, 5], [15, 2], [7, 7]])
    adv = np.asarray(marl.coma_advantage(logp, q, acts))
    p, qq = np.exp(np.asarray(logp, np.float64)), np.asarray(q, np.float64)
    for b in range(3):
        for i in range(2):
            base = sum(p[b, i, a] * qq[b, i, a] for a in range(16))
            assert adv[b, i] == pytest.approx(qq[b, i, acts[b, i]] - base, abs=1e-5)


def test_gae_matches_numpy_reference():
    rng = np.random.default_rng(0)
    r, v, vn = rng.normal(size=6), rng.normal(size=6), rng.normal(size=6)
    done = np.array([0, 0, 1, 0, 0, 0.0])
    valid = np.array([1, 1, 1, 0, 0, 0], bool)
    got = np.asarray(
        marl._gae(
            jnp.asarray(r),
            jnp.asarray(v),
            jnp.asarray(vn),
            jnp.asarray(done),
            jnp.asarray(valid),
            0.95,
            0.9,
        )
    )
    ref, acc = np.zeros(6), 0.0
    for t in reversed(range(6)):
        delta = r[t] + 0.95 * vn[t] * (1 - done[t]) - v[t]
        acc = delta + 0.95 * 0.9 * (1 - done[t]) * acc if valid[t] else 0.0
        ref[t] = acc
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_gcn_is_permutation_equivariant_and_ignores_padding():
    p = nets.gcn_init(jax.random.PRNGKey(0))
    obs, _ = RESET(jax.random.PRNGKey(0), d.make_params())
    nodes, adj = obs.nodes[1], obs.adj[1]  # image DAG, 4 real sub-tasks
    perm = jnp.array([2, 0, 3, 1])
    a = nets.gcn_apply(p, nodes, adj)
    b = nets.gcn_apply(p, nodes[perm], adj[perm][:, perm])
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    text_nodes, text_adj = obs.nodes[0], obs.adj[0]  # 3 sub-tasks + 1 padding slot
    junk = text_nodes.at[3, :10].set(9.0)  # padding stays invalid (feature 10 = 0)
    np.testing.assert_allclose(
        np.asarray(nets.gcn_apply(p, text_nodes, text_adj)),
        np.asarray(nets.gcn_apply(p, junk, text_adj)),
        rtol=1e-5,
    )
    assert a.shape == (16,)


def test_joint_log_probs_normalise_and_use_env_action_encoding():
    obs, _ = RESET(jax.random.PRNGKey(0), d.make_params())
    logp = jax.jit(lambda k, o: nets.actors_logp(nets.actors_init(k, 5, 64, 16, 64), o))(
        jax.random.PRNGKey(0), obs
    )
    np.testing.assert_allclose(np.exp(np.asarray(logp)).sum(-1), 1.0, rtol=1e-5)
    # joint = product of the sub-task and location marginals, a = sub * 4 + loc
    probs = np.exp(np.asarray(logp[0])).reshape(d.J_MAX, d.N_LOC)
    np.testing.assert_allclose(probs, np.outer(probs.sum(1), probs.sum(0)), rtol=1e-5)


def test_gumbel_straight_through_is_one_hot_with_gradient():
    logp = jax.nn.log_softmax(jnp.arange(4.0))
    y = marl._gumbel_hard(jax.random.PRNGKey(0), logp, 1.0)
    assert sorted(np.asarray(y).tolist()) == [0.0, 0.0, 0.0, 1.0]
    g = jax.grad(lambda lp: marl._gumbel_hard(jax.random.PRNGKey(0), lp, 1.0)[0])(logp)
    assert np.any(np.asarray(g) != 0)


def test_replay_buffer_ring_skips_invalid_steps():
    buf = marl._buffer_init(TINY, 3)
    obs, _ = RESET(jax.random.PRNGKey(0), TINY)
    add = jax.jit(marl._buffer_add)
    for k, valid in enumerate([True, False, True, True, True]):
        tr = marl.Transition(
            obs, jnp.array([k, k]), jnp.zeros(2), obs, jnp.bool_(False), jnp.bool_(valid)
        )
        buf = add(buf, tr)
    assert int(buf.size) == 3 and int(buf.ptr) == 1
    assert sorted(np.asarray(buf.data.actions[:, 0]).tolist()) == [2, 3, 4]


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("ucb-coma", "lr", 0.0),
        ("ucb-coma", "ucb_eps", 0.0),
        ("coma", "ucb_eps", 0.5),
        ("mappo", "clip", 1.5),
        ("maddpg", "tau", 0.0),
        ("cs-ucb", "nope", 1.0),
    ],
)
def test_bad_learner_config_names_the_field(name, field, value):
    with pytest.raises(ConfigError, match=field):
        marl.make_config(name, **{field: value})


def test_unknown_learner_lists_the_choices():
    with pytest.raises(ConfigError, match="ucb-coma"):
        marl.make_config("qmix")


def _train(name):
    cfg = marl.make_config(name)
    return marl.train(jax.random.PRNGKey(0), name, TINY, cfg, TINY_EPISODES, quick_compile=True)


@pytest.fixture(scope="module")
def random_rewards():
    _, s = _train("random")
    return np.asarray(s.reward)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ucb-coma", "coma", "mappo", "maddpg", "cs-ucb"])
def test_learner_improves_over_random(name, random_rewards):
    """Last 30 training episodes vs Random's; one-sided Welch test at α = 0.01 (fixed seeds)."""
    state, s = _train(name)
    reward = np.asarray(s.reward)
    assert np.all(np.isfinite(reward))
    late = reward[-30:]
    res = stats.ttest_ind(late, random_rewards[-30:], equal_var=False, alternative="greater")
    assert res.pvalue < 0.01, (name, late.mean(), random_rewards.mean())
    leaves = jax.tree.leaves(state)
    assert all(
        bool(jnp.all(jnp.isfinite(x)))
        for x in leaves
        if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)
    )
