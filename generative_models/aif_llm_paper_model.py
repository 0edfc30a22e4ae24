"""POMDP of scenario ``paper`` (``environments.aif_llm_paper``; issue 16 items 2, 4; issue 17).

The v2 slack model (``aif_llm_slack_model``) with the factors that ``paper`` hides from greedy.
With N = E + 2 nodes, S + 1 slack levels (``SLACK_EDGES`` bins, then infeasible)::

    slack:<node>  (S + 1)  slack bin ℓ̂_j / L_nom of the current task (``predicted_latency_ms``:
                           observed compute, data, node speed, STALE queue wait, last measured
                           RTT, the agent's own estimate of the shared uplink backlog)
    health:<edge> (3)      ok / degraded / down (hidden; AIF-LLM §4.1 temperature, §1 failures)
    req           (4)      the current task's hidden requirements: 2 · private + strict
    sent:<node>   1 + (S + 1) · Q_j · H_j   idle, or (bin, q[, health]) of the task dispatched
                           there last step; q = req on the cloud (Q = 4), strict elsewhere
                           (Q = 2: privacy only matters in the cloud); H_j = 3 on edges, else 1

    obs_slack:<node>  (S + 1)  A | slack:<node>   ``aif_llm_slack_model.slack_confusion``
    obs_health:<edge> (3)      A | health:<edge>  cool / hot / seen-down (``Obs.telemetry``,
                                                  ``Obs.up``; ``health_indices``)
    outcome:<node>    (4)      A | sent:<node>    met / violated / failed / idle

Likelihoods (columns sum to 1). T(b; d, f) = ``aif_llm_slack_model.outcome_table`` column b with
the deadlines multiplied by f and the bin points divided by f · v (a strict task's deadline is
``strict_factor`` · L_nom; v the speed factor), tail = the paper's spike GPD
(``spike_tail``: ζ = ``spike_shape``, σ = ``spike_ms_per_token`` · E[output tokens]):

    A[outcome:j][·, (b, q, h)] = T(b; f_q, 1)                          h = ok, local, cloud
                               = (1 − k_b) T(b; f_r, v_deg) + k_b e_fail   h = degraded
                               = e_fail                                 h = down, or
                                 private q on the cloud (§3.1: private tasks stay on premises)
    k_b = 1 − exp(−s̄_b · L̄ / τ_deg): P(the degraded edge fails during the task), s̄_b the bin's
          middle, L̄ the type-mix deadline, τ_deg = ``mean_degraded_s``
    A[obs_health][·, ok]       = (Φ(z), 1 − Φ(z), 0) + ε,  z = (θ − 1) / σ_tel, θ = ``HOT``
    A[obs_health][·, degraded] = (1 − Φ(z), Φ(z), 0) + ε
    A[obs_health][·, down]     = (0, 1 − p_seen, p_seen) + ε,  p_seen = 1 − delay / τ_repair
    B[health:e][h', h]         = the hazard model's phase chain per decision (``health_chain``:
                                 ok → degraded → down → ok with P = 1 − exp(−Δt / τ_phase),
                                 Δt = the mean time between decisions; the env's mean phase
                                 durations as a GENERIC prior, not its Monte-Carlo)
    B[req][r', ·]              = base rate (a new task each step); D_LLM replaces it per task
    B[sent:j]                  = copy of (slack:j, q(req)[, health:e]) when u = j, else idle
    C[outcome:j]               = (0, −1, −κ, 0), κ = ``FAIL_COST`` = 1
    D                          uniform slack, stationary health, base-rate req, idle sent
                               (the agent sets the req prior per task: ``type_rates``, D_LLM)

Every modality depends on one factor, so the decision core's "fast" engine applies.
"""

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import norm

from aifedge.environments import aif_llm_paper
from aifedge.environments.aif_llm_paper import EnvParams, Obs

from .aif_llm_model import IDLE, OUTCOME_LEVELS, EvtTail, node_names, outcome_indices
from .aif_llm_slack_model import (
    SlackOptions,
    make_slack_options,
    outcome_table,
    slack_confusion,
    slack_levels,
)
from .base import GenerativeModel, single_control_model

HEALTH_LEVELS = ("ok", "degraded", "down")
HEALTH_OBS = ("cool", "hot", "seen-down")
REQ_LEVELS = ("open", "open-strict", "private", "private-strict")
"""Index r = 2 · private + strict."""
HOT = 1.5
"""Telemetry threshold between cool (healthy ≈ 1) and hot (degraded ≈ 2)."""
EPS = 1e-3
FAIL_COST = 1.0
"""κ on ``paper``: QoS (the score) counts a failure like a violation, so C = (0, −1, −1, 0)
makes G_prag = P(miss) (issue 16; κ = 3 cost 3.0 QoS points, 100 episodes, seed 1000)."""


# ---------------------------------------------------------------- observation
def predicted_latency_ms(obs: Obs, params: EnvParams, uplink_wait_ms=0.0):
    """``(ℓ̂ (N,) ms, feasible (N,) bool)``: greedy's observed-quantity latency
    (``aif_llm_paper.expected_completion_ms``) plus ``uplink_wait_ms`` on the cloud (the
    agent's estimate of the shared uplink's backlog); an edge that looks down or full is
    infeasible (ℓ̂ = 0 there)."""
    lat = aif_llm_paper.expected_completion_ms(obs, params)
    feasible = jnp.isfinite(lat)
    lat = lat.at[-1].add(uplink_wait_ms)
    return jnp.where(feasible, lat, 0.0), feasible


def health_indices(obs: Obs) -> jax.Array:
    """(E,) int32 ``obs_health:*``: 2 seen down (``Obs.up`` = 0), 1 hot (telemetry ≥ ``HOT``),
    else 0."""
    hot = (obs.telemetry >= HOT).astype(jnp.int32)
    return jnp.where(obs.up > 0, hot, 2).astype(jnp.int32)


def observation_indices(obs: Obs, params: EnvParams, options: SlackOptions, uplink_wait_ms=0.0):
    """(2N + E,) int32 in the model's modality order: obs_slack:*, obs_health:*, outcome:*."""
    lat, feasible = predicted_latency_ms(obs, params, uplink_wait_ms)
    edges = jnp.asarray(options.slack_edges, jnp.float32)
    b = jnp.searchsorted(edges, lat / obs.task.deadline_ms, side="right")
    slack = jnp.where(feasible, b, len(options.slack_edges) + 1).astype(jnp.int32)
    return jnp.concatenate([slack, health_indices(obs), outcome_indices(obs, params)])


# ---------------------------------------------------------------- priors and tables
def base_rate(params: EnvParams) -> np.ndarray:
    """(4,) P(req) of a task of the initial type mix (private and strict independent)."""
    mix = np.asarray(params.type_probs, float)
    p = float(mix @ np.asarray(params.private_prob, float))
    s = float(mix @ np.asarray(params.strict_prob, float))
    return np.array([(1 - p) * (1 - s), (1 - p) * s, p * (1 - s), p * s])


def type_rates(params: EnvParams) -> np.ndarray:
    """(T, 4) P(req | task type) for the types of the initial mix (``type_probs`` > 0); a
    type absent from it (new, AIF-LLM Alg. 1's cold start) gets ``base_rate``: nothing about
    it was known before it appeared."""
    p, s = np.asarray(params.private_prob, float), np.asarray(params.strict_prob, float)
    rates = np.stack([(1 - p) * (1 - s), (1 - p) * s, p * (1 - s), p * s], -1)
    known = np.asarray(params.type_probs, float) > 0
    return np.where(known[:, None], rates, base_rate(params))


def decision_interval_ms(params: EnvParams) -> float:
    """Mean time between decisions: slot / E[tasks per slot] (calm/burst mix)."""
    pi_b = aif_llm_paper.burst_fraction(params)
    rate = params.rate_calm * (1 - pi_b + pi_b * params.burst_mult)
    return params.slot_ms / max(rate, 1e-6)


def health_chain(params: EnvParams) -> np.ndarray:
    """(3, 3) B[health][h', h] per decision (module docstring)."""
    dt = decision_interval_ms(params) / 1000.0
    p = 1.0 - np.exp(
        -dt / np.array([params.mean_ok_s, params.mean_degraded_s, params.mean_repair_s])
    )
    b = np.diag(1.0 - p)
    b[1, 0], b[2, 1], b[0, 2] = p
    return b


def health_likelihood(params: EnvParams) -> np.ndarray:
    """(3, 3) A[obs_health][o, h] (module docstring)."""
    z = (HOT - 1.0) / max(params.telemetry_noise, 1e-6)
    right = norm.cdf(z)
    seen = max(1.0 - params.detect_delay * params.slot_ms / (params.mean_repair_s * 1000.0), 0.0)
    a = np.array([[right, 1 - right, 0.0], [1 - right, right, 1 - seen], [0.0, 0.0, seen]]) + EPS
    return a / a.sum(0, keepdims=True)


def compute_noise(params: EnvParams) -> float:
    """σ_ℓ of A[outcome]: ``token_sigma`` × the type mix's mean output share of the tokens
    (``Obs.task.compute_gflop`` assumes the mean output length; the true one is log-normal),
    at least ``SlackOptions``' 0.1."""
    out, prompt = np.asarray(params.output_tokens, float), np.asarray(params.prompt_tokens, float)
    share = float(np.asarray(params.type_probs, float) @ (out / (out + prompt)))
    return max(params.token_sigma * share, 0.1)


def spike_tail(params: EnvParams) -> EvtTail:
    """The spike GPD at the type mix's mean output length (σ = ms per token · E[tokens])."""
    mix = np.asarray(params.type_probs, float)
    tokens = float(mix @ np.asarray(params.output_tokens, float)) * np.exp(
        params.token_sigma**2 / 2
    )
    return EvtTail(0.0, params.spike_ms_per_token * tokens, params.spike_shape, params.spike_prob)


def _table(params: EnvParams, opt: SlackOptions, factor: float, speed: float) -> np.ndarray:
    """(3, S + 1) P(met/violated/failed | slack bin) with deadline × factor, speed × speed."""
    edges = tuple(e / (factor * speed) for e in opt.slack_edges)
    deadlines = np.asarray(params.deadline_ms, float) * factor
    table = outcome_table(
        spike_tail(params), deadlines, params.type_probs, params.timeout_factor,
        edges, opt.latency_noise, opt.n_quad,
    )  # fmt: skip
    table = np.clip(np.asarray(table, float), 0.0, None)  # float32 round-off in 1 − met − fail
    return table / table.sum(0, keepdims=True)


def outcome_likelihoods(params: EnvParams, opt: SlackOptions) -> tuple[np.ndarray, ...]:
    """(local, edge, cloud) A[outcome:*] (4, n_sent) of the module docstring."""
    n_s = len(opt.slack_edges) + 2
    fail = np.array([0.0, 0.0, 1.0])
    e = np.asarray(opt.slack_edges, float)
    mids = (np.concatenate([[0.0], e]) + np.concatenate([e, [1.5 * e[-1]]])) / 2
    mean_deadline = float(np.asarray(params.type_probs) @ np.asarray(params.deadline_ms))
    kill = 1.0 - np.exp(-mids * mean_deadline / (params.mean_degraded_s * 1000.0))
    kill = np.append(kill, 1.0)  # infeasible column: failed anyway
    local, edge = [], []
    for strict in (0, 1):
        f = params.strict_factor if strict else 1.0
        ok, slow = _table(params, opt, f, 1.0), _table(params, opt, f, params.degraded_speed)
        local.append(ok)
        degraded = (1 - kill) * slow + kill * fail[:, None]
        edge.append(np.stack([ok, degraded, np.broadcast_to(fail[:, None], ok.shape)], -1))
    down = np.broadcast_to(fail[:, None], local[0].shape)
    cloud = [*local, down, down]  # req order: open, open-strict, private, private-strict

    def with_idle(cols):  # (3, n) -> (4, 1 + n): idle column first
        a = np.zeros((4, 1 + cols.shape[1]))
        a[3, 0] = 1.0
        a[:3, 1:] = cols
        return a / a.sum(0, keepdims=True)

    # sent index 1 + (b · Q + q) · H + h
    loc = with_idle(np.stack(local, -1).reshape(3, n_s * 2))
    cld = with_idle(np.stack(cloud, -1).reshape(3, n_s * 4))
    edg = with_idle(np.stack(edge, 2).reshape(3, n_s * 2 * 3))
    return loc, edg, cld


def _sent_transition(n_s: int, n_q: int, n_h: int, n_nodes: int, j: int) -> np.ndarray:
    """B[sent:j] (n, n, S+1, 4[, 3], U) float32: copy (bin, q(req)[, health]) when u = j,
    else idle; q(r) = r when Q = 4, the strict bit r mod 2 when Q = 2."""
    n = 1 + n_s * n_q * n_h
    b = np.zeros((n, n, n_s, 4, n_h, n_nodes), np.float32)
    b[0] = 1.0
    b[:, :, :, :, :, j] = 0.0
    for s, r, h in np.ndindex(n_s, 4, n_h):
        b[1 + (s * n_q + r % n_q) * n_h + h, :, s, r, h, j] = 1.0
    return b if n_h > 1 else b[:, :, :, :, 0]


# ---------------------------------------------------------------- the model
def build_paper_model(params: EnvParams | None = None, **options) -> GenerativeModel:
    """The ``paper`` POMDP (module docstring); ``options``: ``SlackOptions`` fields
    (``evt_tail`` is ignored: the tail is ``spike_tail``; ``latency_noise`` defaults to
    ``compute_noise``, ``fail_cost`` to ``FAIL_COST``)."""
    params = aif_llm_paper.make_params() if params is None else params
    opt = make_slack_options(
        **{"latency_noise": compute_noise(params), "fail_cost": FAIL_COST, **options}
    )
    nodes = node_names(params)
    n_n, n_e = params.n_nodes, params.n_edge
    s_lv = slack_levels(opt.slack_edges)
    n_s = len(s_lv)
    f_health, f_req, f_sent = n_n, n_n + n_e, n_n + n_e + 1

    def sent_levels(j: int):
        hs = HEALTH_LEVELS if is_edge[j] else ("",)
        qs = REQ_LEVELS if j == n_n - 1 else ("relaxed", "strict")
        body = (f"{s}|{q}" + (f"|{h}" if h else "") for s in s_lv for q in qs for h in hs)
        return (IDLE, *body)

    is_edge = [0 < j <= n_e for j in range(n_n)]
    factor_names = (
        *(f"slack:{n}" for n in nodes),
        *(f"health:{n}" for n in nodes[1:-1]),
        "req",
        *(f"sent:{n}" for n in nodes),
    )
    factor_levels = (
        (s_lv,) * n_n + (HEALTH_LEVELS,) * n_e + (REQ_LEVELS,)
        + tuple(sent_levels(j) for j in range(n_n))
    )  # fmt: skip
    rate = base_rate(params)
    B = [np.full((n_s, n_s, 1), 1.0 / n_s)] * n_n + [health_chain(params)[..., None]] * n_e
    B += [np.broadcast_to(rate[:, None, None], (4, 4, 1))]
    B_deps = [(j,) for j in range(n_n)] + [(n_n + e,) for e in range(n_e)] + [(f_req,)]
    B_acts: list[tuple] = [()] * (n_n + n_e + 1)
    for j in range(n_n):
        B.append(_sent_transition(n_s, 4 if j == n_n - 1 else 2, 3 if is_edge[j] else 1, n_n, j))
        health = (f_health + j - 1,) if is_edge[j] else ()
        B_deps.append((f_sent + j, j, f_req, *health))
        B_acts.append((0,))

    a_loc, a_edge, a_cloud = outcome_likelihoods(params, opt)
    a_out = [a_loc, *[a_edge] * n_e, a_cloud]
    A = [slack_confusion(opt.slack_edges, opt.slack_noise, opt.n_quad)] * n_n
    A += [health_likelihood(params)] * n_e + a_out
    A_deps = [(j,) for j in range(n_n)] + [(f_health + e,) for e in range(n_e)]
    A_deps += [(f_sent + j,) for j in range(n_n)]
    mod_names = (
        *(f"obs_slack:{n}" for n in nodes),
        *(f"obs_health:{n}" for n in nodes[1:-1]),
        *(f"outcome:{n}" for n in nodes),
    )
    mod_levels = (s_lv,) * n_n + (HEALTH_OBS,) * n_e + (OUTCOME_LEVELS,) * n_n
    c_out = np.array([0.0, -1.0, -opt.fail_cost, 0.0])
    C = [np.zeros(len(lv)) for lv in mod_levels[: n_n + n_e]] + [c_out] * n_n
    stationary = np.array([params.mean_ok_s, params.mean_degraded_s, params.mean_repair_s])
    D = [np.full(n_s, 1.0 / n_s)] * n_n + [stationary / stationary.sum()] * n_e + [rate]
    D += [np.eye(len(factor_levels[f_sent + j]))[0] for j in range(n_n)]
    pA = (None,) * (n_n + n_e) + tuple(opt.prior_count * a for a in a_out)
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
