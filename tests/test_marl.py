"""Multi-agent learners on ucb-coma: pieces against references; learners complete tasks.

The learning tests would have caught issue #18's collapse (a state-independent policy that
completes no task but beats Random's reward): they ask for greedy-evaluation completion,
a policy that depends on P_i, and never a pick outside the action space.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from aifedge.baselines import marl
from aifedge.baselines import marl_nets as nets
from aifedge.config import ConfigError
from aifedge.environments import ucb_coma as d

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
    for k, valid in enumerate([True, False, True, True, True, False]):
        tr = marl.Transition(
            obs, jnp.array([k, k]), jnp.zeros(2), obs, jnp.bool_(False), jnp.bool_(valid)
        )
        buf = add(buf, tr)
    assert int(buf.size) == 3 and int(buf.ptr) == 1
    # the invalid steps 1 and 5 were never written: the full buffer (ptr's slot included)
    # holds exactly the last three valid steps, so no sample can return an invalid one
    assert sorted(np.asarray(buf.data.actions[:, 0]).tolist()) == [2, 3, 4]
    assert bool(jnp.all(buf.data.valid))
    got = marl._buffer_sample(jax.random.PRNGKey(0), buf, 200)
    assert set(np.asarray(got.actions[:, 0]).tolist()) == {2, 3, 4}


def test_standardise_pools_the_masked_batch():
    x = jnp.array([[1.0, 2.0, 9.0], [3.0, 4.0, -7.0]])
    mask = jnp.array([[True, True, False], [True, True, False]])
    got = np.asarray(marl.standardise(x, mask))
    ref = (np.array([1.0, 2.0, 3.0, 4.0]) - 2.5) / np.std([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(got[:, :2].ravel(), ref[[0, 1, 2, 3]], rtol=1e-5)
    assert np.all(got[:, 2] == 0.0)


@pytest.mark.slow
def test_mappo_standardises_advantages_over_the_whole_rollout():
    """Two episodes of the same rollout, one rewarded far more: pooled standardisation keeps
    the better episode's advantages above the worse one's (per-episode standardisation
    would centre each episode on 0 and fail both checks)."""
    cfg = marl.make_config("mappo", rollout_episodes=2)
    s = marl.mappo_init(jax.random.PRNGKey(0), TINY, cfg, 10)
    obs, _ = RESET(jax.random.PRNGKey(0), TINY)
    steps = TINY.max_steps

    def tr(reward):
        one = marl.Transition(
            obs, jnp.zeros(2, jnp.int32), jnp.full(2, reward), obs, jnp.bool_(False), True
        )
        return jax.tree.map(lambda x: jnp.stack([x] * steps), one)

    rollout = jax.tree.map(lambda a, b: jnp.stack([a, b]), tr(0.0), tr(5.0))
    rollout = rollout._replace(
        done=rollout.done.at[:, -1].set(True),
        valid=rollout.valid.at[:, 6:].set(False),
    )
    adv, _ = marl.mappo_advantages(s.critic, rollout, cfg)
    adv, valid = np.asarray(adv), np.asarray(rollout.valid)
    assert adv[valid].mean() == pytest.approx(0.0, abs=1e-5)
    assert adv[valid].std() == pytest.approx(1.0, rel=1e-4)
    assert adv[0][valid[0]].mean() < -0.5 < 0.5 < adv[1][valid[1]].mean()
    assert np.all(adv[~valid] == 0.0)


@pytest.mark.slow
def test_actor_never_gives_a_scheduled_subtask_probability():
    p = d.make_params()
    obs, s = RESET(jax.random.PRNGKey(0), p)
    actors = nets.actors_init(jax.random.PRNGKey(1), 5, 64, 16, 64)
    logp_fn = jax.jit(nets.actors_logp)
    first = np.asarray(jnp.argmax(d.valid_action_mask(obs), -1))
    obs2, *_ = d.step(jax.random.PRNGKey(2), s, jnp.asarray(first), p)
    for o in (obs, obs2):
        probs = np.exp(np.asarray(logp_fn(actors, o))).reshape(5, d.J_MAX, d.N_LOC)
        pending = np.asarray(d.pending_action_mask(o)).reshape(5, d.J_MAX, d.N_LOC)
        assert np.all(probs[~pending] == 0.0)
        np.testing.assert_allclose(probs.sum((1, 2)), 1.0, rtol=1e-5)
    # UCB's bonus cannot revive a scheduled sub-task (Eqs. 2–3 add ≤ ε √(2 ln N))
    g = marl.ucb_scores(logp_fn(actors, obs2), jnp.zeros((5, 16)), jnp.full(5, 1e6), 1.0)
    picks = np.asarray(jnp.argmax(g, -1))
    assert np.all(np.asarray(d.pending_action_mask(obs2))[np.arange(5), picks])


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


def _greedy(name, state, n=20):
    cfg = marl.make_config(name)
    return marl.evaluate(jax.random.PRNGKey(7), name, state, TINY, cfg, n, quick_compile=True)


@pytest.fixture(scope="module")
def random_rewards():
    _, s = _train("random")
    return np.asarray(s.reward)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ucb-coma", "coma", "mappo", "maddpg", "cs-ucb"])
def test_learner_completes_tasks_greedily(name, random_rewards):
    """After 100 tiny episodes the greedy policy completes > 50 % of tasks and never picks
    outside the action space; its late training reward beats Random's (one-sided Welch
    test, α = 0.01, fixed seeds)."""
    state, s = _train(name)
    reward = np.asarray(s.reward)
    assert np.all(np.isfinite(reward))
    ev = _greedy(name, state)
    assert float(np.mean(ev.completion)) > 0.5, (name, np.asarray(ev.completion))
    assert float(np.sum(s.not_pending)) == 0.0 and float(np.sum(ev.not_pending)) == 0.0
    res = stats.ttest_ind(
        reward[-30:], random_rewards[-30:], equal_var=False, alternative="greater"
    )
    assert res.pvalue < 0.01, (name, reward[-30:].mean(), random_rewards.mean())
    leaves = jax.tree.leaves(state)
    assert all(
        bool(jnp.all(jnp.isfinite(x)))
        for x in leaves
        if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ucb-coma", "coma"])
def test_coma_policy_depends_on_progress(name):
    """The collapse of issue #18 was one state-independent action: the trained greedy
    policy must pick different sub-tasks as P_i changes, in a valid order."""
    state, _ = _train(name)
    cfg = marl.make_config(name)
    obs, s = RESET(jax.random.PRNGKey(11), TINY)
    act = jax.jit(lambda o: marl.LEARNERS[name].act(None, state, o, TINY, cfg, False))
    subs = []
    for _ in range(3):  # both tiny DAGs are 3-node chains
        a = act(obs)
        subs.append(np.asarray(d.decode_action(a)[0]))
        obs, s, r, _, info = d.step(jax.random.PRNGKey(0), s, a, TINY)
        assert bool(jnp.all(info.executed)), (name, subs, np.asarray(r))
    np.testing.assert_array_equal(np.stack(subs), [[0, 0], [1, 1], [2, 2]])
    assert bool(jnp.all(d.task_complete(s)))


@pytest.mark.slow
def test_reference_policies_complete_every_task_and_ready_cloud_is_the_ceiling():
    rows = {}
    for name in ("ready-cloud", "masked-random", "random"):
        ev = _greedy(name, (), n=30)
        rows[name] = (float(np.mean(ev.completion)), float(np.mean(ev.reward)))
        terms = sum(np.asarray(getattr(ev, f)) for f in d.REWARD_TERMS)
        np.testing.assert_allclose(terms, np.asarray(ev.reward), rtol=1e-5, atol=1e-5)
    assert rows["ready-cloud"][0] == rows["masked-random"][0] == 1.0
    assert rows["ready-cloud"][1] >= rows["masked-random"][1] > rows["random"][1]
