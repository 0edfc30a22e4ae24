"""He et al. reference rule, Eq. 9 utility and the GP-NFSP baseline (seed 002 §III.F, §V.A)."""

import jax
import numpy as np
import pytest

from aifedge.baselines.heuristics import HE2024_HEURISTICS, he_greedy
from aifedge.environments import he2024

P = he2024.make_params()


def _episode(act, params=P, seed=0):
    run = jax.jit(lambda k: he2024.rollout(k, act, params))
    return run(jax.random.PRNGKey(seed))


def test_he_greedy_matches_the_hand_checked_episode():
    """Hand check at the defaults (seed 0): the cloud pool (20 CPU, 20 MHz, 40 GB) fits
    40 GB / (⅔ · 2 GB) = 30 requests at [⅓, ⅓, ⅔], so requests 0–29 go to the cloud at
    L_c ≈ 2.2 s · (0.5 + 0.5 · 3) = 4.4 s (with a ≤ 24-slot queue: ≤ 4.4 + 2.2 s), and the
    other 70 to the edges (4 × 20 fit at full compute, L_c ≈ 9.3 s), all ≤ t_max = 15 s:
    TCR = 1 and pass@100 = (30 · 0.1159 + 70 · 0.1892) / 100 = 0.16721."""
    *_, info = _episode(he_greedy)
    server = np.asarray(info.server)
    assert (server[:30] == 0).all() and (server[30:] > 0).all()
    assert (np.bincount(server[30:], minlength=5)[1:] <= 20).all()
    np.testing.assert_allclose(np.asarray(info.alloc)[:30], [[1 / 3, 1 / 3, 4 / 3]] * 30, atol=1e-6)
    np.testing.assert_allclose(np.asarray(info.alloc)[30:], [[1.0, 1 / 3, 4 / 3]] * 70, atol=1e-6)
    m = he2024.episode_metrics(info)
    assert float(m["tcr"]) == 1.0
    assert float(m["avg_pass"]) == pytest.approx((30 * 0.1159 + 70 * 0.1892) / 100)
    cloud_lc = np.asarray(info.compute_s)[:30]
    assert 4.4 * 0.8 < cloud_lc.mean() < 4.4 * 1.2


@pytest.mark.slow
def test_he_greedy_is_registered_and_beats_random():
    assert set(HE2024_HEURISTICS) == {"he-greedy", "random"}
    keys = jax.random.split(jax.random.PRNGKey(1), 4)

    def tcr(act):
        run = jax.jit(jax.vmap(lambda k: he2024.rollout(k, act, P)[3]))
        return float(he2024.episode_metrics(run(keys))["tcr"].mean())

    assert tcr(he_greedy) > tcr(HE2024_HEURISTICS["random"]) + 0.3


def test_utility_eq9_hand_computation():
    """U = 1/avg(L) + avg(P): latencies 4 s and 6 s completed, a third task dropped, pass@100
    0.1892 and 0.1159 → 1/5 + (0.1892 + 0.1159 + 0)/3."""
    lat, pas = np.array([4.0, 6.0]), np.array([0.1892, 0.1159, 0.0])
    assert float(he2024.utility_eq9(lat.mean(), pas.mean())) == pytest.approx(0.2 + 0.3051 / 3)
    assert float(he2024.utility_eq9(np.nan, 0.0)) == 0.0  # nothing completed


def test_episode_utility_is_eq9_of_the_episode():
    _, _, _, info = _episode(HE2024_HEURISTICS["random"], seed=3)
    done = np.asarray(info.completed)
    lat = np.asarray(info.latency_s)[done].mean()
    pas = np.where(done, np.asarray(info.server_pass), 0.0).mean()
    m = he2024.episode_metrics(info)
    assert float(m["utility"]) == pytest.approx(1.0 / lat + pas, rel=1e-5)


@pytest.mark.slow
def test_gp_nfsp_improves_over_random_on_a_tiny_config():
    """80 training episodes of 20 requests (η = ½): the average policy Π, sampled as NFSP
    plays it, loses fewer requests to out-of-memory allocations than uniform random (which
    picks memory ⅓ · 2 GB < 1 GB in ⅓ of its actions) and completes more on the same 16
    evaluation episodes (320 decisions; binomial std of a rate ≤ 0.03). Measured once:
    Π's out-of-memory rate ≈ 0.19 in the last training episodes."""
    torch = pytest.importorskip("torch")
    from aifedge.baselines import nfsp
    from aifedge.paper_repro import he2024 as repro

    torch.set_num_threads(1)
    params = he2024.make_params(n_tasks=20, n_ref_tasks=20)
    cfg = nfsp.NfspConfig(steps=1600, anticipatory=0.5, lr=1e-3, hidden_sizes=(64, 64))
    policy, rows = nfsp.train(params, cfg, seed=0)
    assert len(rows) == 80 and {r["player"] for r in rows} == {"br", "avg"}
    key = jax.random.PRNGKey(9)
    ours = repro.evaluate(repro._TorchAct(policy), params, 16, key, theta=jax.numpy.bool_(False))
    rand = repro.evaluate(repro._Rule(HE2024_HEURISTICS["random"]), params, 16, key)

    def mean(rows, metric):
        return np.mean([r[metric] for r in rows])

    assert mean(ours, "oom_rate") < mean(rand, "oom_rate") - 0.08
    assert mean(ours, "tcr") > mean(rand, "tcr")
    probs = policy.probs(np.zeros((3, he2024.obs_dim(params)), np.float32))
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(
        policy.act(np.zeros((3, he2024.obs_dim(params)))), probs.argmax(-1)
    )
