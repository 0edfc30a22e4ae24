"""Eq. 6 uncertainty index, Eq. 7 meta-λ, FOMAML on a toy task family, checkpoints."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aifedge.config import ConfigError
from aifedge.inference import meta, uncertainty
from aifedge.inference.uncertainty import init_window, uncertainty_index, update_window

# ----------------------------------------------------------------- Eq. 6


def test_uncertainty_index_hand_case():
    w = init_window(3)
    for delay in (100.0, 200.0, 300.0, 400.0):  # the window keeps the last 3
        w = update_window(w, delay, n_fail=1)
    w = update_window(w, 500.0, n_fail=2)  # latest failed-node count is used
    # L̄ = (300 + 400 + 500)/3 = 400; U = 0.7·400/800 + 0.3·2/6 = 0.35 + 0.1
    assert float(uncertainty.mean_delay(w)) == pytest.approx(400.0)
    assert float(uncertainty_index(w, 800.0, 6, alpha=0.7)) == pytest.approx(0.45, rel=1e-6)


def test_partial_and_empty_window():
    w = init_window(4)
    assert float(uncertainty_index(w, 300.0, 6)) == 0.0
    w = update_window(update_window(w, 30.0, 0), 90.0, 3)
    # mean over the 2 filled slots only: 0.8·60/300 + 0.2·3/6
    assert float(uncertainty_index(w, 300.0, 6, alpha=0.8)) == pytest.approx(0.26, rel=1e-6)


def test_window_runs_inside_scan_and_jit():
    delays = jnp.array([10.0, 50.0, 20.0, 80.0, 40.0])
    fails = jnp.array([0, 1, 1, 0, 2])

    def body(w, x):
        w = update_window(w, x[0], x[1])
        return w, uncertainty_index(w, 100.0, 6)

    _, us = jax.jit(lambda w: jax.lax.scan(body, w, jnp.stack([delays, fails], 1)))(init_window(2))
    expected = [
        0.7 * np.mean(delays[max(0, t - 1) : t + 1]) / 100 + 0.3 * fails[t] / 6 for t in range(5)
    ]
    np.testing.assert_allclose(us, expected, rtol=1e-6)


def test_uncertainty_validation_and_trigger():
    w = update_window(init_window(2), 10.0, 0)
    with pytest.raises(ValueError, match="l_qos_ms"):
        uncertainty_index(w, 0.0, 6)
    with pytest.raises(ValueError, match="alpha"):
        uncertainty_index(w, 100.0, 6, alpha=0.4)  # α > β is required
    with pytest.raises(ValueError, match="size"):
        init_window(0)
    with pytest.raises(ConfigError, match="alpha"):
        uncertainty.UncertaintyConfig(alpha=0.5)
    cfg = uncertainty.UncertaintyConfig(trigger=0.3)
    np.testing.assert_array_equal(
        uncertainty.advisor_trigger(jnp.array([0.1, 0.3, 0.31]), cfg), [False, False, True]
    )


def test_reference_scale_is_fixed():
    cfg = uncertainty.UncertaintyConfig()
    assert cfg.reference_ms((800.0, 300.0, 4000.0)) == 300.0  # the tightest class deadline
    assert uncertainty.UncertaintyConfig(u_ref_ms=500.0).reference_ms((300.0,)) == 500.0
    with pytest.raises(ConfigError, match="u_ref_ms"):
        uncertainty.UncertaintyConfig(u_ref_ms=0.0)


@pytest.fixture(scope="module")
def light_agent(tmp_path_factory):
    """An aif-llm agent without the keyword prior and the encoder (fast to build), its
    f_meta checkpoint recording a best constant λ = 0.25."""
    from aifedge.environments import aif_llm
    from aifedge.inference.aif_llm_agent import build_agent

    cfg = meta.MetaConfig(lambda_min=0.0, lambda_max=4.0, hidden=4)
    net = meta.make_meta_net(cfg, jax.random.PRNGKey(0))
    path = tmp_path_factory.mktemp("meta") / "f_meta.eqx"
    meta.save_checkpoint(path, net, cfg, {"fixed_lambda": 0.25})
    params = aif_llm.make_params(max_steps=10)
    return build_agent(params, ("prior", "semantic"), meta_checkpoint=path), params


def test_agent_u_t_is_invariant_to_the_task_class(light_agent):
    """At a fixed environment (same RTT window, same nodes down) U_t of the agent is the same
    for every task class, although the classes' deadlines span 300 ms – 4 s; it equals Eq. 6
    with L_QoS = the 300 ms reference (hand computation)."""
    from aifedge.environments import aif_llm

    agent, params = light_agent
    obs, _ = aif_llm.reset(jax.random.PRNGKey(0), params)
    obs = obs._replace(rtt_ms=jnp.float32(200.0), up=jnp.array([1.0, 0.0, 1.0, 1.0, 1.0]))
    state, u_index = agent.init(), jax.jit(agent.u_index)
    u = [
        float(
            u_index(
                state,
                obs._replace(
                    task=obs.task._replace(
                        task_class=jnp.int32(c), deadline_ms=jnp.float32(params.deadline_ms[c])
                    )
                ),
            )
        )
        for c in range(len(params.deadline_ms))
    ]
    np.testing.assert_allclose(u, 0.7 * 200.0 / 300.0 + 0.3 * 1 / 6, rtol=1e-6)


# ----------------------------------------------------------------- Eq. 7

CFG = meta.MetaConfig(
    lambda_min=0.1,
    lambda_max=0.9,
    hidden=8,
    meta_steps=150,
    meta_batch=8,
    inner_steps=3,
    inner_lr=0.5,
    outer_lr=1e-2,
)


def test_meta_lambda_hand_case_and_bounds():
    net = meta.make_meta_net(CFG, jax.random.PRNGKey(0))
    # zero last layer: λ = λ_min + (λ_max − λ_min)·σ(0) = 0.5 for every U
    np.testing.assert_allclose(meta.meta_lambda(net, jnp.array([0.0, 0.4, 3.0]), CFG), 0.5)
    shifted = eqx.tree_at(lambda m: m.layers[-1].bias, net, jnp.asarray(np.log(3.0)))
    # σ(log 3) = 0.75 -> λ = 0.1 + 0.8·0.75 = 0.7
    assert float(meta.meta_lambda(shifted, 0.2, CFG)) == pytest.approx(0.7, rel=1e-6)
    big = jax.tree.map(
        lambda a: 50.0 * a if eqx.is_inexact_array(a) else a,
        meta.make_meta_net(CFG, jax.random.PRNGKey(1)),
    )
    big = eqx.tree_at(lambda m: m.layers[-1].weight, big, jnp.full((1, CFG.hidden), 50.0))
    lam = meta.meta_lambda(big, jnp.linspace(-100.0, 100.0, 101), CFG)
    assert lam.shape == (101,)
    assert float(lam.min()) >= CFG.lambda_min and float(lam.max()) <= CFG.lambda_max


def test_meta_config_validation():
    with pytest.raises(ConfigError, match="lambda_max"):
        meta.MetaConfig(lambda_min=1.0, lambda_max=0.5)
    with pytest.raises(ConfigError, match="gradient"):
        meta.MetaConfig(gradient="sgd")
    with pytest.raises(ConfigError, match="unknown field 'hiden'"):
        meta.MetaConfig.from_dict({"hiden": 3})


# Toy task family: a condition c = (a, b) makes the best λ a logistic function of U with a
# condition-specific knee b and slope a; the loss is the squared distance to it (a stand-in
# for the QoS regret of a λ). A U-dependent, quickly adaptable λ map should beat any fixed λ.


def toy_sampler(key):
    ka, kb = jax.random.split(key)
    return {
        "a": jax.random.uniform(ka, minval=4.0, maxval=10.0),
        "b": jax.random.uniform(kb, minval=0.2, maxval=0.8),
    }


def toy_best_lambda(task, u):
    return CFG.lambda_min + (CFG.lambda_max - CFG.lambda_min) * jax.nn.sigmoid(
        task["a"] * (u - task["b"])
    )


def toy_loss(model, task, key):
    u = jax.random.uniform(key, (32,))
    return jnp.mean((meta.meta_lambda(model, u, CFG) - toy_best_lambda(task, u)) ** 2)


@pytest.fixture(scope="module")
def trained():
    return meta.meta_train(CFG, toy_sampler, toy_loss, jax.random.PRNGKey(0))


def test_meta_loss_decreases(trained):
    _, history = trained
    post = history["post_loss"]
    assert post.shape == (CFG.meta_steps,) and history["pre_loss"].shape == (CFG.meta_steps,)
    assert post[-20:].mean() < 0.25 * post[:20].mean()


def test_adapted_lambda_beats_best_fixed_lambda_on_held_out_tasks(trained):
    model, _ = trained
    grid = jnp.linspace(CFG.lambda_min, CFG.lambda_max, 161)

    def held_out(key):
        k_task, k_support, k_query = jax.random.split(key, 3)
        task = toy_sampler(k_task)
        adapted = meta.adapt(model, task, toy_loss, CFG, k_support)
        u = jax.random.uniform(k_query, (256,))
        best = toy_best_lambda(task, u)

        def regret(lam):
            return jnp.mean((lam - best) ** 2)

        return (
            regret(meta.meta_lambda(adapted, u, CFG)),
            regret(meta.meta_lambda(model, u, CFG)),
            jax.vmap(regret)(grid),
        )

    adapted, unadapted, fixed = jax.jit(jax.vmap(held_out))(
        jax.random.split(jax.random.PRNGKey(99), 64)
    )
    best_fixed = float(fixed.mean(0).min())  # the best single λ chosen on these very tasks
    assert float(adapted.mean()) < 0.25 * best_fixed
    assert float(adapted.mean()) < float(unadapted.mean())  # adaptation helps


def test_es_gradient_mode_also_learns():
    cfg = meta.MetaConfig(
        lambda_min=0.1,
        lambda_max=0.9,
        hidden=8,
        meta_steps=60,
        meta_batch=4,
        inner_steps=1,
        gradient="es",
        es_pairs=8,
        outer_lr=3e-2,
    )
    _, history = meta.meta_train(cfg, toy_sampler, toy_loss, jax.random.PRNGKey(1))
    assert history["post_loss"][-10:].mean() < 0.6 * history["post_loss"][:10].mean()


def test_checkpoint_round_trip(trained, tmp_path):
    model, _ = trained
    path = meta.save_checkpoint(
        tmp_path / "meta" / "f_meta.eqx", model, CFG, metadata={"toy": True}
    )
    loaded, cfg = meta.load_checkpoint(path)
    assert cfg == CFG
    u = jnp.linspace(0.0, 1.0, 11)
    np.testing.assert_array_equal(meta.meta_lambda(loaded, u, cfg), meta.meta_lambda(model, u, CFG))
    info = json.loads((tmp_path / "meta" / "f_meta.eqx.json").read_text())
    assert info["config"]["hidden"] == CFG.hidden and info["metadata"] == {"toy": True}
    assert not list((tmp_path / "meta").glob(".*tmp"))  # atomic writes leave nothing behind
    with pytest.raises(ConfigError, match="does not exist"):
        meta.load_checkpoint(tmp_path / "missing.eqx")
    info["config"]["hiden"] = 3
    (tmp_path / "meta" / "f_meta.eqx.json").write_text(json.dumps(info))
    with pytest.raises(ConfigError, match="hiden"):
        meta.load_checkpoint(path)
    del info["config"]["hiden"]
    (tmp_path / "meta" / "f_meta.eqx.json").write_text(json.dumps(info))
    path.write_bytes(path.read_bytes()[:40])  # truncated weights: one line, no traceback
    with pytest.raises(ConfigError, match="does not fit its config"):
        meta.load_checkpoint(path)
    (tmp_path / "meta" / "f_meta.eqx.json").write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable JSON"):
        meta.load_checkpoint(path)


# ----------------------------------------------------- best constant λ (Table 4 w/o meta-λ)


def test_best_constant_lambda_on_fixed_conditions():
    """``constant_net`` gives the same λ for every U; ``condition_losses`` scores every model
    on the same conditions and keys; ``fixed_lambda_table`` picks the grid's minimiser —
    here of a toy loss (λ − 0.3)² + bg_util, whose best grid value is 0.25 (hand)."""
    from aifedge.inference import meta_train as mt

    cfg = mt.default_meta_config()
    net = meta.make_meta_net(cfg, jax.random.PRNGKey(0))
    for lam in (0.0, 0.25, 4.0):
        got = meta.meta_lambda(mt.constant_net(net, lam, cfg), jnp.array([0.0, 0.7, 3.0]), cfg)
        np.testing.assert_allclose(got, lam, atol=1e-4)

    def loss_fn(model, cond, key):
        del key
        return (meta.meta_lambda(model, 0.5, cfg) - 0.3) ** 2 + cond.bg_util

    models = {f"λ={lam:g}": mt.constant_net(net, lam, cfg) for lam in mt.FIXED_GRID}
    losses = mt.condition_losses(loss_fn, models, mt.ConditionRanges(), n=6, seed=1)
    bg = losses["λ=0"] - 0.09  # the conditions' bg_util, the same for every model
    assert np.all((bg >= 0.1 - 1e-6) & (bg <= 0.6 + 1e-6)) and bg.std() > 0
    np.testing.assert_allclose(losses["λ=4"] - losses["λ=0"], 3.7**2 - 0.09, rtol=1e-4)
    table = mt.fixed_lambda_table(losses)
    assert table["best"] == 0.25
    assert table["mean_se"]["λ=0.25"][0] == pytest.approx(0.0025 + bg.mean(), rel=1e-4)


def test_agent_fixed_lambda_comes_from_the_checkpoint(light_agent, tmp_path):
    import dataclasses

    agent, _ = light_agent
    assert agent.fixed_lambda == 0.25  # recorded by the checkpoint
    # a checkpoint without it: the middle of the λ range
    assert dataclasses.replace(agent, best_constant_lambda=None).fixed_lambda == 2.0
    bare = meta.save_checkpoint(tmp_path / "b.eqx", agent.meta_model, agent.meta_cfg)
    assert meta.checkpoint_metadata(bare) == {}
    assert meta.checkpoint_metadata(tmp_path / "missing.eqx") == {}
