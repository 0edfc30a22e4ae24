"""Generalized Pareto (GPD) long-tail latency spikes (seed 000 §5.1, shape ζ = 1.5).

For shape ξ ≠ 0 and scale σ > 0 the GPD has

    F(x) = 1 − (1 + ξ x / σ)^(−1/ξ),        x ≥ 0
    F⁻¹(u) = σ / ξ · ((1 − u)^(−ξ) − 1)

and for ξ → 0 it is the exponential, F⁻¹(u) = −σ log(1 − u). Its mean σ/(1 − ξ)
is infinite for ξ ≥ 1, which is why the simulator turns every spike that pushes a
task past its timeout into a failure instead of averaging it.
"""

import jax
import jax.numpy as jnp


def gpd_icdf(u: jax.Array, shape: float, scale: float) -> jax.Array:
    """Inverse CDF of GPD(ξ=shape, σ=scale) at ``u`` ∈ [0, 1); stable as ξ → 0."""
    u = jnp.asarray(u)
    log1m = jnp.log1p(-u)
    small = jnp.abs(shape) < 1e-6
    safe_shape = jnp.where(small, 1.0, shape)
    general = scale / safe_shape * jnp.expm1(-safe_shape * log1m)
    return jnp.where(small, -scale * log1m, general)


def sample_gpd(key: jax.Array, shape: float, scale: float, sample_shape=()) -> jax.Array:
    """Draw GPD(ξ, σ) samples of ``sample_shape`` by inversion."""
    u = jax.random.uniform(key, sample_shape)
    return gpd_icdf(u, shape, scale)
