"""GeneralizedPareto vs scipy.stats.genpareto, the NUTS fit, POT helpers and the online fit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.distributions.transforms import biject_to
from scipy import optimize, stats

from aifedge.inference import evt
from aifedge.inference.evt import GeneralizedPareto

CONCENTRATIONS = [-0.4, -0.1, 0.0, 1e-6, 0.3, 1.5]
LOC, SCALE = 1.0, 2.0
PROBS = np.linspace(0.005, 0.995, 41)


def _ref(c):
    return stats.genpareto(c, loc=LOC, scale=SCALE)


@pytest.mark.parametrize("c", CONCENTRATIONS)
def test_log_prob_cdf_icdf_match_scipy(c):
    d, ref = GeneralizedPareto(LOC, SCALE, c), _ref(c)
    x = ref.ppf(PROBS)
    np.testing.assert_allclose(d.log_prob(x), ref.logpdf(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d.cdf(x), ref.cdf(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d.icdf(PROBS), x, rtol=2e-5)


@pytest.mark.parametrize("c", CONCENTRATIONS)
def test_support_and_moments_match_scipy(c):
    d, ref = GeneralizedPareto(LOC, SCALE, c), _ref(c)
    lower, upper = ref.support()
    assert float(d.support.lower_bound) == pytest.approx(lower)
    assert float(d.support.upper_bound) == pytest.approx(upper, rel=1e-6)
    assert bool(d.support(LOC)) and not bool(d.support(LOC - 1e-3))
    mean, var = ref.stats("mv")
    np.testing.assert_allclose(d.mean, mean, rtol=1e-5)
    np.testing.assert_allclose(d.variance, var, rtol=1e-5)


def test_moments_where_infinite():
    # ½ ≤ ξ < 1: finite mean, infinite variance (scipy reports nan; the second moment diverges).
    d = GeneralizedPareto(0.0, 1.0, jnp.array([0.5, 0.6, 1.0, 1.5]))
    np.testing.assert_allclose(d.mean, [2.0, 2.5, np.inf, np.inf])
    assert np.isinf(d.variance[:2]).all() and np.isnan(d.variance[2:]).all()


def test_outside_support():
    d = GeneralizedPareto(0.0, 1.0, jnp.array([-0.5, 0.0, 0.5]), validate_args=False)
    # below loc, and above the upper endpoint 2 of the bounded (ξ = −0.5) tail
    np.testing.assert_array_equal(d.log_prob(-0.1), [-np.inf] * 3)
    assert float(d.log_prob(2.5)[0]) == -np.inf and np.isfinite(d.log_prob(2.5)[1:]).all()
    np.testing.assert_array_equal(d.cdf(-0.1), [0.0, 0.0, 0.0])
    assert float(d.cdf(2.5)[0]) == 1.0
    with pytest.warns(UserWarning, match="Out-of-support"):  # numpyro's validation
        GeneralizedPareto(0.0, 1.0, -0.5, validate_args=True).log_prob(2.5)
    with pytest.raises(ValueError, match="scale"):
        GeneralizedPareto(0.0, -1.0, 0.1, validate_args=True)


def test_support_bijection_for_latent_use():
    # biject_to(support) maps R onto [loc, loc − σ/ξ] (ξ < 0) or [loc, ∞) (ξ ≥ 0)
    d = GeneralizedPareto(1.0, 2.0, jnp.array([-0.4, 0.0, 0.5]))
    t = biject_to(d.support)
    x = jnp.array([-3.0, 0.3, 2.0])
    y = t(x)
    assert bool(jnp.all(d.support(y))) and float(y[0]) < 6.0  # upper endpoint 1 + 2/0.4
    np.testing.assert_allclose(t.inv(y), x, rtol=1e-5, atol=1e-5)
    jac = jnp.log(jnp.abs(jnp.diag(jax.jacfwd(t)(x))))
    np.testing.assert_allclose(t.log_abs_det_jacobian(x, y), jac, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("c", CONCENTRATIONS)
def test_samples_pass_ks_test(c):
    x = GeneralizedPareto(LOC, SCALE, c).sample(jax.random.PRNGKey(7), (4000,))
    assert stats.kstest(np.asarray(x, float), _ref(c).cdf).pvalue > 0.01


def test_batch_shapes_broadcast():
    d = GeneralizedPareto(jnp.zeros(3), jnp.ones((2, 1)), 0.2)
    assert d.batch_shape == (2, 3) and d.event_shape == ()
    x = d.sample(jax.random.PRNGKey(0), (5,))
    assert x.shape == (5, 2, 3)
    assert d.log_prob(x).shape == (5, 2, 3) and d.cdf(x).shape == (5, 2, 3)
    assert d.mean.shape == (2, 3) and d.variance.shape == (2, 3)
    leaves = jax.tree.leaves(jax.jit(lambda dd: dd)(d))  # a pytree
    assert len(leaves) == 3


@pytest.mark.parametrize("c", [*CONCENTRATIONS, -1e-7])
def test_gradients_finite(c):
    def lp(p):
        return GeneralizedPareto(LOC, p[0], p[1]).log_prob(LOC + 0.7 * SCALE)

    g = jax.grad(lp)(jnp.array([SCALE, c]))
    assert np.isfinite(g).all()

    def draw(p):  # reparameterised sampling
        return jnp.sum(GeneralizedPareto(LOC, p[0], p[1]).sample(jax.random.PRNGKey(1), (8,)))

    assert np.isfinite(jax.grad(draw)(jnp.array([SCALE, c]))).all()


def test_gradient_at_exponential_limit_is_exact():
    # d/dξ log f at ξ = 0 is z²/2 − z (expand −(1 + 1/ξ)·log1p(ξz) to first order).
    z = 1.7
    g = jax.grad(lambda xi: GeneralizedPareto(0.0, 1.0, xi).log_prob(z))(0.0)
    assert float(g) == pytest.approx(z**2 / 2 - z, rel=1e-5)
    # and it is continuous across 0
    near = jax.grad(lambda xi: GeneralizedPareto(0.0, 1.0, xi).log_prob(z))(1e-3)
    assert float(near) == pytest.approx(z**2 / 2 - z, abs=5e-3)


def test_log_survival_matches_scipy():
    y = np.array([0.0, 0.5, 3.0, 40.0])
    for c in CONCENTRATIONS:
        ref = stats.genpareto(c, scale=SCALE).logsf(y)
        np.testing.assert_allclose(evt.gpd_log_survival(y, SCALE, c), ref, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------- POT helpers


def test_peaks_over_threshold_and_quantile():
    x = np.array([1.0, 5.0, np.nan, 3.0, 7.0, np.inf, 3.0])
    np.testing.assert_array_equal(evt.peaks_over_threshold(x, 3.0), [2.0, 4.0])
    finite = np.array([1.0, 5.0, 3.0, 7.0, 3.0])
    assert evt.quantile_threshold(x, 0.5) == pytest.approx(np.quantile(finite, 0.5))
    with pytest.raises(ValueError, match="q must lie"):
        evt.quantile_threshold(x, 1.5)


def test_mean_residual_life_is_linear_for_gpd():
    # GPD(σ, ξ): e(u) = (σ + ξu)/(1 − ξ) (Coles 2001, Eq. 4.9)
    sigma, xi = 1.0, 0.2
    x = stats.genpareto(xi, scale=sigma).rvs(50_000, random_state=np.random.default_rng(3))
    thresholds = np.array([0.0, 0.5, 1.0, 2.0])
    mrl = evt.mean_residual_life(x, thresholds)
    expected = (sigma + xi * thresholds) / (1 - xi)
    assert np.all(mrl.lower < expected) and np.all(expected < mrl.upper)
    assert mrl.n_exceed[0] == np.sum(x > 0.0)
    default = evt.mean_residual_life(x, num=5)
    assert default.threshold.shape == (5,) and default.n_exceed[-1] >= 10


# ----------------------------------------------------------------- NUTS fit


@pytest.fixture(scope="module")
def posterior():
    """2,000 excesses from GPD(σ = 50, ξ = 1.5), the paper's spike shape (§5.1)."""
    y = np.asarray(GeneralizedPareto(0.0, 50.0, 1.5).sample(jax.random.PRNGKey(11), (2000,)))
    return y, evt.fit_gpd(y, seed=0)  # 4 chains × 500 draws; R-hat > 1.01 would fail


def test_posterior_recovers_concentration(posterior):
    _, idata = posterior
    xi = np.asarray(idata.posterior["concentration"]).ravel()
    lo, hi = np.quantile(xi, [0.05, 0.95])
    assert lo < 1.5 < hi
    # σ is strongly correlated with ξ; this sample's ξ-MLE is 1.58, which puts σ = 50 near the
    # upper end of its 90 % interval, so check the 98 % interval
    scale = np.asarray(idata.posterior["scale"]).ravel()
    assert np.quantile(scale, 0.01) < 50.0 < np.quantile(scale, 0.99)
    assert idata.posterior["scale"].shape == (4, 500)
    summary = evt.import_arviz().summary(idata)
    assert {"r_hat", "ess_bulk"} <= set(summary.columns)
    assert evt.check_convergence(idata) <= 1.01
    assert int(idata.sample_stats["diverging"].sum()) == 0
    with pytest.warns(evt.ConvergenceWarning, match="R-hat"):
        evt.check_convergence(idata, rhat_threshold=0.5)


def test_tail_quantities_cover_truth(posterior):
    _, idata = posterior
    true = stats.genpareto(1.5, scale=50.0)
    p = evt.exceedance_probability(idata, 100.0, 600.0, rate=0.2)
    assert p.lower < 0.2 * true.sf(500.0) < p.upper and p.lower < p.mean < p.upper
    level = evt.return_level(idata, 100.0, 1000.0, rate=0.2)
    # level exceeded once in 1000 observations: P(X > x) = 1/1000 = 0.2·S(x − 100)
    assert level.lower < 100.0 + true.isf(1 / 200) < level.upper
    with pytest.raises(ValueError, match="below the threshold"):
        evt.exceedance_probability(idata, 100.0, 50.0)
    with pytest.raises(ValueError, match="period"):
        evt.return_level(idata, 100.0, 2.0, rate=0.2)


def test_fit_gpd_rejects_bad_input():
    with pytest.raises(ValueError, match="subtract the threshold"):
        evt.fit_gpd([1.0, -2.0, 3.0])
    with pytest.raises(ValueError, match="at least 2"):
        evt.fit_gpd([1.0])
    with pytest.raises(ValueError, match="priors"):
        evt.fit_gpd([1.0, 2.0], priors={"scale": None})
    with pytest.raises(ValueError, match="num_chains"):
        evt.fit_gpd([1.0, 2.0], num_chains=0)


# ----------------------------------------------------------------- online fit


@pytest.mark.parametrize("c", [-0.2, 0.3, 1.5])
def test_online_fit_matches_scipy_mle(c):
    y = stats.genpareto(c, scale=50.0).rvs(1500, random_state=np.random.default_rng(5))
    c_mle, _, scale_mle = stats.genpareto.fit(y, floc=0)
    config = evt.OnlineGPDConfig()
    state = evt.online_init(config, scale=10.0, concentration=0.1)
    for i, batch in enumerate(y.reshape(15, 100)):  # streamed, refit every other batch
        if i % 2:
            state = evt.online_push(state, batch, config=config)
        else:
            state = evt.online_update(state, batch, config=config)
    assert int(state.fit_count) == 1500
    scale, xi = evt.online_params(state)
    assert int(state.count) == 1500
    assert float(xi) == pytest.approx(c_mle, abs=0.01)
    assert float(scale) == pytest.approx(scale_mle, rel=0.01)


def test_online_ring_buffer_and_mask():
    config = evt.OnlineGPDConfig(capacity=8)
    state = evt.online_init(config)
    for batch in (jnp.arange(1.0, 6.0), jnp.arange(6.0, 11.0)):
        state = evt.online_update(state, batch, config=config)
    assert int(state.count) == 10
    np.testing.assert_array_equal(np.sort(state.buffer), np.arange(3.0, 11.0))  # newest 8
    # masked-out, negative and nan entries are ignored
    state2 = evt.online_update(
        state,
        jnp.array([5.0, -1.0, jnp.nan, 2.0, 2.0]),
        mask=jnp.array([False, True, True, True, False]),
        config=config,
    )
    assert int(state2.count) == 11 and 2.0 in np.asarray(state2.buffer)
    with pytest.raises(ValueError, match="capacity"):
        evt.online_update(evt.online_init(config), jnp.ones(5), config=evt.OnlineGPDConfig())
    with pytest.raises(ValueError, match="min_concentration"):
        evt.OnlineGPDConfig(min_concentration=0.2)


@pytest.mark.slow
def test_online_map_with_prior_matches_scipy_optimiser():
    # with a Normal(0, 0.05) prior on ξ the fit is the MAP
    config = evt.OnlineGPDConfig(capacity=512, concentration_prior_sd=0.05)
    y = stats.genpareto(1.0, scale=5.0).rvs(500, random_state=np.random.default_rng(2))
    fit = evt.online_update(evt.online_init(config), y, config=config)

    def neg_log_post(theta):
        return (
            -stats.genpareto(theta[1], scale=np.exp(theta[0])).logpdf(y).sum()
            + 0.5 * (theta[1] / 0.05) ** 2
        )

    ref = optimize.minimize(
        neg_log_post,
        [np.log(5.0), 0.5],
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-8, "maxiter": 4000},
    ).x
    assert float(fit.concentration) == pytest.approx(ref[1], abs=2e-3)
    assert float(fit.log_scale) == pytest.approx(ref[0], abs=2e-3)
    assert float(fit.concentration) < 0.5  # shrunk from the MLE ≈ 1
    split = evt.online_refit(
        evt.online_push(evt.online_init(config), y, config=config), config=config
    )
    assert float(split.concentration) == pytest.approx(float(fit.concentration), abs=1e-5)
    # a single excess identifies nothing: the initial guess is kept
    one = evt.online_update(
        evt.online_init(config, concentration=0.3), y, mask=np.arange(500) < 1, config=config
    )
    assert float(one.concentration) == pytest.approx(0.3) and int(one.count) == 1


def test_fit_gpd_refuses_half_zero_excesses_clearly():
    y = np.concatenate([np.zeros(50), np.linspace(1.0, 20.0, 50)])
    with pytest.raises(ValueError, match="50 of 100 excesses are exactly 0"):
        evt.fit_gpd(y, num_samples=10, num_warmup=10, num_chains=1)
    # fewer zeros: the prior's scale comes from the positive excesses (finite)
    prior = evt.default_priors(np.concatenate([np.zeros(10), np.full(30, 4.0)]))
    assert prior["scale"].loc == pytest.approx(np.log(4.0))
    with pytest.raises(ValueError, match="every excess is 0"):
        evt.default_priors(np.zeros(5))
