"""Learning the requirement prior per task text on ``paper`` (``aif_llm_paper_learning``):
one update against a hand Bayes posterior on hand-made outcomes (cloud and edge), the counts
across an episode boundary, lr = 0 against the plain agent, the true per-text rates against
the simulator's own task sampler."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aifedge.environments import aif_llm_paper as P
from aifedge.environments import batch_rollout
from aifedge.environments.rollout import episode, init_key
from aifedge.generative_models.aif_llm_paper_model import HEALTH_LEVELS, REQ_LEVELS
from aifedge.inference.agent import segments
from aifedge.inference.aif_llm_paper_agent import build_paper_agent
from aifedge.inference.aif_llm_paper_learning import build_req_learner, text_req_rates

PARAMS = P.make_params(max_steps=60, tightness=2.0, tail=0.5)
TEXT = 17  # a text of type 1
D_HAND = np.array([0.4, 0.3, 0.2, 0.1])


@pytest.fixture(scope="module")
def agent():
    return build_paper_agent(PARAMS)


def _state_after_dispatch(learner, node: int, bins: np.ndarray, health: np.ndarray):
    """Learner state as if task ``TEXT`` had gone to ``node`` with prior ``D_HAND``: the sent
    factor's prior = P(bin) ⊗ D(q) [⊗ P(health)] on its busy levels (the core's B(u) Q(s))."""
    model = learner.agent.model
    _, fsl = segments(model.num_states)
    f = len(model.factor_names) - learner.agent.params.n_nodes + node  # sent:<node>
    levels = model.factor_levels[f]
    sent = np.zeros(len(levels))
    for i, label in enumerate(levels[1:], start=1):
        b, q, *h = label.split("|")
        p_q = D_HAND[REQ_LEVELS.index(q)] if q in REQ_LEVELS else D_HAND[q == "strict" :: 2].sum()
        p_h = health[HEALTH_LEVELS.index(h[0])] if h else 1.0
        sent[i] = bins[model.factor_levels[node].index(b)] * p_q * p_h
    s = learner.init()
    prior = s.inner.agent.prior.at[fsl[f]].set(jnp.asarray(sent))
    inner = s.inner._replace(agent=s.inner.agent._replace(prior=prior))
    return s._replace(inner=inner, pending_text=jnp.int32(TEXT), pending_prior=jnp.asarray(D_HAND))


def _obs(node: int, outcome: int):
    obs, _ = P.reset(jax.random.PRNGKey(3), PARAMS)
    return obs._replace(last_node=jnp.int32(node), last_outcome=jnp.int32(outcome))


@pytest.mark.parametrize(("node", "outcome"), [(-1, P.FAILED), (-1, P.MET), (2, P.VIOLATED)])
def test_one_update_equals_the_hand_bayes_posterior(agent, node, outcome):
    """d[TEXT] += lr · q(req), q(r) ∝ D(r) Σ_{b,h} P(b) P(h) A[o | b, q(r), h] by hand from the
    model's outcome table (the cloud: q = req, a private task fails; an edge: q = strict)."""
    n_n = PARAMS.n_nodes
    node = node % n_n
    learner = build_req_learner(agent, prior_count=2.0, lr=0.5)
    model = agent.model
    n_b = len(model.factor_levels[node])
    bins = np.arange(1.0, n_b + 1) / np.arange(1.0, n_b + 1).sum()
    health = np.array([0.6, 0.3, 0.1])
    s = _state_after_dispatch(learner, node, bins, health)
    _, s_new, _ = learner.step(jax.random.PRNGKey(0), s, _obs(node, outcome))
    a = np.asarray(model.A[len(model.A) - n_n + node])
    cloud = node == n_n - 1
    like = np.zeros(4)
    for r in range(4):
        for b in range(n_b):
            if cloud:
                like[r] += bins[b] * a[outcome, 1 + b * 4 + r]
            else:
                for h in range(3):
                    like[r] += bins[b] * health[h] * a[outcome, 1 + (b * 2 + r % 2) * 3 + h]
    q = D_HAND * like / (D_HAND * like).sum()
    expected = np.asarray(learner.d0).copy()
    expected[TEXT] += 0.5 * q
    np.testing.assert_allclose(np.asarray(s_new.counts), expected, rtol=1e-4, atol=1e-6)
    if cloud and outcome == P.FAILED:  # a failure on the cloud is evidence of privacy
        assert q[2:].sum() > D_HAND[2:].sum()
    assert int(s_new.pending_text) == int(_obs(node, outcome).task.text_id)


def test_counts_carry_across_an_episode_and_its_first_decision_adds_nothing(agent):
    """After one episode of T decisions the counts grew by lr · (T − 1) (every task but the
    last one scored, its outcome never seen); the next episode starts from them and its first
    decision (``last_node`` = −1) adds nothing."""
    learner = build_req_learner(agent, prior_count=1.0, lr=2.0)
    pol = learner.policy()
    key = jax.random.PRNGKey(5)
    steps = 30
    run = jax.jit(lambda k, s: episode(k, pol, PARAMS, steps, s, P)[1])
    s1 = run(key, pol.init(init_key(key), PARAMS))
    d0, c1 = np.asarray(learner.d0), np.asarray(s1.counts)
    np.testing.assert_allclose(c1.sum() - d0.sum(), 2.0 * (steps - 1), rtol=1e-5)
    assert not np.allclose(c1, d0)
    obs, _ = P.reset(jax.random.PRNGKey(6), PARAMS)
    assert int(obs.last_node) == -1
    _, s2, _ = learner.step(jax.random.PRNGKey(7), s1, obs)
    np.testing.assert_array_equal(np.asarray(s2.counts), c1)


def test_zero_learning_rate_decides_as_the_plain_agent(agent):
    """lr = 0 (counts stay c · D, the prior D): the same actions as the agent itself on the
    same keys over two carried episodes."""
    learner = build_req_learner(agent, prior_count=1.0, lr=0.0)
    keys = jax.random.split(jax.random.PRNGKey(9), 2)
    nodes = [
        np.asarray(jax.jit(lambda k, p=p: batch_rollout(k, p, PARAMS, 40, P, True).node)(keys))
        for p in (learner.policy(), agent.policy())
    ]
    np.testing.assert_array_equal(nodes[0], nodes[1])


def test_true_text_rates_match_the_simulators_task_sampler():
    """``text_req_rates`` (Bayes on the stated flags) against the frequencies of
    P(private), P(strict) per text in 4,000 sampled slot buffers of the late type mix."""
    params = PARAMS._replace(new_types_slot=0)
    keys = jax.random.split(jax.random.PRNGKey(1), 4000)
    task, hidden = jax.vmap(lambda k: P._sample_tasks(k, jnp.int32(1), params))(keys)
    text = np.asarray(task.text_id).ravel()
    private = np.asarray(hidden.private).ravel()
    strict = (np.asarray(hidden.deadline_ms) < np.asarray(task.deadline_ms) - 1e-3).ravel()
    rates = text_req_rates(params)
    for x in np.unique(text):
        n = (text == x).sum()
        if n < 400:
            continue
        se = 0.5 / np.sqrt(n)
        assert abs(private[text == x].mean() - rates[x, 2:].sum()) < 4 * se
        assert abs(strict[text == x].mean() - rates[x, 1::2].sum()) < 4 * se


def test_the_confirming_run_config_is_the_planned_one():
    """``paper_repro/configs/aif_learning_paper_req.toml`` (the confirming run of
    ``paper_repro/paper_req_learning_plan.md``): held-out seed 6000, c_req = 16, lr_req = 1."""
    from pathlib import Path

    from aifedge.config import load_overrides
    from aifedge.paper_repro import aif_learning
    from aifedge.paper_repro.common import with_overrides

    root = Path(aif_learning.__file__).resolve().parents[1]
    toml = load_overrides(root / "paper_repro/configs/aif_learning_paper_req.toml")
    cfg = with_overrides(aif_learning.FULL, **toml)
    assert cfg.kind == "paper" and cfg.seed == 6000 and cfg.runs >= 20
    assert (cfg.req_count, cfg.lr_req, cfg.prior_count, cfg.lr_A) == (16.0, 1.0, 4.0, 1.0)
    assert cfg.variants == ("fixed", "learn-req", "fixed-llm", "learn-req-llm", "learn-A-req")


def test_new_type_columns_against_scipy():
    """``summarise`` with new-type curves: episode-0 mean, the last-``tail`` mean per run
    (NaN episodes skipped) and Welch's p against the twin equal to numpy / scipy by hand."""
    from scipy import stats

    from aifedge.paper_repro import aif_learning

    cfg = dataclasses.replace(
        aif_learning.PAPER, runs=4, episodes=6, tail=2, variants=("fixed", "learn-req")
    )
    rng = np.random.default_rng(0)
    qos = {v: rng.uniform(0.8, 0.9, (4, 6)) for v in cfg.variants}
    new = {"fixed": rng.uniform(0.6, 0.7, (4, 6)), "learn-req": rng.uniform(0.7, 0.8, (4, 6))}
    new["fixed"][1, -1] = np.nan  # an episode without a new-type task
    row = aif_learning.summarise(qos, cfg, new).set_index("variant").loc["learn-req"]
    last = {v: 100 * np.nanmean(c[:, -2:], 1) for v, c in new.items()}
    assert np.isclose(last["fixed"][1], 100 * new["fixed"][1, -2])
    assert np.isclose(row["new_qos_ep0"], 100 * new["learn-req"][:, 0].mean())
    assert np.isclose(row["new_qos_last_2"], last["learn-req"].mean())
    p = stats.ttest_ind(last["learn-req"], last["fixed"], equal_var=False).pvalue
    assert np.isclose(row["new_welch_p"], p)
