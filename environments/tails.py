"""The Generalized Pareto distribution (GPD): the simulator's long-tail latency spikes
(AIF-LLM §5.1, ζ = 1.5) and the one home of its tail (survival) function.

ξ is called ``concentration`` everywhere (numpyro's name; the paper's shape ζ). For
ξ ≠ 0 and scale σ > 0 the GPD has

    F(x) = 1 − (1 + ξ x / σ)^(−1/ξ),        x ≥ 0
    F⁻¹(u) = σ / ξ · ((1 − u)^(−ξ) − 1)

and for ξ → 0 it is the exponential, F⁻¹(u) = −σ log(1 − u). Its mean σ/(1 − ξ)
is infinite for ξ ≥ 1, which is why the simulator turns every spike that pushes a
task past its timeout into a failure instead of averaging it.
"""

import jax
import jax.numpy as jnp
import numpy as np


def gpd_icdf(u: jax.Array, concentration: float, scale: float) -> jax.Array:
    """Inverse CDF of GPD(ξ = concentration, σ = scale) at ``u`` ∈ [0, 1); stable as ξ → 0."""
    u = jnp.asarray(u)
    log1m = jnp.log1p(-u)
    small = jnp.abs(concentration) < 1e-6
    safe = jnp.where(small, 1.0, concentration)
    general = scale / safe * jnp.expm1(-safe * log1m)
    return jnp.where(small, -scale * log1m, general)


def sample_gpd(key: jax.Array, concentration: float, scale: float, sample_shape=()) -> jax.Array:
    """Draw GPD(ξ = concentration, σ = scale) samples of ``sample_shape`` by inversion."""
    u = jax.random.uniform(key, sample_shape)
    return gpd_icdf(u, concentration, scale)


# ---------------------------------------------------------------- the tail


_SERIES_CUTOFF = 1e-2  # |y| below which h(y), g(y) use their Taylor series


def _xp(*arrays):
    """NumPy for NumPy/Python input (float64, as the generative model's builders use it),
    ``jax.numpy`` as soon as one argument is a JAX array or tracer."""
    return jnp if any(isinstance(a, jax.Array) for a in arrays) else np


def log1p_ratio(y):
    """``log1p(y) / y``, 1 at y = 0, accurate with accurate gradients near 0."""
    xp = _xp(y)
    small = xp.abs(y) < _SERIES_CUTOFF
    y_safe = xp.where(small, 1.0, y)
    series = 1.0 - y * (1.0 / 2 - y * (1.0 / 3 - y * (1.0 / 4 - y / 5)))
    return xp.where(small, series, xp.log1p(y_safe) / y_safe)


def expm1_ratio(y):
    """``expm1(y) / y``, 1 at y = 0, accurate with accurate gradients near 0."""
    small = jnp.abs(y) < _SERIES_CUTOFF
    y_safe = jnp.where(small, 1.0, y)
    series = 1.0 + y * (1.0 / 2 + y * (1.0 / 6 + y * (1.0 / 24 + y / 120)))
    return jnp.where(small, series, jnp.expm1(y_safe) / y_safe)


def cumulative_hazard(z, concentration):
    """``−log S(z) = log1p(ξz)/ξ`` (= z at ξ = 0) for z inside the support."""
    return z * log1p_ratio(concentration * z)


def gpd_log_survival(excess, scale, concentration):
    """``log P(Y > excess)`` of a GPD(0, scale, concentration); −inf past an upper endpoint.

    Broadcasts over all arguments; NumPy in, NumPy (float64) out, JAX in, JAX out. The one
    GPD tail of the project: the EVT penalty of the agent (AIF-LLM §4.4.2; the probability
    that a latency exceeds ``u + excess`` is ``rate · exp(gpd_log_survival(excess, …))``
    with ``rate = P(latency > u)``), the generative model's ``aif_llm_model.tail_prob`` and
    ``inference.evt`` use it.
    """
    xp = _xp(excess, scale, concentration)
    z = xp.maximum(excess, 0.0) / scale
    inside = 1.0 + concentration * z > 0
    z_safe = xp.where(inside, z, 0.0)
    with np.errstate(divide="ignore"):
        return xp.where(inside, -cumulative_hazard(z_safe, concentration), -xp.inf)
