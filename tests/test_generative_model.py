"""The cloud-edge POMDP: shapes, normalisation, validate's messages, MC estimate, EVT C."""

import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest
from scipy import stats

from aifedge.config import ConfigError
from aifedge.environments import aif_llm
from aifedge.environments.aif_llm import EnvParams, Obs
from aifedge.generative_models import aif_llm_model, base, plots, tmaze
from aifedge.generative_models.aif_llm_model import (
    LOAD_LEVELS,
    OUTCOME_LEVELS,
    EvtTail,
    build_model,
    make_options,
)

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def model():
    return build_model()


@pytest.fixture(scope="module")
def fresh_counts():
    """A small fresh Monte-Carlo run (never reads the saved file)."""
    p, o = EnvParams(), aif_llm_model.ModelOptions()
    return aif_llm_model.simulate_counts(p, o.load_edges_ms, 4096, 1)


def test_factors_modalities_and_shapes(model):
    p = EnvParams()
    n_edge, n_nodes = p.n_edge, p.n_nodes
    assert model.factor_names[: n_edge + 2] == (
        *(f"load:edge{j}" for j in range(1, 6)),
        "net",
        "class",
    )
    assert model.factor_names[n_edge + 2 :] == (
        "sent:local",
        *(f"sent:edge{j}" for j in range(1, 6)),
        "sent:cloud",
    )
    assert model.num_states == (4,) * 5 + (3, 4, 5) + (17,) * 5 + (13,)
    assert model.num_obs == (4,) * 5 + (3, 4) + (4,) * n_nodes
    assert model.control_levels == (
        ("local", "edge1", "edge2", "edge3", "edge4", "edge5", "cloud"),
    )
    assert all(len(d) == 1 for d in model.A_dependencies)
    for a in (*model.A, *model.B):
        np.testing.assert_allclose(np.asarray(a).sum(0), 1.0, atol=1e-6)
    assert model.pA is not None and model.pB is not None
    np.testing.assert_allclose(model.pA[0], 100.0 * np.asarray(model.A[0]))


def test_analytic_blocks_match_params(model):
    p = EnvParams()
    np.testing.assert_allclose(model.B[5][..., 0], np.asarray(p.net_transition).T)
    np.testing.assert_allclose(
        model.B[6][..., 0], np.tile(np.asarray(p.class_probs)[:, None], (1, 4))
    )
    np.testing.assert_array_equal(model.A[6], np.eye(4))
    # D: uniform world factors, "idle" dispatch contexts.
    np.testing.assert_allclose(model.D[0], 0.25)
    assert all(d[0] == 1.0 for d in model.D[n_edge_plus_2(p) :])


def n_edge_plus_2(p: EnvParams) -> int:
    return p.n_edge + 2


def test_dispatch_context_is_a_deterministic_copy(model):
    """B[sent:edge2][x', ·, c, l, u]: (c, l) when u = edge2, idle otherwise."""
    f = model.factor_index("sent:edge2")
    b = np.asarray(model.B[f])
    levels = model.factor_levels[f]
    for c in range(4):
        for lv in range(4):
            want = levels.index(f"{model.factor_levels[6][c]}|{LOAD_LEVELS[lv]}")
            np.testing.assert_array_equal(b[:, 3, c, lv, 2], np.eye(17)[want])
            np.testing.assert_array_equal(b[:, 3, c, lv, 5], np.eye(17)[0])
    a = np.asarray(model.A[model.modality_index("outcome:edge2")])
    np.testing.assert_array_equal(a[:, 0], [0, 0, 0, 1])  # idle -> "idle"
    assert np.all(a[3, 1:] == 0)  # a dispatched task is never "idle"
    down = [i for i, lv in enumerate(levels) if lv.endswith("|down")]
    assert np.all(a[2, down] > 0.99)  # a down node fails every task


def test_monte_carlo_is_deterministic_and_matches_the_simulator(fresh_counts):
    p, o = EnvParams(), aif_llm_model.ModelOptions()
    again = aif_llm_model.simulate_counts(p, o.load_edges_ms, 4096, 1)
    for x, y in zip(fresh_counts, again, strict=True):
        np.testing.assert_array_equal(x, y)
    # WAN transitions: chi-square of MC counts against EnvParams.net_transition.
    counts = fresh_counts.net_trans
    for n in range(3):
        expected = np.asarray(p.net_transition[n]) * counts[:, n].sum()
        assert stats.chisquare(counts[:, n], expected).pvalue > 1e-3
    # RTT bins: analytic log-normal probabilities of crossing the geometric midpoints.
    thr = aif_llm_model.rtt_thresholds(p)
    rtts = p.cloud_rtt_ms * np.asarray(p.net_rtt_mult)
    for n in range(3):
        cdf = stats.norm.cdf(np.log(thr / rtts[n]) / p.obs_noise)
        want = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
        freq = fresh_counts.rtt_obs[:, n] / fresh_counts.rtt_obs[:, n].sum()
        np.testing.assert_allclose(freq, want, atol=0.02)


def test_saved_estimate_is_the_default_and_agrees_with_a_fresh_run(fresh_counts):
    p, o = EnvParams(), aif_llm_model.ModelOptions()
    saved, key = aif_llm_model.load_estimate(aif_llm_model.MC_FILE)
    assert key == aif_llm_model.estimate_key(p, o.load_edges_ms, o.n_samples, o.seed)
    assert saved.out_edge.sum() == o.n_samples * p.n_edge
    # Outcome frequencies of the saved (seed 0) and the fresh (seed 1) run agree: pooled
    # over classes and levels per node, within 4 binomial standard errors.
    for j in range(p.n_edge):
        a = saved.out_edge[j].sum((1, 2)) / saved.out_edge[j].sum()
        b = fresh_counts.out_edge[j].sum((1, 2)) / fresh_counts.out_edge[j].sum()
        se = np.sqrt(a * (1 - a) / fresh_counts.out_edge[j].sum() + 1e-6)
        assert np.all(np.abs(a - b) < 4 * se + 1e-3)


def test_save_and_load_roundtrip(tmp_path, fresh_counts):
    path = aif_llm_model.save_estimate(fresh_counts, "k", tmp_path / "mc.npz")
    est, key = aif_llm_model.load_estimate(path)
    assert key == "k"
    for x, y in zip(est, fresh_counts, strict=True):
        np.testing.assert_array_equal(x, y)


def test_evt_tail_matches_scipy_and_sets_the_penalty():
    tail = EvtTail(threshold_ms=20.0, scale_ms=50.0, concentration=0.4, exceed_prob=0.1)
    x = np.array([0.0, 20.0, 100.0, 1000.0])
    want = np.where(x < 20, 0.1, 0.1 * stats.genpareto.sf(x - 20, 0.4, scale=50.0))
    np.testing.assert_allclose(aif_llm_model.tail_prob(tail, x), want, rtol=1e-12)
    expo = EvtTail(0.0, 50.0, 0.0, 1.0)
    np.testing.assert_allclose(aif_llm_model.tail_prob(expo, 100.0), np.exp(-2.0))
    p = EnvParams()
    tau = aif_llm_model.violation_tail_prob(EvtTail.from_params(p), p)
    sf = stats.genpareto.sf(np.asarray(p.deadline_ms), p.spike_shape, scale=p.spike_scale_ms)
    np.testing.assert_allclose(tau, p.spike_prob * np.asarray(p.class_probs) @ sf, rtol=1e-12)
    o = make_options(p)
    rho = o.evt_weight * np.exp(o.evt_rate * tau)
    np.testing.assert_allclose(
        aif_llm_model.outcome_preferences(p, o), [0.0, -rho, -o.fail_factor * rho, 0.0]
    )
    # A heavier fitted tail makes violations costlier; the model's C uses it.
    heavy = EvtTail(0.0, 400.0, 0.5, 0.5)
    m = build_model(p, evt_tail=heavy)
    c = np.asarray(m.C[m.modality_index("outcome:cloud")])
    assert c[1] < -rho and c[2] == pytest.approx(2 * c[1])


def test_observation_indices_hand_computed():
    p = EnvParams()
    task = aif_llm.Task(
        compute_gflop=jnp.float32(50.0),
        data_in_mb=jnp.float32(0.5),
        data_out_mb=jnp.float32(0.02),
        deadline_ms=jnp.float32(1500.0),
        task_class=jnp.int32(2),
        text_id=jnp.int32(13),
    )
    obs = Obs(
        queue_ms=jnp.array([50.0, 100.0, 499.0, 500.0, 0.0]),
        up=jnp.array([1.0, 1.0, 1.0, 1.0, 0.0]),
        rtt_ms=jnp.float32(127.0),
        task=task,
        t=jnp.int32(0),
    )
    idx = aif_llm_model.observation_indices(obs, p, make_options(p))
    np.testing.assert_array_equal(idx, [0, 1, 1, 2, 3, 1, 2])
    np.testing.assert_allclose(
        aif_llm_model.rtt_thresholds(p), [80 * np.sqrt(2.5), 80 * np.sqrt(15.0)]
    )


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("load_edges", (1, 2), "unknown field 'load_edges'"),
        ("load_edges_ms", (500.0, 100.0), "load_edges_ms"),
        ("load_edges_ms", (100.0, 5000.0), "queue capacity"),
        ("n_samples", 10, "n_samples"),
        ("fail_factor", 0.5, "fail_factor"),
        ("prior_count", 0.0, "prior_count"),
        ("evt_tail", (0.0, -1.0, 0.5, 0.1), "evt_tail"),
    ],
)
def test_bad_options_raise_config_error(field, value, match):
    with pytest.raises(ConfigError, match=match):
        build_model(EnvParams(), **{field: value})


def _broken(model, **changes):
    return model._replace(**changes)


def test_validate_names_the_problem(model):
    A, B, D, C = list(model.A), list(model.B), list(model.D), list(model.C)
    bad_shape = A.copy()
    bad_shape[7] = np.asarray(A[7])[:, :3]
    with pytest.raises(ValueError, match=r"A\[7\] \(outcome:local\): shape .*fix the shape"):
        base.validate(_broken(model, A=tuple(bad_shape)))
    neg = A.copy()
    a = np.array(A[0])
    a[0, 1], a[1, 1] = -0.1, a[1, 1] + 0.1 + a[0, 1]
    neg[0] = a
    with pytest.raises(ValueError, match=r"A\[0\] \(obs_load:edge1\): negative entry"):
        base.validate(_broken(model, A=tuple(neg)))
    unnorm = B.copy()
    b = np.array(B[5])
    b[0, 2, 0] += 0.3
    unnorm[5] = b
    with pytest.raises(
        ValueError,
        match=r"B\[5\] \(net\): column \(2, 0\) sums to 1.3.*"
        r"normalise over axis 0",
    ):
        base.validate(_broken(model, B=tuple(unnorm)))
    d_bad = D.copy()
    d_bad[6] = np.array([0.5, 0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"D\[6\] \(class\): sums to 2, not 1"):
        base.validate(_broken(model, D=tuple(d_bad)))
    c_bad = C.copy()
    c_bad[8] = np.zeros(3)
    with pytest.raises(ValueError, match=r"C\[8\] \(outcome:edge1\): shape \(3,\)"):
        base.validate(_broken(model, C=tuple(c_bad)))
    deps = list(model.B_dependencies)
    deps[0] = (6,)
    with pytest.raises(ValueError, match=r"B_dependencies\[0\] \(load:edge1\).*include 0"):
        base.validate(_broken(model, B_dependencies=tuple(deps)))
    with pytest.raises(ValueError, match="A: has 13 entries"):
        base.validate(_broken(model, A=tuple(A[:-1])))
    nan = A.copy()
    nan[1] = np.full_like(np.asarray(A[1]), np.nan)
    with pytest.raises(ValueError, match="non-finite"):
        base.validate(_broken(model, A=tuple(nan)))
    acts = list(model.B_action_dependencies)
    acts[0] = (len(model.num_controls),)  # a control factor that does not exist
    with pytest.raises(ValueError, match=r"B_action_dependencies\[0\] \(load:edge1\).*0\.\."):
        base.validate(_broken(model, B_action_dependencies=tuple(acts)))
    pa = [np.asarray(a) * 10.0 for a in A]
    base.validate(_broken(model, pA=tuple(pa)))  # finite counts: fine
    pa[2] = np.full_like(pa[2], np.nan)
    with pytest.raises(ValueError, match=r"pA\[2\]: must be finite, ≥ 0"):
        base.validate(_broken(model, pA=tuple(pa)))
    pa[2] = np.full_like(pa[2], np.inf)
    with pytest.raises(ValueError, match=r"pA\[2\]: has non-finite counts"):
        base.validate(_broken(model, pA=tuple(pa)))


def test_describe_and_plots(model):
    text = base.describe(model)
    for name in ("load:edge3", "sent:cloud", "outcome:edge5", "target", "violated"):
        assert name in text
    ax = plots.plot_A(model, "outcome:edge1")
    assert ax.get_title().startswith("A[outcome:edge1]")
    assert len(ax.get_xticklabels()) == 17
    ax = plots.plot_B(model, "load:edge1", action=1)
    assert len(ax.get_xticklabels()) == 16  # load level × class
    with pytest.raises(ValueError, match="action"):
        plots.plot_B(model, "load:edge1", action=9)
    with pytest.raises(ValueError, match="unknown factor"):
        model.factor_index("load:edge9")
    matplotlib.pyplot.close("all")


def test_tmaze_is_valid():
    m = tmaze.build_tmaze()
    assert m.num_states == (4, 2) and m.num_obs == (4, 3, 3)
    assert OUTCOME_LEVELS[-1] == "idle"
    with pytest.raises(ValueError, match="cue_validity"):
        tmaze.build_tmaze(cue_validity=1.5)
