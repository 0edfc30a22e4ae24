"""Episode metrics (AIF-LLM §5.1.2, AIF-LLM Eq. 8) and the comparison statistics.

For an episode of T tasks with outcomes o_t ∈ {met, violated, failed}:

    QoS satisfaction   qos          = #met / T
    completion rate    tcr          = (#met + #violated) / T
    failure rate       failure_rate = #failed / T = 1 − tcr
    QoS-violation risk risk         = 1 − qos
    mean latency       latency_ms   = mean latency over completed tasks only
                                      (failed tasks have no finite latency)
    RRR (AIF-LLM Eq. 8)        (risk_baseline − risk_method) / risk_baseline

``limit_load_rates``: the same rates over the limit-load interval only (AIF-LLM abstract,
"在系统极限负载区间"), the steps whose offered load ρ is in its top decile.
"""

import jax.numpy as jnp
import numpy as np
from scipy import stats

from .aif_llm import FAILED, MET

METRIC_NAMES = ("qos", "latency_ms", "tcr", "violation_risk", "failure_rate")


def limit_load_rates(outcome, load_rho, q: float = 0.9) -> dict:
    """Per-episode rates over the steps with ρ ≥ its ``q`` quantile, pooled over all
    (E, T) steps given (``≥``: ρ takes few values, the top level alone may exceed 1 − q).

    Returns numpy (E,) arrays ``limit_n`` (such steps), ``limit_qos`` (#met / limit_n),
    ``limit_tcr`` (#completed / limit_n); NaN rates where an episode has none, and the
    threshold ``limit_rho``.
    """
    outcome, load_rho = np.asarray(outcome), np.asarray(load_rho, float)
    threshold = float(np.quantile(load_rho, q))
    hi = load_rho >= threshold
    n = hi.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = lambda m: np.where(n > 0, (m & hi).sum(-1) / n, np.nan)  # noqa: E731
        return {
            "limit_n": n,
            "limit_qos": rate(outcome == MET),
            "limit_tcr": rate(outcome != FAILED),
            "limit_rho": np.full(n.shape, threshold),
        }


def episode_metrics(outcome, latency_ms) -> dict:
    """Metrics of one episode, or a batch when inputs are (..., T). JAX-traceable.

    ``latency_ms`` of an episode where no task completed is NaN.
    """
    outcome = jnp.asarray(outcome)
    latency_ms = jnp.asarray(latency_ms)
    n_steps = outcome.shape[-1]

    def rate(mask):  # from an integer count, clipped: XLA may divide as x · (1/T) in float32
        return jnp.clip(mask.sum(-1) / n_steps, 0.0, 1.0)

    completed = outcome != FAILED
    n_done = completed.sum(-1)
    lat = jnp.where(completed, latency_ms, 0.0).sum(-1) / jnp.where(n_done > 0, n_done, jnp.nan)
    return {
        "qos": rate(outcome == MET),
        "latency_ms": lat,
        "tcr": rate(completed),
        "violation_risk": rate(outcome != MET),  # not 1 − qos: exactly 0 when all are met
        "failure_rate": rate(~completed),
    }


def rrr(metric_baseline, metric_method):
    """Relative risk reduction, AIF-LLM Eq. 8, for success-rate metrics in [0, 1].

    RRR = ((1 − m_base) − (1 − m_ours)) / (1 − m_base); NaN if the baseline has no risk.
    """
    risk_b = 1.0 - np.asarray(metric_baseline, dtype=float)
    risk_m = 1.0 - np.asarray(metric_method, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(risk_b > 0, (risk_b - risk_m) / risk_b, np.nan)


def welch_test(a, b) -> tuple[float, float]:
    """Welch's two-sided t-test of per-episode values; returns (t, p)."""
    res = stats.ttest_ind(np.asarray(a, float), np.asarray(b, float), equal_var=False)
    return float(res.statistic), float(res.pvalue)


MISS_CAUSES = ("private_cloud", "edge_failure", "kv_oom", "other_failure", "strict_violation",
               "violation")  # fmt: skip


def paper_miss_causes(info, nominal_deadline_ms, n_nodes: int) -> dict:
    """Per-episode shares (…, T) → (…,) of the tasks missed, by first matching cause, on
    scenario ``paper`` (``aif_llm_paper.StepInfo``; ``nominal_deadline_ms`` (…, T) the type's
    deadline, the cloud is node ``n_nodes − 1``):

        private_cloud     a private task sent to the cloud (fails by the hidden requirement)
        edge_failure      killed by its edge's failure during execution (``info.killed``)
        kv_oom            refused: the KV cache did not fit (``info.oom``)
        other_failure     any other failure (down or full edge, timeout)
        strict_violation  violated only because the task is strict (latency ≤ the nominal
                          deadline)
        violation         any other violation

    The shares sum to 1 − qos."""
    out, lat = np.asarray(info.outcome), np.asarray(info.latency_ms)
    nominal = np.asarray(nominal_deadline_ms)
    strict = np.asarray(info.deadline_ms) < nominal - 1e-3
    failed, violated = out == FAILED, (out != MET) & (out != FAILED)
    private_cloud = failed & np.asarray(info.privacy) & (np.asarray(info.node) == n_nodes - 1)
    killed = failed & ~private_cloud & np.asarray(info.killed)
    oom = failed & ~private_cloud & ~killed & np.asarray(info.oom)
    strict_v = violated & strict & (lat <= nominal)
    masks = (private_cloud, killed, oom, failed & ~private_cloud & ~killed & ~oom, strict_v,
             violated & ~strict_v)  # fmt: skip
    return {name: m.mean(-1) for name, m in zip(MISS_CAUSES, masks, strict=True)}
