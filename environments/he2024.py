"""LLM inference offloading in cloud-edge computing (env id ``he2024``; He et al. §III, §V).

He, Fang, Yu, Leung, IEEE TMC 2024. Pure functional JAX, static shapes:
``reset(key, params) -> (obs, state)`` and
``step(key, state, action, params) -> (obs, state, reward, done, info)``.

Topology: server 0 is the cloud server (CS, A800 + Triton), servers 1..E are MEC
servers (RTX 3090, no acceleration). Terminals (fixed PCs, phones, cars, UAVs) in a
square area send GPT-J-6B HumanEval requests, one per step, ``arrival_s`` apart.

One episode is one scheduling round of ``n_tasks`` requests. The round's resource
pool is sized to the demand of ``n_ref_tasks`` = 100 requests at full allocation
(§V.A: "total resources = maximum total demand of the tasks in training"), split
cloud : edges = 1 : 4 (§V.C), so ``n_tasks`` = 100..200 is a load of 100–200 %
(§V.D). A request's allocation [c, w, m] is reserved from its server's remaining
pool for the rest of the round (state s'_j = [C_j, W_j, M_j], §IV.A). This is the
reading under which the paper's own explanations hold: with only the cloud fast
enough (3 ≤ t_max ≤ 9) at most 20 % of the tasks complete (§V.C), and the sum
reward saturates once the pool is used (§V.D).

Action a = [j, c_j, w_j, m_j] (§IV.A). ``step`` takes a flat discrete index over
``n_servers × L³`` (``decode_action``; L = ``len(share_levels)``; each resource is
``level × full_alloc``); ``step_alloc`` takes the allocation itself. An allocation
above the server's remaining resources (or ≤ 0) is invalid and the task fails
(§IV.A); a memory allocation below ``task_mem_gb`` runs out of memory and fails.

Latency of an accepted task, He et al. Eq. 8::

    L = (PS_x + PS_y) / R + (d1 + d2) / c + L_q + L_c                      (s)
    R = w log2(1 + P·G / N),  G[dB] = g − PL − X_σ,  N = N0·w                (Eqs. 3–4)
    PL_G2G = 128.1 + 37.6 log10(d [km])                                      (Eq. 5)
    PL_G2A = 10 α_G2A log10(d [m]) + C_G2A                                   (Eq. 6)
    PL_A2A = 10 α_A2A log10(d [m])                                           (Eq. 7)
    L_c = L_min · (f + (1 − f) / ĉ) · ε,  ĉ = min(c / c_full, 1)   (Fig. 2 shape, Amdahl)

X_σ is half-normal (the paper: zero-mean Gaussian "usually non-negative"). d1 is the
radio distance at dispatch, d2 after the task's latency (terminals keep moving);
the cloud adds a fibre backhaul both ways. L_q: each server runs at most
``parallel_limit`` requests at once; a further request waits for the earliest
running one to finish (§III.E). A task with L > t_max is dropped (§III.E).
Reward, He et al. Eq. 14 (= rewardless guidance, Eq. 11): r = tc · (1/L + P), P the server's
pass@100 (Table I); tc = 1 iff the task completed within t_max.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from aifedge.config import ConfigError, check_overrides

SPEED_OF_LIGHT = 299_792_458.0  # m/s, the paper's c in He et al. Eq. 8
G2G, G2A, A2A = 0, 1, 2
CHANNEL_NAMES = ("G2G", "G2A", "A2A")
N_RESOURCES = 3  # compute, bandwidth, memory


class EnvParams(NamedTuple):
    """Simulator parameters: unit, then source ("§" = He et al., else assumption).

    Servers (index 0 cloud, 1..E edge)
      edge_xy_m ((E, 2) m)         MEC positions, quadrant centres of the area; E = 4
                                   (§V.C "four edge servers"), positions assumption.
      cloud_xy_m ((2,) m)          the cloud's radio gateway (macro cell) at the centre;
                                   assumption (the paper gives no geometry).
      server_height_m (m)          antenna height of gateway/MEC, 25 m: ground (< 100 m, §III.D).
      cloud_backhaul_m (m)         fibre path gateway → cloud, 200 km; assumption.
      server_share ((E+1,))        share of the total pool per server; cloud : edges = 1 : 4
                                   (§V.C), edges equal (assumption).
      n_ref_tasks (tasks)          pool = demand of 100 tasks at full allocation (§V.A, §V.D).
      full_alloc ((3,) CPU units, MHz, GB)  full per-task allocation [c, w, m]; 1 CPU unit =
                                   the allocation at which L_c reaches its minimum (Fig. 2);
                                   1 MHz, 2 GB: assumption.
      share_levels ((L,))          discrete shares of ``full_alloc`` per resource: 1/3, 2/3, 1
                                   (discretisation for the discrete agents; assumption).
      parallel_limit (tasks)       requests a server runs at once, 24; assumption (≥ 20 so
                                   that a full-allocation schedule never queues at 100 % load).
    Computation and quality (GPT-J-6B on HumanEval)
      cloud_lc_min_s, edge_lc_min_s (s)  minimum inference time 2.2 s / 9.3 s: "> 2 s"
                                   cloud, "> 9 s" edge (§V.C, Fig. 2); exact values assumption.
      lc_serial_frac               f in L_c = L_min (f + (1 − f)/ĉ): Fig. 2 shows time cost
                                   falling with CPU allocation; Amdahl form, f = 0.5 assumption.
      lc_jitter                    log-normal σ of L_c across prompts, 0.05; assumption.
      cloud_pass, edge_pass        pass@100 0.1159 (A800 + Triton) / 0.1892 (3090), Table I.
      task_mem_gb (GB)             memory a request needs: GPT-J-6B KV cache at 2048 tokens fp16
                                   = 28 layers · 2 · 4096 · 2048 · 2 B ≈ 0.94 GB (§V.A) → 1 GB.
    Geometry and mobility (§III.C: constant-velocity movement, Euclidean distance)
      area_m (m)                   side of the square area, 1000 m; assumption.
      n_fixed, n_phone, n_car, n_uav  terminals of each kind, 5 each; assumption.
      phone_speed_mps, car_speed_mps, uav_speed_mps (m/s)  1.4 / 15 / 10; assumption.
      ground_height_m, uav_height_m (m)  1.5 / 120 (air is > 100 m, §III.D).
      air_threshold_m (m)          100, §III.D.
    Radio (§III.D)
      tx_power_dbm (dBm)           terminal transmit power, 23 dBm (3GPP UE); assumption.
      antenna_gain_dbi (dB)        g, 0 dBi; assumption.
      noise_dbm_hz (dBm/Hz)        thermal noise density, −174 (kT at 290 K).
      shadow_sigma_db ((3,) dB)    σ of X_σ for G2G / G2A / A2A: 8 / 4 / 2; assumption.
      g2a_alpha, g2a_const_db      α = 2.2 and C = 38.5 dB (free space at 1 m, 2 GHz), Eq. 6;
                                   assumption within [38].
      a2a_alpha                    α = 2.0 (line of sight, "small value"), Eq. 7; assumption.
    Tasks
      ps_x_kbit ((2,) kbit)        request packet: HumanEval prompt, U(2, 16) kbit; assumption.
      ps_y_kbit ((2,) kbit)        result packet: 100 completions, U(200, 800) kbit; assumption.
      arrival_s (s)                time between requests, 0.1 s; assumption.
      t_max_s (s)                  maximum acceptable delay: 15 training, 1–15 testing (§V.B–C).
      n_tasks (tasks)              requests per episode: 100 training, 100–200 load sweep (§V.D).
    """

    edge_xy_m: tuple = ((250.0, 250.0), (750.0, 250.0), (250.0, 750.0), (750.0, 750.0))
    cloud_xy_m: tuple = (500.0, 500.0)
    server_height_m: float = 25.0
    cloud_backhaul_m: float = 200_000.0
    server_share: tuple = (0.2, 0.2, 0.2, 0.2, 0.2)
    n_ref_tasks: int = 100
    full_alloc: tuple = (1.0, 1.0, 2.0)
    share_levels: tuple = (1.0 / 3.0, 2.0 / 3.0, 1.0)
    parallel_limit: int = 24
    cloud_lc_min_s: float = 2.2
    edge_lc_min_s: float = 9.3
    lc_serial_frac: float = 0.5
    lc_jitter: float = 0.05
    cloud_pass: float = 0.1159
    edge_pass: float = 0.1892
    task_mem_gb: float = 1.0
    area_m: float = 1000.0
    n_fixed: int = 5
    n_phone: int = 5
    n_car: int = 5
    n_uav: int = 5
    phone_speed_mps: float = 1.4
    car_speed_mps: float = 15.0
    uav_speed_mps: float = 10.0
    ground_height_m: float = 1.5
    uav_height_m: float = 120.0
    air_threshold_m: float = 100.0
    tx_power_dbm: float = 23.0
    antenna_gain_dbi: float = 0.0
    noise_dbm_hz: float = -174.0
    shadow_sigma_db: tuple = (8.0, 4.0, 2.0)
    g2a_alpha: float = 2.2
    g2a_const_db: float = 38.5
    a2a_alpha: float = 2.0
    ps_x_kbit: tuple = (2.0, 16.0)
    ps_y_kbit: tuple = (200.0, 800.0)
    arrival_s: float = 0.1
    t_max_s: float = 15.0
    n_tasks: int = 100

    @property
    def n_edge(self) -> int:
        return len(self.edge_xy_m)

    @property
    def n_servers(self) -> int:
        return self.n_edge + 1

    @property
    def n_devices(self) -> int:
        return self.n_fixed + self.n_phone + self.n_car + self.n_uav

    @property
    def n_levels(self) -> int:
        return len(self.share_levels)

    @property
    def n_actions(self) -> int:
        return self.n_servers * self.n_levels**N_RESOURCES

    @property
    def max_steps(self) -> int:
        """Episode length, = ``n_tasks`` (the name ``aif-llm`` callers of ``rollout`` use)."""
        return self.n_tasks

    @property
    def load(self) -> float:
        """Task load n_tasks / n_ref_tasks (1.0 = 100 %, §V.D)."""
        return self.n_tasks / self.n_ref_tasks


class Task(NamedTuple):
    """The request waiting for a decision."""

    device: jax.Array  # int32 terminal index
    ps_x_bit: jax.Array  # request packet [bit]
    ps_y_bit: jax.Array  # result packet [bit]


class EnvState(NamedTuple):
    """``pos``/``vel`` (D, 3) m, m/s; ``remaining`` (S, 3) [CPU units, MHz, GB];
    ``slot_free`` (S, K) time [s] at which each parallel slot becomes free."""

    pos: jax.Array
    vel: jax.Array
    remaining: jax.Array
    slot_free: jax.Array
    task: Task
    t: jax.Array  # int32 step (= index of the current request)


class Obs(NamedTuple):
    """S_t = [D; s'_1 … s'_S] (§IV.A) plus what the request carries.

    remaining (S, 3): remaining [C, W, M] as a fraction of capacity; dist_km (S,): radio
    distance requester → server; wait_s (S,): queueing delay L_q a request sent now
    would see; aerial: requester is above ``air_threshold_m``; t_max_s: the request's
    delay requirement; progress: t / n_tasks.
    """

    remaining: jax.Array
    dist_km: jax.Array
    wait_s: jax.Array
    aerial: jax.Array
    t_max_s: jax.Array
    progress: jax.Array


class StepInfo(NamedTuple):
    """Per-request record (scalars)."""

    server: jax.Array  # int32
    alloc: jax.Array  # (3,) allocation [c, w, m]
    invalid: jax.Array  # allocation exceeded the remaining resources (or ≤ 0)
    oom: jax.Array  # memory allocation below task_mem_gb
    executed: jax.Array  # accepted and run (not invalid, not oom)
    completed: jax.Array  # executed and L ≤ t_max (tc of He et al. Eq. 11)
    latency_s: jax.Array  # He et al. Eq. 8 latency of an executed task (also when dropped), else 0
    pass_at_100: jax.Array  # the server's pass@100 if completed, else 0
    server_pass: jax.Array  # the chosen server's pass@100 (Table I)
    rate_bps: jax.Array  # Shannon rate R
    queue_s: jax.Array  # L_q
    compute_s: jax.Array  # L_c
    channel: jax.Array  # int32 G2G / G2A / A2A
    reward: jax.Array  # He et al. Eq. 14


# --------------------------------------------------------------------------- validation


def _fail(name: str, msg: str, value) -> None:
    raise ConfigError(f"EnvParams.{name}: {msg} (got {value!r})")


def make_params(**overrides) -> EnvParams:
    """Default ``EnvParams`` with validated overrides; raises ``ConfigError`` naming the field."""
    p = EnvParams(**check_overrides("EnvParams", EnvParams(), overrides))
    for name in (
        "n_ref_tasks",
        "parallel_limit",
        "n_tasks",
        "n_fixed",
        "n_phone",
        "n_car",
        "n_uav",
    ):
        v = getattr(p, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            _fail(name, "must be a non-negative integer", v)
    for name in ("n_ref_tasks", "parallel_limit", "n_tasks"):
        if getattr(p, name) < 1:
            _fail(name, "must be ≥ 1", getattr(p, name))
    if p.n_devices < 1:
        _fail(
            "n_fixed",
            "need at least one terminal (n_fixed + n_phone + n_car + n_uav ≥ 1)",
            p.n_devices,
        )
    for name in (
        "server_height_m",
        "cloud_backhaul_m",
        "cloud_lc_min_s",
        "edge_lc_min_s",
        "task_mem_gb",
        "area_m",
        "ground_height_m",
        "uav_height_m",
        "air_threshold_m",
        "g2a_alpha",
        "a2a_alpha",
        "arrival_s",
        "t_max_s",
    ):
        if not float(getattr(p, name)) > 0:
            _fail(name, "must be > 0; pass a positive number", getattr(p, name))
    for name in ("phone_speed_mps", "car_speed_mps", "uav_speed_mps", "lc_jitter"):
        if not float(getattr(p, name)) >= 0:
            _fail(name, "must be ≥ 0", getattr(p, name))
    for name in ("cloud_pass", "edge_pass"):
        if not 0.0 <= float(getattr(p, name)) <= 1.0:
            _fail(name, "a pass@100 must lie in [0, 1]", getattr(p, name))
    if not 0.0 <= p.lc_serial_frac < 1.0:
        _fail("lc_serial_frac", "must lie in [0, 1)", p.lc_serial_frac)
    if len(p.edge_xy_m) < 1 or any(len(xy) != 2 for xy in p.edge_xy_m):
        _fail("edge_xy_m", "needs one (x, y) pair per edge server", p.edge_xy_m)
    for name, xys in (("edge_xy_m", p.edge_xy_m), ("cloud_xy_m", (p.cloud_xy_m,))):
        if any(not 0.0 <= c <= p.area_m for xy in xys for c in xy):
            _fail(name, f"positions must lie inside the area [0, area_m={p.area_m}]", xys)
    if len(p.cloud_xy_m) != 2:
        _fail("cloud_xy_m", "must be one (x, y) pair", p.cloud_xy_m)
    if len(p.server_share) != p.n_servers or any(s <= 0 for s in p.server_share):
        _fail(
            "server_share",
            f"needs {p.n_servers} positive shares (cloud, then each edge)",
            p.server_share,
        )
    if abs(sum(p.server_share) - 1.0) > 1e-6:
        _fail("server_share", "shares must sum to 1; normalise", p.server_share)
    if len(p.full_alloc) != N_RESOURCES or any(a <= 0 for a in p.full_alloc):
        _fail("full_alloc", "needs 3 positive entries [CPU units, MHz, GB]", p.full_alloc)
    if len(p.share_levels) < 1 or any(not 0 < s <= 1 for s in p.share_levels):
        _fail("share_levels", "needs shares in (0, 1]", p.share_levels)
    if list(p.share_levels) != sorted(p.share_levels):
        _fail("share_levels", "must be increasing", p.share_levels)
    if len(p.shadow_sigma_db) != 3 or any(s < 0 for s in p.shadow_sigma_db):
        _fail("shadow_sigma_db", "needs 3 non-negative σ (G2G, G2A, A2A)", p.shadow_sigma_db)
    for name in ("ps_x_kbit", "ps_y_kbit"):
        lo_hi = getattr(p, name)
        if len(lo_hi) != 2 or not 0 < lo_hi[0] <= lo_hi[1]:
            _fail(name, "must be (lo, hi) with 0 < lo ≤ hi", lo_hi)
    if not p.uav_height_m > p.air_threshold_m:
        _fail(
            "uav_height_m",
            f"UAVs must fly above air_threshold_m={p.air_threshold_m}",
            p.uav_height_m,
        )
    if not p.ground_height_m < p.air_threshold_m or not p.server_height_m < p.air_threshold_m:
        _fail(
            "ground_height_m",
            "terminals and servers on the ground must be below air_threshold_m",
            (p.ground_height_m, p.server_height_m),
        )
    return p


# --------------------------------------------------------------------------- building blocks


def capacity(params: EnvParams) -> jax.Array:
    """(S, 3) resource pool per server: share_j · n_ref_tasks · full_alloc (§V.A, §V.C)."""
    share = jnp.asarray(params.server_share, jnp.float32)[:, None]
    return share * params.n_ref_tasks * jnp.asarray(params.full_alloc, jnp.float32)[None, :]


def server_positions(params: EnvParams) -> jax.Array:
    """(S, 3) antenna positions [m]: cloud gateway first, then the MEC servers."""
    xy = jnp.asarray((params.cloud_xy_m, *params.edge_xy_m), jnp.float32)
    return jnp.concatenate([xy, jnp.full((xy.shape[0], 1), params.server_height_m)], axis=1)


def decode_action(action: jax.Array, params: EnvParams) -> tuple[jax.Array, jax.Array]:
    """Flat index -> (server j, allocation (3,) [c, w, m]).

    index = ((j · L + i_c) · L + i_w) · L + i_m with level indices i_* ∈ 0..L−1;
    allocation = share_levels[i_*] · full_alloc.
    """
    n_lv = params.n_levels
    action = jnp.asarray(action, jnp.int32)
    i_m = action % n_lv
    i_w = (action // n_lv) % n_lv
    i_c = (action // n_lv**2) % n_lv
    j = action // n_lv**3
    levels = jnp.asarray(params.share_levels, jnp.float32)
    alloc = levels[jnp.stack([i_c, i_w, i_m])] * jnp.asarray(params.full_alloc, jnp.float32)
    return j, alloc


def encode_action(server, i_c, i_w, i_m, params: EnvParams):
    """Inverse of ``decode_action`` on level indices (ints or traced int arrays)."""
    n_lv = params.n_levels
    return ((server * n_lv + i_c) * n_lv + i_w) * n_lv + i_m


def channel_kind(h_a: jax.Array, h_b: jax.Array, air_threshold_m: float) -> jax.Array:
    """G2G if both ends are on the ground, A2A if both in the air, else G2A (§III.D)."""
    n_air = (h_a > air_threshold_m).astype(jnp.int32) + (h_b > air_threshold_m).astype(jnp.int32)
    return n_air  # 0 G2G, 1 G2A, 2 A2A


def path_loss_db(kind: jax.Array, d_m: jax.Array, params: EnvParams) -> jax.Array:
    """PL [dB] of He et al. Eqs. 5–7 for channel ``kind`` at distance ``d_m`` [m] (≥ 1 m)."""
    d_m = jnp.maximum(d_m, 1.0)
    g2g = 128.1 + 37.6 * jnp.log10(d_m / 1000.0)
    g2a = 10.0 * params.g2a_alpha * jnp.log10(d_m) + params.g2a_const_db
    a2a = 10.0 * params.a2a_alpha * jnp.log10(d_m)
    return jnp.select([kind == G2G, kind == G2A], [g2g, g2a], a2a)


def shannon_rate(w_hz: jax.Array, gain_db: jax.Array, params: EnvParams) -> jax.Array:
    """He et al. Eq. 3: R = W log2(1 + P·G/N) [bit/s], N = N0·W (thermal noise in the band)."""
    p_w = 10.0 ** ((params.tx_power_dbm - 30.0) / 10.0)
    n_w = 10.0 ** ((params.noise_dbm_hz - 30.0) / 10.0) * w_hz
    return w_hz * jnp.log2(1.0 + p_w * 10.0 ** (gain_db / 10.0) / n_w)


def compute_time(server: jax.Array, c: jax.Array, params: EnvParams) -> jax.Array:
    """Noise-free L_c [s] (Fig. 2 shape): L_min (f + (1 − f)/ĉ), ĉ = min(c / c_full, 1)."""
    l_min = jnp.where(server == 0, params.cloud_lc_min_s, params.edge_lc_min_s)
    c_hat = jnp.clip(c / params.full_alloc[0], 1e-6, 1.0)
    f = params.lc_serial_frac
    return l_min * (f + (1.0 - f) / c_hat)


def latency_eq8(ps_x_bit, ps_y_bit, rate_bps, d1_m, d2_m, queue_s, compute_s) -> jax.Array:
    """He et al. Eq. 8: L = (PS_x + PS_y)/R + (d1 + d2)/c + L_q + L_c [s]."""
    return (ps_x_bit + ps_y_bit) / rate_bps + (d1_m + d2_m) / SPEED_OF_LIGHT + queue_s + compute_s


def move(pos: jax.Array, vel: jax.Array, dt, area_m: float) -> tuple[jax.Array, jax.Array]:
    """Constant-velocity movement for ``dt`` s with specular reflection at the area's walls.

    Exact for any ``dt``: x is folded into [0, A] and the velocity sign flips once per wall
    hit. Heights do not change (vel[:, 2] = 0).
    """
    raw = pos + vel * dt
    period = jnp.mod(raw, 2.0 * area_m)
    folded = jnp.where(period > area_m, 2.0 * area_m - period, period)
    flips = jnp.mod(jnp.floor(raw / area_m), 2.0)
    new_vel = jnp.where(flips == 1.0, -vel, vel)
    xy_mask = jnp.array([True, True, False])
    return jnp.where(xy_mask, folded, pos), jnp.where(xy_mask, new_vel, vel)


def device_kinds(params: EnvParams) -> tuple[jax.Array, jax.Array]:
    """(D,) speed [m/s] and height [m] of each terminal: fixed, phones, cars, UAVs."""
    speeds = (
        [0.0] * params.n_fixed
        + [params.phone_speed_mps] * params.n_phone
        + [params.car_speed_mps] * params.n_car
        + [params.uav_speed_mps] * params.n_uav
    )
    heights = [params.ground_height_m] * (params.n_fixed + params.n_phone + params.n_car) + [
        params.uav_height_m
    ] * params.n_uav
    return jnp.asarray(speeds, jnp.float32), jnp.asarray(heights, jnp.float32)


def radio_distance(pos: jax.Array, params: EnvParams) -> jax.Array:
    """(..., S) Euclidean distance [m] from position(s) (..., 3) to every server antenna."""
    return jnp.linalg.norm(pos[..., None, :] - server_positions(params), axis=-1)


def _sample_task(key: jax.Array, params: EnvParams) -> Task:
    k_d, k_x, k_y = jax.random.split(key, 3)
    device = jax.random.randint(k_d, (), 0, params.n_devices).astype(jnp.int32)
    ps_x = jax.random.uniform(k_x, minval=params.ps_x_kbit[0], maxval=params.ps_x_kbit[1])
    ps_y = jax.random.uniform(k_y, minval=params.ps_y_kbit[0], maxval=params.ps_y_kbit[1])
    return Task(device=device, ps_x_bit=ps_x * 1e3, ps_y_bit=ps_y * 1e3)


def _observe(state: EnvState, params: EnvParams) -> Obs:
    now = state.t * params.arrival_s
    pos = state.pos[state.task.device]
    return Obs(
        remaining=state.remaining / capacity(params),
        dist_km=radio_distance(pos, params) / 1000.0,
        wait_s=jnp.maximum(state.slot_free.min(axis=1) - now, 0.0),
        aerial=(pos[2] > params.air_threshold_m).astype(jnp.float32),
        t_max_s=jnp.float32(params.t_max_s),
        progress=state.t / params.n_tasks,
    )


# --------------------------------------------------------------------------- reset / step


def reset(key: jax.Array, params: EnvParams) -> tuple[Obs, EnvState]:
    """Start a round: full pools, idle servers, terminals uniform in the area, random headings."""
    k_xy, k_head, k_task = jax.random.split(key, 3)
    speed, height = device_kinds(params)
    n_dev = params.n_devices
    xy = jax.random.uniform(k_xy, (n_dev, 2), maxval=params.area_m)
    heading = jax.random.uniform(k_head, (n_dev,), maxval=2.0 * jnp.pi)
    pos = jnp.concatenate([xy, height[:, None]], axis=1)
    vel = jnp.stack([speed * jnp.cos(heading), speed * jnp.sin(heading), jnp.zeros(n_dev)], 1)
    state = EnvState(
        pos=pos,
        vel=vel,
        remaining=capacity(params),
        slot_free=jnp.zeros((params.n_servers, params.parallel_limit)),
        task=_sample_task(k_task, params),
        t=jnp.int32(0),
    )
    return _observe(state, params), state


def step_alloc(
    key: jax.Array, state: EnvState, server: jax.Array, alloc: jax.Array, params: EnvParams
):
    """Offload the current request to ``server`` with allocation ``alloc`` (3,) [c, w, m].

    Returns ``(obs, state, reward, done, info)``; see the module docstring.
    """
    k_shadow, k_jit, k_task = jax.random.split(key, 3)
    server = jnp.clip(jnp.asarray(server, jnp.int32), 0, params.n_servers - 1)
    alloc = jnp.asarray(alloc, jnp.float32)
    task = state.task
    now = state.t * params.arrival_s
    pos, vel = state.pos[task.device], state.vel[task.device]

    invalid = jnp.any(alloc > state.remaining[server] + 1e-6) | jnp.any(alloc <= 0.0)
    oom = ~invalid & (alloc[2] < params.task_mem_gb - 1e-6)
    executed = ~invalid & ~oom

    # Uplink channel at dispatch (He et al. Eqs. 3–7).
    srv_pos = server_positions(params)[server]
    kind = channel_kind(pos[2], srv_pos[2], params.air_threshold_m)
    d1 = jnp.linalg.norm(pos - srv_pos)
    sigma = jnp.asarray(params.shadow_sigma_db, jnp.float32)[kind]
    shadow = jnp.abs(sigma * jax.random.normal(k_shadow))
    gain_db = params.antenna_gain_dbi - path_loss_db(kind, d1, params) - shadow
    rate = shannon_rate(jnp.maximum(alloc[1], 1e-6) * 1e6, gain_db, params)
    backhaul = jnp.where(server == 0, params.cloud_backhaul_m, 0.0)

    # Queue: earliest-free parallel slot (§III.E), then computation (Fig. 2).
    arrive = now + task.ps_x_bit / rate + (d1 + backhaul) / SPEED_OF_LIGHT
    slot = jnp.argmin(state.slot_free[server])
    queue = jnp.maximum(state.slot_free[server, slot] - arrive, 0.0)
    compute = compute_time(server, alloc[0], params) * jnp.exp(
        params.lc_jitter * jax.random.normal(k_jit)
    )

    # Result return: the terminal has moved on meanwhile (d2).
    front = task.ps_x_bit / rate + (d1 + backhaul) / SPEED_OF_LIGHT + queue + compute
    pos2, _ = move(pos, vel, front, params.area_m)
    d2 = jnp.linalg.norm(pos2 - srv_pos)
    latency = latency_eq8(
        task.ps_x_bit, task.ps_y_bit, rate, d1 + backhaul, d2 + backhaul, queue, compute
    )
    completed = executed & (latency <= params.t_max_s)

    # Book-keeping: the allocation is reserved for the round; a dropped task is abandoned
    # at t_max, freeing its slot then.
    remaining = jnp.where(invalid, state.remaining, state.remaining.at[server].add(-alloc))
    remaining = jnp.maximum(remaining, 0.0)  # only removes float round-off below 1e-6
    busy_until = jnp.minimum(arrive + queue + compute, now + params.t_max_s)
    slot_free = state.slot_free.at[server, slot].set(
        jnp.where(executed, busy_until, state.slot_free[server, slot])
    )

    server_pass = jnp.where(server == 0, params.cloud_pass, params.edge_pass)
    reward = jnp.where(completed, 1.0 / latency + server_pass, 0.0)
    new_pos, new_vel = move(state.pos, state.vel, params.arrival_s, params.area_m)
    new_state = EnvState(
        pos=new_pos,
        vel=new_vel,
        remaining=remaining,
        slot_free=slot_free,
        task=_sample_task(k_task, params),
        t=state.t + 1,
    )
    done = new_state.t >= params.n_tasks
    info = StepInfo(
        server=server,
        alloc=alloc,
        invalid=invalid,
        oom=oom,
        executed=executed,
        completed=completed,
        latency_s=jnp.where(executed, latency, 0.0),
        pass_at_100=jnp.where(completed, server_pass, 0.0),
        server_pass=server_pass,
        rate_bps=rate,
        queue_s=queue,
        compute_s=compute,
        channel=kind,
        reward=reward,
    )
    return _observe(new_state, params), new_state, reward, done, info


def step(key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams):
    """``step_alloc`` for a flat discrete action index (``decode_action``)."""
    server, alloc = decode_action(action, params)
    return step_alloc(key, state, server, alloc, params)


# --------------------------------------------------------------------------- agents' view


def flatten_obs(obs: Obs, params: EnvParams) -> jax.Array:
    """Flat float32 vector of length ``obs_dim`` (entries of order 1, all ≥ 0).

    [remaining (S·3), dist_km (S), wait_s / 10 (S), aerial, t_max_s / 15, progress]
    """
    del params
    return jnp.concatenate(
        [
            obs.remaining.ravel(),
            obs.dist_km,
            obs.wait_s / 10.0,
            jnp.stack([obs.aerial, obs.t_max_s / 15.0, obs.progress]),
        ]
    ).astype(jnp.float32)


def obs_dim(params: EnvParams) -> int:
    return 5 * params.n_servers + 3


def utility_eq9(avg_latency_s: jax.Array, avg_pass: jax.Array) -> jax.Array:
    """He et al. Eq. 9, the total system utility of one episode::

        U(L_T, P_T) = 1 / avg(Σ_{T_t} L_{T_t}) + avg(Σ_{T_t} P_{T_t})

    with avg(L) the mean latency [s] of the completed tasks (a dropped task violates
    Eq. 10's L ≤ t_max and has no latency) and avg(P) the mean pass@100 over all tasks (0
    for a task not completed), i.e. ``avg_latency_s`` and ``avg_pass`` of
    ``episode_metrics``. With no completed task the latency term is 0 (avg L = ∞), so
    U = avg_pass = 0. Elementwise; JAX-traceable.
    """
    lat_term = jnp.where(jnp.isnan(avg_latency_s), 0.0, 1.0 / avg_latency_s)
    return lat_term + avg_pass


def episode_metrics(info: StepInfo) -> dict:
    """§V.A metrics of one episode (fields (T,)) or a batch (…, T); JAX-traceable.

    sum_reward = Σ r (He et al. Eq. 14); tcr = #completed / T; avg_latency_s over completed tasks
    (NaN if none); avg_pass = mean over all tasks of pass@100 (0 for tasks not completed);
    utility = Eq. 9 (``utility_eq9``); edge_frac = share of executed tasks sent to an edge
    server (NaN if none executed).
    """
    done = info.completed
    n_done = done.sum(-1)
    lat = jnp.where(done, info.latency_s, 0.0).sum(-1) / jnp.where(n_done > 0, n_done, jnp.nan)
    n_exec = info.executed.sum(-1)
    edge = (info.executed & (info.server > 0)).sum(-1)
    avg_pass = info.pass_at_100.mean(-1)
    return {
        "sum_reward": info.reward.sum(-1),
        "tcr": done.mean(-1),
        "avg_latency_s": lat,
        "avg_pass": avg_pass,
        "utility": utility_eq9(lat, avg_pass),
        "invalid_rate": info.invalid.mean(-1),
        "oom_rate": info.oom.mean(-1),
        "edge_frac": edge / jnp.where(n_exec > 0, n_exec, jnp.nan),
    }


def random_policy(key: jax.Array, obs: Obs, params: EnvParams) -> jax.Array:
    """Uniform over the ``n_actions`` discrete actions."""
    del obs
    return jax.random.randint(key, (), 0, params.n_actions)


def rollout(key: jax.Array, act, params: EnvParams):
    """One episode of ``n_tasks`` requests under ``act(key, obs, params) -> action``.

    Keys: ``k_reset, k_loop = split(key)``; step t uses ``split(split(k_loop, T)[t])`` =
    (act key, env key). The env's randomness (terminals, tasks, shadowing, jitter) depends
    on ``key`` only, never on the actions' keys, so every policy given the same ``key``
    faces the same episode. JAX-traceable (``act`` must be). Returns flat observations
    (T, D), actions (T,), next flat observations (T, D) and ``StepInfo`` (T,).
    """
    k_reset, k_loop = jax.random.split(key)
    obs, state = reset(k_reset, params)

    def body(carry, k):
        obs, state = carry
        k_act, k_step = jax.random.split(k)
        flat = flatten_obs(obs, params)
        action = act(k_act, obs, params)
        obs, state, _, _, info = step(k_step, state, action, params)
        return (obs, state), (flat, action, flatten_obs(obs, params), info)

    _, out = jax.lax.scan(body, (obs, state), jax.random.split(k_loop, params.n_tasks))
    return out
