"""The ucb-coma placement POMDP and the ``aif`` scheme: model checks against the env and
analytic references, Bayes posterior by hand, feasibility under faults, Welch test vs Random."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aifedge.baselines import marl
from aifedge.config import ConfigError
from aifedge.environments import ucb_coma as d
from aifedge.environments.metrics import welch_test
from aifedge.generative_models import ucb_coma_model as gm
from aifedge.generative_models.base import describe, validate
from aifedge.inference import ucb_coma_agent
from aifedge.inference.agent import AgentConfig, make_agent, split_factors

# image (branch-merge) and VQA (fusion) DAGs: text, image and multimodal sub-tasks; edge
# faults (§5.2) so that the mask excludes edges. Both DAGs have 4 sub-tasks and an episode
# has 4 steps: a task completes only if every one of its agent's actions was feasible.
TINY = d.make_params(n_tasks=2, task_types=(1, 3), max_steps=4, fault_prob=0.2)


@pytest.fixture(scope="module")
def model():
    return gm.build_model()  # default EnvParams: the saved Monte-Carlo estimate


@pytest.fixture(scope="module")
def tiny():
    return ucb_coma_agent.make_dag_aif_scheme(TINY)


@pytest.fixture(scope="module")
def tiny_estimate(tiny):
    return gm.estimate_dynamics(TINY, tiny.config)  # simulated fresh (not the saved file)


def test_model_validates_with_documented_factors_and_exact_blocks(model):
    assert validate(model) is model
    assert model.num_states == (5, 4, 4, 4, 17, 17, 17, 5)
    assert model.num_obs == (5, 4, 4, 4) + (6,) * 4 + (4,) * 4
    assert model.control_levels == (gm.LOCATIONS,)
    assert all(len(dep) == 1 for dep in model.A_dependencies)
    for m in range(4):
        np.testing.assert_array_equal(model.A[m], np.eye(model.num_obs[m]))
    for f in range(4):
        np.testing.assert_allclose(model.D[f], 1.0 / model.num_states[f])
    for f in range(4, 8):
        np.testing.assert_array_equal(model.D[f], np.eye(model.num_states[f])[0])
    # C4 and faults: "rejected" with probability 1 exactly where Θ_α lacks m or α is down
    for loc in range(d.N_LOC):
        a_out = np.asarray(model.A[4 + loc])
        for x, label in enumerate(gm.placed_levels(loc)[1:], start=1):
            mod, _, lvl = label.partition("|")
            feasible = d.SUPPORT[loc, d.MODALITIES.index(mod)] and lvl != "down"
            assert (a_out[gm.REJECTED, x] == 1.0) == (not feasible), (loc, label)
        assert a_out[gm.IDLE, 0] == 1.0
    text = describe(model)
    assert "placed:cloud" in text and "outcome:edge:image" in text


def test_preferences_are_kappa_times_reward_ordered(model):
    p, opt = d.make_params(), gm.ModelOptions()
    c_out = np.asarray(model.C[4])
    assert c_out[gm.REJECTED] == pytest.approx(-opt.kappa * p.vartheta)
    assert c_out[gm.IDLE] == 0.0
    # θ − γ d̄ falls with the delay bin; a late placement also pays ϑ · ē (η3)
    assert c_out[0] > c_out[1] > c_out[2] > c_out[gm.LATE] > c_out[gm.REJECTED]
    assert opt.kappa * (p.theta - p.gamma * 0.4) < c_out[2] < opt.kappa * p.theta
    c_cost = np.asarray(model.C[8])
    assert c_cost[0] > c_cost[1] > c_cost[2] and c_cost[3] == 0.0


def test_monte_carlo_matches_env_constraints_and_analytic_cloud_delays(tiny, tiny_estimate):
    est = tiny_estimate
    assert est.mismatches == 0  # every C4-feasible placement on an up server ran, no other
    # cloud: d = D (1 / r_ul + cycles_per_bit / f) with D ~ U(lo, hi): P(d ≥ delay_slow)
    p, opt = TINY, tiny.config
    per_bit = 1 / (p.rate_cloud_ul_mbps * 1e6) + p.cycles_per_bit / (p.cloud_ghz * 1e9)
    for mod in (d.IMAGE, d.MULTI):
        lo, hi = p.data_in_lo_kbit[mod] * 1e3, p.data_in_hi_kbit[mod] * 1e3
        cut_fast, cut_slow = opt.delay_fast_s / per_bit, opt.delay_slow_s / per_bit
        p_fast = np.clip((cut_fast - lo) / (hi - lo), 0, 1)
        p_slow = np.clip((hi - cut_slow) / (hi - lo), 0, 1)
        counts = est.out[d.CLOUD, :, mod, 0]
        assert counts[gm.LATE] == 0  # predecessors finish < 1 s, far below T_max
        n = counts.sum()
        assert n > 100
        for got, want in ((counts[0] / n, p_fast), (counts[2] / n, p_slow)):
            assert abs(got - want) <= 4 * np.sqrt(max(want * (1 - want), 1 / n) / n), (mod, got)


def test_posterior_equals_bayes_rule_on_a_hand_case(model):
    agent = ucb_coma_agent.scheme_agent(d.make_params(), ucb_coma_agent.DagAifConfig())
    prior_cloud = np.array([0.1, 0.2, 0.3, 0.25, 0.15])  # idle, text, image, audio, multi
    prior = [np.asarray(x, np.float32) for x in model.D]
    prior[7] = prior_cloud
    obs = np.full(len(model.num_obs), -1)
    obs[0], obs[1:4] = 1, (0, 3, 1)  # image sub-task; edges low / down / medium
    obs[4 + d.CLOUD], obs[8 + d.CLOUD] = 2, 1  # cloud outcome "slow", cost "medium"
    qs = split_factors(
        model,
        np.asarray(
            agent.infer_states(
                jnp.concatenate([jnp.asarray(x, jnp.float32) for x in prior]), jnp.asarray(obs)
            )
        ),
    )
    lik = np.asarray(model.A[4 + d.CLOUD])[2] * np.asarray(model.A[8 + d.CLOUD])[1]
    bayes = prior_cloud * lik / np.sum(prior_cloud * lik)
    np.testing.assert_allclose(qs[7], bayes, rtol=1e-4, atol=1e-6)
    assert bayes[0] == 0.0  # an idle cloud has no outcome but "idle"
    np.testing.assert_allclose(qs[0], np.eye(5)[1], atol=1e-5)
    for f, lvl in zip((1, 2, 3), (0, 3, 1), strict=True):
        np.testing.assert_allclose(qs[f], np.eye(4)[lvl], atol=1e-5)
    np.testing.assert_allclose(qs[4], model.D[4], atol=1e-6)  # unobserved: prior kept


def test_fast_engine_efe_equals_pymdps_own_functions(model):
    """G (Eq. 5) per location from the vectorised engine and from pymdp's control module."""
    cfg = AgentConfig(top_k=None)
    fast, ref = make_agent(model, cfg, engine="fast"), make_agent(model, cfg, engine="pymdp")
    for seen in ([1, 0, 3, 1], [0, 1, 0, 0], [3, 2, 2, 2]):  # image, text, multimodal
        obs = jnp.asarray(seen + [-1] * 8)
        a_f, _, i_f = fast.step(jax.random.PRNGKey(0), fast.init(), obs)
        a_r, _, i_r = ref.step(jax.random.PRNGKey(0), ref.init(), obs)
        np.testing.assert_allclose(i_f.G, i_r.G, rtol=1e-5, atol=1e-4)
        assert int(a_f[0]) == int(a_r[0])


@pytest.mark.slow
def test_never_picks_an_action_its_model_makes_infeasible(tiny):
    """First decisions of many episodes (edges down at random): the chosen action is in
    the env's mask, and the model's zero-feasibility set is the mask's location part."""
    keys = jax.random.split(jax.random.PRNGKey(3), 512)
    obs, state = jax.vmap(lambda k: d.reset(k, TINY))(keys)
    actions, _ = jax.jit(jax.vmap(tiny.act))(keys, obs)
    mask = np.asarray(jax.vmap(d.valid_action_mask)(obs))
    chosen = np.take_along_axis(mask, np.asarray(actions)[..., None], -1)[..., 0]
    assert np.all(chosen), "a chosen action violated C4, C5 or a down server"
    # the instances where the agent had to avoid a down edge: its modality's edge was down
    _, mod = jax.vmap(gm.ready_subtask)(obs)
    mod, up = np.asarray(mod), np.asarray(state.up)
    edge_of = np.where(mod < d.MULTI, np.minimum(mod, d.N_EDGE - 1), -1)
    own_down = (edge_of >= 0) & ~np.take_along_axis(up, np.maximum(edge_of, 0), -1)
    assert own_down.sum() > 50
    _, loc = d.decode_action(actions)
    assert np.all(np.asarray(loc)[own_down] != edge_of[own_down])
    a_rej = np.asarray(tiny.model.A[4 + d.CLOUD])[gm.REJECTED]
    assert np.all(a_rej[1:] == 0.0)  # the cloud is never down and supports every modality


@pytest.mark.slow
def test_learner_adapter_matches_scheme_and_beats_random(tiny, monkeypatch):
    monkeypatch.setitem(marl.LEARNERS, "aif", ucb_coma_agent.LEARNER)
    monkeypatch.setitem(marl.DEFAULT_CONFIGS, "aif", ucb_coma_agent.DagAifConfig())
    cfg = marl.make_config("aif")  # marl's generic checks accept every default
    obs, _ = d.reset(jax.random.PRNGKey(0), TINY)
    via_learner = ucb_coma_agent.LEARNER.act(jax.random.PRNGKey(1), (), obs, TINY, cfg, True)
    np.testing.assert_array_equal(via_learner, tiny.act(jax.random.PRNGKey(1), obs)[0])
    n = 64
    aif = marl.evaluate(jax.random.PRNGKey(5), "aif", (), TINY, cfg, n, quick_compile=True)
    rnd = marl.evaluate(
        jax.random.PRNGKey(5), "random", (), TINY, marl.make_config("random"), n, quick_compile=True
    )
    t, p = welch_test(aif.reward, rnd.reward)
    assert t > 0 and p < 1e-3, (float(np.mean(aif.reward)), float(np.mean(rnd.reward)), p)
    # every decision of every agent was feasible (4 steps, 4 sub-tasks: see TINY)
    assert float(np.min(aif.completion)) == 1.0 and float(np.min(aif.reward)) > 0.0


def test_config_errors_name_the_field():
    for kwargs, field in (
        ({"kappa": 0.0}, "kappa"),
        ({"queue_mid": 2.0}, "queue_mid"),
        ({"delay_fast_s": 0.3}, "delay_fast_s"),
        ({"policy_len": 0}, "policy_len"),
        ({"mc_episodes": 2}, "mc_episodes"),
        ({"foo": 1}, "foo"),
    ):
        with pytest.raises(ConfigError, match=field):
            ucb_coma_agent.make_config(**kwargs)
    with pytest.raises(ValueError, match="not both"):
        ucb_coma_agent.make_dag_aif_scheme(TINY, ucb_coma_agent.DagAifConfig(), kappa=2.0)
