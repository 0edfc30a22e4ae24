"""Teaching companions of the T-maze: a two-node offloading toy and the primer's formulas.

**The offloading toy** (``build_offload_toy``) is the T-maze of scheduling. A task waits at
the device; it can be sent to a nearby edge node (fast when the node is free, late when it
is busy) or to the cloud (never queues, but its WAN makes it late with a fixed probability).
Whether the edge is busy is hidden; a cheap ``probe`` (a ping of the edge's queue) reveals it
with probability ``probe_accuracy``. Factors and modalities::

    dispatch  (hold, probe, edge, cloud)   where the task is; moved by the action "go"
    edge_load (free, busy)                 hidden, fixed during a trial (B = I)

    A[dispatch][o, d, l]  = 1[o = d]                               (exact)
    A[probe][o, d, l]     = accuracy-weighted "looks-free/looks-busy" at d = probe,
                            "none" elsewhere
    A[latency][o, d, l]   = met w.p. p_met_free / p_met_busy at d = edge (by l),
                            p_met_cloud at d = cloud (any l); "none" at hold / probe
    B[dispatch][d', d, u] = 1[d' = u];   B[edge_load] = I
    C[latency]            = (0, met, late);   D = (hold, uniform load)

With the defaults, a one-step-ahead agent first probes (information gain ln 2, no risk),
then sends the task to the edge if it looks free and to the cloud if it looks busy.

**The primer's formulas**, in NumPy so that they are an independent reference for the
decision core (``aifedge.inference.agent``, which uses pymdp):

* ``bayes_posterior``: p(s | o) ∝ p(o | s) p(s), and the evidence p(o).
* ``free_energy``: F[q] = E_q[ln q(s) − ln p(o, s)] = KL[q ‖ p(s | o)] − ln p(o) ≥ −ln p(o).
* ``expected_outcomes`` / ``risk_ambiguity`` / ``efe_table``: for a policy π with predicted
  state Q(s | π) (factorised) and modality m::

      Q(o_m | π)  = Σ_s P(o_m | s) Q(s | π)
      risk_m      = KL[Q(o_m | π) ‖ P̃(o_m)],    P̃ = softmax(C_m)
      ambiguity_m = E_{Q(s | π)} H[P(o_m | s)]
      G(π)        = Σ_m risk_m + ambiguity_m
                  = G_prag(π) + G_epis(π) + Σ_m ln Σ_o exp C_m(o)

  so "risk + ambiguity" and "pragmatic + epistemic" rank policies identically.

A short episode of an agent in a world that *is* its model is ``aifedge.viz.decision.run_trial``.
"""

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import logsumexp, softmax

from .base import GenerativeModel
from .tmaze import cue_and_arms_model

DISPATCH = ("hold", "probe", "edge", "cloud")
EDGE_LOAD = ("free", "busy")


def build_offload_toy(
    probe_accuracy: float = 1.0,
    p_met_free: float = 0.95,
    p_met_busy: float = 0.1,
    p_met_cloud: float = 0.7,
    met: float = 2.0,
    late: float = -4.0,
) -> GenerativeModel:
    """The two-node offloading toy ``GenerativeModel`` (see module docstring).

    probe_accuracy: P(probe reads the true load); 0.5 = uninformative.
    p_met_free, p_met_busy: P(deadline met) on the edge when it is free / busy.
    p_met_cloud: P(deadline met) on the cloud, whatever the edge does.
    met, late: log-preferences C of the latency outcomes (nats).
    """
    for name, p in (
        ("probe_accuracy", probe_accuracy),
        ("p_met_free", p_met_free),
        ("p_met_busy", p_met_busy),
        ("p_met_cloud", p_met_cloud),
    ):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"build_offload_toy.{name}: must lie in [0, 1] (got {p!r})")
    return cue_and_arms_model(
        DISPATCH,
        EDGE_LOAD,
        probe_accuracy,
        arm_probs=((p_met_free, p_met_busy), (p_met_cloud, p_met_cloud)),
        preferences=(met, late),
        factor_names=("dispatch", "edge_load"),
        modality_names=("dispatch", "probe", "latency"),
        cue_levels=("looks-free", "looks-busy"),
        outcome_levels=("met", "late"),
    )


# ---------------------------------------------------------------- Bayes and VFE
def _prob(x, what: str) -> np.ndarray:
    x = np.asarray(x, float)
    if x.ndim != 1 or np.any(x < 0) or not np.isclose(x.sum(), 1.0, atol=1e-6):
        raise ValueError(f"{what}: must be a 1-D probability vector (got {x})")
    return x


def bayes_posterior(prior, likelihood) -> tuple[np.ndarray, float]:
    """``(p(s | o), p(o))`` from ``prior`` p(s) (S,) and ``likelihood`` p(o | s) (S,)."""
    prior = _prob(prior, "bayes_posterior.prior")
    lik = np.asarray(likelihood, float)
    if lik.shape != prior.shape or np.any(lik < 0):
        raise ValueError(
            f"bayes_posterior.likelihood: need {prior.shape} non-negative "
            f"values p(o | s), one per state (got {lik})"
        )
    joint = prior * lik
    evidence = float(joint.sum())
    if evidence <= 0:
        raise ValueError("bayes_posterior: the observation has probability 0 under the prior")
    return joint / evidence, evidence


def free_energy(q, prior, likelihood) -> float:
    """Variational free energy F[q] = Σ_s q(s) [ln q(s) − ln p(s) − ln p(o | s)] (nats).

    Equals KL[q ‖ p(s | o)] − ln p(o): minimal (= −ln p(o), the surprise) at the exact
    posterior. ``q``, ``prior``, ``likelihood``: (S,).
    """
    q, prior = _prob(q, "free_energy.q"), _prob(prior, "free_energy.prior")
    lik = np.asarray(likelihood, float)
    on = q > 0
    with np.errstate(divide="ignore"):
        terms = np.log(q[on]) - np.log(prior[on]) - np.log(lik[on])
    return float(np.sum(q[on] * terms))


# ---------------------------------------------------------------- EFE: risk and ambiguity
def expected_outcomes(model: GenerativeModel, qs: Sequence, modality: int) -> np.ndarray:
    """Q(o_m) = Σ_s P(o_m | s) Π_f Q(s_f) over the factors modality m depends on."""
    a = np.asarray(model.A[modality], float)
    for f in reversed(model.A_dependencies[modality]):
        a = a @ np.asarray(qs[f], float)
    return a


def _entropy(p: np.ndarray, axis: int = 0) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=axis)


def risk_ambiguity(model: GenerativeModel, qs: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Per-modality ``(risk (M,), ambiguity (M,))`` of a predicted belief ``qs`` (one vector
    per factor): risk = KL[Q(o) ‖ softmax(C)], ambiguity = E_Q(s) H[P(o | s)]."""
    risk, amb = [], []
    for m in range(len(model.A)):
        qo = expected_outcomes(model, qs, m)
        log_pref = np.asarray(model.C[m], float) - logsumexp(model.C[m])
        on = qo > 0
        risk.append(float(np.sum(qo[on] * (np.log(qo[on]) - log_pref[on]))))
        h = _entropy(np.asarray(model.A[m], float))  # H[P(o | s)] per joint state
        for f in reversed(model.A_dependencies[m]):
            h = h @ np.asarray(qs[f], float)
        amb.append(float(h))
    return np.asarray(risk), np.asarray(amb)


def action_index(model: GenerativeModel, action: Sequence[int], factor: int) -> int:
    """Index on B[factor]'s last axis of ``action`` (one level per control factor)."""
    acts = model.B_action_dependencies[factor]
    if not acts:
        return 0
    return int(
        np.ravel_multi_index([action[c] for c in acts], [model.num_controls[c] for c in acts])
    )


def predict(model: GenerativeModel, qs: Sequence, action: Sequence[int]) -> list[np.ndarray]:
    """Q(s_f' | u) = Σ_s B_f[s', s, u] Q(s) for each factor (single-dependency B only)."""
    out = []
    for f, b in enumerate(model.B):
        if len(model.B_dependencies[f]) != 1:
            raise ValueError(
                f"predict: B[{f}] depends on several factors; this teaching helper handles one"
            )
        u = action_index(model, action, f)
        out.append(np.asarray(b, float)[..., u] @ np.asarray(qs[f], float))
    return out


def efe_table(model: GenerativeModel, qs: Sequence | None = None) -> pd.DataFrame:
    """One-step EFE of every action of a single-control model from the belief ``qs``
    (one vector per factor; default the model's prior D).

    Columns: ``action``, ``risk``, ``ambiguity``, ``G`` (= risk + ambiguity), and
    ``pragmatic`` (−E[C]), ``epistemic`` (−information gain), the decision core's terms.
    """
    if len(model.num_controls) != 1:
        raise ValueError("efe_table: the model must have one control factor")
    qs = model.D if qs is None else qs
    rows = []
    for u, label in enumerate(model.control_levels[0]):
        nxt = predict(model, qs, [u])
        risk, amb = risk_ambiguity(model, nxt)
        prag = gain = 0.0
        for m in range(len(model.A)):
            qo = expected_outcomes(model, nxt, m)
            prag -= float(qo @ np.asarray(model.C[m], float))
            gain += float(_entropy(qo)) - amb[m]  # H[Q(o)] − E_Q(s) H[P(o | s)]
        rows.append(
            {
                "action": label,
                "risk": risk.sum(),
                "ambiguity": amb.sum(),
                "G": risk.sum() + amb.sum(),
                "pragmatic": prag,
                "epistemic": -gain,
            }
        )
    return pd.DataFrame(rows)


def policy_posterior(G, gamma: float) -> np.ndarray:
    """q(π) = softmax(−γ G(π)) (policy precision γ > 0)."""
    if not gamma > 0:
        raise ValueError(f"policy_posterior.gamma: must be > 0 (got {gamma!r})")
    return softmax(-gamma * np.asarray(G, float))
