"""The AIF-LLM cloud-edge scheduling simulator (env id ``aif-llm``; AIF-LLM §5.1).

Pure functional JAX: ``reset(key, params) -> (obs, state)`` and
``step(key, state, action, params) -> (obs, state, reward, done, info)``; no hidden
state, static shapes, so both can be ``jit``-ed, ``vmap``-ed and ``scan``-ned.

Topology (action = target node of the current task, ``n_nodes = n_edge + 2``)::

    action 0            local device (the task's own accelerator, no network)
    action 1 .. n_edge  heterogeneous edge nodes, finite FIFO queues, fail/recover
    action n_edge + 1   cloud: 10,000 GFLOPS, unbounded capacity, WAN round trip

One task arrives per step (``step_ms`` apart). Its latency when sent to node j is

    L = L_tx + L_prop + L_queue + L_comp + L_spike                       (ms)
    L_tx    = 8 · (data_in + data_out) [MB] / B_j [Mbit/s] · 1000 · ε_tx
    L_prop  = RTT_j · m_net · ε_prop        (m_net only on the WAN path)
    L_queue = backlog_j [GFLOP] / F_j [GFLOPS] · 1000   (edge FIFO; 0 local/cloud)
    L_comp  = demand [GFLOP] / F_j · 1000
    L_spike = 1[u < p_spike] · GPD(ζ = 1.5, σ_spike)

with log-normal jitter ε ~ LogNormal(0, σ_jit²). Outcomes: **met** if L ≤ L_QoS,
**violated** if L_QoS < L ≤ timeout_factor · L_QoS, **failed** if the task exceeds
its timeout (GPD spikes with ζ ≥ 1 have infinite mean, so they end as failures,
never as unbounded latencies), the edge node is down, or its queue is full.

Edge nodes fail and recover as independent two-state Markov chains; a failure
empties the node's queue. The WAN condition is a three-state Markov chain
(good / degraded / congested) multiplying the cloud RTT and dividing the cloud
bandwidth. Edge nodes also serve background work from other tenants.

Parameters marked "§5.1" are the paper's; the paper is silent on the others and
the values here are this project's documented assumptions, fixed before any
method was run (see README, "The simulator").
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from aifedge.config import ConfigError, check_overrides

from .tails import sample_gpd
from .task_texts import CLASS_NAMES, TASK_TEXTS, TEXTS_PER_CLASS

MET, VIOLATED, FAILED = 0, 1, 2
OUTCOME_NAMES = ("met", "violated", "failed")
NET_NAMES = ("good", "degraded", "congested")


class EnvParams(NamedTuple):
    """Simulator parameters. Units in brackets; (§5.1) = AIF-LLM, else assumption.

    Topology
      cloud_gflops [GFLOPS]        10,000 (§5.1), unbounded parallel capacity.
      edge_gflops [GFLOPS] (E,)    5 nodes spread evenly over 50–200 (§5.1 range).
      local_gflops [GFLOPS]        on-device accelerator of the requesting user.
      edge_queue_s [s]             queue capacity, seconds of work at the node's speed.
      edge_bandwidth_mbps, edge_rtt_ms     access link to an edge node.
      cloud_bandwidth_mbps, cloud_rtt_ms   WAN path to the cloud in the good state.
    Network (WAN) condition, states good / degraded / congested
      net_rtt_mult (3,), net_bw_div (3,)   RTT multiplier and bandwidth divisor.
      net_transition (3, 3)                row-stochastic Markov matrix per step.
      net_init (3,)                        initial distribution.
      jitter_sigma                         log-normal σ of per-task link jitter.
    Reliability and load
      edge_fail_prob, edge_recover_prob [1/step]   up→down, down→up.
      bg_util                      mean background utilisation of each edge node.
      spike_prob                   probability a task gets a latency spike.
      spike_shape                  GPD shape ζ = 1.5 (§5.1).
      spike_scale_ms [ms]          GPD scale σ.
      timeout_factor               timeout = timeout_factor · L_QoS.
    Task stream, per class (interactive, video, document, batch)
      step_ms [ms]                 inter-arrival time (one task per step).
      class_probs (C,)             class mix.
      compute_lo, compute_hi [GFLOP] (C,)  uniform compute demand.
      data_in_lo, data_in_hi [MB] (C,)     uniform input size.
      data_out_mb [MB] (C,)        result size.
      deadline_ms [ms] (C,)        QoS deadline L_QoS.
      text_noise                   probability the text comes from another class.
    Observation
      obs_noise                    log-normal σ on observed queue waits and RTT.
      max_steps                    episode length (paper: 100 steps, §5.2.1).
    """

    cloud_gflops: float = 10_000.0
    edge_gflops: tuple = (50.0, 87.5, 125.0, 162.5, 200.0)
    local_gflops: float = 30.0
    edge_queue_s: float = 2.0
    edge_bandwidth_mbps: float = 100.0
    edge_rtt_ms: float = 10.0
    cloud_bandwidth_mbps: float = 20.0
    cloud_rtt_ms: float = 80.0
    net_rtt_mult: tuple = (1.0, 2.5, 6.0)
    net_bw_div: tuple = (1.0, 2.0, 4.0)
    net_transition: tuple = ((0.90, 0.08, 0.02), (0.15, 0.75, 0.10), (0.05, 0.20, 0.75))
    net_init: tuple = (0.7, 0.2, 0.1)
    jitter_sigma: float = 0.2
    edge_fail_prob: float = 0.01
    edge_recover_prob: float = 0.1
    bg_util: float = 0.3
    spike_prob: float = 0.05
    spike_shape: float = 1.5
    spike_scale_ms: float = 50.0
    timeout_factor: float = 3.0
    step_ms: float = 100.0
    class_probs: tuple = (0.4, 0.25, 0.2, 0.15)
    compute_lo: tuple = (4.0, 20.0, 40.0, 100.0)
    compute_hi: tuple = (16.0, 60.0, 120.0, 300.0)
    data_in_lo: tuple = (0.005, 1.0, 0.2, 0.1)
    data_in_hi: tuple = (0.02, 4.0, 1.0, 0.5)
    data_out_mb: tuple = (0.005, 0.01, 0.02, 0.05)
    deadline_ms: tuple = (300.0, 800.0, 1500.0, 4000.0)
    text_noise: float = 0.1
    obs_noise: float = 0.1
    max_steps: int = 100

    @property
    def n_edge(self) -> int:
        return len(self.edge_gflops)

    @property
    def n_nodes(self) -> int:
        """Number of actions: local + edges + cloud."""
        return self.n_edge + 2


class Task(NamedTuple):
    """The task waiting for a decision (scalars)."""

    compute_gflop: jax.Array
    data_in_mb: jax.Array
    data_out_mb: jax.Array
    deadline_ms: jax.Array
    task_class: jax.Array  # int32 index into CLASS_NAMES
    text_id: jax.Array  # int32 index into TASK_TEXTS


class EnvState(NamedTuple):
    """Full simulator state; ``backlog`` (E,) GFLOP queued at each edge node."""

    backlog: jax.Array
    up: jax.Array  # (E,) bool
    net: jax.Array  # int32 WAN condition
    task: Task
    t: jax.Array  # int32 step index


class Obs(NamedTuple):
    """What a scheduler sees. ``queue_ms`` (E,) noisy queue wait, 0 when down.

    ``last_*`` report the previous decision's result (node, outcome, latency; −1 / 0
    before the first decision): a scheduler learns how its last task ended one step
    later. ``last_latency_ms`` is 0 when that task failed (its latency is unbounded).
    """

    queue_ms: jax.Array
    up: jax.Array  # (E,) float 0/1
    rtt_ms: jax.Array  # noisy measured cloud RTT
    task: Task
    t: jax.Array
    last_node: jax.Array = -1  # type: ignore[assignment]  # a scalar default, an array once stepped
    last_outcome: jax.Array = -1  # type: ignore[assignment]
    last_latency_ms: jax.Array = 0.0  # type: ignore[assignment]


class StepInfo(NamedTuple):
    """Per-step record; ``outcome`` ∈ {MET, VIOLATED, FAILED}."""

    latency_ms: jax.Array  # realised latency (only meaningful when not failed)
    outcome: jax.Array
    node: jax.Array
    task_class: jax.Array
    deadline_ms: jax.Array
    net_delay_ms: jax.Array  # true WAN RTT this step (for U_t, AIF-LLM Eq. 6)
    n_down: jax.Array


def _positive(name: str, value) -> None:
    values = jnp.ravel(jnp.asarray(value, dtype=float))
    if values.size == 0 or bool(jnp.any(~(values > 0))):
        raise ConfigError(f"EnvParams.{name}: must be > 0 (got {value!r}); pass positive numbers")


def _probability(name: str, value) -> None:
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise ConfigError(f"EnvParams.{name}: must lie in [0, 1] (got {v}); pass a probability")


def _distribution(name: str, value, length: int) -> None:
    arr = jnp.asarray(value, dtype=float)
    if arr.shape[-1] != length or bool(jnp.any(arr < 0)):
        raise ConfigError(f"EnvParams.{name}: needs {length} non-negative entries (got {value!r})")
    if not bool(jnp.allclose(arr.sum(-1), 1.0, atol=1e-6)):
        raise ConfigError(f"EnvParams.{name}: entries must sum to 1 (got {value!r}); normalise")


def make_params(**overrides) -> EnvParams:
    """Default ``EnvParams`` with validated overrides; raises ``ConfigError``."""
    p = EnvParams(**check_overrides("EnvParams", EnvParams(), overrides))
    for name in (
        "cloud_gflops",
        "edge_gflops",
        "local_gflops",
        "edge_queue_s",
        "edge_bandwidth_mbps",
        "edge_rtt_ms",
        "cloud_bandwidth_mbps",
        "cloud_rtt_ms",
        "net_rtt_mult",
        "net_bw_div",
        "spike_scale_ms",
        "step_ms",
        "compute_lo",
        "data_in_lo",
        "data_out_mb",
        "deadline_ms",
        "max_steps",
    ):
        _positive(name, getattr(p, name))
    if p.timeout_factor < 1:
        raise ConfigError(f"EnvParams.timeout_factor: must be ≥ 1 (got {p.timeout_factor})")
    for name in ("edge_fail_prob", "edge_recover_prob", "spike_prob", "text_noise"):
        _probability(name, getattr(p, name))
    if not 0 <= p.bg_util < 1:
        raise ConfigError(f"EnvParams.bg_util: must lie in [0, 1) (got {p.bg_util})")
    for name in ("jitter_sigma", "obs_noise"):
        if getattr(p, name) < 0:
            raise ConfigError(f"EnvParams.{name}: must be ≥ 0 (got {getattr(p, name)!r})")
    n_cls = len(CLASS_NAMES)
    for name in (
        "class_probs",
        "compute_lo",
        "compute_hi",
        "data_in_lo",
        "data_in_hi",
        "data_out_mb",
        "deadline_ms",
    ):
        if len(getattr(p, name)) != n_cls:
            raise ConfigError(
                f"EnvParams.{name}: needs one entry per class {CLASS_NAMES} "
                f"(got {getattr(p, name)!r})"
            )
    for lo, hi in (("compute_lo", "compute_hi"), ("data_in_lo", "data_in_hi")):
        if any(a > b for a, b in zip(getattr(p, lo), getattr(p, hi), strict=True)):
            raise ConfigError(
                f"EnvParams.{lo}: must be ≤ {hi} entry by entry "
                f"(got {getattr(p, lo)!r} and {getattr(p, hi)!r})"
            )
    _distribution("class_probs", p.class_probs, n_cls)
    _distribution("net_init", p.net_init, 3)
    _distribution("net_transition", p.net_transition, 3)
    if len(p.net_transition) != 3 or len(p.net_rtt_mult) != 3 or len(p.net_bw_div) != 3:
        raise ConfigError(
            "EnvParams.net_transition / net_rtt_mult / net_bw_div: the WAN chain has exactly "
            f"3 states (got {len(p.net_transition)}, {len(p.net_rtt_mult)}, {len(p.net_bw_div)})"
        )
    if not isinstance(p.max_steps, int):
        raise ConfigError(f"EnvParams.max_steps: must be an integer (got {p.max_steps!r})")
    return p


def _sample_task(key: jax.Array, params: EnvParams) -> Task:
    k_cls, k_c, k_d, k_noise, k_txt, k_other = jax.random.split(key, 6)
    probs = jnp.asarray(params.class_probs)
    cls = jax.random.choice(k_cls, probs.shape[0], p=probs).astype(jnp.int32)
    lo, hi = jnp.asarray(params.compute_lo)[cls], jnp.asarray(params.compute_hi)[cls]
    compute = jax.random.uniform(k_c, minval=lo, maxval=hi)
    dlo, dhi = jnp.asarray(params.data_in_lo)[cls], jnp.asarray(params.data_in_hi)[cls]
    data_in = jax.random.uniform(k_d, minval=dlo, maxval=dhi)
    # Text: own class's template, or with prob text_noise another class's.
    n_cls = probs.shape[0]
    other = (cls + 1 + jax.random.randint(k_other, (), 0, n_cls - 1)) % n_cls
    text_cls = jnp.where(jax.random.uniform(k_noise) < params.text_noise, other, cls)
    text_id = text_cls * TEXTS_PER_CLASS + jax.random.randint(k_txt, (), 0, TEXTS_PER_CLASS)
    return Task(
        compute_gflop=compute,
        data_in_mb=data_in,
        data_out_mb=jnp.asarray(params.data_out_mb)[cls],
        deadline_ms=jnp.asarray(params.deadline_ms)[cls],
        task_class=cls,
        text_id=text_id.astype(jnp.int32),
    )


def node_gflops(params: EnvParams) -> jax.Array:
    """(n_nodes,) compute speed of every action target: local, edges, cloud."""
    edge = jnp.asarray(params.edge_gflops, dtype=jnp.float32)
    return jnp.concatenate(
        [jnp.array([params.local_gflops]), edge, jnp.array([params.cloud_gflops])]
    )


def latency_components(
    task: Task,
    backlog: jax.Array,
    net: jax.Array,
    params: EnvParams,
    jitter_tx=1.0,
    jitter_prop=1.0,
) -> jax.Array:
    """(n_nodes, 4) latency parts [tx, prop, queue, comp] in ms for every target node.

    Implements the terms of the module docstring without the GPD spike.
    """
    n_edge = len(params.edge_gflops)
    gflops = node_gflops(params)
    bits = 8.0 * (task.data_in_mb + task.data_out_mb)  # Mbit
    cloud_bw = params.cloud_bandwidth_mbps / jnp.asarray(params.net_bw_div)[net]
    bw = jnp.concatenate(
        [
            jnp.array([jnp.inf]),
            jnp.full((n_edge,), params.edge_bandwidth_mbps),
            jnp.array([cloud_bw]),
        ]
    )
    cloud_rtt = params.cloud_rtt_ms * jnp.asarray(params.net_rtt_mult)[net]
    rtt = jnp.concatenate(
        [jnp.array([0.0]), jnp.full((n_edge,), params.edge_rtt_ms), jnp.array([cloud_rtt])]
    )
    tx = bits / bw * 1000.0 * jitter_tx
    prop = rtt * jitter_prop
    queue = jnp.concatenate([jnp.array([0.0]), backlog / gflops[1:-1] * 1000.0, jnp.array([0.0])])
    comp = task.compute_gflop / gflops * 1000.0
    return jnp.stack([tx, prop, queue, comp], axis=-1)


def _observe(
    key: jax.Array,
    state: EnvState,
    params: EnvParams,
    last_node=-1,
    last_outcome=-1,
    last_latency_ms=0.0,
) -> Obs:
    k_q, k_r = jax.random.split(key)
    n_edge = state.backlog.shape[0]
    noise_q = jnp.exp(params.obs_noise * jax.random.normal(k_q, (n_edge,)))
    queue = state.backlog / jnp.asarray(params.edge_gflops) * 1000.0 * noise_q
    rtt = params.cloud_rtt_ms * jnp.asarray(params.net_rtt_mult)[state.net]
    rtt = rtt * jnp.exp(params.obs_noise * jax.random.normal(k_r))
    return Obs(
        queue_ms=jnp.where(state.up, queue, 0.0),
        up=state.up.astype(jnp.float32),
        rtt_ms=rtt,
        task=state.task,
        t=state.t,
        last_node=jnp.asarray(last_node, jnp.int32),
        last_outcome=jnp.asarray(last_outcome, jnp.int32),
        last_latency_ms=jnp.asarray(last_latency_ms, jnp.float32),
    )


def reset(key: jax.Array, params: EnvParams) -> tuple[Obs, EnvState]:
    """Start an episode: queues U(0, 0.5 s of work), all nodes up, WAN ~ net_init."""
    k_b, k_n, k_t, k_o = jax.random.split(key, 4)
    gflops = jnp.asarray(params.edge_gflops)
    backlog = jax.random.uniform(k_b, gflops.shape) * 0.5 * gflops
    net = jax.random.choice(k_n, 3, p=jnp.asarray(params.net_init)).astype(jnp.int32)
    state = EnvState(
        backlog=backlog,
        up=jnp.ones(gflops.shape, bool),
        net=net,
        task=_sample_task(k_t, params),
        t=jnp.int32(0),
    )
    return _observe(k_o, state, params), state


def step(key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams):
    """Dispatch the current task to node ``action``, then advance ``step_ms``.

    Returns ``(obs, state, reward, done, info)``. Reward (for RL baselines; the
    paper gives none): +1 QoS met, 0 violated, −1 failed.
    """
    keys = jax.random.split(key, 9)
    n_edge = state.backlog.shape[0]
    gflops_edge = jnp.asarray(params.edge_gflops)
    action = jnp.asarray(action, jnp.int32)
    task = state.task

    jit_tx = jnp.exp(params.jitter_sigma * jax.random.normal(keys[0]))
    jit_prop = jnp.exp(params.jitter_sigma * jax.random.normal(keys[1]))
    parts = latency_components(task, state.backlog, state.net, params, jit_tx, jit_prop)
    spike = jnp.where(
        jax.random.uniform(keys[2]) < params.spike_prob,
        sample_gpd(keys[3], params.spike_shape, params.spike_scale_ms),
        0.0,
    )
    latency = parts[action].sum() + spike

    edge_idx = jnp.clip(action - 1, 0, n_edge - 1)
    is_edge = (action >= 1) & (action <= n_edge)
    capacity = gflops_edge[edge_idx] * params.edge_queue_s
    overflow = is_edge & (state.backlog[edge_idx] + task.compute_gflop > capacity)
    down = is_edge & ~state.up[edge_idx]
    timeout = latency > params.timeout_factor * task.deadline_ms
    failed = overflow | down | timeout
    outcome = jnp.where(failed, FAILED, jnp.where(latency <= task.deadline_ms, MET, VIOLATED))

    accepted = is_edge & ~overflow & ~down
    backlog = state.backlog.at[edge_idx].add(jnp.where(accepted, task.compute_gflop, 0.0))

    # Advance time: drain, background work, failures, WAN chain, next task.
    dt = params.step_ms / 1000.0
    bg = jax.random.exponential(keys[4], (n_edge,)) * params.bg_util * gflops_edge * dt
    backlog = jnp.clip(
        jnp.maximum(backlog - gflops_edge * dt, 0.0) + bg, 0.0, gflops_edge * params.edge_queue_s
    )
    u = jax.random.uniform(keys[5], (n_edge,))
    up = jnp.where(state.up, u >= params.edge_fail_prob, u < params.edge_recover_prob)
    backlog = jnp.where(up, backlog, 0.0)
    trans = jnp.asarray(params.net_transition)
    net = jax.random.choice(keys[6], 3, p=trans[state.net]).astype(jnp.int32)
    new_state = EnvState(
        backlog=backlog, up=up, net=net, task=_sample_task(keys[7], params), t=state.t + 1
    )

    reward = jnp.where(outcome == MET, 1.0, jnp.where(outcome == FAILED, -1.0, 0.0))
    done = new_state.t >= params.max_steps
    info = StepInfo(
        latency_ms=latency,
        outcome=outcome.astype(jnp.int32),
        node=action,
        task_class=task.task_class,
        deadline_ms=task.deadline_ms,
        net_delay_ms=params.cloud_rtt_ms * jnp.asarray(params.net_rtt_mult)[state.net] * jit_prop,
        n_down=jnp.sum(~state.up).astype(jnp.int32),
    )
    obs = _observe(
        keys[8], new_state, params, action, info.outcome, jnp.where(failed, 0.0, latency)
    )
    return obs, new_state, reward, done, info


def flatten_obs(obs: Obs, params: EnvParams) -> jax.Array:
    """Flat float32 vector for RL agents (scaled to order 1), length ``obs_dim``.

    [queue_s (E), up (E), rtt/100 ms, compute/100 GFLOP, data MB, deadline s,
     one-hot class (C), t / max_steps, one-hot last outcome (3), one-hot last node (N)]
    """
    t = obs.task
    n_cls = len(params.class_probs)
    return jnp.concatenate(
        [
            obs.queue_ms / 1000.0,
            obs.up,
            jnp.stack(
                [
                    obs.rtt_ms / 100.0,
                    t.compute_gflop / 100.0,
                    t.data_in_mb + t.data_out_mb,
                    t.deadline_ms / 1000.0,
                ]
            ),
            jax.nn.one_hot(t.task_class, n_cls),
            jnp.atleast_1d(obs.t / params.max_steps),
            jax.nn.one_hot(obs.last_outcome, 3),  # all zeros before the first decision
            jax.nn.one_hot(obs.last_node, params.n_nodes),
        ]
    ).astype(jnp.float32)


def obs_dim(params: EnvParams) -> int:
    return 2 * params.n_edge + 4 + len(params.class_probs) + 1 + 3 + params.n_nodes


def task_text(text_id: int) -> str:
    """The description string of a task's ``text_id``."""
    return TASK_TEXTS[int(text_id)]
