"""``aif`` / ``aif-llm`` on scenario ``paper``: the model's likelihoods against brute force and
a hand-computed Bayes update, D_LLM on the hidden requirement, the privacy rule, jitted runs;
C against the scored QoS, the occupancy price and the miss causes by hand, the fitted α of
Eq. 3 against the exact noisy-text posterior."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from aifedge.environments import aif_llm_paper as P
from aifedge.environments import batch_rollout
from aifedge.environments.task_texts import PAPER_PHRASES_PER_TYPE
from aifedge.generative_models import aif_llm_paper_model as cep
from aifedge.inference.agent import likelihoods, segments
from aifedge.inference.aif_llm_paper_agent import build_paper_agent, req_prior_table

PARAMS = P.make_params(max_steps=60, tightness=2.0, tail=0.5)


@pytest.fixture(scope="module")
def agent():
    return build_paper_agent(PARAMS)


def _col(model, node: int, b: int, q: int, h: int | None = None) -> np.ndarray:
    """A[outcome:node] column of (bin b, q (req on the cloud, strict elsewhere)[, health h])."""
    n_n, n_e = PARAMS.n_nodes, PARAMS.n_edge
    a = np.asarray(model.A[n_n + n_e + node])
    n_q = 4 if node == n_n - 1 else 2
    idx = 1 + (b * n_q + q) * (3 if h is not None else 1) + (h or 0)
    return a[:, idx]


def test_outcome_likelihood_against_monte_carlo():
    """P(met/violated/failed | bin, req, health) vs a Monte-Carlo of the same generative story
    drawn with scipy (uniform slack in the bin, log-normal jitter, GPD spike, exponential kill)."""
    model = cep.build_paper_model(PARAMS, n_quad=16)
    rng = np.random.default_rng(0)
    n = 200_000
    tail, sigma = cep.spike_tail(PARAMS), cep.compute_noise(PARAMS)
    edges = np.asarray(model.options.slack_edges)
    mix = np.asarray(PARAMS.type_probs)
    nominal = np.asarray(PARAMS.deadline_ms)[rng.choice(len(mix), n, p=mix)]
    spike = np.where(
        rng.random(n) < tail.exceed_prob,
        stats.genpareto.rvs(tail.concentration, scale=tail.scale_ms, size=n, random_state=rng),
        0.0,
    )

    def brute(b, strict, speed=1.0, kill_mean_ms=None):
        s = rng.uniform(edges[b - 1], edges[b], n)
        d = nominal * (PARAMS.strict_factor if strict else 1.0)
        lat = s * nominal / speed * np.exp(sigma * rng.standard_normal(n)) + spike
        failed = lat > PARAMS.timeout_factor * d
        if kill_mean_ms is not None:  # the model's k_b uses the bin middle and the mean deadline
            mean_d = mix @ np.asarray(PARAMS.deadline_ms)
            k = 1 - np.exp(-0.5 * (edges[b - 1] + edges[b]) * mean_d / kill_mean_ms)
            failed |= rng.random(n) < k
        met = ~failed & (lat <= d)
        return np.array([met.mean(), (~failed & ~met).mean(), failed.mean()])

    for b, strict in ((5, 0), (9, 0), (9, 1), (11, 1)):
        np.testing.assert_allclose(_col(model, 0, b, strict)[:3], brute(b, strict), atol=0.02)
    deg = brute(9, 0, PARAMS.degraded_speed, PARAMS.mean_degraded_s * 1000.0)
    np.testing.assert_allclose(_col(model, 2, 9, 0, 1)[:3], deg, atol=0.02)
    # hard rules: a down edge and a private task in the cloud fail with certainty
    np.testing.assert_allclose(_col(model, 2, 3, 0, 2), [0, 0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(_col(model, PARAMS.n_nodes - 1, 3, 2), [0, 0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(_col(model, PARAMS.n_nodes - 1, 3, 3), [0, 0, 1, 0], atol=1e-6)
    cloud = PARAMS.n_nodes - 1  # an open task in the cloud is judged like one on the device
    np.testing.assert_allclose(_col(model, cloud, 3, 1), _col(model, 0, 3, 1), atol=1e-6)


def test_health_belief_after_hot_telemetry_is_bayes(agent):
    """One "hot" reading of edge 1: posterior = A[hot, ·] ⊙ D / Σ, computed by hand."""
    model = agent.model
    sigma = PARAMS.telemetry_noise
    right = stats.norm.cdf((cep.HOT - 1.0) / sigma)
    seen = 1 - PARAMS.detect_delay * PARAMS.slot_ms / (PARAMS.mean_repair_s * 1000.0)
    like_hot = np.array([1 - right, right, 1 - seen]) + cep.EPS
    like_hot /= np.array([1 + 3 * cep.EPS] * 3)  # columns of the unnormalised A sum to 1 + 3ε
    prior = np.array([PARAMS.mean_ok_s, PARAMS.mean_degraded_s, PARAMS.mean_repair_s])
    prior /= prior.sum()
    post = like_hot * prior / (like_hot * prior).sum()
    obs = -np.ones(len(model.A), np.int32)
    f = model.factor_index("health:edge1")
    obs[PARAMS.n_nodes] = 1  # obs_health:edge1 = hot
    qs = agent.core.infer_states(agent.core.init().prior, jnp.asarray(obs))
    _, fsl = segments(model.num_states)
    np.testing.assert_allclose(np.asarray(qs[fsl[f]]), post, rtol=1e-4)
    assert post[1] > 0.5 > prior[1]  # the belief in "degraded" rises past one half
    obs[PARAMS.n_nodes] = 0  # a cool reading lowers it below the prior
    qs = agent.core.infer_states(agent.core.init().prior, jnp.asarray(obs))
    assert float(qs[fsl[f]][1]) < prior[1]


def _text_id(cls: int, said_private: int, said_strict: int) -> int:
    return ((cls * 2 + said_private) * 2 + said_strict) * PAPER_PHRASES_PER_TYPE


@pytest.mark.slow
def test_d_llm_raises_private_belief_for_private_texts():
    """Eq. 3 on the ``paper`` texts: "contains personal data" raises P(private) well above the
    base rate; a plain text lowers it; rows are distributions."""
    table = req_prior_table(PARAMS, d_llm=True)
    base = cep.base_rate(PARAMS)
    np.testing.assert_allclose(table.sum(1), 1.0, atol=1e-5)
    private = lambda row: row[2] + row[3]  # noqa: E731
    said, plain = table[_text_id(0, 1, 0)], table[_text_id(0, 0, 0)]
    assert private(said) > 3 * private(base) and private(plain) < private(base)
    assert said[1] + said[3] < table[_text_id(0, 1, 1)][1] + table[_text_id(0, 1, 1)][3]


def _first_obs(n: int = 8):
    keys = jax.random.split(jax.random.PRNGKey(11), n)
    obs, _ = jax.vmap(lambda k: P.reset(k, PARAMS))(keys)
    return obs


@pytest.mark.slow
def test_d_llm_changes_the_first_decisions(agent):
    """Same first observations (edge queues at half the deadline, the cloud is the fastest node),
    a chat text saying "private": the agent without D_LLM sends every task to the cloud, with
    D_LLM at α = 1 the agent keeps at least half of them off it (the requirement is hidden;
    with κ = 1 the edge at slack ≈ 0.65 is a close call for a chat task, half of them strict)."""
    with_llm = build_paper_agent(PARAMS, d_llm=True, alpha=1.0)
    obs = _first_obs()
    queue = jnp.broadcast_to(0.5 * obs.task.deadline_ms[:, None], obs.queue_ms.shape)
    task = obs.task._replace(
        text_id=jnp.full(8, _text_id(0, 1, 0), jnp.int32), task_class=jnp.zeros(8, jnp.int32)
    )
    obs = obs._replace(queue_ms=queue, task=task)
    keys = jax.random.split(jax.random.PRNGKey(0), 8)
    act = lambda ag: jax.vmap(lambda k, o: ag.step(k, ag.init(), o)[0])(keys, obs)  # noqa: E731
    base, llm = np.asarray(act(agent)), np.asarray(act(with_llm))
    cloud = PARAMS.n_nodes - 1
    assert np.all(base == cloud) and np.sum(llm != cloud) >= 4


@pytest.mark.slow
def test_confident_private_prior_never_uses_the_cloud():
    """P(private) ≈ 1 from the text: over whole jitted episodes no task goes to the cloud,
    and the run's tasks still complete (not everything fails). κ = 3 here: at ``paper``'s
    κ = 1 a certain failure in the cloud ties with a certain miss elsewhere (QoS counts both
    alike), and then the cloud may win on the occupancy price."""
    sure = dataclasses.replace(
        build_paper_agent(PARAMS, fail_cost=3.0),
        req_prior=jnp.tile(jnp.asarray([0.0, 0.0, 1.0, 0.0]), (72, 1)),
    )
    keys = jax.random.split(jax.random.PRNGKey(3), 2)
    info = jax.jit(lambda k: batch_rollout(k, sure.policy(), PARAMS, 60, env=P))(keys)
    assert not np.any(np.asarray(info.node) == PARAMS.n_nodes - 1)
    assert np.mean(np.asarray(info.outcome) == P.MET) > 0.3


@pytest.mark.slow
def test_agents_run_jitted_on_paper_through_the_cli_factories():
    """``get_policy`` builds ``aif`` and ``aif-llm`` for scenario ``paper``; jitted episodes run,
    and ``aif`` meets more deadlines than the random policy on the same episodes."""
    from aifedge.simulate import get_policy

    keys = jax.random.split(jax.random.PRNGKey(5), 4)
    qos = {}
    for name in ("aif", "aif-llm", "random"):
        pol = get_policy(name, "aif-llm", PARAMS)
        info = jax.jit(lambda k, pol=pol: batch_rollout(k, pol, PARAMS, 60, env=P))(keys)
        qos[name] = float(np.mean(np.asarray(info.outcome) == P.MET))
    assert qos["aif"] > qos["random"] + 0.1
    assert 0.0 < qos["aif-llm"] <= 1.0


def test_pA_of_the_outcome_modalities_is_the_prior_likelihood(agent):
    """Learning starts from c_0 · A (weak Dirichlet prior): E[Dir(pA)] equals A."""
    a = likelihoods(agent.init().agent)
    n0 = PARAMS.n_nodes + PARAMS.n_edge
    np.testing.assert_allclose(np.asarray(a[0][0]), np.asarray(agent.model.A[n0]), atol=1e-6)


def test_req_prior_is_the_types_rate_and_base_rate_for_new_types():
    """P(req | type) by hand (private and strict independent within a type); types absent
    from the initial mix (cold start) get the mix's base rate; every text row of ``aif``'s
    table is its type's row."""
    rates = cep.type_rates(PARAMS)
    p, s = PARAMS.private_prob[0], PARAMS.strict_prob[0]
    np.testing.assert_allclose(rates[0], [(1 - p) * (1 - s), (1 - p) * s, p * (1 - s), p * s])
    new = [k for k, w in enumerate(PARAMS.type_probs) if w == 0]
    assert new and all(np.allclose(rates[k], cep.base_rate(PARAMS)) for k in new)
    table = req_prior_table(PARAMS, d_llm=False)
    np.testing.assert_allclose(table[_text_id(2, 1, 1) + 2], rates[2], rtol=1e-6)


def test_preferences_score_what_qos_scores(agent):
    """C[outcome:*] = (0, −1, −1, 0) on ``paper`` (κ = 1: QoS counts a violation and a failure
    alike), so G_prag(cloud) − G_prag(local) equals the difference of P(miss) computed by hand
    from the posterior and the outcome likelihoods."""
    model, n_n, n_e = agent.model, PARAMS.n_nodes, PARAMS.n_edge
    for m in range(n_n + n_e, 2 * n_n + n_e):
        np.testing.assert_array_equal(model.C[m], [0.0, -1.0, -1.0, 0.0])
    obs = jax.tree.map(lambda x: x[0], _first_obs(1))
    obs = obs._replace(task=obs.task._replace(text_id=jnp.int32(_text_id(0, 1, 1))))
    _, _, info = agent.step(jax.random.PRNGKey(0), agent.init(), obs)
    _, fsl = segments(model.num_states)
    qs = np.asarray(info.qs)
    req = qs[fsl[model.factor_index("req")]]

    def p_miss(node: int) -> float:
        slack = qs[fsl[node]]
        n_q = 4 if node == n_n - 1 else 2
        a = np.asarray(model.A[n_n + n_e + node])
        return sum(
            slack[b] * req[r] * a[1:3, 1 + b * n_q + r % n_q].sum()
            for b in range(len(slack))
            for r in range(4)
        )

    g = np.asarray(info.G_pragmatic)
    np.testing.assert_allclose(g[n_n - 1] - g[0], p_miss(n_n - 1) - p_miss(0), atol=1e-5)


def _text_joint(params, cls: int, said_p: int, said_s: int) -> np.ndarray:
    """(4,) P(req, stated flags | type) of the text model (each flag flipped w.p. noise)."""
    noise = params.text_noise
    flip = lambda said, true: 1 - noise if said == true else noise  # noqa: E731
    like = np.array([flip(said_p, r // 2) * flip(said_s, r % 2) for r in range(4)])
    return cep.type_rates(params)[cls] * like


@pytest.mark.slow
def test_fitted_alpha_brings_d_llm_closer_to_the_exact_text_posterior():
    """α fitted on the keyword table's own logs (``fitted_alpha``): D_LLM's expected
    cross-entropy against the exact noisy-text posterior (types of the initial mix) is below
    that of α = 1, and no table beats the exact posterior (Gibbs)."""
    from aifedge.inference.aif_llm_paper_agent import fitted_alpha

    alpha = fitted_alpha(PARAMS)
    tables = {a: req_prior_table(PARAMS, d_llm=True, alpha=a) for a in (alpha, 1.0)}
    ce = dict.fromkeys([*tables, "exact"], 0.0)
    for cls, w in enumerate(PARAMS.type_probs):
        for said_p, said_s in np.ndindex(2, 2):
            joint = _text_joint(PARAMS, cls, said_p, said_s)
            p_text, post = w * joint.sum(), joint / joint.sum()
            row = _text_id(cls, said_p, said_s)
            for a, t in tables.items():
                ce[a] -= p_text * float(post @ np.log(t[row] + 1e-12))
            ce["exact"] -= p_text * float(post @ np.log(post + 1e-12))
    assert alpha != 1.0 and ce[alpha] < ce[1.0]
    assert ce["exact"] <= ce[alpha] + 1e-9


def test_occupancy_price_is_eta_times_the_seconds_a_shared_queue_is_held(agent):
    """G − G_prag of each node = η · (seconds held: C / F_e on an edge, 8 · data / B on the
    uplink at the nominal RTT's bandwidth, 0 on the own device) + the latency tie-break, by hand."""
    from aifedge.inference.aif_llm_paper_agent import OCCUPANCY_PRICE, TIE_BREAK

    obs = jax.tree.map(lambda x: x[0], _first_obs(1))
    _, _, info = agent.step(jax.random.PRNGKey(0), agent.init(), obs)
    task = obs.task
    hold = np.concatenate(
        [
            [0.0],
            float(task.compute_gflop) / np.asarray(PARAMS.edge_gflops),
            [8.0 * float(task.data_in_mb) / PARAMS.uplink_mbps],
        ]
    )
    lat, feasible = cep.predicted_latency_ms(obs, PARAMS)
    slack = np.where(feasible, np.minimum(np.asarray(lat) / float(task.deadline_ms), 3.0), 3.0)
    extra = np.asarray(info.G) - np.asarray(info.G_pragmatic)
    np.testing.assert_allclose(extra, OCCUPANCY_PRICE * hold + TIE_BREAK * slack, atol=1e-5)
    assert OCCUPANCY_PRICE > 0


def test_a_carried_state_drops_its_bookings_when_a_new_episode_starts(agent):
    """Bookings are in episode time: a state carried from a long episode (busy edges and
    uplink until slot 10^6, advice in force) decides a first-slot task exactly as a fresh
    state does, and books from zero (learning curves carry the policy state)."""
    obs = jax.tree.map(lambda x: x[0], _first_obs(1))
    fresh = agent.init()
    carried = fresh._replace(
        edge_free_ms=jnp.full(PARAMS.n_edge, 1e9),
        uplink_free_ms=jnp.float32(1e9),
        advice=jnp.int32(0),
        advice_until=jnp.int32(10**6),
        last_slot=jnp.int32(10**6),
    )
    key = jax.random.PRNGKey(0)
    a_fresh, s_fresh, _ = agent.step(key, fresh, obs)
    a_carried, s_carried, _ = agent.step(key, carried, obs)
    assert int(a_fresh) == int(a_carried)
    for field in ("edge_free_ms", "uplink_free_ms", "advice", "advice_until", "last_slot"):
        np.testing.assert_array_equal(getattr(s_carried, field), getattr(s_fresh, field))
    _, s_busy, _ = agent.step(key, carried._replace(last_slot=jnp.int32(-1)), obs)
    assert (np.asarray(s_busy.edge_free_ms) >= 1e9).all()  # same episode: bookings stand
    assert float(s_busy.uplink_free_ms) >= 1e9


def test_paper_miss_causes_by_hand():
    """Five hand-made tasks, one per cause (cloud = node 2 of 3); shares sum to 1 − QoS."""
    from types import SimpleNamespace

    from aifedge.environments.metrics import paper_miss_causes

    met, vio, fail = P.MET, P.VIOLATED, P.FAILED
    info = SimpleNamespace(
        outcome=np.array([fail, fail, fail, vio, vio, met]),
        node=np.array([2, 1, 1, 0, 2, 2]),
        privacy=np.array([1, 0, 0, 0, 0, 1], bool),
        killed=np.array([0, 1, 0, 0, 0, 0], bool),
        oom=np.array([0, 0, 0, 0, 0, 0], bool),
        deadline_ms=np.array([100.0, 100, 100, 50, 100, 100]),
        latency_ms=np.array([10.0, 500, 900, 80, 150, 20]),
    )
    got = paper_miss_causes(info, np.full(6, 100.0), n_nodes=3)
    want = dict(private_cloud=1, edge_failure=1, kv_oom=0, other_failure=1, strict_violation=1,
                violation=1)  # fmt: skip
    for name, n in want.items():
        assert got[name] == pytest.approx(n / 6), name
    assert sum(got.values()) == pytest.approx(1 - 1 / 6)


@pytest.mark.slow
def test_paper_agents_artifact_runs_from_the_cli_with_welch_p_from_its_episodes(tmp_path):
    """``aifedge repro paper-agents`` (references only, 3 episodes): one row per variant,
    QoS the mean of the episode rows, p the Welch test of scipy on them."""
    import pandas as pd
    from scipy import stats

    from aifedge.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text('episodes = 3\nvariants = ["greedy", "oracle"]\n')
    assert main(["repro", "paper-agents", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 0
    table = pd.read_csv(tmp_path / "o" / "paper-agents.csv").set_index("variant")
    data = pd.read_csv(tmp_path / "o" / "paper-agents_data.csv")
    qos = {v: g["qos"].to_numpy() for v, g in data.groupby("variant")}
    assert list(table.index) == ["greedy", "oracle"] and len(qos["oracle"]) == 3
    np.testing.assert_allclose(table.loc["oracle", "qos"], 100 * qos["oracle"].mean())
    want = stats.ttest_ind(qos["oracle"], qos["greedy"], equal_var=False).pvalue
    np.testing.assert_allclose(table.loc["oracle", "p_vs_greedy"], want, rtol=1e-6)
    bad = tmp_path / "bad.toml"
    bad.write_text('variants = ["nope"]\n')
    assert main(["repro", "paper-agents", "--config", str(bad), "--out", str(tmp_path / "b")]) == 2


# ------------------------------------------------------------- advice v2 and meta-λ (item 5)
@pytest.fixture(scope="module")
def llm_agent():
    """``aif-llm`` (advisor v2, λ constant 1) with the shipped MiniLM encoder."""
    return build_paper_agent(PARAMS, semantic=True, meta=None)


def test_advice_rows_for_hand_made_events():
    """Event ids of ``task_texts.event_texts``: 0 none, 1..E maintenance, E+1 forecast, E+2
    congestion; a kind outside the active rules gives no advice (−1)."""
    from aifedge.inference.aif_llm_paper_agent import advice_row, event_kind

    e = PARAMS.n_edge
    events = jnp.asarray([0, 1, 3, e, e + 1, e + 2])
    np.testing.assert_array_equal(event_kind(events, e), [-1, 0, 0, 0, 1, 2])
    np.testing.assert_array_equal(advice_row(events, e), [-1, 1, 3, e, e + 1, e + 2])
    only = advice_row(events, e, ("maintenance",))
    np.testing.assert_array_equal(only, [-1, 1, 3, e, -1, -1])


def test_v2_maintenance_advice_lowers_only_the_named_edge(llm_agent):
    """v_pref of "maintenance notice: edge node 3": by hand, the minimum-norm vector of the
    span of the real MiniLM embeddings of the node-state sentences with inner product 1 on
    every state but edge 3's and 0 on edge 3's (``np.linalg.lstsq``). Eq. 5's score of a
    policy that surely sends to node j is then 1/|v| for every node but edge 3 and 0 for
    edge 3 (MiniLM alone puts "edge node 3" at cosine > 0.95 of "edge node 1")."""
    from aifedge.inference.aif_llm_paper_agent import state_description
    from aifedge.llm_bridge import SentenceEncoder
    from aifedge.llm_bridge.semantic import g_semantic

    model = llm_agent.model
    texts, node = [], []
    for j, n in enumerate(f for f in model.factor_names if f.startswith("sent:")):
        levels = model.factor_levels[model.factor_index(n)]
        for d in dict.fromkeys(state_description(n[5:], lv) for lv in levels):
            if d:
                texts.append(d)
                node.append(j)
    emb = SentenceEncoder().encode(texts).astype(np.float64)
    target = (np.asarray(node) != 3).astype(float)
    w = np.linalg.lstsq(emb @ emb.T, target, rcond=None)[0]
    v = emb.T @ w
    c = 1.0 / np.linalg.norm(v)
    tables = llm_agent.sem_tables.tables
    scores = []
    for j, t in enumerate(tables):  # policy "node j" with its first described level sure
        marg = [jnp.zeros((1, tt.shape[0])) for tt in tables]
        marg[j] = marg[j].at[0, int(np.argmax(np.any(np.asarray(t) != 0, axis=1)))].set(1.0)
        scores.append(float(g_semantic(marg, llm_agent.sem_tables, llm_agent.advice_table[3])[0]))
    want = np.where(np.arange(PARAMS.n_nodes) == 3, 0.0, c)
    np.testing.assert_allclose(scores, want, atol=2e-3)
    assert c > 0.1  # the named edge is dispreferred by a usable margin (λ · c nats)
    np.testing.assert_array_equal(np.asarray(llm_agent.advice_table[PARAMS.n_edge + 1]), 0.0)


def test_uncertainty_is_invariant_to_the_task_class(llm_agent):
    """U_t (Eq. 6) at a fixed environment: the same for a 600-ms chat task and a 6-s batch
    task, and equal to 0.7 · RTT / 600 ms + 0.3 · N_down / (E + 1) by hand."""
    obs = jax.tree.map(lambda x: x[0], _first_obs(1))
    obs = obs._replace(rtt_ms=jnp.float32(480.0), up=obs.up.at[1].set(0))
    key = jax.random.PRNGKey(0)
    u = []
    for cls in (0, 3):
        task = obs.task._replace(
            task_class=jnp.int32(cls), deadline_ms=jnp.float32(PARAMS.deadline_ms[cls])
        )
        _, s, _ = llm_agent.step(key, llm_agent.init(), obs._replace(task=task))
        u.append(float(llm_agent.uncertainty(s.window)))
    want = 0.7 * 480.0 / float(np.min(PARAMS.deadline_ms)) + 0.3 * 1 / (PARAMS.n_edge + 1)
    np.testing.assert_allclose(u, [want, want], rtol=1e-6)


def test_meta_lambda_checkpoint_loads_and_maps_u_into_its_range():
    """The stored f_meta of ``paper`` loads; λ_t ∈ [λ_min, λ_max] = [0, 2] over U ∈ [0, 5];
    the agent's λ_t is the checkpoint's; the best constant is on the grid."""
    from aifedge.config import load_overrides
    from aifedge.inference.meta import checkpoint_metadata, meta_lambda
    from aifedge.inference.meta_train import FIXED_GRID
    from aifedge.inference.paper_meta_lambda import FROZEN_CONFIG, PAPER_META_FILE, load_paper_meta
    from aifedge.paper_repro.calibration import FROZEN

    assert load_overrides(FROZEN_CONFIG) == load_overrides(FROZEN)  # trained at the frozen point
    net, cfg = load_paper_meta()
    assert (cfg.lambda_min, cfg.lambda_max) == (0.0, 2.0)
    lam = np.asarray(meta_lambda(net, jnp.linspace(0.0, 5.0, 51), cfg))
    assert np.all((lam >= 0.0) & (lam <= 2.0))
    assert checkpoint_metadata(PAPER_META_FILE)["best_constant"] in FIXED_GRID
    agent = build_paper_agent(PARAMS, semantic=True)
    np.testing.assert_allclose(agent.lam_t(jnp.float32(0.3)), meta_lambda(net, 0.3, cfg))


def test_paper_agents_table4_variants():
    """Table 4 on ``paper``: full = D_LLM + advice + meta-λ; ``-meta`` = λ fixed at the
    checkpoint's best constant; ``-semantic`` / ``-prior`` drop one; ``aif`` both."""
    from aifedge.inference.meta import checkpoint_metadata
    from aifedge.inference.paper_meta_lambda import PAPER_META_FILE
    from aifedge.paper_repro.paper_agents import VARIANTS

    for name in ("aif", "aif-llm", "aif-llm -prior", "aif-llm -semantic", "aif-llm -meta"):
        assert name in VARIANTS
    assert VARIANTS["aif-llm -meta"]["meta"] is None and VARIANTS["aif-llm -meta"]["lam"] == "best"
    assert isinstance(checkpoint_metadata(PAPER_META_FILE)["best_constant"], float)
    assert not VARIANTS["aif-llm -semantic"].get("semantic", False)
    assert not VARIANTS["aif-llm -prior"].get("d_llm", False)


def test_paper_ablations_map_to_the_agents_keywords():
    """``--ablate`` on ``paper`` (the CLI's and Table 4's factory): "meta-lambda" is the agent
    with no meta-net and λ = the checkpoint's best constant; "prior" / "semantic" drop one."""
    from aifedge.inference.aif_llm_paper_agent import paper_ablation
    from aifedge.inference.meta import checkpoint_metadata
    from aifedge.inference.paper_meta_lambda import PAPER_META_FILE, fixed_lambda

    assert fixed_lambda() == checkpoint_metadata(PAPER_META_FILE)["best_constant"]
    assert paper_ablation(()) == {"d_llm": True, "semantic": True}
    assert paper_ablation(("prior", "semantic")) == {"d_llm": False, "semantic": False}
    kw = paper_ablation(("meta-lambda",))
    assert kw == {"d_llm": True, "semantic": True, "meta": None, "lam": fixed_lambda()}
    agent = build_paper_agent(PARAMS, **kw)
    assert agent.meta is None and agent.lam == fixed_lambda() == float(agent.lam_t(0.5))


def test_unknown_advisor_is_a_config_error_naming_the_field():
    from aifedge.config import ConfigError

    with pytest.raises(ConfigError, match=r"advisor: choose 'v1' or 'v2' \(got 'v3'\)"):
        build_paper_agent(PARAMS, advisor="v3")


def test_advice_diagnosis_in_force_follows_the_agents_rule_by_hand():
    """An event is in force from the next decision for 10 slots (inclusive), a later event
    replaces it, and a new episode (the slot falls) clears it — ``PaperAgent.step``'s rule."""
    from aifedge.paper_repro.advice_diagnosis import in_force

    slot = np.array([0, 0, 1, 2, 3, 12, 13, 14, 0, 1])
    event = np.array([0, 2, 0, 7, 0, 0, 0, 0, 0, 0])
    want = [0, 0, 2, 2, 7, 7, 0, 0, 0, 0]  # 2 until slot 10; 7 (seen at slot 2) until 12
    np.testing.assert_array_equal(in_force(event, slot, n_edge=5), want)
