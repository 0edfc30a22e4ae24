"""Extreme-value tail model: a NumPyro Generalized Pareto, Bayesian and online fits.

AIF-LLM §4.4.2 puts an extreme-value (EVT) penalty on QoS violations into
``G_pragmatic``, and §5.1 draws latency spikes from a GPD with shape ζ = 1.5. NumPyro ships
no GPD, so this module provides one and the peaks-over-threshold (POT) workflow around it:

* :class:`GeneralizedPareto` — ``GeneralizedPareto(loc, scale, concentration)`` with the
  parameter names of TensorFlow Probability (``concentration`` = ξ = scipy's ``c``).
* :func:`peaks_over_threshold`, :func:`quantile_threshold`, :func:`mean_residual_life` —
  excesses and threshold choice.
* :func:`fit_gpd` — offline Bayesian fit with NUTS, returning ``arviz.InferenceData``
  (posterior variables ``scale`` and ``concentration``); :func:`exceedance_probability` and
  :func:`return_level` with credible intervals.
* :func:`online_init` / :func:`online_update` (= :func:`online_push` + :func:`online_refit`) —
  the fast path the agent uses: a ring buffer of recent excesses and a warm-started, jitted
  damped-Newton MAP/MLE of (log σ, ξ) after each batch of new excesses (about 1 ms for 1,500
  excesses on a CPU; see ``aifedge bench gpd``).

GPD of an excess y = x − loc ≥ 0, z = y/σ (Coles 2001, AIF-LLM Eq. 4.2):

    F(y) = 1 − (1 + ξ z)^(−1/ξ)  (ξ ≠ 0),   F(y) = 1 − exp(−z)  (ξ = 0),

with support z ≥ 0 and additionally z ≤ −1/ξ when ξ < 0. Every formula is written through
``log1p(ξz)/ξ = z·h(ξz)`` and ``expm1(ξt)/ξ = t·g(ξt)`` with ``h(y) = log1p(y)/y`` and
``g(y) = expm1(y)/y`` evaluated by a Taylor series for |y| < 1e-2, so ξ → 0 (the exponential
limit) is exact and its gradients are finite.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import lax
from numpyro.distributions import constraints
from numpyro.distributions.transforms import Transform, biject_to
from numpyro.distributions.util import promote_shapes, validate_sample

from aifedge.environments.tails import (
    cumulative_hazard,
    expm1_ratio,
    gpd_log_survival,
)


class _GPDSupport(constraints._Interval):
    """``[loc, loc − scale/concentration]`` when concentration < 0, else ``[loc, ∞)``."""

    def __init__(self, loc, scale, concentration):
        bounded = concentration < 0
        upper = jnp.where(bounded, loc - scale / jnp.where(bounded, concentration, -1.0), jnp.inf)
        super().__init__(loc, upper)

    def __call__(self, x):
        x = jnp.asarray(x)  # the base class picks NumPy for NumPy input, which breaks tracing
        return (x >= self.lower_bound) & (x <= self.upper_bound)


class _GPDSupportTransform(Transform):
    """Real line → GPD support: ``lower + width·sigmoid(x)`` where the support is bounded,
    ``lower + exp(x)`` where it is not (so a GPD can also be a latent variable in NUTS)."""

    domain = constraints.real

    def __init__(self, support: _GPDSupport):
        self.support = support

    @property
    def codomain(self):
        return self.support

    def _parts(self):
        lower, upper = self.support.lower_bound, self.support.upper_bound
        bounded = jnp.isfinite(upper)
        return lower, bounded, jnp.where(bounded, upper - lower, 1.0)

    def __call__(self, x):
        lower, bounded, width = self._parts()
        return lower + jnp.where(
            bounded, width * jax.nn.sigmoid(x), jnp.exp(jnp.where(bounded, 0.0, x))
        )

    def _inverse(self, y):
        lower, bounded, width = self._parts()
        r = (y - lower) / width
        return jnp.where(
            bounded, jnp.log(r) - jnp.log1p(-jnp.where(bounded, r, 0.5)), jnp.log(y - lower)
        )

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        _, bounded, width = self._parts()
        return jnp.where(bounded, jnp.log(width) - jax.nn.softplus(x) - jax.nn.softplus(-x), x)

    def tree_flatten(self):
        return (self.support,), (("support",), {})


@biject_to.register(_GPDSupport)
def _biject_to_gpd_support(constraint):
    return _GPDSupportTransform(constraint)


class GeneralizedPareto(dist.Distribution):
    r"""Generalized Pareto distribution, ``GeneralizedPareto(loc, scale, concentration)``.

    Density of x ≥ loc with z = (x − loc)/scale and ξ = ``concentration``:

    .. math:: f(x) = \frac{1}{\sigma} (1 + \xi z)^{-1/\xi - 1}

    (``exp(−z)/σ`` at ξ = 0); the support is bounded above by ``loc − scale/ξ`` when ξ < 0.
    Same parameterisation as ``tfp.distributions.GeneralizedPareto`` and
    ``scipy.stats.genpareto(c=ξ, loc, scale)``. Parameters broadcast to ``batch_shape``;
    sampling is reparameterised (``x = loc + σ·t·g(ξt)``, t ~ Exponential(1)).
    ``mean`` is ``inf`` for ξ ≥ 1; ``variance`` is ``inf`` for ½ ≤ ξ < 1 and ``nan`` for
    ξ ≥ 1 (undefined: the mean is infinite).
    """

    arg_constraints: ClassVar[dict] = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "concentration": constraints.real,
    }
    reparametrized_params: ClassVar[list] = ["loc", "scale", "concentration"]
    pytree_data_fields = ("loc", "scale", "concentration")

    def __init__(self, loc=0.0, scale=1.0, concentration=0.0, *, validate_args=None):
        self.loc, self.scale, self.concentration = promote_shapes(loc, scale, concentration)
        batch_shape = lax.broadcast_shapes(
            jnp.shape(loc), jnp.shape(scale), jnp.shape(concentration)
        )
        super().__init__(batch_shape=batch_shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return _GPDSupport(self.loc, self.scale, self.concentration)

    def sample(self, key, sample_shape=()):
        shape = sample_shape + self.batch_shape
        t = jax.random.exponential(key, shape)
        return self.loc + self.scale * t * expm1_ratio(self.concentration * t)

    @validate_sample
    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        inside = (z >= 0) & (1.0 + self.concentration * z > 0)
        z_safe = jnp.where(inside, z, 0.0)
        log1p_xz = jnp.log1p(self.concentration * z_safe)
        lp = -jnp.log(self.scale) - log1p_xz - cumulative_hazard(z_safe, self.concentration)
        return jnp.where(inside, lp, -jnp.inf)

    def cdf(self, value):
        # 1 − S; gpd_log_survival is −inf past an upper endpoint, where this gives 1
        return -jnp.expm1(gpd_log_survival(value - self.loc, self.scale, self.concentration))

    def icdf(self, q):
        t = -jnp.log1p(-q)  # Exponential(1) quantile
        return self.loc + self.scale * t * expm1_ratio(self.concentration * t)

    @property
    def mean(self):
        xi = jnp.broadcast_to(self.concentration, self.batch_shape)
        finite = xi < 1
        m = self.loc + self.scale / jnp.where(finite, 1.0 - xi, 1.0)
        return jnp.where(finite, m, jnp.inf)

    @property
    def variance(self):
        xi = jnp.broadcast_to(self.concentration, self.batch_shape)
        finite = xi < 0.5
        denom = jnp.where(finite, (1.0 - xi) ** 2 * (1.0 - 2.0 * xi), 1.0)
        v = self.scale**2 / denom
        return jnp.where(finite, v, jnp.where(xi < 1, jnp.inf, jnp.nan))


# ---------------------------------------------------------------- peaks over threshold


def peaks_over_threshold(samples, threshold: float) -> np.ndarray:
    """Excesses ``x − threshold`` of the samples strictly above ``threshold`` (1-D, float).

    Non-finite samples are dropped. Shapes vary with the data, so this is a NumPy (offline)
    helper; the agent's jitted path is :func:`online_update` with a mask.
    """
    x = np.asarray(samples, dtype=float).ravel()
    x = x[np.isfinite(x)]
    return x[x > threshold] - threshold


def quantile_threshold(samples, q: float = 0.9) -> float:
    """The empirical ``q``-quantile of the finite samples, a common POT threshold."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile_threshold: q must lie in (0, 1) (got {q!r})")
    x = np.asarray(samples, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("quantile_threshold: samples hold no finite value")
    return float(np.quantile(x, q))


class MeanResidualLife(NamedTuple):
    """Mean-residual-life plot data, one entry per candidate threshold (all shape (T,)).

    Above a threshold where the GPD holds, ``mean_excess`` is linear in ``threshold``
    (slope ξ/(1−ξ)); ``lower``/``upper`` are normal 95 % intervals (Coles 2001, §4.3.1).
    """

    threshold: np.ndarray
    mean_excess: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_exceed: np.ndarray


def mean_residual_life(
    samples, thresholds=None, *, num: int = 50, min_exceed: int = 10
) -> MeanResidualLife:
    """Mean excess ``E[X − u | X > u]`` over thresholds ``u`` (default: ``num`` quantiles
    from the median to the point where ``min_exceed`` samples remain)."""
    x = np.sort(np.asarray(samples, dtype=float).ravel())
    x = x[np.isfinite(x)]
    if x.size <= min_exceed:
        raise ValueError(
            f"mean_residual_life: need more than min_exceed={min_exceed} finite "
            f"samples (got {x.size})"
        )
    if thresholds is None:
        thresholds = np.linspace(np.median(x), x[-min_exceed - 1], num)
    thresholds = np.asarray(thresholds, dtype=float)
    means, sds, counts = [], [], []
    for u in thresholds:
        excess = x[x > u] - u
        counts.append(excess.size)
        means.append(excess.mean() if excess.size else np.nan)
        sds.append(excess.std(ddof=1) / np.sqrt(excess.size) if excess.size > 1 else np.nan)
    means, sds = np.asarray(means), np.asarray(sds)
    return MeanResidualLife(
        thresholds, means, means - 1.96 * sds, means + 1.96 * sds, np.asarray(counts)
    )


# ---------------------------------------------------------------- Bayesian fit (NUTS)


class ConvergenceWarning(RuntimeWarning):
    """NUTS chains disagree (split R-hat above the threshold); draw more samples."""


def default_priors(exceedances) -> dict[str, dist.Distribution]:
    """Weakly informative priors in the units of the data.

    ``scale ~ LogNormal(log median(y > 0), 2)`` (a factor e² ≈ 7 per standard deviation
    around the data's own scale, so the fit is unit-free; zeros, e.g. ties at the threshold,
    are left out of the median) and ``concentration ~ Normal(0, 1)`` (covers bounded tails,
    ξ < 0, through the paper's ζ = 1.5).
    """
    y = np.asarray(exceedances, dtype=float)
    positive = y[y > 0]
    if positive.size == 0:
        raise ValueError(
            "default_priors: every excess is 0, so the GPD scale is undefined; "
            "choose a threshold below the data's upper values"
        )
    return {
        "scale": dist.LogNormal(float(np.log(np.median(positive))), 2.0),
        "concentration": dist.Normal(0.0, 1.0),
    }


def _log_posterior(u, y, valid, priors):
    """Log posterior of unconstrained u = (u_scale, u_concentration) given padded excesses."""
    t_scale = biject_to(priors["scale"].support)
    t_xi = biject_to(priors["concentration"].support)
    scale, xi = t_scale(u[0]), t_xi(u[1])
    log_prior = (
        priors["scale"].log_prob(scale)
        + t_scale.log_abs_det_jacobian(u[0], scale)
        + priors["concentration"].log_prob(xi)
        + t_xi.log_abs_det_jacobian(u[1], xi)
    )
    # parameters that put data outside the support get −inf (the proposal is rejected)
    log_lik = GeneralizedPareto(0.0, scale, xi, validate_args=False).log_prob(y)
    return log_prior + jnp.sum(jnp.where(valid, log_lik, 0.0))


@partial(jax.jit, static_argnames=("num_warmup", "num_samples"))
def _nuts_chain(key, y, valid, priors, num_warmup: int, num_samples: int):
    """One NUTS chain (NumPyro's kernel, diagonal mass, step size and mass adapted during
    ``num_warmup``) on padded excesses ``y`` with mask ``valid``.

    It starts at the quantile estimate jittered upwards in σ (×e^U(0, 0.3)) and ξ
    (+U(0, 0.2)), which keeps the start inside the support. Module-level and jitted, so
    repeated fits with the same padded size reuse one compile. Returns (num_samples, 2)
    constrained draws and (num_samples,) divergence flags.
    """
    k_init, k_run = jax.random.split(key)
    start = _quantile_start(y, valid, OnlineGPDConfig())
    jitter = jax.random.uniform(k_init, (2,), maxval=jnp.array([0.3, 0.2]))
    t_scale = biject_to(priors["scale"].support)
    t_xi = biject_to(priors["concentration"].support)
    u0 = jnp.stack([t_scale.inv(jnp.exp(start[0] + jitter[0])), t_xi.inv(start[1] + jitter[1])])
    u0 = jnp.where(jnp.isfinite(u0), u0, 0.0)  # a start outside a bounded prior's support
    init_kernel, sample_kernel = numpyro.infer.hmc.hmc(
        potential_fn=lambda u: -_log_posterior(u, y, valid, priors), algo="NUTS"
    )
    state = init_kernel(u0, num_warmup, rng_key=k_run)

    def draw(st, _):
        st = sample_kernel(st)
        return st, (st.z, st.diverging)

    # one scan over warm-up and sampling: a single copy of the NUTS kernel to compile
    _, (z, diverging) = lax.scan(draw, state, None, length=num_warmup + num_samples)
    z, diverging = z[num_warmup:], diverging[num_warmup:]
    return jnp.stack([t_scale(z[:, 0]), t_xi(z[:, 1])], axis=1), diverging


def import_arviz():
    with warnings.catch_warnings():
        # ArviZ 0.23 emits a once-a-day FutureWarning about its 1.0 refactor at import.
        warnings.filterwarnings("ignore", message=r"\s*ArviZ is undergoing", category=FutureWarning)
        import arviz

    return arviz


def _check_excesses(exceedances, what: str) -> np.ndarray:
    y = np.asarray(exceedances, dtype=float).ravel()
    if y.size < 2:
        raise ValueError(f"{what}: need at least 2 excesses (got {y.size})")
    if not np.all(np.isfinite(y)) or np.any(y < 0):
        raise ValueError(
            f"{what}: excesses must be finite and ≥ 0 — subtract the threshold "
            "first (peaks_over_threshold does)"
        )
    return y


def fit_gpd(
    exceedances,
    *,
    priors=None,
    num_samples: int = 500,
    num_warmup: int = 300,
    num_chains: int = 4,
    seed: int = 0,
    rhat_threshold: float = 1.01,
):
    """Bayesian GPD fit of excesses (threshold already subtracted) with NUTS.

    Args:
      exceedances: (n,) excesses ≥ 0.
      priors: ``{"scale": Distribution, "concentration": Distribution}``; default
        :func:`default_priors`.
      num_samples, num_warmup, num_chains: per chain. Chains run one after another through
        one jitted NUTS program, compiled once per (padded size, num_warmup, num_samples,
        prior types); the data are padded to a power of two (masked), so later fits of
        similar size skip compilation.
      seed: PRNG seed. Each chain starts at the quantile estimate (median and upper quartile)
        jittered upwards in σ and ξ (which keeps the start inside the support).
      rhat_threshold: a :class:`ConvergenceWarning` is issued when any split R-hat exceeds it.

    Returns:
      ``arviz.InferenceData`` with posterior variables ``scale`` and ``concentration``
      (chains × draws) and ``sample_stats.diverging``; ``arviz.summary(idata)`` gives R-hat
      and ESS.
    """
    y = _check_excesses(exceedances, "fit_gpd")
    if np.mean(y == 0) >= 0.5:  # the quantile start (lower median) must be > 0; a GPD is continuous
        raise ValueError(
            f"fit_gpd: {int(np.sum(y == 0))} of {y.size} excesses are exactly 0 (ties at the "
            "threshold); a GPD is continuous: drop them (peaks_over_threshold keeps only "
            "x > u) or choose a threshold between distinct values"
        )
    priors = default_priors(y) if priors is None else priors
    if set(priors) != {"scale", "concentration"}:
        raise ValueError(
            "fit_gpd: priors must have exactly the keys 'scale' and "
            f"'concentration' (got {sorted(priors)})"
        )
    if min(num_samples, num_warmup, num_chains) < 1:
        raise ValueError(
            "fit_gpd: num_samples, num_warmup and num_chains must be ≥ 1 (got "
            f"{num_samples}, {num_warmup}, {num_chains})"
        )
    size = max(64, 1 << int(np.ceil(np.log2(y.size))))
    padded = np.pad(y, (0, size - y.size)).astype(np.float32)
    valid = np.arange(size) < y.size
    draws, diverging = [], []
    for key in np.asarray(jax.random.split(jax.random.PRNGKey(seed), num_chains)):
        chain, div = _nuts_chain(
            key, padded, valid, priors, num_warmup=num_warmup, num_samples=num_samples
        )
        draws.append(np.asarray(chain))
        diverging.append(np.asarray(div))
    draws = np.stack(draws)  # (chains, draws, 2)
    az = import_arviz()
    idata = az.from_dict(
        posterior={"scale": draws[..., 0], "concentration": draws[..., 1]},
        sample_stats={"diverging": np.stack(diverging)},
        attrs={"n_excesses": int(y.size)},
    )
    if num_chains > 1:
        check_convergence(idata, rhat_threshold)
    return idata


def check_convergence(idata, rhat_threshold: float = 1.01) -> float:
    """Largest split R-hat of ``scale`` and ``concentration``; issues a
    :class:`ConvergenceWarning` when it exceeds ``rhat_threshold`` (needs ≥ 2 chains)."""
    rhat = import_arviz().rhat(idata)
    worst = max(float(rhat[k]) for k in ("scale", "concentration"))
    if not worst <= rhat_threshold:
        warnings.warn(
            f"GPD fit: split R-hat {worst:.3f} > {rhat_threshold}; increase num_warmup/num_samples",
            ConvergenceWarning,
            stacklevel=2,
        )
    return worst


class TailEstimate(NamedTuple):
    """Posterior mean and equal-tailed credible interval of a tail quantity."""

    mean: float
    lower: float
    upper: float


def posterior_draws(idata):
    post = idata.posterior
    return (np.asarray(post["scale"]).ravel(), np.asarray(post["concentration"]).ravel())


def _summarise(draws: np.ndarray, cred_mass: float) -> TailEstimate:
    if not 0.0 < cred_mass < 1.0:
        raise ValueError(f"cred_mass must lie in (0, 1) (got {cred_mass!r})")
    lo, hi = np.quantile(draws, [(1 - cred_mass) / 2, (1 + cred_mass) / 2])
    return TailEstimate(float(np.mean(draws)), float(lo), float(hi))


def exceedance_probability(
    idata, threshold: float, level: float, *, rate: float = 1.0, cred_mass: float = 0.9
) -> TailEstimate:
    """``P(X > level) = rate · S_GPD(level − threshold)`` over the posterior.

    ``rate`` is ``P(X > threshold)`` (the fraction of all observations that exceeded it);
    the default 1 gives the probability conditional on an exceedance.
    """
    if level < threshold:
        raise ValueError(
            f"exceedance_probability: level {level} is below the threshold "
            f"{threshold}; the GPD only describes the tail above it"
        )
    scale, xi = posterior_draws(idata)
    draws = rate * np.exp(np.asarray(gpd_log_survival(level - threshold, scale, xi)))
    return _summarise(draws, cred_mass)


def return_level(
    idata, threshold: float, period: float, *, rate: float = 1.0, cred_mass: float = 0.9
) -> TailEstimate:
    """Level exceeded once every ``period`` observations (Coles 2001, AIF-LLM Eq. 4.12):
    ``x_m = u + σ·[(m·rate)^ξ − 1]/ξ``; requires ``period·rate > 1``."""
    if not period * rate > 1:
        raise ValueError(f"return_level: period·rate must exceed 1 (got {period}·{rate})")
    scale, xi = posterior_draws(idata)
    t = np.log(period * rate)
    draws = threshold + scale * t * np.asarray(expm1_ratio(xi * t))
    return _summarise(draws, cred_mass)


# ---------------------------------------------------------------- online fit (agent path)


@dataclass(frozen=True)
class OnlineGPDConfig:
    """Online tail fit used by the agent.

    capacity: excesses kept (ring buffer; the most recent ones).
    newton_steps: damped-Newton iterations per update (warm-started from the last fit;
      three times as many after a restart from the quantile estimate).
    concentration_prior_sd: sd of a Normal(0, ·) prior on ξ (MAP); ``None`` = flat (MLE).
    min_concentration: ξ is kept above this (the likelihood is unbounded for ξ < −1).
    """

    capacity: int = 2048
    newton_steps: int = 6
    concentration_prior_sd: float | None = None
    min_concentration: float = -0.9

    def __post_init__(self):
        if self.capacity < 2:
            raise ValueError(f"OnlineGPDConfig.capacity must be ≥ 2 (got {self.capacity})")
        if self.newton_steps < 1:
            raise ValueError(f"OnlineGPDConfig.newton_steps must be ≥ 1 (got {self.newton_steps})")
        if self.concentration_prior_sd is not None and not self.concentration_prior_sd > 0:
            raise ValueError("OnlineGPDConfig.concentration_prior_sd must be > 0 or None")
        if not -1.0 <= self.min_concentration < 0:
            raise ValueError("OnlineGPDConfig.min_concentration must lie in [-1, 0)")


class OnlineGPDState(NamedTuple):
    """Online tail state. ``buffer`` (capacity,) excesses, slots ``[0, min(count, capacity))``
    valid; ``count`` excesses seen so far; ``log_scale``, ``concentration`` the current fit,
    made when ``fit_count`` excesses had been seen (0: not fitted yet)."""

    log_scale: jax.Array
    concentration: jax.Array
    buffer: jax.Array
    count: jax.Array  # type: ignore[assignment]  # a field named like tuple.count
    fit_count: jax.Array


def online_init(
    config: OnlineGPDConfig = OnlineGPDConfig(), *, scale: float = 1.0, concentration: float = 0.1
) -> OnlineGPDState:
    """Empty buffer and an initial guess (returned unchanged until excesses arrive)."""
    if not scale > 0:
        raise ValueError(f"online_init: scale must be > 0 (got {scale})")
    return OnlineGPDState(
        jnp.log(jnp.asarray(scale, jnp.float32)),
        jnp.asarray(concentration, jnp.float32),
        jnp.zeros(config.capacity, jnp.float32),
        jnp.asarray(0, jnp.int32),
        jnp.asarray(0, jnp.int32),
    )


def online_params(state: OnlineGPDState) -> tuple[jax.Array, jax.Array]:
    """``(scale, concentration)`` of the current fit."""
    return jnp.exp(state.log_scale), state.concentration


def _neg_log_posterior(theta, y, valid, config: OnlineGPDConfig):
    """Mean negative log posterior per valid excess; +inf outside the parameter space."""
    log_scale, xi = theta[0], theta[1]
    n = jnp.maximum(jnp.sum(valid), 1)
    z = y / jnp.exp(log_scale)
    arg = 1.0 + xi * z
    ok = jnp.all(jnp.where(valid, arg > 0, True)) & (xi > config.min_concentration)
    z_safe = jnp.where(valid & (arg > 0), z, 0.0)
    nll = jnp.sum(
        jnp.where(valid, log_scale + jnp.log1p(xi * z_safe) + cumulative_hazard(z_safe, xi), 0.0)
    )
    if config.concentration_prior_sd is not None:
        nll = nll + 0.5 * (xi / config.concentration_prior_sd) ** 2
    return jnp.where(ok, nll / n, jnp.inf)


def _newton_step(theta, y, valid, config):
    """One Levenberg-damped Newton step with a backtracking (Armijo) line search."""
    f = lambda th: _neg_log_posterior(th, y, valid, config)  # noqa: E731
    grad = jax.jacfwd(f)  # forward mode over 2 parameters: cheaper to compile than reverse

    def grad_and_aux(th):
        gr = grad(th)
        return gr, gr

    h, g = jax.jacfwd(grad_and_aux, has_aux=True)(theta)  # Hessian and gradient in one pass
    h = 0.5 * (h + h.T)
    half_trace = 0.5 * (h[0, 0] + h[1, 1])
    det = h[0, 0] * h[1, 1] - h[0, 1] ** 2
    spread = jnp.sqrt(jnp.maximum(half_trace**2 - det, 0.0))
    eig_min, eig_max = half_trace - spread, half_trace + spread
    # shift the Hessian until it is positive definite (a pure Newton step when it already is)
    mu = jnp.where(eig_min > 1e-6 * jnp.abs(eig_max), 0.0, 1e-3 * jnp.abs(eig_max) + 1e-6 - eig_min)
    hd = h + mu * jnp.eye(2)
    det_d = hd[0, 0] * hd[1, 1] - hd[0, 1] ** 2
    direction = -jnp.array([[hd[1, 1], -hd[0, 1]], [-hd[0, 1], hd[0, 0]]]) @ g / det_d
    steps = jnp.concatenate([jnp.zeros(1), 0.5 ** jnp.arange(16.0)])
    f_all = jax.vmap(lambda t: f(theta + t * direction))(steps)
    f0, f_new, steps = f_all[0], f_all[1:], steps[1:]
    accept = (f_new <= f0 + 1e-4 * steps * (g @ direction)) & jnp.isfinite(f_new)
    take = jnp.any(accept) & jnp.all(jnp.isfinite(direction))
    return jnp.where(take, theta + steps[jnp.argmax(accept)] * direction, theta)


def _quantile_start(y, valid, config):
    """(log σ, ξ) from the median and upper quartile: Q(¾)/Q(½) = 2^ξ + 1 for a GPD."""
    n = jnp.maximum(jnp.sum(valid), 1)
    ordered = jnp.sort(jnp.where(valid, y, jnp.inf))
    q50, q75 = ordered[(n - 1) // 2], ordered[(3 * (n - 1)) // 4]
    xi = jnp.log2(jnp.maximum(q75 / jnp.maximum(q50, 1e-30) - 1.0, 1e-6))
    xi = jnp.clip(xi, config.min_concentration + 0.05, 3.0)
    scale = jnp.maximum(q50, 1e-30) / expm1_ratio(xi * jnp.log(2.0)) / jnp.log(2.0)
    theta = jnp.stack([jnp.log(scale), xi])
    # a bounded-tail guess whose endpoint lies below the data: use the same σ with ξ = 0
    feasible = jnp.isfinite(_neg_log_posterior(theta, y, valid, config))
    return jnp.where(feasible, theta, jnp.stack([jnp.log(scale), 0.0]))


def _push(state: OnlineGPDState, new_excesses, mask, config: OnlineGPDConfig):
    new = jnp.ravel(jnp.asarray(new_excesses, jnp.float32))
    mask = jnp.ones(new.shape, bool) if mask is None else jnp.ravel(mask).astype(bool)
    mask = mask & jnp.isfinite(new) & (new >= 0)
    cap = config.capacity
    slot = (state.count + jnp.cumsum(mask) - 1) % cap
    buffer = state.buffer.at[jnp.where(mask, slot, cap)].set(new, mode="drop")
    return state._replace(buffer=buffer, count=state.count + jnp.sum(mask, dtype=jnp.int32))


def _refit(state: OnlineGPDState, config: OnlineGPDConfig):
    cap = config.capacity
    valid = jnp.arange(cap) < jnp.minimum(state.count, cap)
    y = jnp.where(valid, state.buffer, 0.0)
    theta = jnp.stack([state.log_scale, state.concentration])
    # Warm start from the last fit. Cold start (no fit yet), or new data past the upper
    # endpoint of a bounded fit: restart from the quantile estimate.
    restart = (state.fit_count < 2) | ~jnp.isfinite(_neg_log_posterior(theta, y, valid, config))
    theta = lax.cond(restart, lambda: _quantile_start(y, valid, config), lambda: theta)
    steps = jnp.where(restart, 3 * config.newton_steps, config.newton_steps)
    theta = lax.fori_loop(0, steps, lambda _, th: _newton_step(th, y, valid, config), theta)
    keep = state.count >= 2  # one excess identifies nothing
    return state._replace(
        log_scale=jnp.where(keep, theta[0], state.log_scale),
        concentration=jnp.where(keep, theta[1], state.concentration),
        fit_count=jnp.where(keep, state.count, state.fit_count),
    )


_push_jit = jax.jit(_push, static_argnames=("config",))
_refit_jit = jax.jit(_refit, static_argnames=("config",))
_update_jit = jax.jit(
    lambda state, new, mask, config: _refit(_push(state, new, mask, config), config),
    static_argnames=("config",),
)


def _check_state(state: OnlineGPDState, config: OnlineGPDConfig, what: str) -> None:
    if state.buffer.shape != (config.capacity,):
        raise ValueError(
            f"{what}: state buffer has shape {state.buffer.shape}, "
            f"config.capacity is {config.capacity}; init with the same config"
        )


def online_push(
    state: OnlineGPDState, new_excesses, mask=None, *, config: OnlineGPDConfig = OnlineGPDConfig()
) -> OnlineGPDState:
    """Store excesses in the ring buffer without refitting (cheap; e.g. every agent step).

    ``new_excesses``: (k,) excesses ≥ 0 (threshold subtracted), k static per compile;
    ``mask``: optional (k,) bool, False entries are ignored (static shapes for variable
    counts); negative or non-finite entries are ignored too.
    """
    _check_state(state, config, "online_push")
    return _push_jit(state, new_excesses, mask, config)


def online_refit(
    state: OnlineGPDState, *, config: OnlineGPDConfig = OnlineGPDConfig()
) -> OnlineGPDState:
    """Refit (log σ, ξ) to the buffered excesses: ``config.newton_steps`` damped-Newton steps
    warm-started from the last fit (3× as many from the quantile estimate on the first fit or
    when new data lie past the fitted upper endpoint). The result is the MAP under a
    Normal(0, ``concentration_prior_sd``) prior on ξ, or the MLE when that is None. The
    parameters stay unchanged while fewer than 2 excesses were seen."""
    _check_state(state, config, "online_refit")
    return _refit_jit(state, config)


def online_update(
    state: OnlineGPDState, new_excesses, mask=None, *, config: OnlineGPDConfig = OnlineGPDConfig()
) -> OnlineGPDState:
    """:func:`online_push` then :func:`online_refit` in one jitted call (pure; usable inside
    ``jit``/``lax.scan``; ``config`` is static). This is the path the agent uses: push the
    excess of every task over the threshold, refit every step or every N steps."""
    _check_state(state, config, "online_update")
    return _update_jit(state, new_excesses, mask, config)
