"""Environment uncertainty index U_t (AIF-LLM §4.5 AIF-LLM Eq. 6) and the advisor trigger.

    U_t = α · L̄_net,t / L_QoS + β · N_fail,t / N_total,     α + β = 1, α > β   (AIF-LLM Eq. 6)

* ``L̄_net,t`` — mean network delay (ms) over a sliding window of the last ``size`` steps
  (the simulator's ``StepInfo.net_delay_ms``, or the agent's measured RTT ``Obs.rtt_ms``);
* ``L_QoS`` — a *fixed* reference latency ``UncertaintyConfig.u_ref_ms`` (default: the
  tightest class deadline of the simulator, 300 ms in §5.1's defaults). The paper writes
  "the task's maximum allowed delay"; dividing by the current task's deadline makes U_t
  track the task class (a 13× range of deadlines) more than the environment, so U_t is
  scaled by one reference for every task (issue #16): at a fixed network and fleet, U_t
  is the same whatever the task's class;
* ``N_fail,t`` — failed / unavailable nodes detected *now* (the paper: "当前检测到的", so the
  latest count, not a window mean), e.g. ``sum(1 − Obs.up)``; ``N_total`` — nodes in the
  cluster.

The paper fixes only α + β = 1 and α > β ("network fluctuations are far more frequent than
node failures"). α = 0.7 and the Algorithm 1 trigger δ = 0.5 are this project's assumptions.
The window is a pure-JAX ring buffer (static shape), so it lives inside ``lax.scan``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from aifedge.config import ConfigError


@dataclass(frozen=True)
class UncertaintyConfig:
    """AIF-LLM Eq. 6 settings.

    alpha: weight of the network term (β = 1 − α); α > β per §4.5, value assumed.
    window: steps in the sliding mean of the network delay.
    n_total: nodes in the cluster (5 edge + 1 cloud in §5.1).
    trigger: Algorithm 1's δ — the async LLM advisor is called when U_t > δ (assumed).
    u_ref_ms: L_QoS of AIF-LLM Eq. 6, a fixed reference latency (ms); None = the tightest
      class deadline of the simulator's ``EnvParams`` (``reference_ms``).
    """

    alpha: float = 0.7
    window: int = 10
    n_total: int = 6
    trigger: float = 0.5
    u_ref_ms: float | None = None

    def __post_init__(self):
        if not 0.5 < self.alpha <= 1.0:
            raise ConfigError(
                f"UncertaintyConfig.alpha: must lie in (0.5, 1] so that α > β = "
                f"1 − α (§4.5); got {self.alpha!r}"
            )
        if self.window < 1:
            raise ConfigError(f"UncertaintyConfig.window: must be ≥ 1 step (got {self.window!r})")
        if self.n_total < 1:
            raise ConfigError(f"UncertaintyConfig.n_total: must be ≥ 1 node (got {self.n_total!r})")
        if not self.trigger >= 0:
            raise ConfigError(f"UncertaintyConfig.trigger: must be ≥ 0 (got {self.trigger!r})")
        if self.u_ref_ms is not None and not self.u_ref_ms > 0:
            raise ConfigError(
                f"UncertaintyConfig.u_ref_ms: must be > 0 ms or None (got {self.u_ref_ms!r})"
            )

    def reference_ms(self, deadlines_ms) -> float:
        """L_QoS of AIF-LLM Eq. 6: ``u_ref_ms``, or the smallest of ``deadlines_ms`` (the
        simulator's per-class deadlines) when it is None."""
        return float(np.min(deadlines_ms)) if self.u_ref_ms is None else float(self.u_ref_ms)


class Window(NamedTuple):
    """Sliding window. ``delays`` (size,) ms, slots ``[0, min(count, size))`` filled;
    ``count`` steps seen; ``n_fail`` the latest failed-node count."""

    delays: jax.Array
    count: jax.Array  # type: ignore[assignment]  # a field named like tuple.count
    n_fail: jax.Array


def init_window(size: int) -> Window:
    """An empty window of ``size`` steps."""
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"init_window: size must be a positive int (got {size!r})")
    return Window(
        jnp.zeros(size, jnp.float32), jnp.asarray(0, jnp.int32), jnp.asarray(0.0, jnp.float32)
    )


def update_window(window: Window, net_delay_ms, n_fail) -> Window:
    """Push one step's network delay (ms) and the current number of failed nodes."""
    size = window.delays.shape[0]
    delays = window.delays.at[window.count % size].set(jnp.asarray(net_delay_ms, jnp.float32))
    return Window(delays, window.count + 1, jnp.asarray(n_fail, jnp.float32))


def mean_delay(window: Window) -> jax.Array:
    """L̄_net: mean of the filled slots (0 for an empty window)."""
    size = window.delays.shape[0]
    filled = jnp.minimum(window.count, size)
    valid = jnp.arange(size) < filled
    return jnp.sum(jnp.where(valid, window.delays, 0.0)) / jnp.maximum(filled, 1)


def uncertainty_index(window: Window, l_qos_ms, n_total, alpha=0.7) -> jax.Array:
    """AIF-LLM Eq. 6: ``α·L̄_net/L_QoS + (1 − α)·N_fail/N_total`` (dimensionless, ≥ 0).

    ``l_qos_ms`` > 0 (the fixed reference, ``UncertaintyConfig.reference_ms``) and
    ``n_total`` ≥ 1 (traced values are not checked).
    """
    for name, value, ok in (
        ("l_qos_ms", l_qos_ms, lambda v: v > 0),
        ("n_total", n_total, lambda v: v >= 1),
        ("alpha", alpha, lambda v: 0.5 < v <= 1),
    ):
        if not isinstance(value, jax.core.Tracer) and not np.all(ok(np.asarray(value))):
            raise ValueError(
                f"uncertainty_index: {name} out of range (got {value!r}); need "
                "l_qos_ms > 0, n_total ≥ 1, 0.5 < alpha ≤ 1 (α > β, §4.5)"
            )
    return alpha * mean_delay(window) / l_qos_ms + (1.0 - alpha) * window.n_fail / n_total


def advisor_trigger(u_t, config: UncertaintyConfig = UncertaintyConfig()) -> jax.Array:
    """Algorithm 1, line 6: call the LLM advisor asynchronously when ``U_t > δ``."""
    return jnp.asarray(u_t) > config.trigger
