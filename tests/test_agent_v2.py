"""Issue 16 v2 agent: the slack-conditioned model (GPD tail inside the likelihood) against
scipy and brute force, Dirichlet learning against hand counts, a learner that fixes a wrong
prior, and episodes with the policy state carried across them."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from aifedge.environments import aif_llm, batch_rollout, rollout
from aifedge.environments.tails import sample_gpd
from aifedge.generative_models import aif_llm_slack_model as ces
from aifedge.generative_models.aif_llm_model import EvtTail
from aifedge.generative_models.base import GenerativeModel
from aifedge.inference.agent import AgentConfig, likelihoods, make_agent
from aifedge.protocols import Policy

KEY = jax.random.PRNGKey(0)
PARAMS = aif_llm.make_params()


@pytest.fixture(scope="module")
def model():
    return ces.build_slack_model(PARAMS)


# ------------------------------------------------------------------ the likelihood
def test_outcome_table_is_the_gpd_tail_of_scipy():
    """No jitter, one point per bin (its midpoint s): P(violated or failed | s) =
    Σ_c π_c p·sf(D_c(1 − s)), P(failed | s) = Σ_c π_c p·sf(D_c(3 − s)) (scipy genpareto),
    for the ms tail and for a per-deadline tail."""
    edges = ces.SLACK_EDGES
    mids = np.asarray(ces._bin_points(edges, 1))[:, 0]
    pi, d = np.asarray(PARAMS.class_probs), np.asarray(PARAMS.deadline_ms)
    for tail, per_deadline in (
        (EvtTail(0.0, 50.0, 1.5, 0.05), False),
        (EvtTail(0.0, 0.2, 0.4, 0.3), True),
    ):
        table = np.asarray(
            ces.outcome_table(tail, d, pi, 3.0, edges, 0.0, 1, per_deadline=per_deadline)
        )
        unit = d if per_deadline else np.ones_like(d)

        def sf(x, tail=tail):
            return tail.exceed_prob * stats.genpareto.sf(
                x, c=tail.concentration, scale=tail.scale_ms
            )

        for b, s in enumerate(mids):
            bad = pi @ np.where(s <= 1, sf(d * (1 - s) / unit), 1.0)
            fail = pi @ np.where(s <= 3, sf(d * (3 - s) / unit), 1.0)
            np.testing.assert_allclose(1 - table[0, b], bad, rtol=1e-4, atol=1e-7)
            np.testing.assert_allclose(table[2, b], fail, rtol=1e-4, atol=1e-7)
        np.testing.assert_array_equal(table[:, -1], [0, 0, 1])  # infeasible: failed
        np.testing.assert_allclose(table.sum(0), 1.0, atol=1e-6)


@pytest.mark.slow
def test_outcome_table_by_enumeration_and_by_simulation():
    """With jitter: (1) the vectorised table equals a loop over classes × points × Gauss–Hermite
    quantiles with scipy's GPD; (2) Monte Carlo of ℓ = s·D·e^{σε} + spike (spike drawn by the
    simulator's ``sample_gpd``, s uniform in the bin) matches it within 4 binomial SE."""
    tail, sigma, n = EvtTail(0.0, 50.0, 1.5, 0.05), 0.1, 3
    edges = (0.5, 1.0, 3.0)
    pi, d = np.asarray(PARAMS.class_probs), np.asarray(PARAMS.deadline_ms)
    table = np.asarray(ces.outcome_table(tail, d, pi, 3.0, edges, sigma, n))
    z = stats.norm.ppf((np.arange(n) + 0.5) / n)
    w = np.full(n, 1.0 / n)
    lo, hi = (0.0, *edges), (*edges, 1.5 * edges[-1])
    for b in range(len(lo)):
        met = fail = 0.0
        for c, i, k in itertools.product(range(len(d)), range(n), range(n)):
            s = lo[b] + (hi[b] - lo[b]) * (i + 0.5) / n
            ell = s * d[c] * np.exp(sigma * z[k])
            sf_d = 0.05 * stats.genpareto.sf(d[c] - ell, c=1.5, scale=50.0)
            sf_t = 0.05 * stats.genpareto.sf(3 * d[c] - ell, c=1.5, scale=50.0)
            met += pi[c] * w[k] / n * ((1 - sf_d) if ell <= d[c] else 0.0)
            fail += pi[c] * w[k] / n * (1.0 if ell > 3 * d[c] else sf_t)
        np.testing.assert_allclose(table[[0, 2], b], [met, fail], rtol=1e-4, atol=1e-6)
    # Monte Carlo, 200k draws (fine quadrature on the table side)
    fine = np.asarray(ces.outcome_table(tail, d, pi, 3.0, edges, sigma, 64))
    m = 200_000
    k1, k2, k3, k4, k5 = jax.random.split(KEY, 5)
    cls = np.asarray(jax.random.choice(k1, len(d), (m,), p=jnp.asarray(pi)))
    spike = np.where(
        np.asarray(jax.random.uniform(k2, (m,))) < 0.05,
        np.asarray(sample_gpd(k3, 1.5, 50.0, (m,))),
        0.0,
    )
    eps = np.asarray(jax.random.normal(k4, (m,)))
    u = np.asarray(jax.random.uniform(k5, (m,)))
    for b in range(len(edges)):  # the finite bins
        s = lo[b] + (hi[b] - lo[b]) * u
        lat = s * d[cls] * np.exp(sigma * eps) + spike
        freq = [(lat <= d[cls]).mean(), (lat > 3 * d[cls]).mean()]
        se = np.sqrt(np.asarray(freq) * (1 - np.asarray(freq)) / m) + 1e-4
        assert np.all(np.abs(np.asarray(freq) - fine[[0, 2], b]) < 4 * se + 1e-3)


def test_slack_indices_by_hand():
    """ℓ̂ from the observation: local = comp; edge = tx + RTT + wait + comp; cloud with the
    WAN state read from the RTT bin; down or full edges are infeasible."""
    task = aif_llm.Task(
        jnp.float32(30.0), jnp.float32(0.5), jnp.float32(0.02), jnp.float32(1000.0),
        jnp.int32(2), jnp.int32(0),
    )  # fmt: skip
    obs = aif_llm.Obs(
        queue_ms=jnp.asarray([100.0, 0.0, 1990.0, 300.0, 50.0]),
        up=jnp.asarray([1.0, 0.0, 1.0, 1.0, 1.0]),
        rtt_ms=jnp.float32(210.0),  # ≈ 2.5 × 80 ms: degraded
        task=task,
        t=jnp.int32(0),
    )
    lat, feasible = ces.predicted_latency_ms(obs, PARAMS)
    bits = 8 * 0.52
    edge = [bits / 100 * 1000 + 10 + w + 30 / f * 1000 for w, f in zip(
        [100.0, 0.0, 1990.0, 300.0, 50.0], PARAMS.edge_gflops, strict=True)]  # fmt: skip
    cloud = bits / (20 / 2) * 1000 + 80 * 2.5 + 30 / 10_000 * 1000
    np.testing.assert_allclose(lat, [30 / 30 * 1000, *edge, cloud], rtol=1e-5)
    np.testing.assert_array_equal(feasible, [True, True, False, False, True, True, True])
    idx = np.asarray(ces.slack_indices(obs, PARAMS))
    want = np.searchsorted(ces.SLACK_EDGES, np.asarray(lat) / 1000.0, side="right")
    want[~np.asarray(feasible)] = len(ces.SLACK_EDGES) + 1
    np.testing.assert_array_equal(idx, want)


def test_model_structure(model):
    """Bins do not straddle the deadline or the timeout; B[sent] copies the slack bin of the
    chosen node (idle otherwise); C = (0, −1, −κ, 0); only outcome modalities are learnable."""
    assert 1.0 in ces.SLACK_EDGES and 3.0 in ces.SLACK_EDGES
    n_s = len(ces.slack_levels())
    f = model.factor_index("sent:edge3")
    b = np.asarray(model.B[f])  # (sent', sent, slack, u)
    for s_bin, u in itertools.product(range(n_s), range(7)):
        want = np.eye(n_s + 1)[s_bin + 1 if u == 3 else 0]
        np.testing.assert_array_equal(b[:, 5, s_bin, u], want)
    kappa = model.options.fail_cost
    np.testing.assert_array_equal(
        model.C[model.modality_index("outcome:cloud")], [0, -1, -kappa, 0]
    )
    learnable = [n for n, p in zip(model.modality_names, model.pA, strict=True) if p is not None]
    assert learnable == [f"outcome:{n}" for n in model.control_levels[0]]
    a = np.asarray(model.A[model.modality_index("outcome:local")])
    np.testing.assert_allclose(model.pA[model.modality_index("outcome:local")], 4.0 * a)
    assert a[3, 0] == 1 and np.all(np.diff(a[0, 1:11]) <= 1e-9)  # P(met) falls with slack


@pytest.mark.slow
def test_fast_engine_with_learned_counts_equals_pymdp_engine(model):
    """After changing the counts, both engines give the same posterior and EFE terms."""
    cfg = AgentConfig(top_k=None, learn_A=True)
    fast, ref = make_agent(model, cfg, engine="fast"), make_agent(model, cfg, engine="pymdp")
    rng = np.random.default_rng(0)
    state = fast.init()
    state = state._replace(
        pA=tuple(p + jnp.asarray(rng.gamma(1.0, 2.0, p.shape)) for p in state.pA)
    )
    obs = jnp.asarray([2, 0, 9, 3, 15, 1, 4, 1, 2, 3, 0, 3, 3, 3, 3, 3], jnp.int32)
    outs = [e.step(KEY, state, obs) for e in (fast, ref)]
    for name in ("qs", "G_pragmatic", "G_epistemic"):
        np.testing.assert_allclose(
            getattr(outs[0][2], name), getattr(outs[1][2], name), rtol=2e-4, atol=2e-5
        )
    for a, b in zip(outs[0][1].pA, outs[1][1].pA, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5)


# ------------------------------------------------------------------ learning
def bandit_model(p_met: tuple[float, float], count: float) -> GenerativeModel:
    """Two nodes; factor ``sent`` (idle, node0, node1) copies the action; outcome met /
    violated / idle depends on it; pA = count × the believed A."""
    A = np.array([[0.0, p_met[0], p_met[1]], [0.0, 1 - p_met[0], 1 - p_met[1]], [1.0, 0.0, 0.0]])
    B = np.zeros((3, 3, 2))
    B[1, :, 0] = B[2, :, 1] = 1.0
    return GenerativeModel(
        A=(A,),
        B=(B,),
        C=(np.array([0.0, -1.0, 0.0]),),
        D=(np.array([1.0, 0.0, 0.0]),),
        pA=(count * A,),
        pB=None,
        A_dependencies=((0,),),
        B_dependencies=((0,),),
        B_action_dependencies=((0,),),
        num_controls=(2,),
        factor_names=("sent",),
        factor_levels=(("idle", "node0", "node1"),),
        modality_names=("outcome",),
        modality_levels=(("met", "violated", "idle"),),
        control_names=("target",),
        control_levels=(("node0", "node1"),),
    )


@pytest.mark.parametrize("engine", ["fast", "pymdp"])
def test_dirichlet_update_equals_hand_counts(engine):
    """One step: pA' = pA + lr · onehot(o) ⊗ Q(s), Q(s) ∝ D · A[o, :] (Bayes by hand);
    an unobserved modality (−1) adds nothing; learning off keeps the counts."""
    m = bandit_model((0.7, 0.4), 5.0)
    m = m._replace(D=(np.array([0.2, 0.5, 0.3]),))
    for lr in (1.0, 0.5):
        agent = make_agent(m, AgentConfig(top_k=None, learn_A=True, lr_A=lr), engine=engine)
        s0 = agent.init()
        _, s1, info = agent.step(KEY, s0, jnp.asarray([1]))  # violated
        q = np.array([0.2, 0.5, 0.3]) * np.asarray(m.A[0])[1]
        q /= q.sum()
        np.testing.assert_allclose(info.qs, q, rtol=1e-5, atol=1e-7)
        gained = np.asarray(s1.pA[0][0] - s0.pA[0][0])
        want = np.zeros((3, 3))
        want[1] = lr * q
        np.testing.assert_allclose(gained, want, atol=1e-6)
        _, s2, _ = agent.step(KEY, s1, jnp.asarray([-1]))
        np.testing.assert_array_equal(s2.pA[0], s1.pA[0])
    fixed = make_agent(m, AgentConfig(top_k=None), engine=engine)
    _, s, _ = fixed.step(KEY, fixed.init(), jnp.asarray([1]))
    np.testing.assert_allclose(s.pA[0][0], 5.0 * np.asarray(m.A[0]), rtol=1e-6)


def test_learning_fixes_a_deliberately_wrong_prior():
    """Truth P(met) = (0.3, 0.8); the prior believes (0.9, 0.5) with 4 pseudo-counts. The
    learner ends on node 1 (≥ 90 % of the last 100 choices) with P̂(met | node 1) within
    4 binomial SE of 0.8; without learning the agent keeps choosing node 0."""
    truth = np.array([0.3, 0.8])
    m = bandit_model((0.9, 0.5), 4.0)
    rng = np.random.default_rng(0)

    def play(config, steps=300):
        agent = make_agent(m, config)
        s, obs, picks = agent.init(), -1, []
        for _ in range(steps):
            a, s, _ = agent.step(KEY, s, jnp.asarray([obs if obs >= 0 else 2]))
            a = int(a[0])
            picks.append(a)
            obs = 0 if rng.random() < truth[a] else 1
        return np.asarray(picks), s

    picks, s = play(AgentConfig(top_k=None, learn_A=True))
    assert (picks[-100:] == 1).mean() >= 0.9
    a = np.asarray(likelihoods(s)[0][0])
    n1 = (picks == 1).sum()
    assert abs(a[0, 2] - 0.8) < 4 * np.sqrt(0.16 / n1) + 0.02
    fixed, _ = play(AgentConfig(top_k=None))
    assert (fixed == 0).all()


@pytest.mark.slow
def test_learning_on_the_simulator_beats_the_fixed_wrong_prior():
    """``aifedge repro aif-learning`` quick config (4 runs × 10 carried episodes): from the
    wrong (light-tailed) prior, learning raises the QoS of the last 5 episodes (Welch p < 0.05)."""
    from aifedge.paper_repro import aif_learning

    frame = aif_learning.run(aif_learning.QUICK)
    final = frame.set_index("variant")
    assert len(frame.attrs["data"]) == 2 * aif_learning.QUICK.episodes
    assert final.loc["learn-wrong", "qos_last_5"] > final.loc["fixed-wrong", "qos_last_5"]
    assert final.loc["learn-wrong", "welch_p_vs_fixed"] < 0.05


# ------------------------------------------------------------------ carried state
def counter_policy(n_nodes: int) -> Policy:
    """Sends task t to node (count mod N), count = decisions this policy state has taken."""
    return Policy(
        init=lambda key, params: jnp.int32(0),
        act=lambda key, c, obs, params: (c % n_nodes, c + 1),
    )


@pytest.mark.slow
def test_rollout_carries_the_policy_state_only_when_asked():
    policy, n = counter_policy(PARAMS.n_nodes), 4
    keys = jax.random.split(KEY, 3)
    carried, fresh, single = jax.jit(
        lambda ks: (
            batch_rollout(ks, policy, PARAMS, n, carry_policy_state=True),
            batch_rollout(ks, policy, PARAMS, n),
            rollout(ks[1], policy, PARAMS, n),
        )
    )(keys)
    np.testing.assert_array_equal(
        np.asarray(carried.node).ravel(), np.arange(3 * n) % PARAMS.n_nodes
    )
    np.testing.assert_array_equal(np.asarray(fresh.node), np.tile(np.arange(n), (3, 1)))
    # the same episodes: ``batch_rollout`` is ``rollout`` per key; episode 0 (same actions)
    # is the same with or without carrying
    np.testing.assert_allclose(fresh.latency_ms[1], single.latency_ms, rtol=1e-6)
    np.testing.assert_allclose(carried.latency_ms[0], fresh.latency_ms[0], rtol=1e-6)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slack_edges", (0.5, 2.0)),  # no edge at the deadline
        ("fail_cost", 0.5),
        ("prior_count", 0.0),
        ("latency_noise", -0.1),
        ("evt_tail", (0.0, -1.0, 0.5, 0.1)),
        ("nope", 1),
    ],
)
def test_bad_slack_options_raise_config_error(field, value):
    from aifedge.config import ConfigError

    with pytest.raises(ConfigError, match=field):
        ces.make_slack_options(**{field: value})
