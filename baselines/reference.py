"""Reference policies that see the TRUE state (scenario ``paper`` only; issue #17).

They bound what any scheduler could reach and are reported beside every method, never
as competitors. ``oracle`` is the myopic oracle: for the current task it picks the node
with the highest true P(met) (``Obs.oracle[:, 0]``, computed by the simulator from the full
state: true queues, up/down, degradation, failure times, WAN state and uplink backlog,
hidden privacy and latency class, the realised output length), ties broken by the lower
true spike-free latency. It is myopic: it ignores what its choice does to later tasks.

``mpc`` is a non-myopic planner on the true model (short-horizon model-predictive control):
for each candidate node it steps copies of the TRUE env state (``Obs.state``) with that
action and then ``horizon`` more decisions of the myopic oracle, on ``samples`` sampled
futures shared by every candidate (common random numbers), and picks the node of highest

    V(a) = P(met | a) + (1/M) Σ_m Σ_{h=1..H} max_j P_h,m(met | j)          (M samples, H horizon)

(expected tasks met: the first term exactly, later decisions by the oracle's own P(met) at the
states reached, counted only before the episode's end). With H = 0 it is the oracle.
"""

import jax
import jax.numpy as jnp

from aifedge.config import ConfigError
from aifedge.environments import aif_llm_paper
from aifedge.environments.rollout import stateless
from aifedge.protocols import Policy


def oracle_action(obs: aif_llm_paper.Obs) -> jax.Array:
    """argmax_j P(met | j) − 1e-9 · L_j over the nodes (``Obs.oracle``, (n_nodes, 2))."""
    p_met, latency = obs.oracle[..., 0], obs.oracle[..., 1]
    return jnp.argmax(p_met - 1e-9 * latency, axis=-1).astype(jnp.int32)


def make_oracle(params) -> Policy:
    """The myopic-oracle ``Policy``; ``ConfigError`` outside scenario ``paper``."""
    if not isinstance(params, aif_llm_paper.EnvParams):
        raise ConfigError(
            "--policy oracle: needs the true state, which only --scenario paper exposes"
        )
    return stateless(lambda key, obs, p: oracle_action(obs))


def mpc_values(
    key: jax.Array, obs: aif_llm_paper.Obs, params, horizon: int, samples: int
) -> jax.Array:
    """V(a) (n_nodes,) of the module docstring from ``obs.state``; ``horizon``, ``samples``
    static. Every candidate uses the same ``samples`` step-key sequences."""
    env = aif_llm_paper
    p_now = obs.oracle[:, 0]
    if horizon == 0:
        return p_now

    def future(action, k):
        """Σ_h max_j P_h(met | j) after ``action``, oracle continuation, one sampled path."""
        ks = jax.random.split(k, horizon)
        o, s, *_ = env.step(ks[0], obs.state, action, params)

        def body(carry, kk):
            o, s, total = carry
            total = total + jnp.where(s.t < params.max_steps, jnp.max(o.oracle[:, 0]), 0.0)
            o, s, *_ = env.step(kk, s, oracle_action(o), params)
            return (o, s, total), None

        (o, s, total), _ = jax.lax.scan(body, (o, s, jnp.float32(0.0)), ks[1:])
        return total + jnp.where(s.t < params.max_steps, jnp.max(o.oracle[:, 0]), 0.0)

    actions = jnp.arange(params.n_nodes, dtype=jnp.int32)
    keys = jax.random.split(key, samples)
    per = jax.vmap(lambda a: jax.vmap(lambda k: future(a, k))(keys))(actions)  # (N, M)
    return p_now + per.mean(axis=1)


def mpc_action(key, obs: aif_llm_paper.Obs, params, horizon: int = 3, samples: int = 4):
    """argmax_a V(a) − 1e-9 · L_a (ties as the oracle's)."""
    values = mpc_values(key, obs, params, horizon, samples)
    return jnp.argmax(values - 1e-9 * obs.oracle[:, 1]).astype(jnp.int32)


def make_mpc(params, horizon: int = 3, samples: int = 4) -> Policy:
    """The short-horizon MPC ``Policy`` (``horizon`` H ≥ 0, ``samples`` M ≥ 1);
    ``ConfigError`` outside scenario ``paper`` or for bad H, M."""
    if not isinstance(params, aif_llm_paper.EnvParams):
        raise ConfigError("--policy mpc: plans on the true state, which only --scenario paper has")
    for name, v, lo in (("horizon", horizon, 0), ("samples", samples, 1)):
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise ConfigError(f"mpc {name}: must be an integer ≥ {lo} (got {v!r})")
    return stateless(lambda key, obs, p: mpc_action(key, obs, p, horizon, samples))
