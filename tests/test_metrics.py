"""Metric definitions on hand-made episodes; statistics against direct formulas."""

import numpy as np
import pytest
from scipy import stats

from aifedge.environments.aif_llm import FAILED, MET, VIOLATED
from aifedge.environments.metrics import episode_metrics, rrr, welch_test


def test_episode_metrics_by_hand():
    outcome = np.array([MET, MET, VIOLATED, FAILED])
    latency = np.array([100.0, 200.0, 300.0, 1e9])
    m = {k: float(v) for k, v in episode_metrics(outcome, latency).items()}
    assert m["qos"] == pytest.approx(0.5)
    assert m["tcr"] == pytest.approx(0.75)
    assert m["failure_rate"] == pytest.approx(0.25)
    assert m["violation_risk"] == pytest.approx(0.5)
    assert m["latency_ms"] == pytest.approx(200.0)  # failed task excluded


def test_latency_is_nan_when_nothing_completed():
    m = episode_metrics(np.array([FAILED, FAILED]), np.array([1.0, 2.0]))
    assert np.isnan(float(m["latency_ms"]))


def test_rrr_reproduces_paper_example():
    # AIF-LLM §5.2.2: SAC QoS 89.67 %, AIF-LLM 92.57 % -> RRR 28.07 %
    assert float(rrr(0.8967, 0.9257)) == pytest.approx(0.2807, abs=5e-4)
    # failure: TCR 91.40 % vs 95.50 % -> 47.67 %
    assert float(rrr(0.914, 0.955)) == pytest.approx(0.4767, abs=5e-4)
    assert np.isnan(rrr(1.0, 0.9))


def test_welch_matches_formula():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.0, 1.0, 30), rng.normal(0.5, 2.0, 45)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    t_ref = (a.mean() - b.mean()) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))  # Welch–Satterthwaite
    t, p = welch_test(a, b)
    assert t == pytest.approx(t_ref)
    assert p == pytest.approx(2 * stats.t.sf(abs(t_ref), df))
