"""The full aif-llm agent (Algorithm 1): ablations, template advice under jit, D_LLM timing,
meta-λ wiring, the EVT penalty, a QoS check against ``random``, and real async advisors."""

import socket

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from aifedge.config import ConfigError
from aifedge.environments import aif_llm
from aifedge.environments.aif_llm import MET, VIOLATED
from aifedge.environments.metrics import episode_metrics
from aifedge.environments.task_texts import TASK_TEXTS, TEXTS_PER_CLASS
from aifedge.inference import aif_llm_advice as advice
from aifedge.inference import aif_llm_agent as al
from aifedge.inference import aif_llm_stats
from aifedge.inference.aif_llm_advised import run_advised
from aifedge.inference.meta import make_meta_net, meta_lambda
from aifedge.llm_bridge import SentenceEncoder, d_llm, summarise
from aifedge.llm_bridge.advisors import COUNTERS, template_advice
from aifedge.registry import ABLATIONS, check_ablate
from aifedge.simulate import simulate

PARAMS = aif_llm.make_params(max_steps=20)
KEY = jax.random.PRNGKey(0)


@pytest.fixture(scope="module")
def shared():
    """Keyword table and encoder shared by every agent built here (default disk cache)."""
    return {"keyword_prior": advice.default_keyword_prior(PARAMS), "encoder": SentenceEncoder()}


@pytest.fixture(scope="module")
def full(shared):
    return al.build_agent(PARAMS, (), **shared)


def _obs(
    cls: int,
    text_id: int,
    rtt: float = 80.0,
    deadline: float = 1000.0,
    last_node=-1,
    last_outcome=-1,
    last_latency=0.0,
    up=(1.0,) * 5,
    queue=(50.0,) * 5,
):
    """A crafted observation."""
    task = aif_llm.Task(
        compute_gflop=jnp.float32(10.0),
        data_in_mb=jnp.float32(0.01),
        data_out_mb=jnp.float32(0.01),
        deadline_ms=jnp.float32(deadline),
        task_class=jnp.int32(cls),
        text_id=jnp.int32(text_id),
    )
    return aif_llm.Obs(
        queue_ms=jnp.asarray(queue, jnp.float32),
        up=jnp.asarray(up, jnp.float32),
        rtt_ms=jnp.float32(rtt),
        task=task,
        t=jnp.int32(0),
        last_node=jnp.int32(last_node),
        last_outcome=jnp.int32(last_outcome),
        last_latency_ms=jnp.float32(last_latency),
    )


def test_check_ablate_and_advisor_errors():
    assert check_ablate("meta-lambda, prior") == ("prior", "meta-lambda")
    assert check_ablate(None) == ()
    with pytest.raises(ConfigError, match="semantics"):
        check_ablate(["semantics"])
    with pytest.raises(ConfigError, match="run_advised"):
        al.make_aif_llm_policy(PARAMS, advisor="smollm")
    with pytest.raises(ConfigError, match="unknown advisor"):
        al.make_aif_llm_policy(PARAMS, advisor="gpt")
    with pytest.raises(ConfigError, match="evt_threshold"):
        al.AifLlmConfig(evt_threshold=1.5)


@pytest.mark.slow
def test_template_index_matches_template_advice():
    """The jitted advice lookup returns exactly the text ``template_advice`` writes."""
    texts, index = advice.template_texts(PARAMS)
    assert len(set(texts)) == len(texts) and (index >= 0).sum() == len(texts)
    key = jax.random.PRNGKey(5)
    k_obs, k_up, k_rtt = jax.random.split(key, 3)
    obs, _ = jax.vmap(lambda k: aif_llm.reset(k, PARAMS))(jax.random.split(k_obs, 300))
    up = (jax.random.uniform(k_up, (300, 5)) > 0.3).astype(jnp.float32)
    obs = obs._replace(
        up=up,
        queue_ms=obs.queue_ms * 6.0 * up,
        rtt_ms=jax.random.uniform(k_rtt, (300,), minval=60.0, maxval=300.0),
    )
    rows = np.asarray(jax.vmap(lambda o: advice.template_index(o, jnp.asarray(index), PARAMS))(obs))
    obs = jax.device_get(obs)
    seen = set()
    for i in range(300):
        o = jax.tree.map(lambda x, i=i: x[i], obs)
        expected = template_advice(summarise(o, PARAMS)).text
        assert texts[int(rows[i])] == expected
        seen.add(expected)
    assert len(seen) > 20  # the crafted observations cover many advice texts


_ENV_STEP = jax.jit(aif_llm.step)
_CACHE: dict = {}


def _decide(agent):
    """``agent.template_step`` jitted once per agent."""
    key = ("step", id(agent))
    if key not in _CACHE:
        _CACHE[key] = (agent, jax.jit(agent.template_step))
    return _CACHE[key][1]


def _steps(agent, key, steps):
    """One episode stepped from Python (jitted decision and env step): final state and the
    per-step (action, λ, U_t, semantic scores, outcome)."""
    k_reset, k_loop = jax.random.split(key)
    obs, env = aif_llm.reset(k_reset, PARAMS)
    s, rec = agent.init(), []
    for k in jax.random.split(k_loop, steps):
        k_act, k_step = jax.random.split(k)
        action, s, info = _decide(agent)(k_act, s, obs)
        obs, env, _, _, step_info = _ENV_STEP(k_step, env, action, PARAMS)
        rec.append((action, info.lam, info.u_t, info.semantic, step_info.outcome))
    return s, tuple(jnp.stack(x) for x in zip(*rec, strict=True))


def _rollouts(agent, key, n=20):
    """``n`` jitted episodes of ``PARAMS.max_steps`` with ``advised_episode``'s key use
    (episode i: ``split(key, n)[i]`` split into reset and loop keys); compiled once."""
    cache_key = ("scan", id(agent), n)
    if cache_key not in _CACHE:

        def episode(k):
            k_reset, k_loop = jax.random.split(k)
            obs, env = aif_llm.reset(k_reset, PARAMS)

            def body(carry, kk):
                obs, env, s = carry
                k_act, k_step = jax.random.split(kk)
                action, s, info = agent.template_step(k_act, s, obs)
                obs, env, _, _, out = aif_llm.step(k_step, env, action, PARAMS)
                return (obs, env, s), (
                    action,
                    info.lam,
                    info.u_t,
                    info.semantic,
                    out.outcome,
                    out.latency_ms,
                )

            keys = jax.random.split(k_loop, PARAMS.max_steps)
            return jax.lax.scan(body, (obs, env, agent.init()), keys)[1]

        _CACHE[cache_key] = (agent, jax.jit(lambda k: jax.vmap(episode)(jax.random.split(k, n))))
    return _CACHE[cache_key][1](key)


@pytest.mark.slow
@pytest.mark.parametrize("ablate", [("prior",), ("semantic",), ("meta-lambda",), ABLATIONS])
def test_each_ablation_runs(shared, ablate):
    agent = al.build_agent(PARAMS, ablate, **shared)
    assert agent.ablate == tuple(c for c in ABLATIONS if c in ablate)
    state, (actions, lam, _, semantic, outcome) = _steps(agent, jax.random.PRNGKey(1), 8)
    assert actions.shape == (8,) and bool(jnp.all((actions >= 0) & (actions < 7)))
    assert bool(jnp.all((outcome >= 0) & (outcome <= 2)))
    assert int(state.agent.t) == 8
    assert (int(state.prior_updates) == 0) == ("prior" in ablate)
    if "semantic" in ablate:
        assert bool(jnp.all(semantic == 0)) and bool(jnp.all(lam == 0))
        assert bool(jnp.all(state.pending == -1))
    elif "meta-lambda" in ablate:
        np.testing.assert_allclose(lam, agent.fixed_lambda)
    assert aif_llm_stats.describe(agent)["ablate"] == list(agent.ablate)
    policy = al.make_aif_llm_policy(PARAMS, ablate, **shared)
    assert set(policy._fields) == {"init", "act"}


@pytest.mark.slow
def test_full_agent_deterministic_and_lambda_in_range(full, shared):
    again = al.build_agent(PARAMS, (), **{**shared, "encoder": SentenceEncoder()})
    np.testing.assert_array_equal(full.advice_table, again.advice_table)
    for a, b in zip(full.sem_tables.tables, again.sem_tables.tables, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(full.evidence, again.evidence)
    key = jax.random.PRNGKey(3)
    first, second = _rollouts(full, key), _rollouts(full, key)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    actions, lam, u_t, semantic, *_ = first
    assert not bool(jnp.all(actions == actions[:1]))  # episodes differ across keys
    cfg = full.meta_cfg
    assert bool(jnp.all((lam >= cfg.lambda_min) & (lam <= cfg.lambda_max)))
    np.testing.assert_allclose(lam, meta_lambda(full.meta_model, u_t, cfg), rtol=1e-6)
    assert bool(jnp.any(semantic != 0))  # advice arrived and shaped G


@pytest.mark.slow
def test_lambda_follows_meta_net_of_u(full):
    """λ_t = f_meta(U_t) of Eq. 7 with U_t of Eq. 6 from the window (hand case), for an f_meta
    that varies with U (passed as the step's ``meta_model`` override)."""
    cfg = full.meta_cfg
    net = make_meta_net(cfg, jax.random.PRNGKey(0))
    net = eqx.tree_at(lambda m: m.layers[-1].weight, net, jnp.full((1, cfg.hidden), 2.0))
    decide = eqx.filter_jit(lambda s, o, m: full.template_step(KEY, s, o, m))
    s = full.init()
    lams, us = [], []
    for rtt, up in ((80.0, (1.0,) * 5), (480.0, (1.0,) * 5), (480.0, (0.0, 0.0, 1.0, 1.0, 1.0))):
        _, s, info = decide(s, _obs(0, 0, rtt=rtt, deadline=300.0, up=up), net)
        lams.append(float(info.lam))
        us.append(float(info.u_t))
    # U_t = 0.7 · mean RTT window / L_QoS + 0.3 · N_fail / 6
    np.testing.assert_allclose(
        us,
        [0.7 * 80 / 300, 0.7 * 280 / 300, 0.7 * (80 + 480 + 480) / 3 / 300 + 0.3 * 2 / 6],
        rtol=1e-5,
    )
    np.testing.assert_allclose(lams, meta_lambda(net, jnp.asarray(us), cfg), rtol=1e-6)
    assert len(set(lams)) == 3
    assert all(cfg.lambda_min <= v <= cfg.lambda_max for v in lams)


def test_d_llm_replaces_prior_only_at_start_and_new_class(full, shared):
    """Algorithm 1 line 2 on a crafted class sequence; D_LLM checked against llm_bridge's
    ``d_llm`` (Eq. 3) with Base = the prior the agent held."""
    classes = [1, 1, 3, 1, 0, 3, 2, 2]
    kp, model = shared["keyword_prior"], full.model
    offs = np.concatenate([[0], np.cumsum(model.num_states)])
    s = full.init()
    applied = []
    for t, cls in enumerate(classes):
        text_id = cls * TEXTS_PER_CLASS + t % TEXTS_PER_CLASS
        held = np.asarray(s.agent.prior)
        _, s, info = _decide(full)(KEY, s, _obs(cls, text_id))
        applied.append(bool(info.prior_applied))
        used = np.asarray(info.prior)
        if applied[-1]:
            base = {name: held[offs[f] : offs[f + 1]] for f, name in enumerate(model.factor_names)}
            ref = d_llm(kp, TASK_TEXTS[text_id], base, alpha=full.config.prior_alpha)
            np.testing.assert_allclose(
                used, np.concatenate([ref[n] for n in model.factor_names]), atol=1e-5
            )
            assert not np.allclose(used, held)  # the keywords moved the belief
        else:
            np.testing.assert_array_equal(used, held)
    assert applied == [True, False, True, False, True, False, True, False]
    assert int(s.prior_updates) == 4


def test_fitted_tail_enters_the_outcome_likelihood(full):
    """Inject completed latencies L = ℓ̂ + (u + y)·L_QoS (ℓ̂: the model's prediction for the
    task decided last), y on a fixed quantile grid of a light (ξ = 0) or heavy (ξ = 1) GPD;
    the refit gives τ̂ = p̂_u · S(1 − u) (scipy), A[outcome:*] becomes the outcome table of the
    fitted tail (before: the model's prior table), C stays (0, −1, −κ, 0), and the heavier
    tail makes violation or failure likelier in every feasible slack bin below the deadline."""
    from aifedge.generative_models import aif_llm_slack_model as ces
    from aifedge.inference.agent import likelihoods

    u, deadline = full.config.evt_threshold, 1000.0
    q = (np.arange(40) + 0.5) / 40
    model_a = np.asarray(full.model.A[full.model.modality_index("outcome:edge1")])
    c_out = np.asarray(full.model.C[full.model.modality_index("outcome:cloud")])
    results = {}
    for xi in (0.0, 1.0):
        y = stats.genpareto.ppf(q, c=xi, scale=0.1)
        y = np.random.default_rng(0).permutation(y)
        s = full.init()
        fits = []
        for t in range(41):
            lat = float(s.prev_pred_ms) + (u + y[t - 1]) * deadline if t else 0.0
            outcome = (MET if lat <= deadline else VIOLATED) if t else -1
            _, s, info = _decide(full)(
                KEY,
                s,
                _obs(
                    0,
                    0,
                    deadline=deadline,
                    last_node=1 if t else -1,
                    last_outcome=outcome,
                    last_latency=lat,
                ),
            )
            assert not bool(info.advised)  # U_t stays below δ: no advice in this test
            fits.append(int(s.tail.fit_count))
            a_now = np.asarray(likelihoods(s.agent)[0])  # (7 nodes, 4, S + 2)
            if int(s.tail.fit_count) < full.config.evt_min_excesses:
                np.testing.assert_allclose(a_now, np.broadcast_to(model_a, a_now.shape), atol=1e-5)
            np.testing.assert_allclose(np.asarray(s.agent.C)[-4:], c_out)  # no scale on C
        # refits happen at t = 10, 20, 30, 40 only
        assert sorted(set(fits)) == [0, 10, 20, 30, 40]
        sigma, shape = float(np.exp(s.tail.log_scale)), float(s.tail.concentration)
        tau = stats.genpareto.sf(1.0 - u, c=shape, scale=sigma)  # p̂_u = 1: all exceed u
        assert float(full.tail_probability(s)) == pytest.approx(tau, rel=1e-3)
        tail = ces.EvtTail(u, sigma, shape, 1.0)
        table = np.asarray(ces.prior_outcome_table(PARAMS, full.options, tail, per_deadline=True))
        want = np.asarray(ces.outcome_likelihood(table))
        a_now = np.asarray(likelihoods(s.agent)[0])
        np.testing.assert_allclose(a_now, np.broadcast_to(want, a_now.shape), atol=1e-4)
        results[xi] = (table, shape)
    assert results[1.0][1] > results[0.0][1] + 0.5  # the fit sees the heavier tail
    below = np.asarray(full.options.slack_edges) <= 1.0
    bad = {xi: 1.0 - r[0][0, : below.sum()] for xi, r in results.items()}
    assert np.all(bad[1.0] > bad[0.0])


def test_full_agent_beats_random_on_qos(full):
    """Welch test of per-episode QoS over 20 episodes (20 steps each)."""
    outcome = _rollouts(full, jax.random.PRNGKey(11))[4]
    ours = np.asarray(jnp.mean(outcome == MET, axis=1))
    rand = simulate("aif-llm", "random", 20, 11, PARAMS, progress=False).qos.to_numpy()
    _, p = stats.ttest_ind(ours, rand, equal_var=False)
    assert ours.mean() > rand.mean() + 0.2 and p < 1e-6


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_run_advised_http_closed_port_counts_failures(full):
    params = aif_llm.make_params(max_steps=12)
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    frame, stats_ = run_advised(
        params, 1, 0, "http", advisor_options={"url": url, "timeout_s": 0.5}, agent=full
    )
    assert list(frame.columns) == [
        "policy",
        "episode",
        "qos",
        "latency_ms",
        "tcr",
        "violation_risk",
        "failure_rate",
    ]
    assert len(frame) == 1 and 0 <= frame.qos[0] <= 1
    assert stats_["calls"] >= 1 and stats_["failures"] + stats_["timeouts"] >= 1
    assert stats_["successes"] == 0 and stats_["fallbacks"] == 1


def test_run_advised_template_reproduces_jitted_policy(full):
    """The async path (AsyncAdvisor, delay 1, advice encoded in the worker) and the jitted
    template path make the same decisions on the same episodes."""
    frame, stats_ = run_advised(PARAMS, 20, 0, "template", agent=full)
    outcome, latency = _rollouts(full, jax.random.PRNGKey(0))[4:]
    m = episode_metrics(outcome, latency)
    np.testing.assert_allclose(frame.qos, m["qos"], rtol=1e-6)
    np.testing.assert_allclose(frame.tcr, m["tcr"], rtol=1e-6)
    np.testing.assert_allclose(frame.latency_ms, m["latency_ms"], rtol=1e-5)
    assert stats_["calls"] >= 1 and stats_["failures"] == 0 and stats_["successes"] >= 1


def test_merge_advisor_stats_hand_case():
    base = {"advisor": "http", "threshold": 0.5, "step_s": 0.1, "delay_mode": "measured"}
    base.update(dict.fromkeys(COUNTERS, 0))  # failure kinds not set below stay 0
    a = {
        **base,
        "calls": 3,
        "successes": 2,
        "failures": 1,
        "timeouts": 0,
        "fallbacks": 1,
        "busy_skips": 4,
        "mean_latency_s": 1.0,
        "max_latency_s": 2.0,
        "mean_delay_steps": 10.0,
    }
    b = {
        **base,
        "calls": 1,
        "successes": 0,
        "failures": 0,
        "timeouts": 1,
        "fallbacks": 0,
        "busy_skips": 0,
        "mean_latency_s": 5.0,
        "max_latency_s": 5.0,
        "mean_delay_steps": 50.0,
    }
    c = {
        **base,
        "calls": 0,
        "successes": 0,
        "failures": 0,
        "timeouts": 0,
        "fallbacks": 0,
        "busy_skips": 0,
        "mean_latency_s": None,
        "max_latency_s": None,
        "mean_delay_steps": None,
    }
    m = aif_llm_stats.merge_advisor_stats([a, b, c])
    assert (m["calls"], m["successes"], m["failures"], m["timeouts"], m["busy_skips"]) == (
        4,
        2,
        1,
        1,
        4,
    )
    assert m["mean_latency_s"] == pytest.approx((3 * 1.0 + 5.0) / 4)
    assert m["mean_delay_steps"] == pytest.approx((3 * 10.0 + 50.0) / 4)
    assert m["max_latency_s"] == 5.0 and m["advisor"] == "http"


def test_meta_train_conditions_and_compare():
    """Condition sampling and mapping onto EnvParams; compare_meta on a hand-made frame."""
    import pandas as pd

    from aifedge.inference import meta_train as mt

    ranges = mt.ConditionRanges()
    conds = jax.vmap(lambda k: mt.sample_condition(k, ranges))(
        jax.random.split(jax.random.PRNGKey(0), 64)
    )
    for name in mt.Condition._fields:
        lo, hi = getattr(ranges, name)
        v = np.asarray(getattr(conds, name))
        assert v.min() >= lo and v.max() <= hi and v.std() > 0
    base = aif_llm.make_params()
    same = mt.condition_params(base, mt.Condition(1.0, base.bg_util, base.edge_fail_prob, 0.0))
    np.testing.assert_allclose(same.compute_hi, base.compute_hi)
    np.testing.assert_allclose(same.net_transition, base.net_transition)
    vol = mt.condition_params(base, mt.Condition(2.0, 0.5, 0.02, 1.0))
    np.testing.assert_allclose(vol.net_transition, np.full((3, 3), 1 / 3))
    np.testing.assert_allclose(vol.compute_lo, 2.0 * np.asarray(base.compute_lo))
    with pytest.raises(ConfigError, match="bg_util"):
        mt.ConditionRanges(bg_util=(0.5, 0.2))
    rows = []
    for c in range(6):  # fixed λ = 1 is best; adapted is 0.01 worse on every condition
        for lam, v in ((0.0, 0.2), (1.0, 0.1)):
            rows.append({"condition": c, "method": "fixed", "lam": lam, "violation_rate": v})
        rows.append(
            {"condition": c, "method": "meta", "lam": np.nan, "violation_rate": 0.1 + 0.001 * c}
        )
        rows.append(
            {
                "condition": c,
                "method": "meta-adapted",
                "lam": np.nan,
                "violation_rate": 0.11 + 0.001 * (c % 2),
            }
        )
    out = mt.compare_meta(pd.DataFrame(rows))
    assert out["best_fixed_lambda"] == 1.0 and out["best_fixed"] == pytest.approx(0.1)
    assert out["meta-adapted_minus_best_fixed"] == pytest.approx(0.0105)
    assert out["verdict"].endswith("(it is worse)")
