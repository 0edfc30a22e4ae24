"""Heuristic schedulers for ``aif-llm``: pure ``(key, obs, params) -> action``.

Actions: 0 local, 1..E edge nodes, E+1 cloud (see ``aifedge.environments.aif_llm``).
"""

import jax
import jax.numpy as jnp

from aifedge.environments.aif_llm import EnvParams, Obs, latency_components, node_gflops


def random_policy(key: jax.Array, obs: Obs, params: EnvParams) -> jax.Array:
    """Uniform over all nodes."""
    return jax.random.randint(key, (), 0, params.n_nodes)


def round_robin(key: jax.Array, obs: Obs, params: EnvParams) -> jax.Array:
    """Cycle over the edge nodes and the cloud by step index (skips local)."""
    del key
    return (1 + obs.t % (params.n_edge + 1)).astype(jnp.int32)


def cloud_only(key: jax.Array, obs: Obs, params: EnvParams) -> jax.Array:
    """Always the cloud."""
    del key, obs
    return jnp.int32(params.n_nodes - 1)


def best_edge(key: jax.Array, obs: Obs, params: EnvParams) -> jax.Array:
    """The up edge node with the shortest observed queue wait (node 1 if all down)."""
    del key
    wait = jnp.where(obs.up > 0, obs.queue_ms, jnp.inf)
    return (1 + jnp.argmin(wait)).astype(jnp.int32)


def expected_completion_ms(obs: Obs, params: EnvParams) -> jax.Array:
    """(n_nodes,) expected latency from what is observed; inf where infeasible.

    Uses the observed queue waits and measured RTT (the WAN condition itself is
    hidden: the bandwidth divisor is inferred from the RTT multiplier ratio).
    """
    gflops = node_gflops(params)
    backlog = obs.queue_ms / 1000.0 * gflops[1:-1]
    parts = latency_components(obs.task, backlog, jnp.int32(0), params)
    mult = obs.rtt_ms / params.cloud_rtt_ms
    mults = jnp.asarray(params.net_rtt_mult)
    net_guess = jnp.argmin(jnp.abs(mults - mult))
    cloud_tx = parts[-1, 0] * jnp.asarray(params.net_bw_div)[net_guess]
    parts = parts.at[-1, 0].set(cloud_tx).at[-1, 1].set(obs.rtt_ms)
    total = parts.sum(-1)
    room = gflops[1:-1] * params.edge_queue_s - backlog - obs.task.compute_gflop
    edge_ok = (obs.up > 0) & (room >= 0)
    return total.at[1:-1].set(jnp.where(edge_ok, total[1:-1], jnp.inf))


def greedy(key: jax.Array, obs: Obs, params: EnvParams) -> jax.Array:
    """Least expected completion time (``expected_completion_ms``)."""
    del key
    return jnp.argmin(expected_completion_ms(obs, params)).astype(jnp.int32)


HEURISTICS = {
    "random": random_policy,
    "round-robin": round_robin,
    "greedy": greedy,
    "cloud": cloud_only,
    "edge": best_edge,
}
