"""Fine-grained DAG offloading of LLM inference sub-tasks (env id ``ucb-coma``; UCB-COMA).

Liao, Tao et al., 电子学报 2025 (UCB-COMA). Pure functional JAX:
``reset(key, params) -> (obs, state)`` and
``step(key, state, actions, params) -> (obs, state, rewards, done, info)``, static shapes,
so episodes ``jit``, ``scan`` and ``vmap``.

System (§3, §5.1). ``I = n_tasks`` LLM inference tasks L_i, one agent ag_i per task (§4.1).
Each task is a DAG G_i = (V_i, E_i) of sub-tasks L_{i,j} = (C_{i,j}, D_{i,j}, M_{i,j}, R_{i,j})
in three stages (analyse/decompose → modular execution → aggregate). Servers
(locations ``α``): ``0, 1, 2`` edge LLMs for text / image / audio, ``3`` = N+1 the multimodal
cloud LLM. The paper numbers only three equations; the others are cited by section and symbol:

    (§3.1)   r^ul_{i,n} = W log2(1 + P^d G_{i,n} / σ²),  r^dl_{i,n} = W log2(1 + P^e G_{i,n} / σ²)
    (§3.2.1) WT^{n,data}_{i,j} = max_{k ∈ PR_{i,j}, α_k ≠ n} (EN_k + R_k / r_{α_k → n})
             with r = r_ec from the cloud, r_e from another edge
             ST^n_{i,j} = max(WT^{n,data}_{i,j}, max_{q ∈ UN^n} EN_q)     (edge FIFO, no preemption)
             TR^n_{i,j} = D_{i,j} / r^ul_{i,n},  T^{n,com}_{i,j} = C_{i,j} / f_n
             EN^n_{i,j} = ST^n + TR^n + T^{n,com},  Cost^n_{i,j} = C_{i,j} / 10⁹ · λ_n
    (§3.2.2) ST^{N+1}_{i,j} = max_{k ∈ PR_{i,j}} (EN_k + R_k / r_ec)   (no cloud queue)
             TR^{N+1}_{i,j} = D_{i,j} / r^ul_{i,N+1},  T^{N+1,com} = C_{i,j} / f_{N+1},
             EN^{N+1} = ST^{N+1} + TR^{N+1} + T^{N+1,com},  Cost^{N+1} = C / 10⁹ · λ_{N+1}
    (§3.3)   T_i = max_j EN_{i,j} − min_j ST_{i,j} + R_{i,J} / r^dl_{i,α_{i,J}},
             Cost_i = Σ_j Cost_{i,j}
    (1)      min Σ_i γ T_i + (1 − γ) Cost_i   s.t. C3 T_i ≤ T_max, C4 M_{i,j} ∈ Θ_{α_{i,j}},
             C5 precedence and resource availability
    (§4.1.2) r_i = −η1 − η2 + q·θ − η3 − γ (TR_{i,j} + T^{com}_{i,j}) − (1 − γ) Cost_{i,j},
             η1 = ϑ·#unfinished predecessors, η2 = ϑ·1[modality mismatch],
             η3 = ϑ·max(0, EN_{i,j} − T_max), q = 1 iff all constraints hold

Action of agent i (§4.1.2): a_i = (L_{i,j}, α_{i,j}), flattened as ``j · 4 + α``. The
paper's sub-task is "待调度子任务" (the sub-task *awaiting scheduling*), and the agent observes
P_i (§4.1.1), so the action space of agent i in state s is A_i(s) = {(j, α) : P_i[j] = 0}:
``pending_action_mask``. This module keeps the fixed 16-way encoding and masks it (rather
than re-indexing actions over the pending sub-tasks), so shapes stay static and every
learner sees the same action ids; the learners' sub-task heads are masked with P_i
(``baselines.marl_nets``). A pick outside A_i(s) (a scheduled sub-task or a padding slot)
is a no-op with reward 0, flagged ``StepInfo.not_pending``; it is not part of the paper's
MDP and no shipped learner produces it. ``valid_action_mask`` is the narrower set of
actions that satisfy every constraint (CS-UCB's filter; a reference, not the action space).

Deviations and assumptions (the paper is silent or inconsistent; fixed before any method ran):

* Fig. 3's five DAGs are an image missing from the text; ``DAG_*`` below rebuild them from
  the text's description (linear, branch-merge, multi-source fusion; text / image / audio /
  VQA / audio-text), at most ``J_MAX = 4`` sub-tasks, padded.
* C_{i,j} = 1900 cycles/bit · D_{i,j} (§5.1 gives only cycles per bit).
* §3.2.2 multiplies by (1 − ζ_k), which would drop cloud predecessors from ST^{N+1}; C5
  requires them, so they count with zero transfer time. A predecessor on the same edge
  server also has zero transfer time.
* "Completed" predecessor (η1, state P_i) = already scheduled: the schedule is computed in
  closed form, so a scheduled sub-task's EN is known.
* An action in A_i(s) that violates a constraint (η1 precedence, η2 modality, or an edge
  server that is down [fault penalty ϑ, for Fig. 9; the paper does not say]) is not
  executed: the sub-task stays pending and the delay and cost terms are 0; q = 0. There is
  no penalty for picking a non-pending sub-task: such a pick is outside the action space.
* Delay unit of r_i: the paper does not give it; ``delay_unit_s`` = 1 reads TR + T^com in
  seconds (the default, the units of T_max), 1e-3 in milliseconds (sensitivity study only).
  η3 stays in seconds (it compares EN with T_max).
* Channel gain G_{i,n} ~ U(−75, −65) dB per (task, edge server), drawn at reset (no channel
  model in the paper); it gives edge uplinks of ≈ 1.6–9 Mbit/s at W = 6 MHz.
* All tasks arrive at time 0; agents act simultaneously each step and are served in index
  order (the FIFO order UN^n of §3.2.1); an agent whose task is complete idles (reward 0).
* Faults (Fig. 9): each edge server is independently down with probability
  ``fault_prob`` at every step, drawn before the step and visible in the observation; the
  cloud never fails.
* Energy (the issue asks for it, the paper's objective has none): device transmit energy
  P^d · TR of every executed sub-task plus edge transmit energy P^e · R_{i,J}/r^dl for a
  result returned by an edge server. Reported, never rewarded.
* Episode: ``max_steps`` decision steps, or fewer when every task is scheduled.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from aifedge.config import ConfigError, check_overrides

TEXT, IMAGE, AUDIO, MULTI = 0, 1, 2, 3
MODALITIES = ("text", "image", "audio", "multimodal")
TASK_TYPES = ("text", "image", "audio", "vqa", "audio-text")
N_EDGE = 3
N_LOC = N_EDGE + 1  # locations α: edge text, edge image, edge audio, cloud
CLOUD = N_EDGE
J_MAX = 4
N_ACTIONS = J_MAX * N_LOC
NODE_FEATURES = 12
SERVER_FEATURES = 10

# Fig. 3 rebuilt (assumption): per task type, the modality of each sub-task (-1 = padding),
# the stage (0 analyse/decompose, 1 modular execution, 2 aggregate) and the predecessor sets.
DAG_MODALITY = np.array(
    [
        [TEXT, TEXT, TEXT, -1],  # text analysis: linear
        [IMAGE, IMAGE, IMAGE, TEXT],  # image analysis: branch-merge 0 -> {1, 2} -> 3
        [AUDIO, AUDIO, TEXT, -1],  # audio analysis: linear
        [IMAGE, TEXT, MULTI, TEXT],  # VQA: {0 image, 1 question} -> 2 fusion -> 3
        [AUDIO, TEXT, MULTI, TEXT],  # audio-text: {0 audio, 1 text} -> 2 fusion -> 3
    ],
    dtype=np.int32,
)
DAG_STAGE = np.array(
    [
        [0, 1, 2, 0],
        [0, 1, 1, 2],
        [0, 1, 2, 0],
        [0, 0, 1, 2],
        [0, 0, 1, 2],
    ],
    dtype=np.int32,
)
_EDGES = (
    ((0, 1), (1, 2)),
    ((0, 1), (0, 2), (1, 3), (2, 3)),
    ((0, 1), (1, 2)),
    ((0, 2), (1, 2), (2, 3)),
    ((0, 2), (1, 2), (2, 3)),
)
DAG_PRED = np.zeros((len(TASK_TYPES), J_MAX, J_MAX), dtype=bool)  # [type, j, k]: k ∈ PR_j
for _t, _edges in enumerate(_EDGES):
    for _k, _j in _edges:
        DAG_PRED[_t, _j, _k] = True
DAG_VALID = DAG_MODALITY >= 0
DAG_SINK = np.array([2, 3, 2, 3, 3], dtype=np.int32)  # L_{i,J}: returns the final result
# Θ_α (C4): modalities each location supports; the cloud is multimodal.
SUPPORT = np.array(
    [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [1, 1, 1, 1],
    ],
    dtype=bool,
)  # [α, modality]


class EnvParams(NamedTuple):
    """Simulator parameters; units in brackets, source after the dash.

    §5.1 / Table 2 = UCB-COMA's experiment setup; "assumption" = the paper is silent.

      n_tasks              I, tasks (= agents) per episode — assumption (5: one per DAG type)
      task_types (I,)      task type of each agent, index into TASK_TYPES — assumption
      edge_ghz (3,) [GHz]  f_n of the text / image / audio edge LLMs, 2.0 / 2.3 / 2.5 — §5.1
      cloud_ghz [GHz]      f_{N+1} = 10 — §5.1
      price_edge [$/GHz]   λ_n = 0.01 (per 10⁹ cycles) — §5.1
      price_cloud [$/GHz]  λ_{N+1} = 0.03 — §5.1
      rate_edge_mbps       r_e, edge↔edge wired link, 22 Mbit/s — §5.1
      rate_cloud_ul_mbps   r^ul_{i,N+1}, device→cloud, 3 Mbit/s — §5.1
      rate_cloud_dl_mbps   r^dl_{i,N+1}, cloud→device, 12 Mbit/s — §5.1
      rate_edge_cloud_mbps r_ec, edge↔cloud wired link, 12 Mbit/s — §5.1
      bandwidth_mhz [MHz]  W of each OFDMA device–edge sub-channel, {5, 5.5, 6} — Table 2
      p_device_w [W]       P^d_i = 0.3 — Table 2
      p_edge_w [W]         P^e_n = 0.8 — Table 2
      noise_dbm [dBm]      σ² = −43 — Table 2
      gain_db_lo, gain_db_hi [dB]  range of G_{i,n}, U(−75, −65) — assumption
      gamma                γ = 0.5, delay vs cost weight in (1) and r_i — Table 2
      t_max_s [s]          T_max, {2.5, 2.8, 3.0} — Table 2
      cycles_per_bit       1900, C_{i,j} = cycles_per_bit · D_{i,j} — §5.1
      data_in_lo_kbit, data_in_hi_kbit (4,) [kbit]   D range per modality (text, image,
                           audio, multimodal): [1, 3], [100, 300], [200, 400], [300, 600] — §5.1
      data_out_lo_kbit, data_out_hi_kbit (4,) [kbit] R range: [1, 3], [2, 4], [3, 5], [2, 6]
                           — §5.1
      vartheta             ϑ = 1.0, penalty factor of η1–η3 — Table 2
      theta                θ = 2.0, reward for a constraint-satisfying action — Table 2
      fault_prob           per-step edge-server fault probability, {0, 0.1, 0.2} — §5.2 Fig. 9
      max_steps            decision steps per episode — assumption (3 · J_MAX)
      delay_unit_s [s]     unit of the delay term γ (TR + T^com) in r_i: 1 = seconds —
                           assumption (the paper gives none); 1e-3 = ms for sensitivity
    """

    n_tasks: int = 5
    task_types: tuple = (0, 1, 2, 3, 4)
    edge_ghz: tuple = (2.0, 2.3, 2.5)
    cloud_ghz: float = 10.0
    price_edge: float = 0.01
    price_cloud: float = 0.03
    rate_edge_mbps: float = 22.0
    rate_cloud_ul_mbps: float = 3.0
    rate_cloud_dl_mbps: float = 12.0
    rate_edge_cloud_mbps: float = 12.0
    bandwidth_mhz: float = 6.0
    p_device_w: float = 0.3
    p_edge_w: float = 0.8
    noise_dbm: float = -43.0
    gain_db_lo: float = -75.0
    gain_db_hi: float = -65.0
    gamma: float = 0.5
    t_max_s: float = 3.0
    cycles_per_bit: float = 1900.0
    data_in_lo_kbit: tuple = (1.0, 100.0, 200.0, 300.0)
    data_in_hi_kbit: tuple = (3.0, 300.0, 400.0, 600.0)
    data_out_lo_kbit: tuple = (1.0, 2.0, 3.0, 2.0)
    data_out_hi_kbit: tuple = (3.0, 4.0, 5.0, 6.0)
    vartheta: float = 1.0
    theta: float = 2.0
    fault_prob: float = 0.0
    max_steps: int = 12
    delay_unit_s: float = 1.0


class EnvState(NamedTuple):
    """Full state. I tasks, J = J_MAX sub-tasks, times in s from the common arrival at 0.

    types (I,) int, d_in / r_out / cycles (I, J) [bit, bit, cycles], gain (I, 3) linear
    G_{i,n}, scheduled (I, J) bool = P_i, loc (I, J) int α (−1 pending), st / en (I, J) [s]
    ST / EN, busy (3,) [s] time each edge server becomes free, up (3,) bool edge servers
    up during the coming step, t int step index.
    """

    types: jax.Array
    d_in: jax.Array
    r_out: jax.Array
    cycles: jax.Array
    gain: jax.Array
    scheduled: jax.Array
    loc: jax.Array
    st: jax.Array
    en: jax.Array
    busy: jax.Array
    up: jax.Array
    t: jax.Array


class Obs(NamedTuple):
    """Per-agent observation s_i = (P_i, S, Task_i) of §4.1.1, before the GCN encoding.

    nodes (I, J, 12)   sub-task features: modality one-hot (4), stage one-hot (3),
                       D [Mbit], R [10 kbit], C [10⁹ cycles], valid, scheduled
    adj (I, J, J)      PR: adj[i, j, k] = 1 if L_{i,k} precedes L_{i,j}
    progress (I, J)    P_i, 1 = scheduled (completed in the closed-form schedule)
    servers (I, 4, 10) server features S: f [10 GHz], λ [0.03 $/GHz], Θ one-hot (4),
                       r^ul and r^dl to device i [10 Mbit/s], queue delay [s], up
    t ()               step / max_steps
    """

    nodes: jax.Array
    adj: jax.Array
    progress: jax.Array
    servers: jax.Array
    t: jax.Array


class StepInfo(NamedTuple):
    """Per-agent record of one step, every field (I,).

    sub, loc: decoded action; executed: the sub-task was scheduled; fault: it was sent to
    an edge server that is down; n_pred_open: unfinished predecessors (η1 / ϑ);
    modality_ok: C4 held; not_pending: the pick lies outside A_i(s) (no-op, reward 0);
    delay [s] = TR + T^com, cost [$], energy [J], st / en [s]: the executed sub-task's
    schedule (0 if not executed); active: the agent's task was incomplete before the step.
    Reward terms (§4.1.2), summing to r_i: r_theta = q·θ, r_objective = −γ (TR + T^com) /
    delay_unit − (1 − γ) Cost, r_eta1 = −η1, r_eta2 = −η2, r_eta3 = −η3, r_fault = −ϑ·fault.
    """

    sub: jax.Array
    loc: jax.Array
    executed: jax.Array
    fault: jax.Array
    n_pred_open: jax.Array
    modality_ok: jax.Array
    not_pending: jax.Array
    delay: jax.Array
    cost: jax.Array
    energy: jax.Array
    st: jax.Array
    en: jax.Array
    active: jax.Array
    r_theta: jax.Array
    r_objective: jax.Array
    r_eta1: jax.Array
    r_eta2: jax.Array
    r_eta3: jax.Array
    r_fault: jax.Array


REWARD_TERMS = ("r_theta", "r_objective", "r_eta1", "r_eta2", "r_eta3", "r_fault")
"""``StepInfo`` fields whose sum is r_i (§4.1.2)."""


def _check_range(name, lo_name, lo, hi_name, hi):
    if any(a > b for a, b in zip(lo, hi, strict=True)):
        raise ConfigError(
            f"EnvParams.{lo_name}: must be ≤ {hi_name} entry by entry "
            f"(got {lo} and {hi}); swap or fix the {name} bounds"
        )


def make_params(**overrides) -> EnvParams:
    """Default ``EnvParams`` with validated overrides; raises ``ConfigError`` naming the field."""
    overrides = check_overrides("EnvParams", EnvParams(), overrides)
    if "n_tasks" in overrides and "task_types" not in overrides:
        n = overrides["n_tasks"]
        if isinstance(n, int) and n > 0:
            overrides["task_types"] = tuple(i % len(TASK_TYPES) for i in range(n))
    p = EnvParams(**overrides)
    for name in ("n_tasks", "max_steps"):
        v = getattr(p, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ConfigError(f"EnvParams.{name}: must be a positive integer (got {v!r})")
    if len(p.task_types) != p.n_tasks or any(
        not isinstance(t, int) or not 0 <= t < len(TASK_TYPES) for t in p.task_types
    ):
        raise ConfigError(
            f"EnvParams.task_types: needs n_tasks={p.n_tasks} integers in "
            f"0..{len(TASK_TYPES) - 1} {TASK_TYPES} (got {p.task_types!r})"
        )
    for name in (
        "edge_ghz",
        "data_in_lo_kbit",
        "data_in_hi_kbit",
        "data_out_lo_kbit",
        "data_out_hi_kbit",
    ):
        v = getattr(p, name)
        want = N_EDGE if name == "edge_ghz" else len(MODALITIES)
        if len(v) != want or any(not x > 0 for x in v):
            raise ConfigError(f"EnvParams.{name}: needs {want} positive numbers (got {v!r})")
    for name in (
        "cloud_ghz",
        "price_edge",
        "price_cloud",
        "rate_edge_mbps",
        "rate_cloud_ul_mbps",
        "rate_cloud_dl_mbps",
        "rate_edge_cloud_mbps",
        "bandwidth_mhz",
        "p_device_w",
        "p_edge_w",
        "t_max_s",
        "cycles_per_bit",
        "delay_unit_s",
    ):
        v = getattr(p, name)
        if not v > 0:
            raise ConfigError(f"EnvParams.{name}: must be > 0 (got {v!r}); pass a positive number")
    for name in ("vartheta", "theta"):
        if not getattr(p, name) >= 0:
            raise ConfigError(f"EnvParams.{name}: must be ≥ 0 (got {getattr(p, name)!r})")
    for name in ("gamma", "fault_prob"):
        v = getattr(p, name)
        if not 0.0 <= v <= 1.0:
            raise ConfigError(f"EnvParams.{name}: must lie in [0, 1] (got {v!r})")
    if not p.gain_db_lo <= p.gain_db_hi:
        raise ConfigError(
            f"EnvParams.gain_db_lo: must be ≤ gain_db_hi (got {p.gain_db_lo} > {p.gain_db_hi})"
        )
    _check_range(
        "input-size", "data_in_lo_kbit", p.data_in_lo_kbit, "data_in_hi_kbit", p.data_in_hi_kbit
    )
    _check_range(
        "output-size",
        "data_out_lo_kbit",
        p.data_out_lo_kbit,
        "data_out_hi_kbit",
        p.data_out_hi_kbit,
    )
    return p


def _shannon_rate(power_w: float, gain: jax.Array, params: EnvParams) -> jax.Array:
    """W log2(1 + P G / σ²) [bit/s] for transmit power ``power_w`` and linear gains ``gain``."""
    noise_w = 10.0 ** ((params.noise_dbm - 30.0) / 10.0)
    return params.bandwidth_mhz * 1e6 * jnp.log2(1.0 + power_w * gain / noise_w)


def uplink_rate(gain: jax.Array, params: EnvParams) -> jax.Array:
    """(§3.1) r^ul_{i,n} = W log2(1 + P^d G / σ²) [bit/s] for gains ``gain`` (linear)."""
    return _shannon_rate(params.p_device_w, gain, params)


def downlink_rate(gain: jax.Array, params: EnvParams) -> jax.Array:
    """(§3.1) r^dl_{i,n} = W log2(1 + P^e G / σ²) [bit/s]."""
    return _shannon_rate(params.p_edge_w, gain, params)


def rates(gain: jax.Array, params: EnvParams) -> tuple[jax.Array, jax.Array]:
    """(..., 4) uplink and downlink rates [bit/s] from the device to every location."""
    shape = (*gain.shape[:-1], 1)
    ul = jnp.concatenate(
        [uplink_rate(gain, params), jnp.full(shape, params.rate_cloud_ul_mbps * 1e6)], -1
    )
    dl = jnp.concatenate(
        [downlink_rate(gain, params), jnp.full(shape, params.rate_cloud_dl_mbps * 1e6)], -1
    )
    return ul, dl


def _freq(params: EnvParams) -> jax.Array:
    return jnp.asarray((*params.edge_ghz, params.cloud_ghz), jnp.float32) * 1e9


def _price(params: EnvParams) -> jax.Array:
    return jnp.asarray((params.price_edge,) * N_EDGE + (params.price_cloud,), jnp.float32)


def _link_rate(src: jax.Array, dst: jax.Array, params: EnvParams) -> jax.Array:
    """Rate [bit/s] of the wired hop src → dst (r_e edge↔edge, r_ec via the cloud)."""
    via_cloud = (src == CLOUD) | (dst == CLOUD)
    return jnp.where(via_cloud, params.rate_edge_cloud_mbps, params.rate_edge_mbps) * 1e6


def _sample_tasks(key: jax.Array, params: EnvParams):
    """D, R [bit] and C [cycles], (I, J), uniform within each modality's §5.1 range."""
    types = jnp.asarray(params.task_types, jnp.int32)
    mod = jnp.maximum(jnp.asarray(DAG_MODALITY)[types], 0)
    valid = jnp.asarray(DAG_VALID)[types]
    k_d, k_r = jax.random.split(key)
    shape = mod.shape
    lo_d, hi_d = jnp.asarray(params.data_in_lo_kbit)[mod], jnp.asarray(params.data_in_hi_kbit)[mod]
    lo_r = jnp.asarray(params.data_out_lo_kbit)[mod]
    hi_r = jnp.asarray(params.data_out_hi_kbit)[mod]
    d_in = jax.random.uniform(k_d, shape, minval=lo_d, maxval=hi_d) * 1e3 * valid
    r_out = jax.random.uniform(k_r, shape, minval=lo_r, maxval=hi_r) * 1e3 * valid
    return types, d_in, r_out, params.cycles_per_bit * d_in


def _draw_up(key: jax.Array, params: EnvParams) -> jax.Array:
    return jax.random.uniform(key, (N_EDGE,)) >= params.fault_prob


def observe(state: EnvState, params: EnvParams) -> Obs:
    """The per-agent observations of ``state`` (see ``Obs``)."""
    mod = jnp.asarray(DAG_MODALITY)[state.types]
    valid = jnp.asarray(DAG_VALID)[state.types]
    stage = jnp.asarray(DAG_STAGE)[state.types]
    nodes = jnp.concatenate(
        [
            jax.nn.one_hot(mod, len(MODALITIES)) * valid[..., None],
            jax.nn.one_hot(stage, 3) * valid[..., None],
            jnp.stack(
                [
                    state.d_in / 1e6,
                    state.r_out / 1e4,
                    state.cycles / 1e9,
                    valid.astype(jnp.float32),
                    state.scheduled.astype(jnp.float32),
                ],
                -1,
            ),
        ],
        -1,
    )
    ul, dl = rates(state.gain, params)
    n = state.types.shape[0]
    static = jnp.concatenate(
        [
            (_freq(params) / 1e10)[:, None],
            (_price(params) / 0.03)[:, None],
            jnp.asarray(SUPPORT, jnp.float32),
        ],
        -1,
    )  # (4, 6)
    queue = jnp.concatenate([state.busy, jnp.zeros(1)])
    up = jnp.concatenate([state.up, jnp.ones(1, bool)]).astype(jnp.float32)
    servers = jnp.concatenate(
        [
            jnp.broadcast_to(static, (n, N_LOC, 6)),
            (ul / 1e7)[..., None],
            (dl / 1e7)[..., None],
            jnp.broadcast_to(queue, (n, N_LOC))[..., None],
            jnp.broadcast_to(up, (n, N_LOC))[..., None],
        ],
        -1,
    )
    return Obs(
        nodes=nodes.astype(jnp.float32),
        adj=jnp.asarray(DAG_PRED, jnp.float32)[state.types],
        progress=state.scheduled.astype(jnp.float32),
        servers=servers.astype(jnp.float32),
        t=jnp.asarray(state.t / params.max_steps, jnp.float32),
    )


def reset(key: jax.Array, params: EnvParams) -> tuple[Obs, EnvState]:
    """New episode: sizes and channel gains drawn, nothing scheduled, idle edge servers."""
    k_task, k_gain, k_up = jax.random.split(key, 3)
    types, d_in, r_out, cycles = _sample_tasks(k_task, params)
    n = params.n_tasks
    gain_db = jax.random.uniform(
        k_gain, (n, N_EDGE), minval=params.gain_db_lo, maxval=params.gain_db_hi
    )
    state = EnvState(
        types=types,
        d_in=d_in,
        r_out=r_out,
        cycles=cycles,
        gain=10.0 ** (gain_db / 10.0),
        scheduled=~jnp.asarray(DAG_VALID)[types],
        loc=jnp.full((n, J_MAX), -1, jnp.int32),
        st=jnp.zeros((n, J_MAX)),
        en=jnp.zeros((n, J_MAX)),
        busy=jnp.zeros(N_EDGE),
        up=_draw_up(k_up, params),
        t=jnp.int32(0),
    )
    return observe(state, params), state


def decode_action(action: jax.Array) -> tuple[jax.Array, jax.Array]:
    """a = j · 4 + α  ->  (sub-task j, location α)."""
    action = jnp.asarray(action, jnp.int32)
    return action // N_LOC, action % N_LOC


def encode_action(sub, loc) -> jax.Array:
    return jnp.asarray(sub, jnp.int32) * N_LOC + jnp.asarray(loc, jnp.int32)


def task_complete(state: EnvState) -> jax.Array:
    """(I,) bool: every sub-task of L_i is scheduled."""
    return jnp.all(state.scheduled, axis=-1)


def _schedule_one(state: EnvState, i: jax.Array, sub: jax.Array, loc: jax.Array, params: EnvParams):
    """Place L_{i,sub} on ``loc`` (§3.2.1 edge, §3.2.2 cloud); returns ST, TR, T^com, EN."""
    pred = jnp.asarray(DAG_PRED)[state.types[i], sub]  # (J,)
    ploc = state.loc[i]
    hop = _link_rate(ploc, loc, params)
    transfer = jnp.where(ploc == loc, 0.0, state.r_out[i] / hop)  # same server: no transfer
    data_ready = jnp.max(jnp.where(pred, state.en[i] + transfer, 0.0))  # WT^{data}
    queue_free = jnp.where(loc == CLOUD, 0.0, state.busy[jnp.minimum(loc, N_EDGE - 1)])
    st = jnp.maximum(data_ready, queue_free)
    ul, _ = rates(state.gain[i], params)
    tr = state.d_in[i, sub] / ul[loc]
    t_com = state.cycles[i, sub] / _freq(params)[loc]
    return st, tr, t_com, st + tr + t_com


def step(key: jax.Array, state: EnvState, actions: jax.Array, params: EnvParams):
    """All agents act (index order = arrival order at the servers), then time advances.

    ``actions`` (I,) int in [0, 16). Returns ``(obs, state, rewards (I,), done, info)`` with
    the per-agent reward r_i of §4.1.2 and ``StepInfo``.
    """
    actions = jnp.asarray(actions, jnp.int32)
    subs, locs = decode_action(actions)
    price = _price(params)
    theta, vt = params.theta, params.vartheta

    def agent(st_, inp):
        i, sub, loc = inp
        active = ~jnp.all(st_.scheduled[i])
        ttype = st_.types[i]
        not_pending = st_.scheduled[i, sub]  # padding slots count as scheduled (reset)
        live = active & ~not_pending
        pred = jnp.asarray(DAG_PRED)[ttype, sub]
        n_open = jnp.sum(pred & ~st_.scheduled[i])
        mod = jnp.maximum(jnp.asarray(DAG_MODALITY)[ttype, sub], 0)
        modality_ok = jnp.asarray(SUPPORT)[loc, mod]
        edge = jnp.minimum(loc, N_EDGE - 1)
        server_up = jnp.where(loc == CLOUD, True, st_.up[edge])
        allowed = live & (n_open == 0) & modality_ok
        fault = allowed & ~server_up
        q = allowed & server_up
        st, tr, t_com, en = _schedule_one(st_, i, sub, loc, params)
        cost = st_.cycles[i, sub] / 1e9 * price[loc]
        energy = params.p_device_w * tr
        z = jnp.float32(0.0)
        objective = params.gamma * (tr + t_com) / params.delay_unit_s + (1 - params.gamma) * cost
        terms = {
            "r_theta": jnp.where(q, theta, z),
            "r_objective": jnp.where(q, -objective, z),
            "r_eta1": jnp.where(live, -vt * n_open, z),
            "r_eta2": jnp.where(live, -vt * (~modality_ok), z),
            "r_eta3": jnp.where(q, -vt * jnp.maximum(0.0, en - params.t_max_s), z),
            "r_fault": jnp.where(fault, -vt, z),
        }
        reward = sum(terms.values())
        new = st_._replace(
            scheduled=st_.scheduled.at[i, sub].set(st_.scheduled[i, sub] | q),
            loc=st_.loc.at[i, sub].set(jnp.where(q, loc, st_.loc[i, sub])),
            st=st_.st.at[i, sub].set(jnp.where(q, st, st_.st[i, sub])),
            en=st_.en.at[i, sub].set(jnp.where(q, en, st_.en[i, sub])),
            busy=st_.busy.at[edge].set(jnp.where(q & (loc != CLOUD), en, st_.busy[edge])),
        )
        info = StepInfo(
            sub=sub,
            loc=loc,
            executed=q,
            fault=fault,
            n_pred_open=n_open,
            modality_ok=modality_ok,
            not_pending=active & not_pending,
            delay=jnp.where(q, tr + t_com, z),
            cost=jnp.where(q, cost, z),
            energy=jnp.where(q, energy, z),
            st=jnp.where(q, st, z),
            en=jnp.where(q, en, z),
            active=active,
            **terms,
        )
        return new, (reward, info)

    idx = jnp.arange(actions.shape[0], dtype=jnp.int32)
    state, (rewards, info) = jax.lax.scan(agent, state, (idx, subs, locs))
    state = state._replace(up=_draw_up(key, params), t=state.t + 1)
    done = jnp.all(task_complete(state)) | (state.t >= params.max_steps)
    return observe(state, params), state, rewards, done, info


class TaskMetrics(NamedTuple):
    """Per-task outcome of a schedule (§3.3), every field (I,).

    complete: all sub-tasks scheduled; delay T_i [s]; cost Cost_i [$]; energy [J];
    weighted γ T_i + (1 − γ) Cost_i, the summand of (1); deadline_met: T_i ≤ T_max (C3).
    Fields other than ``complete`` are NaN for incomplete tasks.
    """

    complete: jax.Array
    delay: jax.Array
    cost: jax.Array
    energy: jax.Array
    weighted: jax.Array
    deadline_met: jax.Array


def task_metrics(state: EnvState, params: EnvParams) -> TaskMetrics:
    """T_i, Cost_i, energy and the objective term of (1) for every task in ``state``."""
    valid = jnp.asarray(DAG_VALID)[state.types]
    complete = task_complete(state)
    sink = jnp.asarray(DAG_SINK)[state.types]
    rows = jnp.arange(state.types.shape[0])
    sink_loc = jnp.maximum(state.loc[rows, sink], 0)
    ul, dl = rates(state.gain, params)
    r_sink = state.r_out[rows, sink]
    tr_back = r_sink / dl[rows, sink_loc]
    span = jnp.max(jnp.where(valid, state.en, -jnp.inf), -1) - jnp.min(
        jnp.where(valid, state.st, jnp.inf), -1
    )
    delay = span + tr_back
    locs = jnp.maximum(state.loc, 0)
    cost = jnp.sum(jnp.where(valid, state.cycles / 1e9 * _price(params)[locs], 0.0), -1)
    tx_up = jnp.where(valid, state.d_in / jnp.take_along_axis(ul, locs, -1), 0.0)
    energy = params.p_device_w * jnp.sum(tx_up, -1) + jnp.where(
        sink_loc == CLOUD, 0.0, params.p_edge_w * tr_back
    )
    weighted = params.gamma * delay + (1 - params.gamma) * cost
    nan = jnp.float32(jnp.nan)
    return TaskMetrics(
        complete=complete,
        delay=jnp.where(complete, delay, nan),
        cost=jnp.where(complete, cost, nan),
        energy=jnp.where(complete, energy, nan),
        weighted=jnp.where(complete, weighted, nan),
        deadline_met=complete & (delay <= params.t_max_s),
    )


def pending_action_mask(obs: Obs) -> jax.Array:
    """(I, 16) bool: the action space A_i(s) = {(j, α) : P_i[j] = 0} (§4.1.2, "待调度子任务").

    Every location of every pending real sub-task; all False once the task is complete.
    """
    pending = (obs.nodes[..., 10] > 0.5) & (obs.progress < 0.5)  # (I, J)
    return jnp.repeat(pending, N_LOC, axis=-1)


def valid_action_mask(obs: Obs) -> jax.Array:
    """(I, 16) bool: actions that satisfy every constraint given ``obs`` (for CS-UCB).

    Sub-task exists and is pending, all its predecessors are scheduled, the location
    supports its modality (C4) and is up.
    """
    mod_onehot = obs.nodes[..., : len(MODALITIES)]  # (I, J, 4)
    valid = obs.nodes[..., 10] > 0.5
    pending = valid & (obs.progress < 0.5)
    preds_done = jnp.all((obs.adj < 0.5) | (obs.progress[:, None, :] > 0.5), -1)
    support = jnp.einsum("ijm,am->ija", mod_onehot, jnp.asarray(SUPPORT, jnp.float32)) > 0.5
    up = obs.servers[..., -1] > 0.5  # (I, 4)
    ok = (pending & preds_done)[..., None] & support & up[:, None, :]
    return ok.reshape(ok.shape[0], N_ACTIONS)
