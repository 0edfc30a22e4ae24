"""AIF-LLM simulator v2, scenario ``paper`` (env id ``aif-llm``; AIF-LLM §1, §3.1, §4.1, §5.1).

Same functional API as ``aif_llm`` (scenario ``v1``): ``reset(key, params) -> (obs, state)``,
``step(key, state, action, params) -> (obs, state, reward, done, info)``, pure and jittable,
static shapes. ``Obs`` and ``StepInfo`` carry every field of v1's, so v1 policies run here.

**Time.** The clock moves in slots of ``slot_ms``. A Markov-modulated Poisson process
(calm / burst, AIF-LLM §1 "负载突发") puts ``n ~ min(Poisson(λ), K)`` tasks into a slot
(``K = max_tasks_per_slot``, static buffer). Each ``step`` decides ONE task, the next of the
current slot in arrival order (all of a slot's tasks arrive at its start). When a slot's
tasks are all decided the clock advances slot by slot (empty slots are skipped, their
dynamics still applied; a ``lax.while_loop`` bounded by ``MAX_SKIP``) to the next non-empty
slot. An episode is ``max_steps`` decisions (static), so ``rollout``/``scan`` stay unchanged.

**Nodes** (actions as in v1: 0 local, 1..E edges, E+1 cloud). A task's latency on a node::

    local  L = C / F_dev                                      (F_dev: the user's device)
    edge e L = max(tx_e, free_e − now) + C / (F_e · s_deg) + spike   (FIFO single server)
    cloud  L = (max(now, uplink_free) − now) + bits / B(w) + RTT(w) + C / F_cloud + spike

with C = 2 · N_params · (prompt + output tokens) GFLOP (the standard forward-pass cost of a
decoder, Kaplan et al. 2020, "Scaling laws", C_forward ≈ 2N per token), the shared FIFO WAN
uplink of capacity B(w) (Markov-modulated, WAN state w; cloud compute unbounded, §5.1), and a
latency spike ``1[u < p_spike] · GPD(ζ = 1.5, σ = σ_tok · output tokens)`` (§5.1: ζ = 1.5
"模拟 LLM 推理随 Token 增加导致的 KV Cache 显存占用与计算量非线性增长").

**Outcome fixed at dispatch, failures exact.** When an edge comes up its future is drawn:
degradation at t_deg = now + Exp(mean_ok), failure at t_fail = t_deg + Exp(mean_degraded).
A task whose interval [now, now + L] contains t_fail FAILS (a failure kills the running and
the queued tasks; the queue is empty after it); a degraded edge runs ``s_deg`` slower and its
telemetry (temperature/power, §4.1 "CPU/GPU 利用率、功耗、温度") reads high. Repair after
Exp(mean_repair). Up/down is observed ``detect_delay`` slots late. A task also FAILS when its
KV cache does not fit the edge's KV memory (it is refused: we pick "fails", not "waits"),
when the edge's queue exceeds ``edge_queue_s``, when a private task goes to the cloud
(hidden requirement), or when L > timeout_factor · deadline.

**Hidden task requirements.** Privacy and latency class (strict tasks have
``strict_factor`` · the nominal deadline) are not in ``Obs``; the task text (``text_id``)
states them, each flag flipped with probability ``text_noise``. Task types 4 and 5 appear
from slot ``new_types_slot`` on (cold start). ``Obs.task.compute_gflop`` is the estimate
with the type's mean output length (the true output length is unknown at dispatch).

**Partial telemetry.** ``Obs.queue_ms`` is the queue wait of ``telemetry_lag`` slots ago
(snapshots at slot starts, so decisions within a slot do not see each other); ``Obs.rtt_ms``
is the WAN RTT measured by the most recent cloud-bound task (reported one decision later;
no probe action: the action set stays v1's), the nominal RTT before any.

**Regimes and the event log.** A hidden regime (normal / stressed, "环境剧变") switches at
pre-drawn random slots; stressed multiplies the arrival rate and the failure hazard and
makes the WAN chain more volatile. One event id per slot (``Obs.event``, texts in
``task_texts.event_texts``; the POMDP agent ignores it, an advisor may read it): a
maintenance notice for a degraded edge, a stress forecast ``forecast_lead`` slots before a
switch to stressed, a congestion report while the WAN is congested, each emitted with
probability ``event_detect`` and falsely with probability ``event_false`` per slot.

``Obs.oracle`` (n_nodes, 2) holds each node's TRUE P(met) and spike-free latency from the
full state (for the ``oracle`` reference policy only; every other policy ignores it);
``Obs.state`` is the full ``EnvState`` itself (for the ``mpc`` planner only).

Parameters: four dimensionless knobs (``rho``, ``hazard``, ``tail``, ``tightness``) set the
derived fields through ``params_from_knobs``; see ``paper_repro/calibration.md``.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtri

from aifedge.config import ConfigError, check_overrides

from .aif_llm import FAILED, MET, VIOLATED
from .tails import gpd_icdf, gpd_log_survival
from .task_texts import PAPER_CLASS_NAMES, PAPER_PHRASES_PER_TYPE

__all__ = ["FAILED", "MET", "VIOLATED"]

MAX_SKIP = 64
"""Most slots one advance walks through looking for a non-empty slot (then a task is forced;
P(64 empty slots) < 1e-25 at the default rates)."""

KNOBS = ("rho", "hazard", "tail", "tightness")
DERIVED = {
    "rate_calm": "rho",
    "spike_prob": "tail (spike_prob = base_spike_prob · tail)",
    "deadline_ms": "tightness (deadline_ms = base_deadline_ms · tightness)",
}
"""Fields ``params_from_knobs`` derives: set by hand only to the value the knobs give (a
recorded config reloads); another value is a ``ConfigError`` naming the knob."""
N_TYPES = len(PAPER_CLASS_NAMES)


class EnvParams(NamedTuple):
    """Scenario ``paper`` parameters. Units in brackets. (§x) = AIF-LLM seed 000; "ext." = a
    cited external figure; "assumption" = this project's, fixed before any method ran;
    "knob" = derived by ``params_from_knobs`` (do not set by hand unless you mean it).

    Calibration knobs (dimensionless)
      rho        load ρ = mean arrival rate / (edge + WAN service rate) (§5.2.2 "逼近系统极限").
      hazard     multiplies every edge failure hazard (§1 "节点故障").
      tail       multiplies the latency-spike probability (§5.1 GPD tail).
      tightness  multiplies every deadline (§4.1 task "QoS约束").
    Topology
      cloud_gflops [GFLOPS]           10,000, unbounded parallel capacity (§5.1).
      edge_gflops [GFLOPS] (E,)       five heterogeneous edges, 50–200 (§5.1).
      edge_kv_mb [MB] (E,)            memory left for the KV cache per edge (assumption).
      edge_queue_s [s]                queue capacity in seconds of wait (assumption, as v1).
      edge_access_ms [ms]             access-link time to an edge (v1's 10 ms RTT).
      device_gflops [GFLOPS] (D,)     users' local accelerators, one drawn per task
                                      (heterogeneous devices; assumption).
      cloud_rtt_ms [ms]               WAN RTT in the good state (v1's 80 ms).
      uplink_mbps [Mbit/s]            shared WAN uplink in the good state (v1's 20 Mbit/s).
      wan_rtt_mult, wan_bw_div (3,)   good / degraded / congested (v1's values; §4.1
                                      network "带宽、延迟波动").
      wan_transition (2, 3, 3)        WAN chain per slot, per regime (normal, stressed).
      bg_util                         mean utilisation by other tenants (v1's 0.3).
    Tasks (per type, ``task_texts.PAPER_CLASS_NAMES``; LLM inference, §5.1 "随 Token 增加")
      model_params_b [1e9] (T,)       SmolLM2-135M / -360M, Qwen2.5-0.5B sizes (ext.).
      kv_kb_per_token [KB] (T,)       2·layers·kv_heads·head_dim·2 B from those models'
                                      configs (ext.).
      prompt_tokens, output_tokens (T,)  log-normal medians (assumption).
      token_sigma                     log-normal σ of both token counts (assumption).
      data_in_mb [MB] (T,)            upload size (text, a JPEG frame, 10 s of audio).
      base_deadline_ms [ms] (T,)      nominal QoS deadline before ``tightness`` (assumption).
      deadline_ms [ms] (T,)           knob: base_deadline_ms · tightness.
      private_prob, strict_prob (T,)  hidden requirement rates (assumption).
      strict_factor                   a strict task's deadline / the nominal (assumption).
      type_probs (T,)                 mix before ``new_types_slot`` (types 4, 5 absent).
      late_type_probs (T,)            mix from ``new_types_slot`` on (cold start, Alg. 1).
      new_types_slot                  slot from which the late mix applies.
      text_noise                      P(a flag stated in the text is flipped).
      timeout_factor                  failed past timeout_factor · deadline (v1's 3).
    Arrivals (Markov-modulated Poisson, §1 "负载突发")
      slot_ms [ms], max_tasks_per_slot  slot length, static per-slot cap K.
      burst_enter, burst_leave [1/slot] calm→burst, burst→calm probabilities.
      burst_mult                      burst rate / calm rate.
      rate_calm [tasks/slot]          knob: from rho.
      stress_load_mult                arrival multiplier in the stressed regime.
    Failures (§1 "节点故障", §4.1 temperature/power)
      mean_ok_s, mean_degraded_s, mean_repair_s [s]   knob (hazard): phase means.
      stress_hazard_mult              hazard multiplier when stressed.
      degraded_speed                  speed factor s_deg of a degraded edge.
      telemetry_noise                 σ of the temperature-like reading (1 healthy, 2 degraded).
      detect_delay [slots]            up/down observed this late.
    Regimes ("环境剧变", Alg. 1)
      regime_mean_slots (2,)          mean stay in normal / stressed.
    Spikes (§5.1)
      spike_prob                      knob: base_spike_prob · tail.
      base_spike_prob                 per-task spike probability before ``tail``.
      spike_shape                     GPD ζ = 1.5 (§5.1).
      spike_ms_per_token [ms]         GPD scale σ per output token.
    Telemetry and events
      telemetry_lag [slots]           ``Obs.queue_ms`` staleness.
      obs_noise                       log-normal σ on observed queue waits.
      forecast_lead [slots], event_detect, event_false   event log.
      max_steps                       decisions per episode (≈ 100 slots, §5.2.1).
    """

    rho: float = 0.9
    hazard: float = 1.0
    tail: float = 1.0
    tightness: float = 1.0
    cloud_gflops: float = 10_000.0
    edge_gflops: tuple = (50.0, 87.5, 125.0, 162.5, 200.0)
    edge_kv_mb: tuple = (16.0, 32.0, 64.0, 128.0, 256.0)
    edge_queue_s: float = 2.0
    edge_access_ms: float = 10.0
    device_gflops: tuple = (10.0, 20.0, 40.0)
    cloud_rtt_ms: float = 80.0
    uplink_mbps: float = 20.0
    wan_rtt_mult: tuple = (1.0, 2.5, 6.0)
    wan_bw_div: tuple = (1.0, 2.0, 4.0)
    wan_transition: tuple = (
        ((0.97, 0.025, 0.005), (0.10, 0.85, 0.05), (0.05, 0.15, 0.80)),
        ((0.90, 0.07, 0.03), (0.08, 0.80, 0.12), (0.03, 0.12, 0.85)),
    )
    bg_util: float = 0.3
    model_params_b: tuple = (0.135, 0.135, 0.36, 0.36, 0.5, 0.36)
    kv_kb_per_token: tuple = (23.0, 23.0, 41.0, 41.0, 12.0, 41.0)
    prompt_tokens: tuple = (32.0, 64.0, 384.0, 256.0, 96.0, 128.0)
    output_tokens: tuple = (32.0, 16.0, 64.0, 128.0, 48.0, 64.0)
    token_sigma: float = 0.5
    data_in_mb: tuple = (0.002, 0.3, 0.01, 0.005, 0.004, 0.32)
    base_deadline_ms: tuple = (300.0, 500.0, 1500.0, 3000.0, 600.0, 1200.0)
    deadline_ms: tuple = (300.0, 500.0, 1500.0, 3000.0, 600.0, 1200.0)
    private_prob: tuple = (0.05, 0.05, 0.1, 0.02, 0.05, 0.6)
    strict_prob: tuple = (0.5, 0.3, 0.1, 0.0, 0.4, 0.2)
    strict_factor: float = 0.5
    type_probs: tuple = (0.4, 0.25, 0.2, 0.15, 0.0, 0.0)
    late_type_probs: tuple = (0.3, 0.2, 0.15, 0.1, 0.15, 0.1)
    new_types_slot: int = 50
    text_noise: float = 0.1
    timeout_factor: float = 3.0
    slot_ms: float = 100.0
    max_tasks_per_slot: int = 12
    burst_enter: float = 0.05
    burst_leave: float = 0.2
    burst_mult: float = 2.5
    rate_calm: float = 1.0
    stress_load_mult: float = 1.3
    mean_ok_s: float = 60.0
    mean_degraded_s: float = 2.0
    mean_repair_s: float = 5.0
    stress_hazard_mult: float = 3.0
    degraded_speed: float = 0.7
    telemetry_noise: float = 0.2
    detect_delay: int = 2
    regime_mean_slots: tuple = (80.0, 30.0)
    spike_prob: float = 0.05
    base_spike_prob: float = 0.05
    spike_shape: float = 1.5
    spike_ms_per_token: float = 1.0
    telemetry_lag: int = 2
    obs_noise: float = 0.1
    forecast_lead: int = 5
    event_detect: float = 0.5
    event_false: float = 0.01
    max_steps: int = 400

    @property
    def n_edge(self) -> int:
        return len(self.edge_gflops)

    @property
    def n_nodes(self) -> int:
        """Number of actions: local + edges + cloud."""
        return self.n_edge + 2

    @property
    def class_probs(self) -> tuple:
        """v1's name for the type mix (its length sizes the one-hot of ``flatten_obs``)."""
        return self.type_probs


class Task(NamedTuple):
    """A task as the scheduler sees it: v1's ``Task`` fields plus ``local_gflops`` (the
    requesting device) and ``prompt_tokens``. ``deadline_ms`` is the type's nominal deadline
    (the latency class is hidden); ``compute_gflop`` uses the mean output length."""

    compute_gflop: jax.Array
    data_in_mb: jax.Array
    data_out_mb: jax.Array
    deadline_ms: jax.Array
    task_class: jax.Array
    text_id: jax.Array
    local_gflops: jax.Array
    prompt_tokens: jax.Array


class Hidden(NamedTuple):
    """What only the simulator knows about a task."""

    compute_gflop: jax.Array  # true, with the realised output length
    output_tokens: jax.Array
    kv_mb: jax.Array
    deadline_ms: jax.Array  # true (strict tasks: strict_factor · nominal)
    private: jax.Array  # bool


class EnvState(NamedTuple):
    """Full state. Slot buffer ``tasks``/``hidden`` fields are (K,); edge fields (E,);
    ``queue_hist``/``up_hist`` (H, E) snapshots at slot starts, row 0 the current slot."""

    now_ms: jax.Array
    slot: jax.Array
    t: jax.Array  # decisions made
    tasks: Task
    hidden: Hidden
    n_tasks: jax.Array
    idx: jax.Array  # next task of the slot
    free_ms: jax.Array  # (E,) absolute time each edge's FIFO server becomes free
    up: jax.Array  # (E,) bool, true
    t_deg: jax.Array
    t_fail: jax.Array
    t_repair: jax.Array
    queue_hist: jax.Array
    up_hist: jax.Array
    uplink_free_ms: jax.Array
    wan: jax.Array
    burst: jax.Array
    regime: jax.Array
    next_switch: jax.Array  # slot of the next regime switch (pre-drawn)
    event: jax.Array
    rtt_seen_ms: jax.Array
    last_node: jax.Array
    last_outcome: jax.Array
    last_latency_ms: jax.Array


class Obs(NamedTuple):
    """v1's ``Obs`` fields plus ``telemetry`` (E,) temperature-like reading (1 healthy,
    2 degraded or failed-but-not-yet-detected, noisy; 0 once a node is seen down),
    ``event`` (event-log id), ``slot``, ``pending`` (tasks of this slot still to decide,
    this one included), ``oracle`` (n_nodes, 2) [true P(met), true spike-free latency
    ms] for the ``oracle`` policy only, and ``state`` (the full ``EnvState``) for the ``mpc``
    reference policy only, which plans on copies of it (every other policy ignores both)."""

    queue_ms: jax.Array
    up: jax.Array
    rtt_ms: jax.Array
    task: Task
    t: jax.Array
    last_node: jax.Array
    last_outcome: jax.Array
    last_latency_ms: jax.Array
    telemetry: jax.Array
    event: jax.Array
    slot: jax.Array
    pending: jax.Array
    oracle: jax.Array
    state: "EnvState | None" = None


class StepInfo(NamedTuple):
    """Per-decision record: v1's fields, then ``load_rho`` (offered load of the slot, ρ
    units), ``regime``, ``privacy`` (task private), ``slot``, ``killed`` (failed by a node
    failure), ``oom`` (KV cache did not fit), ``wan`` state."""

    latency_ms: jax.Array
    outcome: jax.Array
    node: jax.Array
    task_class: jax.Array
    deadline_ms: jax.Array
    net_delay_ms: jax.Array
    n_down: jax.Array
    load_rho: jax.Array
    regime: jax.Array
    privacy: jax.Array
    slot: jax.Array
    killed: jax.Array
    oom: jax.Array
    wan: jax.Array


# ----------------------------------------------------------------------- parameters


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def mean_compute_gflop(params: EnvParams, probs=None) -> float:
    """E[C] = Σ_k p_k · 2 N_k (E[prompt_k] + E[output_k]) GFLOP, log-normal means."""
    probs = _arr(params.type_probs if probs is None else probs)
    scale = np.exp(params.token_sigma**2 / 2)
    tokens = (_arr(params.prompt_tokens) + _arr(params.output_tokens)) * scale
    return float(probs @ (2.0 * _arr(params.model_params_b) * tokens))


def service_rate(params: EnvParams) -> float:
    """Tasks/s the edge tier and the WAN can serve (capacity arithmetic behind ρ):
    Σ_e F_e (1 − bg_util) / E[C] + uplink / E[bits]."""
    probs = _arr(params.type_probs)
    edge = sum(params.edge_gflops) * (1 - params.bg_util) / mean_compute_gflop(params)
    wan = params.uplink_mbps / float(probs @ (8.0 * _arr(params.data_in_mb)))
    return edge + wan


def burst_fraction(params: EnvParams) -> float:
    """Stationary P(burst) = enter / (enter + leave)."""
    return params.burst_enter / (params.burst_enter + params.burst_leave)


def params_from_knobs(
    rho: float = 0.9, hazard: float = 1.0, tail: float = 1.0, tightness: float = 1.0, **fields
) -> EnvParams:
    """``EnvParams`` with the knob-derived fields set (validated; ``ConfigError``):

    rate_calm = ρ · μ · slot_s / (1 − π_b + π_b · burst_mult)  (μ = ``service_rate``)
    mean_ok_s, mean_degraded_s = base / hazard;  spike_prob = base_spike_prob · tail;
    deadline_ms = base_deadline_ms · tightness.
    """
    for name, v in zip(KNOBS, (rho, hazard, tail, tightness), strict=True):
        if not (isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < 1e6):
            raise ConfigError(f"EnvParams.{name}: knob must be a number > 0 (got {v!r})")
    base = EnvParams(**check_overrides("EnvParams", EnvParams(), fields))
    _validate(base)
    pi_b = burst_fraction(base)
    rate = rho * service_rate(base) * base.slot_ms / 1000.0 / (1 - pi_b + pi_b * base.burst_mult)
    default = EnvParams()
    p = base._replace(
        rho=float(rho),
        hazard=float(hazard),
        tail=float(tail),
        tightness=float(tightness),
        rate_calm=float(rate),
        mean_ok_s=default.mean_ok_s / hazard if "mean_ok_s" not in fields else base.mean_ok_s,
        mean_degraded_s=(
            default.mean_degraded_s / hazard
            if "mean_degraded_s" not in fields
            else base.mean_degraded_s
        ),
        spike_prob=float(min(base.base_spike_prob * tail, 1.0)),
        deadline_ms=tuple(float(d) * tightness for d in base.base_deadline_ms),
    )
    for name, knob in DERIVED.items():
        given, derived = fields.get(name), getattr(p, name)
        if given is not None and not np.allclose(_arr(given), _arr(derived), rtol=1e-6):
            raise ConfigError(
                f"EnvParams.{name}: derived from the knob {knob}; got {given!r} but the knobs "
                f"give {derived!r}: set the knob instead"
            )
    _validate(p)
    return p


def make_params(**overrides) -> EnvParams:
    """Default ``EnvParams`` (knobs at their defaults) with validated overrides; knobs among
    ``overrides`` re-derive their fields (``params_from_knobs``)."""
    knobs = {k: overrides.pop(k) for k in KNOBS if k in overrides}
    return params_from_knobs(**knobs, **overrides)


def _validate(p: EnvParams) -> None:
    def positive(name):
        v = np.ravel(_arr(getattr(p, name)))
        if v.size == 0 or not np.all(v > 0):
            raise ConfigError(f"EnvParams.{name}: must be > 0 (got {getattr(p, name)!r})")

    def prob(name):
        v = np.ravel(_arr(getattr(p, name)))
        if not np.all((v >= 0) & (v <= 1)):
            raise ConfigError(f"EnvParams.{name}: must lie in [0, 1] (got {getattr(p, name)!r})")

    for name in (
        "cloud_gflops edge_gflops edge_kv_mb edge_queue_s edge_access_ms device_gflops "
        "cloud_rtt_ms uplink_mbps wan_rtt_mult wan_bw_div model_params_b kv_kb_per_token "
        "prompt_tokens output_tokens data_in_mb base_deadline_ms strict_factor slot_ms "
        "burst_mult mean_ok_s mean_degraded_s mean_repair_s stress_load_mult "
        "stress_hazard_mult degraded_speed regime_mean_slots spike_ms_per_token"
    ).split():
        positive(name)
    for name in (
        "private_prob strict_prob text_noise burst_enter burst_leave bg_util spike_prob "
        "base_spike_prob event_detect event_false"
    ).split():
        prob(name)
    for name in ("private_prob", "strict_prob", "model_params_b", "kv_kb_per_token",
                 "prompt_tokens", "output_tokens", "data_in_mb", "base_deadline_ms",
                 "type_probs", "late_type_probs"):  # fmt: skip
        if len(getattr(p, name)) != N_TYPES:
            raise ConfigError(
                f"EnvParams.{name}: needs one entry per task type {PAPER_CLASS_NAMES} "
                f"(got {getattr(p, name)!r})"
            )
    for name in ("type_probs", "late_type_probs"):
        v = _arr(getattr(p, name))
        if np.any(v < 0) or abs(v.sum() - 1) > 1e-6:
            raise ConfigError(f"EnvParams.{name}: needs non-negative entries summing to 1")
    if len(p.edge_kv_mb) != p.n_edge:
        raise ConfigError(f"EnvParams.edge_kv_mb: needs one entry per edge ({p.n_edge})")
    trans = _arr(p.wan_transition)
    if trans.shape != (2, 3, 3) or np.any(trans < 0) or not np.allclose(trans.sum(-1), 1):
        raise ConfigError(
            "EnvParams.wan_transition: needs 2 regimes × 3 × 3 row-stochastic entries"
        )
    if p.timeout_factor < 1:
        raise ConfigError(f"EnvParams.timeout_factor: must be ≥ 1 (got {p.timeout_factor})")
    if p.token_sigma < 0 or p.obs_noise < 0 or p.telemetry_noise < 0:
        raise ConfigError("EnvParams.token_sigma/obs_noise/telemetry_noise: must be ≥ 0")
    for name in ("max_steps", "max_tasks_per_slot"):
        if getattr(p, name) < 1:
            raise ConfigError(f"EnvParams.{name}: must be an integer ≥ 1")
    for name in ("telemetry_lag", "detect_delay", "forecast_lead", "new_types_slot"):
        if getattr(p, name) < 0:
            raise ConfigError(f"EnvParams.{name}: must be an integer ≥ 0")


# ----------------------------------------------------------------------- dynamics


def _history(p: EnvParams) -> int:
    return max(p.telemetry_lag, p.detect_delay) + 1


class _Uniforms:
    """Slices of ONE ``jax.random.uniform`` draw on (0, 1) (one threefry call per function
    instead of one per variable: the step compiles several times faster)."""

    def __init__(self, key: jax.Array, n: int):
        self.u, self.i = jax.random.uniform(key, (n,), minval=1e-7, maxval=1 - 1e-7), 0

    def take(self, *shape: int) -> jax.Array:
        n = int(np.prod(shape))
        assert self.i + n <= self.u.shape[0], "draw more uniforms"
        self.i += n
        return self.u[self.i - n : self.i].reshape(shape)

    def exponential(self, *shape: int) -> jax.Array:
        return -jnp.log(self.take(*shape))

    def categorical(self, probs: jax.Array, *shape: int) -> jax.Array:
        """Index drawn with probabilities ``probs`` (inversion)."""
        cdf = jnp.cumsum(probs)
        idx = jnp.sum(self.take(*shape)[..., None] > cdf[:-1], axis=-1)
        return idx.astype(jnp.int32)


def sample_spike(key: jax.Array, output_tokens, params: EnvParams) -> jax.Array:
    """1[u < spike_prob] · GPD(ζ = spike_shape, σ = spike_ms_per_token · output_tokens)."""
    shape = jnp.shape(output_tokens)
    u = jax.random.uniform(key, (2, *shape))
    gpd = gpd_icdf(u[1], params.spike_shape, 1.0) * params.spike_ms_per_token * output_tokens
    return jnp.where(u[0] < params.spike_prob, gpd, 0.0)


def _sample_tasks(key: jax.Array, slot, params: EnvParams) -> tuple[Task, Hidden]:
    """K tasks (the slot buffer): type, tokens, hidden flags and their noisy text."""
    k = params.max_tasks_per_slot
    u = _Uniforms(key, 9 * k)
    probs = jnp.where(
        slot >= params.new_types_slot,
        jnp.asarray(params.late_type_probs),
        jnp.asarray(params.type_probs),
    )
    cls = u.categorical(probs, k)

    def tokens(medians):
        z = ndtri(u.take(k))
        return jnp.maximum(
            jnp.round(jnp.asarray(medians)[cls] * jnp.exp(params.token_sigma * z)), 1.0
        )

    prompt, output = tokens(params.prompt_tokens), tokens(params.output_tokens)
    n_b = jnp.asarray(params.model_params_b)[cls]
    mean_out = jnp.asarray(params.output_tokens)[cls] * np.exp(params.token_sigma**2 / 2)
    private = u.take(k) < jnp.asarray(params.private_prob)[cls]
    strict = u.take(k) < jnp.asarray(params.strict_prob)[cls]
    flip = u.take(2, k) < params.text_noise
    said_priv, said_strict = private ^ flip[0], strict ^ flip[1]
    phrase = u.categorical(jnp.full(PAPER_PHRASES_PER_TYPE, 1.0 / PAPER_PHRASES_PER_TYPE), k)
    text = ((cls * 2 + said_priv) * 2 + said_strict) * PAPER_PHRASES_PER_TYPE + phrase
    nominal = jnp.asarray(params.deadline_ms)[cls]
    n_dev = len(params.device_gflops)
    device = jnp.asarray(params.device_gflops)[u.categorical(jnp.full(n_dev, 1.0 / n_dev), k)]
    task = Task(
        compute_gflop=2.0 * n_b * (prompt + mean_out),
        data_in_mb=jnp.asarray(params.data_in_mb)[cls],
        data_out_mb=jnp.full((k,), 0.001),
        deadline_ms=nominal,
        task_class=cls,
        text_id=text.astype(jnp.int32),
        local_gflops=device,
        prompt_tokens=prompt,
    )
    hidden = Hidden(
        compute_gflop=2.0 * n_b * (prompt + output),
        output_tokens=output,
        kv_mb=(prompt + output) * jnp.asarray(params.kv_kb_per_token)[cls] / 1000.0,
        deadline_ms=jnp.where(strict, params.strict_factor * nominal, nominal),
        private=private,
    )
    return task, hidden


def _hazard_mult(regime, params: EnvParams):
    return jnp.where(regime == 1, params.stress_hazard_mult, 1.0)


def _new_life(u: _Uniforms, now, regime, params: EnvParams):
    """(t_deg, t_fail) (E,) of edges that come up at ``now``."""
    e = len(params.edge_gflops)
    h = _hazard_mult(regime, params)
    t_deg = now + u.exponential(e) * params.mean_ok_s * 1000.0 / h
    return t_deg, t_deg + u.exponential(e) * params.mean_degraded_s * 1000.0 / h


def _geometric_stay(u: _Uniforms, regime, params: EnvParams):
    """Slots until the next regime switch, ≥ 1, mean ``regime_mean_slots[regime]``."""
    q = 1.0 / jnp.maximum(jnp.asarray(params.regime_mean_slots)[regime], 1.0)
    return 1 + jnp.floor(jnp.log(u.take(1)[0]) / jnp.log1p(-q + 1e-12)).astype(jnp.int32)


def capped_poisson(u: jax.Array, rate, cap: int) -> jax.Array:
    """min(Poisson(rate), cap) from a uniform ``u`` by inversion over 0..cap (exact)."""
    j = jnp.arange(cap, dtype=jnp.float32)
    cdf = jnp.cumsum(jnp.exp(j * jnp.log(rate) - rate - jax.lax.lgamma(j + 1.0)))
    return jnp.sum(u > cdf).astype(jnp.int32)


def arrival_rate(state_burst, regime, params: EnvParams):
    """Poisson mean tasks per slot in the given arrival and regime states."""
    rate = params.rate_calm * jnp.where(state_burst == 1, params.burst_mult, 1.0)
    return rate * jnp.where(regime == 1, params.stress_load_mult, 1.0)


def _event(u: _Uniforms, s: EnvState, degraded, params: EnvParams):
    """This slot's event id (priority: maintenance, forecast, congestion; 0 none)."""
    e = len(params.edge_gflops)
    notice = degraded & (u.take(e) < params.event_detect)
    false_edge = u.categorical(jnp.full(e, 1.0 / e), 1)[0]
    maint = jnp.where(
        jnp.any(notice),
        1 + jnp.argmax(notice),
        jnp.where(u.take(1)[0] < params.event_false, 1 + false_edge, 0),
    )
    ahead = (s.next_switch - s.slot == params.forecast_lead) & (s.regime == 0)
    v = u.take(3)
    forecast = (ahead & (v[0] < params.event_detect)) | (v[1] < params.event_false)
    congest = (s.wan == 2) & (v[2] < params.event_detect)
    return jnp.where(
        maint > 0, maint, jnp.where(forecast, e + 1, jnp.where(congest, e + 2, 0))
    ).astype(jnp.int32)


def _advance_slot(key: jax.Array, s: EnvState, params: EnvParams) -> EnvState:
    """One slot of dynamics: clock, regime, arrivals chain, WAN, failures/repairs,
    background work, telemetry snapshots, event, new tasks."""
    k_u, k_tasks = jax.random.split(key)
    e = len(params.edge_gflops)
    u = _Uniforms(k_u, 4 + 5 * e + 6)
    slot_ms = params.slot_ms
    now = s.now_ms + slot_ms
    slot = s.slot + 1
    switch = slot >= s.next_switch
    regime = jnp.where(switch, 1 - s.regime, s.regime)
    next_switch = jnp.where(switch, slot + _geometric_stay(u, regime, params), s.next_switch)
    v = u.take(1)[0]
    burst = jnp.where(s.burst == 1, v >= params.burst_leave, v < params.burst_enter)
    wan = u.categorical(jnp.asarray(params.wan_transition)[regime, s.wan], 1)[0]
    # Failures at t_fail (already inside an earlier interval: those tasks failed at dispatch).
    fails = s.up & (now >= s.t_fail)
    repair_ms = u.exponential(e) * params.mean_repair_s * 1000.0
    t_repair = jnp.where(fails, s.t_fail + repair_ms, s.t_repair)
    repaired = ~s.up & (now >= t_repair)
    up = (s.up & ~fails) | repaired
    t_deg_new, t_fail_new = _new_life(u, now, regime, params)
    t_deg = jnp.where(repaired, t_deg_new, s.t_deg)
    t_fail = jnp.where(repaired, t_fail_new, s.t_fail)
    bg = u.exponential(e) * params.bg_util * slot_ms
    free = jnp.where(up, jnp.maximum(jnp.where(fails, now, s.free_ms), now) + bg, now)
    queue = jnp.maximum(free - now, 0.0)
    burst = burst.astype(jnp.int32)
    n = capped_poisson(u.take(1)[0], arrival_rate(burst, regime, params), params.max_tasks_per_slot)
    tasks, hidden = _sample_tasks(k_tasks, slot, params)
    s = s._replace(
        now_ms=now, slot=slot, tasks=tasks, hidden=hidden, n_tasks=n, idx=jnp.int32(0),
        free_ms=free, up=up, t_deg=t_deg, t_fail=t_fail, t_repair=t_repair,
        queue_hist=jnp.concatenate([queue[None], s.queue_hist[:-1]]),
        up_hist=jnp.concatenate([up[None], s.up_hist[:-1]]),
        wan=wan, burst=burst, regime=regime, next_switch=next_switch,
    )  # fmt: skip
    return s._replace(event=_event(u, s, up & (now >= t_deg), params))


def _next_task(key: jax.Array, s: EnvState, params: EnvParams) -> EnvState:
    """Advance slot by slot until the current slot has an undecided task (≤ ``MAX_SKIP``)."""

    def cond(c):
        s, _, i = c
        return (s.idx >= s.n_tasks) & (i < MAX_SKIP)

    def body(c):
        s, k, i = c
        k, sub = jax.random.split(k)
        return _advance_slot(sub, s, params), k, i + 1

    s, _, _ = jax.lax.while_loop(cond, body, (s, key, jnp.int32(0)))
    return s._replace(n_tasks=jnp.maximum(s.n_tasks, s.idx + 1))


def node_latency(task: Task, hidden: Hidden, s: EnvState, params: EnvParams):
    """True spike-free latency (n_nodes,) ms, hard failure (n_nodes,) bool and the latest
    completion time (n_nodes,) ms after which the task fails (timeout or edge failure).

    Also returns the edge start times (E,) and the cloud upload end (for ``step``)."""
    now = s.now_ms
    gflops = jnp.asarray(params.edge_gflops)
    degraded = now >= s.t_deg
    speed = gflops * jnp.where(degraded, params.degraded_speed, 1.0)
    tx_edge = params.edge_access_ms + 8.0 * task.data_in_mb / 100.0 * 1000.0
    start = jnp.maximum(now + tx_edge, s.free_ms)
    edge_lat = start - now + hidden.compute_gflop / speed * 1000.0
    bw = params.uplink_mbps / jnp.asarray(params.wan_bw_div)[s.wan]
    up_start = jnp.maximum(now, s.uplink_free_ms)
    up_end = up_start + 8.0 * task.data_in_mb / bw * 1000.0
    rtt = params.cloud_rtt_ms * jnp.asarray(params.wan_rtt_mult)[s.wan]
    cloud_lat = up_end - now + rtt + hidden.compute_gflop / params.cloud_gflops * 1000.0
    local_lat = hidden.compute_gflop / task.local_gflops * 1000.0
    latency = jnp.concatenate([local_lat[None], edge_lat, cloud_lat[None]])
    edge_fail = (
        ~s.up | (hidden.kv_mb > jnp.asarray(params.edge_kv_mb))
        | (s.free_ms - now > params.edge_queue_s * 1000.0)
    )  # fmt: skip
    hard = jnp.concatenate([jnp.array([False]), edge_fail, hidden.private[None]])
    timeout = params.timeout_factor * hidden.deadline_ms
    kill = jnp.concatenate([jnp.array([jnp.inf]), s.t_fail - now, jnp.array([jnp.inf])])
    return latency, hard, jnp.minimum(timeout, kill), start, up_end


def _oracle(task, hidden, s: EnvState, params: EnvParams) -> jax.Array:
    """(n_nodes, 2): true P(met) = P(no hard failure, L + spike ≤ min(deadline, limit)) and
    the spike-free latency (AIF-LLM §5.1 GPD tail via ``gpd_log_survival``)."""
    lat, hard, limit, _, _ = node_latency(task, hidden, s, params)
    bound = jnp.minimum(hidden.deadline_ms, limit)
    scale = params.spike_ms_per_token * hidden.output_tokens
    surv = jnp.exp(gpd_log_survival(bound - lat, scale, params.spike_shape))
    p_met = jnp.where(hard | (lat > bound), 0.0, 1.0 - params.spike_prob * surv)
    return jnp.stack([p_met, lat], axis=-1)


def _current(s: EnvState) -> tuple[Task, Hidden]:
    pick = lambda x: x[s.idx]  # noqa: E731
    return jax.tree.map(pick, s.tasks), jax.tree.map(pick, s.hidden)


def _observe(key: jax.Array, s: EnvState, params: EnvParams) -> Obs:
    task, hidden = _current(s)
    e = len(params.edge_gflops)
    z = jax.random.normal(key, (2, e))
    up_seen = s.up_hist[params.detect_delay]
    queue = s.queue_hist[params.telemetry_lag] * jnp.exp(params.obs_noise * z[0])
    hot = ~s.up | (s.now_ms >= s.t_deg)  # degraded, or failed but not yet detected
    telemetry = 1.0 + hot + params.telemetry_noise * z[1]
    return Obs(
        queue_ms=jnp.where(up_seen, queue, 0.0),
        up=up_seen.astype(jnp.float32),
        rtt_ms=s.rtt_seen_ms,
        task=task,
        t=s.t,
        last_node=s.last_node,
        last_outcome=s.last_outcome,
        last_latency_ms=s.last_latency_ms,
        telemetry=jnp.where(up_seen, jnp.maximum(telemetry, 0.0), 0.0),
        event=s.event,
        slot=s.slot,
        pending=s.n_tasks - s.idx,
        oracle=_oracle(task, hidden, s, params),
        state=s,
    )


def reset(key: jax.Array, params: EnvParams) -> tuple[Obs, EnvState]:
    """Start an episode: queues U(0, 0.5 s), all edges up, chains from their stationary
    (arrivals) or initial (WAN good, regime normal) states, then the first non-empty slot."""
    keys = jax.random.split(key, 4)
    e, h = len(params.edge_gflops), _history(params)
    u = _Uniforms(keys[0], 4 * e + 2)
    now = jnp.float32(0.0)
    t_deg, t_fail = _new_life(u, now, 0, params)
    free = u.take(e) * 500.0
    tasks, hidden = _sample_tasks(keys[1], 0, params)
    burst = (u.take(1)[0] < burst_fraction(params)).astype(jnp.int32)
    s = EnvState(
        now_ms=now, slot=jnp.int32(-1), t=jnp.int32(0), tasks=tasks, hidden=hidden,
        n_tasks=jnp.int32(0), idx=jnp.int32(0), free_ms=free, up=jnp.ones(e, bool),
        t_deg=t_deg, t_fail=t_fail, t_repair=jnp.full(e, jnp.inf),
        queue_hist=jnp.tile(free[None], (h, 1)), up_hist=jnp.ones((h, e), bool),
        uplink_free_ms=now, wan=jnp.int32(0), burst=burst, regime=jnp.int32(0),
        next_switch=_geometric_stay(u, 0, params), event=jnp.int32(0),
        rtt_seen_ms=jnp.float32(params.cloud_rtt_ms), last_node=jnp.int32(-1),
        last_outcome=jnp.int32(-1), last_latency_ms=jnp.float32(0.0),
    )  # fmt: skip
    # Slot 0 starts at now = 0: step back one slot so the first advance lands on it.
    s = _next_task(keys[2], s._replace(now_ms=now - params.slot_ms), params)
    return _observe(keys[3], s, params), s


def step(key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams):
    """Dispatch the current task to node ``action``; move to the next task (next slot when
    this one is done). Returns ``(obs, state, reward, done, info)``; reward +1 met,
    0 violated, −1 failed (for RL baselines; the paper gives none)."""
    k_spike, k_next, k_obs = jax.random.split(key, 3)
    s = state
    n_edge = len(params.edge_gflops)
    action = jnp.asarray(action, jnp.int32)
    task, hidden = _current(s)
    lat, hard, limit, start, up_end = node_latency(task, hidden, s, params)
    latency = lat[action] + sample_spike(k_spike, hidden.output_tokens, params)
    is_edge = (action >= 1) & (action <= n_edge)
    e = jnp.clip(action - 1, 0, n_edge - 1)
    killed = is_edge & ~hard[action] & (latency > s.t_fail[e] - s.now_ms)
    oom = is_edge & s.up[e] & (hidden.kv_mb > jnp.asarray(params.edge_kv_mb)[e])
    failed = hard[action] | (latency > limit[action])
    outcome = jnp.where(failed, FAILED, jnp.where(latency <= hidden.deadline_ms, MET, VIOLATED))
    accepted = is_edge & ~hard[action]
    gflops = jnp.asarray(params.edge_gflops)
    speed = gflops[e] * jnp.where(s.now_ms >= s.t_deg[e], params.degraded_speed, 1.0)
    done_at = start[e] + hidden.compute_gflop / speed * 1000.0
    free = s.free_ms.at[e].set(jnp.where(accepted, done_at, s.free_ms[e]))
    is_cloud = action == n_edge + 1
    rtt = params.cloud_rtt_ms * jnp.asarray(params.wan_rtt_mult)[s.wan]
    s = s._replace(
        free_ms=free,
        uplink_free_ms=jnp.where(is_cloud, up_end, s.uplink_free_ms),
        rtt_seen_ms=jnp.where(is_cloud, rtt, s.rtt_seen_ms).astype(jnp.float32),
        idx=s.idx + 1,
        t=s.t + 1,
        last_node=action,
        last_outcome=outcome.astype(jnp.int32),
        last_latency_ms=jnp.where(failed, 0.0, latency).astype(jnp.float32),
    )
    info = StepInfo(
        latency_ms=latency,
        outcome=outcome.astype(jnp.int32),
        node=action,
        task_class=task.task_class,
        deadline_ms=hidden.deadline_ms,
        net_delay_ms=rtt,
        n_down=jnp.sum(~state.up).astype(jnp.int32),
        load_rho=arrival_rate(s.burst, s.regime, params)
        / (service_rate(params) * params.slot_ms / 1000.0),
        regime=s.regime,
        privacy=hidden.private,
        slot=s.slot,
        killed=killed,
        oom=oom,
        wan=s.wan,
    )
    s = _next_task(k_next, s, params)
    reward = jnp.where(outcome == MET, 1.0, jnp.where(outcome == FAILED, -1.0, 0.0))
    return _observe(k_obs, s, params), s, reward, s.t >= params.max_steps, info


# ----------------------------------------------------------------------- observation helpers


def expected_completion_ms(obs: Obs, params: EnvParams) -> jax.Array:
    """(n_nodes,) latency expected from what is OBSERVED (stale queues, delayed up/down,
    last measured RTT, estimated compute, good-state uplink without contention); inf where
    an edge looks down or full. The ``greedy`` heuristic's model on ``paper``."""
    t = obs.task
    gflops = jnp.asarray(params.edge_gflops)
    tx_edge = params.edge_access_ms + 8.0 * t.data_in_mb / 100.0 * 1000.0
    edge = jnp.maximum(tx_edge, obs.queue_ms) + t.compute_gflop / gflops * 1000.0
    edge = jnp.where((obs.up > 0) & (obs.queue_ms <= params.edge_queue_s * 1000.0), edge, jnp.inf)
    mult = jnp.asarray(params.wan_rtt_mult)
    wan = jnp.argmin(jnp.abs(mult - obs.rtt_ms / params.cloud_rtt_ms))
    bw = params.uplink_mbps / jnp.asarray(params.wan_bw_div)[wan]
    cloud = (
        obs.rtt_ms
        + 8.0 * t.data_in_mb / bw * 1000.0
        + t.compute_gflop / params.cloud_gflops * 1000.0
    )
    local = t.compute_gflop / t.local_gflops * 1000.0
    return jnp.concatenate([local[None], edge, cloud[None]])


def flatten_obs(obs: Obs, params: EnvParams) -> jax.Array:
    """Flat float32 vector for RL agents, length ``obs_dim``; layout::

    [queue_s (E), up (E), telemetry (E), rtt/100 ms, compute/100 GFLOP, data MB,
     nominal deadline s, local GFLOPS/100, prompt tokens/100, pending/K,
     one-hot type (T), slot/100, one-hot last outcome (3), one-hot last node (N)]

    ``event`` and ``oracle`` are left out (the event log is the advisor's; the oracle is truth).
    """
    t = obs.task
    scalars = jnp.stack([
        obs.rtt_ms / 100.0, t.compute_gflop / 100.0, t.data_in_mb, t.deadline_ms / 1000.0,
        t.local_gflops / 100.0, t.prompt_tokens / 100.0, obs.pending / params.max_tasks_per_slot,
    ])  # fmt: skip
    return jnp.concatenate([
        obs.queue_ms / 1000.0, obs.up, obs.telemetry, scalars,
        jax.nn.one_hot(t.task_class, N_TYPES), jnp.atleast_1d(obs.slot / 100.0),
        jax.nn.one_hot(obs.last_outcome, 3), jax.nn.one_hot(obs.last_node, params.n_nodes),
    ]).astype(jnp.float32)  # fmt: skip


def obs_dim(params: EnvParams) -> int:
    return 3 * params.n_edge + 7 + N_TYPES + 1 + 3 + params.n_nodes
