"""Active inference with rewardless guidance (He et al. §IV): model, EFE terms, planner, agent."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from aifedge.config import ConfigError
from aifedge.environments import he2024
from aifedge.inference import he2024_agent

P = he2024.make_params()
D, A = he2024.obs_dim(P), he2024_agent.act_dim(P)


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"top_k": 64, "n_candidates": 64}, "top_k"),
        ({"ensemble_size": 1}, "ensemble_size"),
        ({"horizon": 0}, "horizon"),
        ({"smoothing": 1.0}, "smoothing"),
        ({"min_std": 0.0}, "min_std"),
        ({"planning": 3}, "planning"),
    ],
)
def test_bad_config_names_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field):
        he2024_agent.AifRgConfig.make(**overrides)


# --------------------------------------------------------------------------- EFE terms


def test_guidance_is_eq11_under_the_model():
    """rg = p_exec · P(L ≤ t_max) · (1/L + P) with L ~ N(μ, σ²) (Eq. 11, tc in expectation)."""
    pred = he2024_agent.Prediction(
        delta_mean=jnp.zeros((1, 2, D)),
        delta_logvar=jnp.zeros((1, 2, D)),
        exec_logit=jnp.array([[math.log(0.8 / 0.2), -50.0]]),
        lat_mean=jnp.array([[0.5, 0.5]]),
        lat_logvar=jnp.full((1, 2), 2 * math.log(0.1)),
        pass_mean=jnp.array([[0.19, 0.19]]),
    )
    g = he2024_agent.guidance(pred, 6.0)
    expected = 0.8 * stats.norm.cdf((6.0 - 5.0) / 1.0) * (1 / 5.0 + 0.19)
    assert float(g[0, 0]) == pytest.approx(expected, rel=1e-5)
    assert float(g[0, 1]) == pytest.approx(0.0, abs=1e-12)  # a request that cannot run


def test_information_gain_matches_formula_and_vanishes_on_agreement():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(4, 3, D)).astype(np.float32)
    logvar = rng.normal(-2, 0.3, size=(4, 3, D)).astype(np.float32)
    lat_m = rng.normal(size=(4, 3)).astype(np.float32)
    lat_lv = np.full((4, 3), -3.0, np.float32)
    pred = he2024_agent.Prediction(mean, logvar, np.zeros((4, 3)), lat_m, lat_lv, np.zeros((4, 3)))
    m = np.concatenate([mean, lat_m[..., None]], -1)
    v = np.exp(np.concatenate([logvar, lat_lv[..., None]], -1))
    expected = 0.5 * np.log1p(m.var(0) / v.mean(0)).sum(-1)
    np.testing.assert_allclose(he2024_agent.info_gain(pred), expected, rtol=1e-4)
    same = pred._replace(
        delta_mean=np.broadcast_to(mean[:1], mean.shape),
        lat_mean=np.broadcast_to(lat_m[:1], lat_m.shape),
    )
    np.testing.assert_allclose(he2024_agent.info_gain(same), 0.0, atol=1e-6)


# --------------------------------------------------------------------------- the ensemble

TOY_CFG = he2024_agent.AifRgConfig(
    n_candidates=64,
    top_k=8,
    n_iters=3,
    horizon=1,
    ensemble_size=4,
    fit_steps=1000,
    batch_size=128,
    buffer_size=4096,
    info_weight=0.0,
    lr=3e-3,
)


def _toy_batch(key, n):
    """A known transition: the addressed server's pool shrinks by 0.05 · share; a request
    runs iff its memory share ≥ 1/2 and that server has ≥ 30 % memory left; latency
    2 s (cloud) or 9 s (edge) + 4 s · (1 − compute share); pass@100 from Table I."""
    k_o, k_a, k_l = jax.random.split(key, 3)
    obs = jax.random.uniform(k_o, (n, D))
    action = jax.random.randint(k_a, (n,), 0, P.n_actions)
    act = he2024_agent.action_features(action, P)
    j = jnp.argmax(act[:, : P.n_servers], axis=1)
    share = act[:, P.n_servers :]
    onehot = act[:, : P.n_servers]
    nxt = obs.at[:, : 3 * P.n_servers].add(
        -0.05 * (onehot[:, :, None] * share[:, None, :]).reshape(n, -1)
    )
    mem_left = obs[:, : 3 * P.n_servers].reshape(n, P.n_servers, 3)[jnp.arange(n), j, 2]
    executed = (share[:, 2] >= 0.5) & (mem_left >= 0.3)
    latency = (
        jnp.where(j == 0, 2.0, 9.0) + 4.0 * (1 - share[:, 0]) + 0.1 * jax.random.normal(k_l, (n,))
    )
    pas = jnp.where(j == 0, P.cloud_pass, P.edge_pass)
    return obs, act, nxt, executed, latency, pas


@pytest.fixture(scope="module")
def toy_fit():
    state0 = he2024_agent.init(jax.random.PRNGKey(0), TOY_CFG, P)
    obs, act, nxt, ex, lat, pas = _toy_batch(jax.random.PRNGKey(1), 3000)
    state = state0._replace(buffer=he2024_agent.record(state0.buffer, obs, act, nxt, ex, lat, pas))
    losses = []
    for k in jax.random.split(jax.random.PRNGKey(2), 2):
        state, trace = he2024_agent.fit(k, state, TOY_CFG)
        losses.append(np.asarray(trace))
    return state0, state, np.concatenate(losses)


@pytest.mark.slow
def test_ensemble_learns_a_known_toy_transition(toy_fit):
    state0, state, losses = toy_fit
    assert losses[-50:].mean() < losses[:50].mean() - 1.0
    obs, act, nxt, ex, lat, pas = _toy_batch(jax.random.PRNGKey(3), 1000)  # held out
    B = TOY_CFG.ensemble_size

    def predict(model):
        return he2024_agent.predict(
            model,
            jnp.broadcast_to(obs, (B, *obs.shape)),
            jnp.broadcast_to(act, (B, *act.shape)),
            TOY_CFG.min_std,
        )

    pred = predict(state.model)
    p_exec = jax.nn.sigmoid(pred.exec_logit).mean(0)
    j = jnp.argmax(act[:, : P.n_servers], axis=1)
    mem_left = obs[:, : 3 * P.n_servers].reshape(-1, P.n_servers, 3)[jnp.arange(len(j)), j, 2]
    clear = jnp.abs(mem_left - 0.3) > 0.1  # away from the threshold of the rule
    assert float(((p_exec > 0.5) == ex)[clear].mean()) >= 0.95
    lat_hat = pred.lat_mean.mean(0) * he2024_agent.LAT_SCALE_S
    assert float(jnp.abs(lat_hat - lat)[ex].mean()) <= 0.5  # seconds
    assert float(jnp.abs(pred.pass_mean.mean(0) - pas)[ex].mean()) <= 0.01
    rmse = jnp.sqrt(jnp.mean((obs + pred.delta_mean.mean(0) - nxt)[:, : 3 * P.n_servers] ** 2))
    assert float(rmse) <= 0.02
    # information gain about θ shrinks once the data are fitted
    assert float(he2024_agent.info_gain(pred).mean()) < 0.5 * float(
        he2024_agent.info_gain(predict(state0.model)).mean()
    )


def test_predictions_ignore_the_t_max_feature(toy_fit):
    """t_max acts through the guidance only (constant in training, never a network input)."""
    _, state, _ = toy_fit
    obs, act, *_ = _toy_batch(jax.random.PRNGKey(6), 50)
    B = TOY_CFG.ensemble_size
    a = jnp.broadcast_to(act, (B, *act.shape))
    p1 = he2024_agent.predict(
        state.model, jnp.broadcast_to(obs.at[:, -2].set(1.0), (B, *obs.shape)), a, TOY_CFG.min_std
    )
    p2 = he2024_agent.predict(
        state.model, jnp.broadcast_to(obs.at[:, -2].set(0.2), (B, *obs.shape)), a, TOY_CFG.min_std
    )
    np.testing.assert_allclose(p1.lat_mean, p2.lat_mean)
    np.testing.assert_allclose(p1.exec_logit, p2.exec_logit)
    assert float(he2024_agent.guidance(p1, 3.0).mean()) < float(
        he2024_agent.guidance(p1, 15.0).mean()
    )


def test_planner_picks_the_guidance_optimal_action(toy_fit):
    """Under the toy model the best rg (Eq. 11) is the cloud at full compute with a memory
    share ≥ 1/2 (2 s, 1/2 + 0.1159) — CEM must find it among 135 actions."""
    _, state, _ = toy_fit
    obs = jnp.concatenate([jnp.ones(3 * P.n_servers), jnp.full(2 * P.n_servers + 3, 0.5)])
    plan = jax.jit(lambda k: he2024_agent.plan(k, state.model, obs, 15.0, TOY_CFG, P))
    hits = 0
    for k in jax.random.split(jax.random.PRNGKey(4), 10):
        j, alloc = he2024.decode_action(plan(k), P)
        share = np.asarray(alloc) / np.asarray(P.full_alloc)
        hits += int(j) == 0 and share[0] == pytest.approx(1.0) and share[2] >= 0.5
    assert hits >= 8


# --------------------------------------------------------------------------- the agent

AGENT_CFG = he2024_agent.AifRgConfig(
    n_candidates=48, top_k=6, n_iters=2, horizon=2, ensemble_size=3, fit_steps=200, buffer_size=4096
)


@pytest.mark.slow
def test_aif_rg_beats_random_on_tcr():
    """After 10 training episodes (1,000 requests) aif-rg completes more tasks than uniform
    random actions: one-sided Welch t-test on 8 + 8 evaluation episodes, p < 0.01."""
    state, rows = he2024_agent.train(jax.random.PRNGKey(0), AGENT_CFG, P, 10)
    assert [r["episode"] for r in rows] == list(range(1, 11))
    ours = [r["tcr"] for r in he2024_agent.evaluate(jax.random.PRNGKey(5), state, AGENT_CFG, P, 8)]
    rand = [
        r["tcr"]
        for r in he2024_agent.evaluate(jax.random.PRNGKey(5), state, AGENT_CFG, P, 8, explore=True)
    ]
    res = stats.ttest_ind(ours, rand, equal_var=False, alternative="greater")
    assert np.mean(ours) > np.mean(rand) and res.pvalue < 0.01, (ours, rand)


def test_train_validates_episodes():
    with pytest.raises(ConfigError, match="n_episodes"):
        he2024_agent.train(jax.random.PRNGKey(0), AGENT_CFG, P, 0)
