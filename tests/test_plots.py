"""Notebook helpers: teaching formulas, decision tables, EVT/U_t views, LLM-side plots."""

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp

from aifedge.environments import aif_llm, stateless
from aifedge.generative_models import teaching, tmaze
from aifedge.generative_models.base import GenerativeModel
from aifedge.inference import AgentConfig, evt, make_agent, meta
from aifedge.inference.uncertainty import UncertaintyConfig
from aifedge.llm_bridge.advisors import ObsSummary, template_advice
from aifedge.llm_bridge.prior import KeywordPrior, d_llm
from aifedge.viz import decision as dplots
from aifedge.viz import evt as eplots
from aifedge.viz import llm as lplots
from aifedge.viz import meta as mplots
from aifedge.viz.widgets import explore

KEY = jax.random.PRNGKey(0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------- teaching formulas
@pytest.mark.parametrize("build", [tmaze.build_tmaze, teaching.build_offload_toy])
def test_risk_plus_ambiguity_equals_pymdp_efe_up_to_the_preference_constant(build):
    """G = risk + ambiguity (NumPy) = G_prag + G_epis (pymdp) + Σ_m ln Σ_o exp C_m."""
    model = build()
    agent = make_agent(model)
    table = teaching.efe_table(model)
    _, _, info = agent.step(KEY, agent.init(), jnp.zeros(3, jnp.int32))
    const = sum(logsumexp(c) for c in model.C)
    np.testing.assert_allclose(table["G"] - const, np.asarray(info.G), atol=1e-5)
    np.testing.assert_allclose(table["pragmatic"], np.asarray(info.G_pragmatic), atol=1e-5)
    np.testing.assert_allclose(table["epistemic"], np.asarray(info.G_epistemic), atol=1e-5)


def test_offload_toy_probes_then_exploits():
    agent = make_agent(teaching.build_offload_toy())
    busy = dplots.run_trial(agent, [0, 1], steps=2, key=KEY)
    free = dplots.run_trial(agent, [0, 0], steps=2, key=KEY)
    assert list(busy["action"]) == ["probe", "cloud"]
    assert list(free["action"]) == ["probe", "edge"]
    assert busy["q[edge_load]"].iloc[1] == pytest.approx((0.0, 1.0))
    # a reliable cloud beats the information of the probe: straight to the cloud
    reliable = teaching.efe_table(teaching.build_offload_toy(p_met_cloud=0.9))
    assert reliable.loc[reliable["G"].idxmin(), "action"] == "cloud"
    # an uninformative probe has no epistemic value and the same G as holding
    blind = teaching.efe_table(teaching.build_offload_toy(probe_accuracy=0.5))
    assert blind["epistemic"][1] == pytest.approx(0.0, abs=1e-12)
    assert blind["G"][1] == pytest.approx(blind["G"][0])


def test_bayes_and_free_energy_hand_case():
    prior, lik = np.array([0.3, 0.7]), np.array([0.9, 0.2])
    post, evidence = teaching.bayes_posterior(prior, lik)
    assert evidence == pytest.approx(0.3 * 0.9 + 0.7 * 0.2)
    np.testing.assert_allclose(post, [0.27 / 0.41, 0.14 / 0.41])
    assert teaching.free_energy(post, prior, lik) == pytest.approx(-np.log(evidence))
    for q0 in (0.1, 0.5, 0.9):
        q = np.array([q0, 1 - q0])
        kl = np.sum(q * np.log(q / post))
        assert teaching.free_energy(q, prior, lik) == pytest.approx(kl - np.log(evidence))
    assert teaching.policy_posterior([1.0, 2.0], 2.0) == pytest.approx(
        np.exp([-2.0, -4.0]) / np.exp([-2.0, -4.0]).sum()
    )
    with pytest.raises(ValueError, match="probability 0"):
        teaching.bayes_posterior([1.0, 0.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="probe_accuracy"):
        teaching.build_offload_toy(probe_accuracy=1.5)
    with pytest.raises(ValueError, match="gamma"):
        teaching.policy_posterior([0.0], 0.0)


def test_run_trial_rejects_bad_state():
    agent = make_agent(teaching.build_offload_toy())
    with pytest.raises(ValueError, match="true_state"):
        dplots.run_trial(agent, [0, 2], steps=1, key=KEY)


# ---------------------------------------------------------------- decision tables
def _random_model(seed: int = 3) -> GenerativeModel:
    rng = np.random.default_rng(seed)
    A = rng.dirichlet(np.ones(3), size=4).T  # (3 outcomes, 4 states)
    B = np.stack([rng.dirichlet(np.ones(4) * 0.5, size=4).T for _ in range(5)], -1)
    return GenerativeModel(
        A=(A,),
        B=(B,),
        C=(np.array([1.0, 0.0, -2.0]),),
        D=(rng.dirichlet(np.ones(4)),),
        pA=None,
        pB=None,
        A_dependencies=((0,),),
        B_dependencies=((0,),),
        B_action_dependencies=((0,),),
        num_controls=(5,),
        factor_names=("s",),
        factor_levels=(tuple(f"s{i}" for i in range(4)),),
        modality_names=("o",),
        modality_levels=(("o0", "o1", "o2"),),
        control_names=("u",),
        control_levels=(tuple(f"u{i}" for i in range(5)),),
    )


@pytest.mark.parametrize("top_k, gamma", [(2, 1.0), (3, 4.0)])
def test_decision_table_reapplies_eq4_like_a_pruning_agent(top_k, gamma):
    model = _random_model()
    full = make_agent(model, AgentConfig(top_k=None))
    pruned = make_agent(model, AgentConfig(top_k=top_k, gamma=gamma))
    obs = jnp.array([1])
    _, _, info_full = full.step(KEY, full.init(), obs)
    action, _, info = pruned.step(KEY, pruned.init(), obs)
    table = dplots.decision_table(full, info_full, top_k=top_k, gamma=gamma)
    assert np.array_equal(table["kept"], np.asarray(info.kept))
    np.testing.assert_allclose(table["q_pi"], np.asarray(info.q_pi), atol=1e-6)
    assert table["q_pi"].idxmax() == int(action[0])
    same = dplots.decision_table(pruned, info)
    assert np.array_equal(same["kept"], np.asarray(info.kept))
    with pytest.raises(ValueError, match="top_k=None"):
        dplots.decision_table(pruned, info, top_k=2)
    fig = dplots.plot_efe_terms(table)
    assert len(fig.axes) == 2


def test_policy_labels_and_observation_frame():
    model = teaching.build_offload_toy()
    agent = make_agent(model, AgentConfig(policy_len=2, top_k=None))
    labels = dplots.policy_labels(agent)
    assert len(labels) == 16 and labels[1] == "hold→probe" and labels[-1] == "cloud→cloud"
    frame = dplots.observation_frame(model, [1, 2, -1])
    assert list(frame["outcome"]) == ["probe", "looks-busy", "(unseen)"]
    with pytest.raises(ValueError, match="one index per modality"):
        dplots.observation_frame(model, [0])


def test_teaching_figures():
    model = teaching.build_offload_toy()
    table = teaching.efe_table(model)
    for fig in (
        dplots.plot_risk_ambiguity(table),
        dplots.plot_beliefs(model, model.D),
        dplots.plot_policy_precision(table["G"], table["action"]),
        dplots.plot_free_energy([0.5, 0.5], [0.8, 0.2]),
        dplots.plot_evt_penalty(aif_llm.make_params(), shapes=(0.5, 1.5)),
    ):
        assert isinstance(fig, plt.Figure)


# ---------------------------------------------------------------- EVT views
def test_threshold_stability_matches_scipy_mle():
    x = stats.genpareto.rvs(0.4, scale=2.0, size=3000, random_state=1)
    frame = eplots.threshold_stability(x, [0.0, float(np.quantile(x, 0.5))])
    c, _, scale = stats.genpareto.fit(x, floc=0.0)
    assert frame["concentration"][0] == pytest.approx(c, abs=0.01)
    assert frame["scale"][0] == pytest.approx(scale, rel=0.01)
    assert frame["n_exceed"][1] == int((x > frame["threshold"][1]).sum())
    np.testing.assert_allclose(
        frame["modified_scale"], frame["scale"] - frame["concentration"] * frame["threshold"]
    )
    with pytest.raises(ValueError, match="≥ 2 samples"):
        eplots.threshold_stability(x, [x.max()])


@pytest.fixture(scope="module")
def fake_posterior():
    """Draws spread around a known GPD (not a NUTS fit: the views only read draws)."""
    rng = np.random.default_rng(0)
    az = evt.import_arviz()
    return az.from_dict(
        posterior={
            "scale": 50 * np.exp(0.05 * rng.standard_normal((2, 60))),
            "concentration": 1.5 + 0.05 * rng.standard_normal((2, 60)),
        }
    )


def test_gpd_views(fake_posterior):
    y = np.asarray(evt.GeneralizedPareto(0.0, 50.0, 1.5).sample(KEY, (300,)))
    pred = eplots.gpd_predictive(fake_posterior, y, num_draws=20)
    assert pred.posterior_predictive["log10_excess"].shape == (2, 20, 300)
    np.testing.assert_allclose(pred.observed_data["log10_excess"], np.log10(y), rtol=1e-6)
    truth = {"scale": 50.0, "concentration": 1.5}
    for fig in (
        eplots.plot_gpd_ppc(pred, num_pp_samples=10),
        eplots.plot_gpd_trace(fake_posterior, true=truth),
        eplots.plot_gpd_posterior(fake_posterior, true=truth),
        eplots.plot_gpd_survival(fake_posterior, y, true=truth),
        eplots.plot_exceedance(fake_posterior, 0.0, [10.0, 100.0], empirical=y),
        eplots.plot_mean_residual_life(evt.mean_residual_life(y), chosen=10.0),
    ):
        assert isinstance(fig, plt.Figure)
    summary = eplots.gpd_summary(fake_posterior)
    assert list(summary.index) == ["scale", "concentration"]


# ---------------------------------------------------------------- U_t and λ_t
def test_uncertainty_trace_injects_conditions_and_matches_eq6():
    params = aif_llm.make_params()
    cloud = stateless(lambda key, obs, p: jnp.int32(p.n_edge + 1))
    congested = ((0.0, 0.0, 1.0),) * 3
    phases = [
        ("calm", 6, {"net_transition": ((1.0, 0.0, 0.0),) * 3}),
        ("jam", 8, {"net_transition": congested}),
        ("down", 6, {"edge_fail_prob": 1.0, "edge_recover_prob": 0.0}),
    ]
    config = UncertaintyConfig(window=3)
    tr = mplots.uncertainty_trace(KEY, cloud, params, phases, config)
    assert list(tr["phase"].unique()) == ["calm", "jam", "down"] and len(tr) == 20
    assert (tr["net"].iloc[7:14] == 2).all()  # congested from the 2nd step of the jam on
    assert (tr["n_down"].iloc[-5:] == params.n_edge).all()  # all edges fail and stay down
    assert (tr["node"] == params.n_edge + 1).all()
    # Eq. 6 from the recorded columns: mean RTT over the last 3 steps / the fixed reference
    # (the tightest class deadline, 300 ms; not the current task's deadline)
    rtt = tr["rtt_ms"].to_numpy()
    mean = np.array([rtt[max(0, t - 2) : t + 1].mean() for t in range(len(rtt))])
    want = 0.7 * mean / min(params.deadline_ms) + 0.3 * tr["n_down"] / config.n_total
    np.testing.assert_allclose(tr["u_t"], want, rtol=1e-5)
    assert np.array_equal(tr["trigger"], tr["u_t"] > config.trigger)
    summary = mplots.phase_summary(tr)
    assert summary["congested"].iloc[1] == pytest.approx(7 / 8)
    fig = mplots.plot_uncertainty_trace(tr, trigger=0.5, lam=np.zeros(len(tr)))
    assert len(fig.axes) == 5  # 4 panels + the twin axis of failed nodes
    with pytest.raises(ValueError, match="only"):
        mplots.uncertainty_trace(KEY, cloud, params, [("x", 3, {"spike_shape": 1.0})])
    with pytest.raises(ValueError, match="steps"):
        mplots.uncertainty_trace(KEY, cloud, params, [("x", 0, {})])


def test_toy_lambda_family_and_views():
    cfg = meta.MetaConfig(meta_steps=2, meta_batch=2)
    task = mplots.toy_lambda_task(KEY)
    assert 4 <= float(task["a"]) <= 10 and 0.2 <= float(task["b"]) <= 0.8
    best = mplots.toy_best_lambda(task, task["b"], cfg)
    assert float(best) == pytest.approx(0.5 * (cfg.lambda_min + cfg.lambda_max))
    net = meta.make_meta_net(cfg, KEY)  # outputs the mid-range λ everywhere
    u = jnp.linspace(0.0, 1.0, 32)
    want = jnp.mean((0.5 - mplots.toy_best_lambda(task, jax.random.uniform(KEY, (32,)), cfg)) ** 2)
    assert float(mplots.toy_lambda_loss(cfg)(net, task, KEY)) == pytest.approx(
        float(want), rel=1e-5
    )
    hist = {"pre_loss": np.array([0.2, 0.1]), "post_loss": np.array([0.1, 0.05])}
    assert isinstance(mplots.plot_meta_history(hist), plt.Figure)
    fig = mplots.plot_lambda_response(cfg, {"net": net}, {"best": lambda x: x * 0 + 0.3}, u=u)
    assert len(fig.axes[0].lines) == 2


def test_explore_calls_once_and_builds_a_panel():
    calls = []

    def fn(x=2.0):
        calls.append(x)
        return pd.DataFrame({"x": [x]})

    panel = explore(fn, manual=True, x=(0.0, 4.0, 0.5))
    assert calls == [2.0]  # the static call; a manual panel waits for its button
    assert panel is not None and panel.children[0].value == 2.0
    assert explore(fn, widgets=False, x=(0.0, 4.0)) is None

    def broken(x=1.0):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        explore(broken, x=(0.0, 2.0))


# ---------------------------------------------------------------- LLM side
@pytest.fixture(scope="module")
def keyword_prior():
    texts = [
        "real-time chat",
        "real-time voice",
        "batch job",
        "offline batch",
        "video feed",
        "live video",
    ] * 5
    cls = [0, 0, 3, 3, 1, 1] * 5
    logs = pd.DataFrame({"text": texts, "task_class": cls, "best_node": cls})
    return KeywordPrior.fit(logs, factors={"class": "task_class"}, n_levels={"class": 4})


def test_d_llm_frame_and_keyword_plot(keyword_prior):
    base = {"class": np.full(4, 0.25)}
    texts = ["urgent real-time request", "nothing known"]
    frame = lplots.d_llm_frame(keyword_prior, texts, base, "class", ["i", "v", "d", "b"])
    np.testing.assert_allclose(
        frame.drop(columns="keywords").to_numpy()[0], d_llm(keyword_prior, texts[0], base)["class"]
    )
    np.testing.assert_allclose(
        frame.loc["nothing known", ["i", "v", "d", "b"]].to_numpy(float), 0.25
    )
    assert frame["keywords"].iloc[0] == "real, real-time, time"
    assert frame.loc["urgent real-time request", "i"] > 0.25
    assert isinstance(lplots.plot_d_llm(frame), plt.Figure)
    assert isinstance(lplots.plot_keyword_weights(keyword_prior, top=5), plt.Figure)
    with pytest.raises(ValueError, match="top"):
        lplots.plot_keyword_weights(keyword_prior, top=0)


def test_embedding_pca_matches_sklearn():
    from sklearn.decomposition import PCA

    x = np.random.default_rng(0).normal(size=(30, 8)) * np.arange(1, 9)
    coords, ratio = lplots.embedding_pca(x, 3)
    ref = PCA(3).fit(x)
    np.testing.assert_allclose(np.abs(coords), np.abs(ref.transform(x)), atol=1e-8)
    np.testing.assert_allclose(ratio, ref.explained_variance_ratio_, atol=1e-10)
    with pytest.raises(ValueError, match="n_components"):
        lplots.embedding_pca(x, 9)
    fig = lplots.plot_embedding_map(
        x[:, :5], [f"t{i}" for i in range(30)], groups=["a", "b"] * 15, extra={"star": x[0, :5]}
    )
    assert isinstance(fig, plt.Figure)
    assert isinstance(lplots.plot_semantic_scores(["a", "b"], [0.1, 0.3], "advice"), plt.Figure)


def test_advice_parsing_follows_template_advice():
    def summary(queue, up, rtt):
        return ObsSummary(
            queue_ms=queue, up=up, rtt_ms=rtt, base_rtt_ms=80.0, task_text="x", deadline_ms=300.0
        )

    cases = [
        (summary((50.0, 10.0), (True, True), 80.0), 2),  # shortest edge queue
        (summary((900.0, 900.0), (True, True), 80.0), 3),  # cloud
        (summary((900.0, 900.0), (True, False), 500.0), 0),
    ]  # local, WAN congested
    for s, node in cases:
        assert lplots.advised_node(template_advice(s).text, n_edge=2) == node
    assert lplots.advised_node("no idea", n_edge=2) is None
    params = aif_llm.make_params()
    act = lplots.follow_advice(params)
    from aifedge.llm_bridge.advisors import Advice, Guidance

    none = Guidance(None, None, -1, False)
    assert act(KEY, None, none) == params.n_edge + 1
    advice = Guidance(Advice("Send the task to edge node 3.", (), "t"), None, 0, True)
    assert act(KEY, None, advice) == 3


def test_observed_uncertainty_is_eq6_on_one_step():
    params = aif_llm.make_params()
    obs, _ = aif_llm.reset(KEY, params)
    obs = obs._replace(up=jnp.array([1.0, 0.0, 1.0, 0.0, 1.0]))
    u = lplots.observed_uncertainty(alpha=0.8, n_total=6)(obs, params)
    want = 0.8 * float(obs.rtt_ms) / min(params.deadline_ms) + 0.2 * 2 / 6  # 300 ms reference
    assert u == pytest.approx(want, rel=1e-5)
    fixed = lplots.observed_uncertainty(alpha=0.8, n_total=6, u_ref_ms=1000.0)(obs, params)
    assert fixed == pytest.approx(0.8 * float(obs.rtt_ms) / 1000.0 + 0.2 * 2 / 6, rel=1e-5)
    rec = {
        "u_t": np.array([0.1, 0.9]),
        "advised": np.array([0, 1]),
        "outcome": np.array([0, 2]),
        "node": np.array([6, 1]),
    }
    assert isinstance(lplots.plot_advised_episode(rec, 0.5), plt.Figure)


def test_checkpoint_history_reads_saved_metadata(tmp_path):
    cfg = meta.MetaConfig()
    path = meta.save_checkpoint(
        tmp_path / "f.eqx",
        meta.make_meta_net(cfg, KEY),
        cfg,
        {"pre_loss": [0.3, 0.2], "post_loss": [0.25, 0.1]},
    )
    hist = mplots.checkpoint_history(path)
    np.testing.assert_allclose(hist["post_loss"], [0.25, 0.1])
    bare = meta.save_checkpoint(tmp_path / "g.eqx", meta.make_meta_net(cfg, KEY), cfg)
    with pytest.raises(ValueError, match="records no"):
        mplots.checkpoint_history(bare)
    with pytest.raises(ValueError, match="does not exist"):
        mplots.checkpoint_history(tmp_path / "missing.eqx")
