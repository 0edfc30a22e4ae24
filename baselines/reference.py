"""Reference policies that see the TRUE state (scenario ``paper`` only; issue #17).

They bound what any scheduler could reach and are reported beside every method, never
as competitors. ``oracle`` is the myopic oracle: for the current task it picks the node
with the highest true P(met) (``Obs.oracle[:, 0]``, computed by the simulator from the full
state: true queues, up/down, degradation, failure times, WAN state and uplink backlog,
hidden privacy and latency class, the realised output length), ties broken by the lower
true spike-free latency. It is myopic: it ignores what its choice does to later tasks.
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
