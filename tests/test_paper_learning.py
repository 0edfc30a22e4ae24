"""Online learning on scenario ``paper`` (issue 16 item 3): the Dirichlet update of the paper
model's outcome likelihoods against a hand computation (counts and the Bayes posterior they
use), learned counts that survive a new episode of a carried state while its bookings are
dropped, and ``aifedge repro aif-learning``'s ``paper`` path on a toy size."""

import dataclasses

import jax
import numpy as np
import pytest

from aifedge.config import ConfigError
from aifedge.environments import aif_llm_paper as P
from aifedge.environments.rollout import episode
from aifedge.generative_models import aif_llm_paper_model as cep
from aifedge.inference.agent import likelihoods, segments
from aifedge.inference.aif_llm_paper_agent import PAPER_CONFIG, build_paper_agent
from aifedge.paper_repro import aif_learning

PARAMS = P.make_params(max_steps=60, tightness=2.0, tail=0.5)
LR, C0 = 0.5, 2.0


@pytest.fixture(scope="module")
def agent():
    config = PAPER_CONFIG._replace(learn_A=True, lr_A=LR)
    return build_paper_agent(PARAMS, config=config, prior_count=C0)


def _outcome_modalities(agent):
    """[(modality, sent-factor slice, group, row in group)] of the learned outcome:* ones."""
    _, fsl = segments(agent.model.num_states)
    out = []
    for gi, g in enumerate(agent.core.learned):
        for row, m in enumerate(g):
            (f,) = agent.model.A_dependencies[m]
            out.append((m, fsl[f], gi, row))
    return out


@pytest.mark.slow
def test_pa_is_prior_count_times_a(agent):
    mods = _outcome_modalities(agent)
    assert len(mods) == PARAMS.n_nodes  # outcome:<node>, one per node
    pa = agent.init().agent.pA
    for m, _, g, row in mods:
        np.testing.assert_allclose(np.asarray(pa[g][row]), C0 * agent.model.A[m], rtol=1e-6)


@pytest.mark.slow
def test_dirichlet_update_after_one_outcome_equals_hand_counts(agent):
    """Decide, let the simulator run the task, decide again: every outcome:* count becomes
    pA + lr · onehot(o) ⊗ q(sent), with q(sent) ∝ prior(sent) · A[o, sent] computed here by
    hand (the only modality on sent:j is outcome:j), and the dispatched node's non-idle
    columns gain lr · (1 − q(idle))."""
    key = jax.random.PRNGKey(3)
    obs0, env = P.reset(key, PARAMS)
    a0, s1, _ = agent.step(key, agent.init(), obs0)
    obs1, *_ = P.step(jax.random.PRNGKey(4), env, a0, PARAMS)
    assert int(obs1.last_node) == int(a0)
    _, s2, info = agent.step(jax.random.PRNGKey(5), s1, obs1)
    seen = np.asarray(cep.outcome_indices(obs1, PARAMS))
    assert seen[int(a0)] < 3 and (np.delete(seen, int(a0)) == 3).all()
    a_now = [np.asarray(a, float) for a in likelihoods(s1.agent)]
    prior = np.asarray(s1.agent.prior, float)
    for m, sl, g, row in _outcome_modalities(agent):
        node = m - (PARAMS.n_nodes + PARAMS.n_edge)
        o = seen[node]
        q = prior[sl] * a_now[g][row][o]
        q /= q.sum()
        np.testing.assert_allclose(np.asarray(info.qs)[sl], q, atol=1e-5)
        before = np.asarray(s1.agent.pA[g][row], float)
        expected = before + LR * np.outer(np.eye(4)[o], q)
        np.testing.assert_allclose(np.asarray(s2.agent.pA[g][row]), expected, rtol=1e-5, atol=1e-6)
        if node == int(a0):
            gained = (np.asarray(s2.agent.pA[g][row]) - before)[:, 1:].sum()
            assert q[0] < 0.5 and np.isclose(gained, LR * (1 - q[0]), atol=1e-5)


@pytest.mark.slow
def test_learned_counts_survive_a_new_episode_while_bookings_are_dropped(agent):
    """A carried state after one 60-decision episode: the first decision of the next episode
    adds exactly one step of counts (lr per node, none lost), and books from zero."""
    pol = agent.policy()
    run = jax.jit(lambda k, s: episode(k, pol, PARAMS, PARAMS.max_steps, s, P))
    _, s_end = run(jax.random.PRNGKey(7), agent.init())
    learned = [
        np.asarray(p) - np.asarray(p0)
        for p, p0 in zip(s_end.agent.pA, agent.init().agent.pA, strict=True)
    ]
    assert sum(d[:, :3, 1:].sum() for d in learned) > 10 * LR  # outcomes of dispatched tasks
    assert float(s_end.uplink_free_ms) > 0 or (np.asarray(s_end.edge_free_ms) > 0).any()
    obs, _ = P.reset(jax.random.PRNGKey(8), PARAMS)
    assert int(obs.slot) < int(s_end.last_slot)  # the agent sees a new episode
    a, s_new, _ = agent.step(jax.random.PRNGKey(9), s_end, obs)
    added = [
        np.asarray(p) - np.asarray(q) for p, q in zip(s_new.agent.pA, s_end.agent.pA, strict=True)
    ]
    assert all((d >= -1e-6).all() for d in added)
    np.testing.assert_allclose(sum(d.sum() for d in added), LR * PARAMS.n_nodes, rtol=1e-5)
    untouched = np.arange(1, PARAMS.n_edge + 1) != int(a)
    np.testing.assert_array_equal(np.asarray(s_new.edge_free_ms)[untouched], 0.0)
    if int(a) != PARAMS.n_nodes - 1:
        assert float(s_new.uplink_free_ms) == 0.0


def test_learning_variants_are_checked_per_scenario():
    with pytest.raises(ConfigError, match="learn-wrong"):
        dataclasses.replace(aif_learning.PAPER, variants=("learn-wrong",))
    with pytest.raises(ConfigError, match="prior_count"):
        dataclasses.replace(aif_learning.PAPER, prior_count=0.0)
    assert aif_learning.FULL.kind == "v1" and aif_learning.PAPER.kind == "paper"


def test_the_confirming_run_config_is_the_planned_one():
    """``paper_repro/configs/aif_learning_paper.toml`` (the plan's confirming run) loads into
    a ``paper`` config on held-out seed 5000 with the chosen c_0 = 4, lr_A = 1, weak 0.25."""
    from pathlib import Path

    from aifedge.config import load_overrides
    from aifedge.paper_repro.common import with_overrides

    root = Path(aif_learning.__file__).resolve().parents[1]
    toml = load_overrides(root / "paper_repro/configs/aif_learning_paper.toml")
    cfg = with_overrides(aif_learning.FULL, **toml)
    assert cfg.kind == "paper" and cfg.seed == 5000 and cfg.runs >= 20
    assert (cfg.lr_A, cfg.prior_count, cfg.weak_count) == (1.0, 4.0, 0.25)
    assert cfg.variants == ("learn", "learn-weak", "fixed")


@pytest.mark.slow
def test_paper_learning_curves_on_a_toy_size():
    """2 runs × 10 episodes × 20 decisions: a frame per variant, curves per episode, Welch
    and paired p of ``learn`` against ``fixed`` equal to scipy's on the stored curves'
    run means, and ``fixed`` equal to the same agent's carried rollouts run here."""
    from scipy import stats

    cfg = dataclasses.replace(
        aif_learning.PAPER, runs=3, episodes=10, steps=20, tail=5, variants=("learn", "fixed")
    )
    curves = {v: aif_learning.qos_curves(v, cfg) for v in cfg.variants}
    frame = aif_learning.summarise(curves, cfg).set_index("variant")
    assert len(frame.attrs["data"]) == 2 * cfg.episodes
    last = {v: 100 * c[:, -5:].mean(1) for v, c in curves.items()}
    assert np.isclose(frame.loc["learn", "welch_p_vs_fixed"],
                      stats.ttest_ind(last["learn"], last["fixed"], equal_var=False).pvalue,
                      equal_nan=True)  # fmt: skip
    assert np.isnan(frame.loc["fixed", "welch_p_vs_fixed"])
    assert frame["convergence_ep"].notna().all()
    params = aif_learning.make_params(cfg)
    pol = build_paper_agent(params).policy()
    from aifedge.environments import batch_rollout

    keys = jax.random.split(jax.random.PRNGKey(cfg.seed + 1), cfg.episodes)
    infos = jax.jit(lambda k: batch_rollout(k, pol, params, cfg.steps, P, True))(keys)
    np.testing.assert_allclose(curves["fixed"][1], (np.asarray(infos.outcome) == P.MET).mean(-1))
