"""Slack-conditioned POMDP of the ``aif-llm`` cloud-edge system (AIF-LLM §4.4; issue 16, v2).

The outcome of a dispatch depends on what the scheduler can compute from its observation:
the current task's **slack** on every node, s_j = ℓ̂_j / L_QoS, its predicted latency
(``predicted_latency_ms``: observed compute, data, node speed, observed queue wait, WAN state
read from the measured RTT; ``environments.aif_llm.latency_components`` without the spike)
over its deadline. The model keeps the pymdp A/B/C/D structure with N = E + 2 nodes::

    slack:<node>  (S + 1)  slack bin of the current task on the node (``SLACK_EDGES``:
                           0.1 … 1.0 … 3.0, so no bin straddles the deadline s = 1 or the
                           timeout s = 3), or "infeasible" (edge down or queue full)
    net           (3)      WAN condition good / degraded / congested
    class         (K)      class of the current task
    sent:<node>   (S + 2)  idle, or the slack bin of the task dispatched to <node> last step

    obs_slack:<node> (S + 1)  slack bin computed from the noisy observation   A | slack:<node>
    obs_rtt          (3)      measured RTT bin (``aif_llm_model.rtt_level``)      A | net
    obs_class        (K)      the task's class                                A | class
    outcome:<node>   (4)      met / violated / failed / idle                  A | sent:<node>

Equations (columns of A and B sum to 1)::

    A[obs_slack:j][o, b]  = P(bin(s·e^{σ_s ε}) = o | s ~ U(bin b)), ε ~ N(0, 1);  infeasible exact
    A[obs_rtt][o, n]      = P(bin(RTT_n e^{σ_obs ε}) = o)                      (log-normal, exact)
    A[obs_class]          = I_K
    A[outcome:j][o, b]    = Σ_c π_c P_c(o | s ~ U(bin b)) for every node j (the prior mean):
        P_c(met)    = E[1[ℓ ≤ D_c] (1 − P(X > D_c − ℓ))]
        P_c(failed) = E[1[ℓ > 3 D_c] + 1[ℓ ≤ 3 D_c] P(X > 3 D_c − ℓ)],  ℓ = s D_c e^{σ_ℓ ε}
        P(X > x)    = p_u (1 + ξ (x − u)/σ)^(−1/ξ) (x ≥ u; p_u below u): the GPD spike tail
                      (``aif_llm_model.EvtTail``; default the simulator's ζ = 1.5 spike, §5.1)
        P_c(violated) = 1 − P_c(met) − P_c(failed);  infeasible → failed;  idle → idle
    pA[outcome:j]         = c_0 · A[outcome:j]   (weak Dirichlet prior, c_0 = ``prior_count``)
    B[slack:j]            = uniform (a new task each step; no slack dynamics are assumed)
    B[net][n', n]         = net_transition[n, n'];   B[class][c', c] = π_c'
    B[sent:j][x', ·, b, u] = 1[x' = b + 1] if u = j else 1[x' = idle]
    C[outcome:j]          = (0, −1, −κ, 0),  κ = ``fail_cost`` (a failure costs κ violations)
    D                     = uniform over slack, net, class; idle for sent:*

The expectation over s ∈ bin and ε uses ``n_quad`` midpoints × ``n_quad`` normal quantiles
 (``outcome_table``, plain ``jax.numpy``, so an online GPD refit can rebuild it under
``jit``). Only the outcome modalities are learnable (pA); the other pA entries are None.
Nothing here is a Monte-Carlo of the simulator: σ_s, σ_ℓ, κ and c_0 are generic choices
(``SlackOptions``), the tail is the paper's spike model, and learning corrects the rest.
"""

from dataclasses import dataclass, fields

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.stats import norm

from aifedge.config import ConfigError, check_fields
from aifedge.environments.aif_llm import EnvParams, Obs, latency_components, node_gflops
from aifedge.environments.task_texts import CLASS_NAMES

from .aif_llm_model import (
    IDLE,
    NET_LEVELS,
    OUTCOME_LEVELS,
    EvtTail,
    check_evt_tail,
    node_names,
    outcome_indices,
    rtt_level,
    rtt_thresholds,
)
from .base import GenerativeModel, single_control_model

SLACK_EDGES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0, 3.0)
"""Slack bin edges (ℓ̂ / L_QoS): bins [0, 0.1), …, [2, 3), [3, ∞); 1 (deadline) and 3
(timeout) are edges, so no bin straddles them."""
INFEASIBLE = "infeasible"


@dataclass(frozen=True)
class SlackOptions:
    """Settings of the slack model (this project's generic choices, not fitted to the sim).

    slack_edges      increasing bin edges of s = ℓ̂ / L_QoS; must contain 1.0 (the deadline).
    slack_noise      σ_s, log-normal noise of the observed slack (A[obs_slack]).
    latency_noise    σ_ℓ, log-normal spread of the realised latency around ℓ̂ (A[outcome]).
    evt_tail         ``EvtTail`` of the spike X in ms; None = the simulator's spike GPD.
    fail_cost        κ in C = (0, −1, −κ, 0): a failure costs κ violations.
    prior_count      c_0: pseudo-counts per column of pA[outcome:*] (weak prior).
    n_quad           quadrature points per bin and normal quantiles of the noise.
    """

    slack_edges: tuple = SLACK_EDGES
    slack_noise: float = 0.05
    latency_noise: float = 0.1
    evt_tail: EvtTail | None = None
    fail_cost: float = 3.0
    prior_count: float = 4.0
    n_quad: int = 8


def make_slack_options(**overrides) -> SlackOptions:
    """``SlackOptions`` with validated overrides; ``ConfigError`` names the field and fix."""
    check_fields(overrides, [f.name for f in fields(SlackOptions)], "SlackOptions")
    if "slack_edges" in overrides:
        overrides["slack_edges"] = tuple(float(e) for e in overrides["slack_edges"])
    overrides["evt_tail"] = check_evt_tail(overrides.get("evt_tail"), "SlackOptions.evt_tail")
    opt = SlackOptions(**overrides)
    e = np.asarray(opt.slack_edges)
    if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0) or e[0] <= 0 or 1.0 not in e:
        raise ConfigError(
            f"SlackOptions.slack_edges: need increasing positive edges that include 1.0 "
            f"(the deadline); got {opt.slack_edges}"
        )
    for name in ("slack_noise", "latency_noise"):
        if not getattr(opt, name) >= 0:
            raise ConfigError(f"SlackOptions.{name}: must be ≥ 0 (got {getattr(opt, name)})")
    if not opt.fail_cost >= 1:
        raise ConfigError(f"SlackOptions.fail_cost: must be ≥ 1 (got {opt.fail_cost})")
    if not opt.prior_count > 0:
        raise ConfigError(f"SlackOptions.prior_count: must be > 0 (got {opt.prior_count})")
    if not (isinstance(opt.n_quad, int) and opt.n_quad >= 1):
        raise ConfigError(f"SlackOptions.n_quad: must be an integer ≥ 1 (got {opt.n_quad!r})")
    return opt


def slack_levels(edges=SLACK_EDGES) -> tuple[str, ...]:
    """Labels of the slack bins, then ``INFEASIBLE``."""
    lo = (0.0, *edges)
    hi = (*edges, np.inf)
    return (*(f"s{a:g}-{b:g}" for a, b in zip(lo, hi, strict=True)), INFEASIBLE)


# ---------------------------------------------------------------- observation
def predicted_latency_ms(obs: Obs, params: EnvParams) -> tuple[jax.Array, jax.Array]:
    """``(ℓ̂ (N,) ms, feasible (N,) bool)`` of the current task on every node from ``obs``.

    Edge queues from the observed waits; the WAN state is the measured RTT's bin
    (``aif_llm_model.rtt_level``), which sets the cloud's RTT and bandwidth. An edge is
    infeasible when it is down or its observed queue has no room for the task.
    """
    gflops = node_gflops(params)
    backlog = obs.queue_ms / 1000.0 * gflops[1:-1]
    parts = latency_components(obs.task, backlog, rtt_level(obs.rtt_ms, params), params)
    room = gflops[1:-1] * params.edge_queue_s - backlog - obs.task.compute_gflop
    edge_ok = (obs.up > 0) & (room >= 0)
    feasible = jnp.concatenate([jnp.ones(1, bool), edge_ok, jnp.ones(1, bool)])
    return parts.sum(-1), feasible


def slack_indices(obs: Obs, params: EnvParams, edges=SLACK_EDGES) -> jax.Array:
    """(N,) int32 ``obs_slack:<node>`` outcomes: bin of ℓ̂ / L_QoS, or infeasible."""
    latency, feasible = predicted_latency_ms(obs, params)
    slack = latency / obs.task.deadline_ms
    b = jnp.searchsorted(jnp.asarray(edges, jnp.float32), slack, side="right")
    return jnp.where(feasible, b, len(edges) + 1).astype(jnp.int32)


def observation_indices(obs: Obs, params: EnvParams, options: SlackOptions) -> jax.Array:
    """(2N + 2 + ... ) int32 observation of every modality, in the model's order:
    ``obs_slack:*`` (N), ``obs_rtt``, ``obs_class``, ``outcome:*`` (N)."""
    return jnp.concatenate(
        [
            slack_indices(obs, params, options.slack_edges),
            rtt_level(obs.rtt_ms, params)[None],
            obs.task.task_class.astype(jnp.int32)[None],
            outcome_indices(obs, params),
        ]
    )


# ---------------------------------------------------------------- likelihoods
def _bin_points(edges, n: int) -> jnp.ndarray:
    """(S, n) midpoints of n equal parts of every bin; the last bin [e_S, ∞) uses [e_S, 1.5 e_S)."""
    e = jnp.asarray(edges, jnp.float32)
    lo = jnp.concatenate([jnp.zeros(1), e])
    hi = jnp.concatenate([e, 1.5 * e[-1:]])
    frac = (jnp.arange(n) + 0.5) / n
    return lo[:, None] + (hi - lo)[:, None] * frac[None, :]


def _normal_nodes(n: int) -> jnp.ndarray:
    """(n,) equal-weight nodes of E[f(ε)], ε ~ N(0, 1): the quantiles at (i + ½)/n (robust
    to the step 1[ℓ ≤ L_QoS] in the integrand, unlike Gauss–Hermite)."""
    return jnp.asarray(norm.ppf((np.arange(n) + 0.5) / n), jnp.float32)


def spike_survival(tail: EvtTail, x_ms):
    """P(X > x) of ``tail`` (``aif_llm_model.tail_prob``'s formula, in ``jax.numpy``)."""
    from aifedge.environments.tails import gpd_log_survival

    excess = jnp.maximum(jnp.asarray(x_ms, jnp.float32) - tail.threshold_ms, 0.0)
    surv = jnp.exp(gpd_log_survival(excess, tail.scale_ms, tail.concentration))
    return jnp.where(x_ms < 0, 1.0, tail.exceed_prob * surv)


def outcome_table(
    tail: EvtTail,
    deadlines_ms,
    class_probs,
    timeout_factor: float,
    edges=SLACK_EDGES,
    latency_noise: float = 0.1,
    n_quad: int = 8,
    per_deadline: bool = False,
) -> jax.Array:
    """(3, S + 1) P(met / violated / failed | slack bin) of the module docstring (pure JAX).

    Column S (the last) is "infeasible" (failed with certainty). ``tail`` fields may be
    traced arrays (an online refit rebuilds the table inside ``jit``). ``per_deadline``:
    the tail is of X / L_QoS (a fit of normalised residuals) instead of X in ms.
    """
    s = _bin_points(edges, n_quad)  # (S, n)
    z = _normal_nodes(n_quad)
    d = jnp.asarray(deadlines_ms, jnp.float32)
    ell = s[None, :, :, None] * d[:, None, None, None] * jnp.exp(latency_noise * z)  # (K,S,n,n)
    dl = d[:, None, None, None]
    unit = dl if per_deadline else 1.0
    met = jnp.where(ell <= dl, 1.0 - spike_survival(tail, (dl - ell) / unit), 0.0)
    cap = timeout_factor * dl
    fail = jnp.where(ell > cap, 1.0, spike_survival(tail, (cap - ell) / unit))
    pi = jnp.asarray(class_probs, jnp.float32)

    def mean(p):  # over classes (π), points in the bin, jitter nodes
        return jnp.einsum("ksnz,k->s", p, pi) / n_quad**2

    met, fail = mean(met), mean(fail)
    body = jnp.stack([met, 1.0 - met - fail, fail])
    return jnp.concatenate([body, jnp.array([[0.0], [0.0], [1.0]])], axis=1)


def outcome_likelihood(table: jax.Array) -> jax.Array:
    """(4, S + 2) A[outcome:*] from ``outcome_table``: the idle column, then the bins."""
    idle = jnp.zeros((4, 1)).at[3, 0].set(1.0)
    body = jnp.concatenate([table, jnp.zeros((1, table.shape[1]))])
    return jnp.concatenate([idle, body], axis=1)


def slack_confusion(edges, sigma: float, n_quad: int = 8) -> np.ndarray:
    """(S + 1, S + 1) A[obs_slack]: P(observed bin | true bin), log-normal noise σ_s."""
    s = np.asarray(_bin_points(edges, n_quad), float)  # (S, n)
    cuts = np.concatenate([[-np.inf], np.log(edges), [np.inf]])
    if sigma == 0:
        body = np.eye(len(edges) + 1)
    else:
        cdf = np.asarray(norm.cdf((cuts[:, None, None] - np.log(s)[None]) / sigma))
        body = np.diff(cdf, axis=0).mean(-1)  # (S, S) [o, b]
    n = len(edges) + 2
    a = np.zeros((n, n))
    a[:-1, :-1] = body
    a[-1, -1] = 1.0
    return a


def rtt_likelihood(params: EnvParams) -> np.ndarray:
    """(3, 3) A[obs_rtt][o, n]: P(RTT bin o | WAN state n) under log-normal σ_obs noise."""
    rtt = params.cloud_rtt_ms * np.asarray(params.net_rtt_mult, float)
    cuts = np.concatenate([[-np.inf], np.log(rtt_thresholds(params)), [np.inf]])
    if params.obs_noise == 0:
        return np.eye(3)[:, np.searchsorted(rtt_thresholds(params), rtt, "right")]
    cdf = np.asarray(norm.cdf((cuts[:, None] - np.log(rtt)[None]) / params.obs_noise))
    return np.diff(cdf, axis=0)


def default_tail(params: EnvParams, options: SlackOptions) -> EvtTail:
    """The spike tail of A[outcome]: ``options.evt_tail`` or the simulator's spike GPD."""
    return options.evt_tail if options.evt_tail is not None else EvtTail.from_params(params)


def prior_outcome_table(
    params: EnvParams, options: SlackOptions, tail=None, per_deadline: bool = False
) -> jax.Array:
    """``outcome_table`` for ``params`` with ``tail`` (default ``default_tail``, in ms)."""
    return outcome_table(
        default_tail(params, options) if tail is None else tail,
        params.deadline_ms,
        params.class_probs,
        params.timeout_factor,
        options.slack_edges,
        options.latency_noise,
        options.n_quad,
        per_deadline,
    )


# ---------------------------------------------------------------- the model
def build_slack_model(params: EnvParams | None = None, **options) -> GenerativeModel:
    """The slack-conditioned POMDP for ``params`` (module docstring); passes ``validate``.

    ``options``: ``SlackOptions`` fields (``ConfigError`` for unknown or bad ones).
    """
    params = EnvParams() if params is None else params
    opt = make_slack_options(**options)
    nodes = node_names(params)
    n_nodes, n_cls = params.n_nodes, len(params.class_probs)
    s_lv = slack_levels(opt.slack_edges)
    n_s = len(s_lv)
    sent_lv = (IDLE, *s_lv)
    f_net, f_cls = n_nodes, n_nodes + 1
    factor_names = (
        *(f"slack:{n}" for n in nodes),
        "net",
        "class",
        *(f"sent:{n}" for n in nodes),
    )
    factor_levels = (s_lv,) * n_nodes + (NET_LEVELS, CLASS_NAMES) + (sent_lv,) * n_nodes

    B: list[np.ndarray] = [np.full((n_s, n_s, 1), 1.0 / n_s) for _ in range(n_nodes)]
    B += [
        np.asarray(params.net_transition, float).T[..., None],
        np.broadcast_to(np.asarray(params.class_probs, float)[:, None, None], (n_cls, n_cls, 1)),
    ]
    B_deps: list[tuple] = [(j,) for j in range(n_nodes)] + [(f_net,), (f_cls,)]
    B_acts: list[tuple] = [()] * (n_nodes + 2)
    for j in range(n_nodes):
        b = np.zeros((n_s + 1, n_s + 1, n_s, n_nodes))
        b[0, ..., :] = 1.0  # any other action: idle
        b[:, :, :, j] = 0.0
        b[1 + np.arange(n_s), :, np.arange(n_s), j] = 1.0
        B.append(b)
        B_deps.append((n_nodes + 2 + j, j))
        B_acts.append((0,))

    a_out = np.asarray(outcome_likelihood(prior_outcome_table(params, opt)), float)
    a_out = a_out / a_out.sum(0, keepdims=True)
    conf = slack_confusion(opt.slack_edges, opt.slack_noise, opt.n_quad)
    A = [conf] * n_nodes + [rtt_likelihood(params), np.eye(n_cls)] + [a_out] * n_nodes
    A_deps = [(j,) for j in range(n_nodes)] + [(f_net,), (f_cls,)]
    A_deps += [(n_nodes + 2 + j,) for j in range(n_nodes)]
    mod_names = (
        *(f"obs_slack:{n}" for n in nodes),
        "obs_rtt",
        "obs_class",
        *(f"outcome:{n}" for n in nodes),
    )
    mod_levels = (s_lv,) * n_nodes + (NET_LEVELS, CLASS_NAMES) + (OUTCOME_LEVELS,) * n_nodes
    c_out = np.array([0.0, -1.0, -opt.fail_cost, 0.0])
    C = [np.zeros(len(lv)) for lv in mod_levels[: n_nodes + 2]] + [c_out] * n_nodes
    D = [np.full(len(lv), 1.0 / len(lv)) for lv in factor_levels[: n_nodes + 2]]
    D += [np.eye(n_s + 1)[0]] * n_nodes
    pA = (None,) * (n_nodes + 2) + (opt.prior_count * a_out,) * n_nodes
    return single_control_model(
        A,
        B,
        C,
        D,
        (A_deps, B_deps, B_acts),
        (factor_names, factor_levels),
        (mod_names, mod_levels),
        ("target", nodes),
        pA=pA,
        options=opt,
    )
