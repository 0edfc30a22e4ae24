"""Networks shared by the multi-agent learners on ``ucb-coma`` (UCB-COMA §4.1.1, §4.2).

Plain JAX parameter pytrees (dicts and lists of arrays), so one agent's network and a
stack of per-agent networks (``jax.vmap`` over the init key) are the same code.

* ``gcn_*``: the DAG encoder of §4.1.1 — two GCN layers of width 64 over the sub-task
  graph, global mean pooling over real (non-padding) sub-tasks, one linear map to a 16-d
  task vector Task_i. Propagation H' = ReLU(Â H W) with the symmetric normalisation
  Â = D^{-1/2} (A + Aᵀ + I) D^{-1/2} of the undirected DAG (Kipf & Welling).
* ``actor_*``: the policy ω_φi(a | s_i) of agent i over a = (sub-task, location), input
  s_i = (P_i, S, Task_i) (§4.1.1). Two heads, joint log-probability
  ln ω(a) = ln ω(sub) + ln ω(loc), so the 16 joint actions keep the env's encoding
  a = sub · 4 + loc. The sub-task head is a softmax over the sub-tasks awaiting scheduling
  only ("待调度子任务", §4.1.2): logits of scheduled and padding sub-tasks (P_i[j] = 1) are
  set to ``MASKED`` (finite, so ω = 0 exactly in float32 and 0 · ln ω = 0 in entropies);
  a complete task (nothing pending) keeps the unmasked head (its agent idles).
* ``global_state``: S for the centralised critics (all agents' raw observations, flattened).
"""

import jax
import jax.numpy as jnp

from aifedge.environments import ucb_coma as env


def glorot(key: jax.Array, n_in: int, n_out: int) -> jax.Array:
    return jax.random.normal(key, (n_in, n_out)) * jnp.sqrt(2.0 / (n_in + n_out))


def mlp_init(key: jax.Array, sizes: tuple[int, ...]) -> list[dict]:
    """Dense layers ``sizes[0] -> ... -> sizes[-1]``, Glorot weights, zero biases."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {"w": glorot(k, a, b), "b": jnp.zeros(b)}
        for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def mlp_apply(layers: list[dict], x: jax.Array) -> jax.Array:
    """ReLU between layers, linear output."""
    for layer in layers[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ layers[-1]["w"] + layers[-1]["b"]


def gcn_init(key: jax.Array, hidden: int = 64, embed: int = 16) -> dict:
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "w1": glorot(k1, env.NODE_FEATURES, hidden),
        "w2": glorot(k2, hidden, hidden),
        "wo": glorot(k3, hidden, embed),
        "bo": jnp.zeros(embed),
    }


def normalized_adjacency(adj: jax.Array, valid: jax.Array) -> jax.Array:
    """(J, J) Â = D^{-1/2}(A + Aᵀ + I)D^{-1/2} restricted to the real sub-tasks."""
    a = (adj + adj.T) * valid[:, None] * valid[None, :] + jnp.eye(adj.shape[0])
    deg = a.sum(-1)
    inv = 1.0 / jnp.sqrt(deg)
    return a * inv[:, None] * inv[None, :]


def gcn_apply(p: dict, nodes: jax.Array, adj: jax.Array) -> jax.Array:
    """(J, F) node features, (J, J) predecessor matrix -> (embed,) Task_i."""
    valid = nodes[:, 10]
    a_hat = normalized_adjacency(adj, valid)
    h = jax.nn.relu(a_hat @ nodes @ p["w1"])
    h = jax.nn.relu(a_hat @ h @ p["w2"])
    pooled = (h * valid[:, None]).sum(0) / jnp.maximum(valid.sum(), 1.0)
    return pooled @ p["wo"] + p["bo"]


def actor_input_dim(embed: int) -> int:
    return embed + env.J_MAX + env.N_LOC * env.SERVER_FEATURES + 1


def actor_init(key: jax.Array, gcn_hidden: int, embed: int, hidden: int) -> dict:
    k_g, k_m = jax.random.split(key)
    return {
        "gcn": gcn_init(k_g, gcn_hidden, embed),
        "mlp": mlp_init(k_m, (actor_input_dim(embed), hidden, hidden, env.J_MAX + env.N_LOC)),
    }


MASKED = -1e9  # logit of a sub-task outside the action space


def actor_logp(p: dict, nodes, adj, progress, servers, t) -> jax.Array:
    """One agent: (16,) joint log-probabilities ln ω(sub) + ln ω(loc), sub over P_i = 0."""
    task = gcn_apply(p["gcn"], nodes, adj)
    x = jnp.concatenate([task, progress, servers.reshape(-1), jnp.atleast_1d(t)])
    out = mlp_apply(p["mlp"], x)
    pending = progress < 0.5
    pending = pending | ~pending.any()
    sub = jax.nn.log_softmax(jnp.where(pending, out[: env.J_MAX], MASKED))
    loc = jax.nn.log_softmax(out[env.J_MAX :])
    return (sub[:, None] + loc[None, :]).reshape(-1)


def actors_logp(stacked: dict, obs: env.Obs) -> jax.Array:
    """All agents, each with its own parameters (leading agent axis): (I, 16)."""
    t = jnp.broadcast_to(obs.t, obs.progress.shape[:1])
    return jax.vmap(actor_logp)(stacked, obs.nodes, obs.adj, obs.progress, obs.servers, t)


def actors_init(key: jax.Array, n_agents: int, gcn_hidden: int, embed: int, hidden: int) -> dict:
    """Separate policy networks φ_i, stacked on a leading agent axis (§4.2)."""
    keys = jax.random.split(key, n_agents)
    return jax.vmap(lambda k: actor_init(k, gcn_hidden, embed, hidden))(keys)


def global_state(obs: env.Obs) -> jax.Array:
    """S: every agent's observation, flattened; unbatched ``obs`` -> (D,)."""
    return jnp.concatenate(
        [
            obs.nodes.reshape(-1),
            obs.adj.reshape(-1),
            obs.progress.reshape(-1),
            obs.servers.reshape(-1),
            jnp.atleast_1d(obs.t),
        ]
    )


def global_state_dim(n_agents: int) -> int:
    j, f, s = env.J_MAX, env.NODE_FEATURES, env.N_LOC * env.SERVER_FEATURES
    return n_agents * (j * f + j * j + j + s) + 1
