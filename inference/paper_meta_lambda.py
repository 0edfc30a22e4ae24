"""Meta-λ (AIF-LLM Eqs. 6–7) for the ``aif-llm`` agent on scenario ``paper`` (issue 16 item 5).

    U_t = 0.7 · L̄_RTT / L_ref + 0.3 · N_down / (E + 1)        (Eq. 6; L_ref = 600 ms fixed)
    λ_t = λ_min + (λ_max − λ_min) σ(f_meta(U_t)),  [λ_min, λ_max] = [0, 2]      (Eq. 7)

(``PaperAgent.uncertainty`` / ``lam_t``). f_meta is meta-trained with first-order MAML
(``inference.meta``, ``gradient="es"``: the agent is an argmax in a stochastic simulator) on
the loss 1 − QoS of the full agent over one ``TRAIN_STEPS``-decision episode of a ``paper``
condition drawn around the frozen point (``PaperConditions``): arrival rate, event-log
detection and false-alarm rates, stressed-regime length. False alarms make the advice
uninformative (λ should fall); a stressed WAN makes it matter (λ may rise with U_t). The
agent's model stays the frozen point's: a condition changes the world, not the model.

``best_constant`` is the "w/o meta-λ" ablation: λ from ``meta_train.FIXED_GRID`` ∩ [0, 2]
with the lowest mean loss on ``EVAL_CONDITIONS`` conditions drawn as in training (seed
``TRAIN_SEED`` + 1, never an evaluation seed). ``python -m aifedge.inference.paper_meta_lambda``
writes ``inference/data/meta_lambda_paper.eqx`` (+ ``.json``: config, loss history, the
constant's grid losses and the trained net's loss on the same conditions).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from aifedge.environments import aif_llm_paper, batch_rollout

from .meta import (
    MetaConfig,
    checkpoint_metadata,
    load_checkpoint,
    make_meta_net,
    meta_lambda,
    meta_train,
    save_checkpoint,
)
from .meta_train import FIXED_GRID, constant_net

PAPER_META_FILE = Path(__file__).parent / "data" / "meta_lambda_paper.eqx"
FROZEN_CONFIG = Path(__file__).resolve().parents[1] / "paper_repro/configs/paper_calibrated.toml"
"""The frozen ``paper`` knobs (``paper_repro.calibration.FROZEN``, a layer above), found
from the source tree (the editable install) so that it loads from any directory."""
TRAIN_SEED = 300
TRAIN_STEPS = 200
EVAL_CONDITIONS = 32
META_CONFIG = MetaConfig(
    lambda_min=0.0,
    lambda_max=2.0,
    hidden=8,
    inner_lr=0.5,
    inner_steps=1,
    outer_lr=0.05,
    meta_batch=4,
    meta_steps=24,
    gradient="es",
    es_sigma=0.3,
    es_pairs=4,
)
"""FOMAML settings (assumed; sized to a few CPU minutes: 24 meta-steps × 4 conditions ×
19 episodes of 200 decisions)."""


@dataclass(frozen=True)
class PaperConditions:
    """(low, high) of each uniform draw: ``rate_scale`` × the frozen arrival rate,
    ``event_detect``, ``event_false`` (per slot), ``stress_slots`` (mean stressed stay)."""

    rate_scale: tuple = (0.8, 1.2)
    event_detect: tuple = (0.2, 0.9)
    event_false: tuple = (0.0, 0.1)
    stress_slots: tuple = (15.0, 60.0)


class Condition(NamedTuple):
    rate_scale: jax.Array
    event_detect: jax.Array
    event_false: jax.Array
    stress_slots: jax.Array


def sample_condition(key: jax.Array, ranges: PaperConditions = PaperConditions()) -> Condition:
    """One condition, each field uniform in its range."""
    keys = jax.random.split(key, 4)
    draw = [
        jax.random.uniform(k, (), minval=lo, maxval=hi)
        for k, (lo, hi) in zip(keys, dataclasses.astuple(ranges), strict=True)
    ]
    return Condition(*draw)


def condition_params(base: aif_llm_paper.EnvParams, c: Condition) -> aif_llm_paper.EnvParams:
    """``base`` with the condition's fields (traced values allowed)."""
    fields: dict[str, Any] = {
        "rate_calm": base.rate_calm * c.rate_scale,
        "event_detect": c.event_detect,
        "event_false": c.event_false,
        "regime_mean_slots": (base.regime_mean_slots[0], c.stress_slots),
    }
    return base._replace(**fields)


def make_loss_fn(agent, steps: int = TRAIN_STEPS):
    """``loss_fn(f_meta, condition, key)`` = 1 − QoS of ``agent`` with λ_t = f_meta(U_t) over
    one ``steps``-decision episode (``agent.meta_cfg`` fixed)."""
    base = agent.params._replace(max_steps=steps)

    def loss_fn(model, cond, key):
        pol = dataclasses.replace(agent, meta=model).policy()
        params = condition_params(base, cond)
        info = batch_rollout(key[None], pol, params, steps, aif_llm_paper)
        return 1.0 - jnp.mean(info.outcome == aif_llm_paper.MET)

    return loss_fn


def condition_losses(loss_fn, models: dict, n: int = EVAL_CONDITIONS, seed: int = TRAIN_SEED):
    """Loss of each f_meta (name -> model) on the same ``n`` conditions and episode keys
    (from ``PRNGKey(seed + 1)``): name -> (n,)."""
    k_cond, k_ep = jax.random.split(jax.random.PRNGKey(seed + 1))
    conds = jax.vmap(sample_condition)(jax.random.split(k_cond, n))
    keys = jax.random.split(k_ep, n)
    run = eqx.filter_jit(lambda m, c, k: jax.vmap(lambda c1, k1: loss_fn(m, c1, k1))(c, k))
    return {name: np.asarray(run(m, conds, keys)) for name, m in models.items()}


def best_constant(losses: dict) -> float:
    """λ of the lowest mean loss among the ``lam=<λ>`` entries of ``losses``."""
    consts = {float(k[4:]): v.mean() for k, v in losses.items() if k.startswith("lam=")}
    return min(consts, key=lambda lam: consts[lam])


def train(agent, path: Path = PAPER_META_FILE, cfg: MetaConfig = META_CONFIG) -> dict:
    """Meta-train f_meta for ``agent`` (built with ``meta=(any net, cfg)``), compare it with
    the constants on the same held-aside conditions, save the checkpoint; its metadata."""
    loss_fn = make_loss_fn(dataclasses.replace(agent, meta_cfg=cfg))
    t0 = time.time()
    net = make_meta_net(cfg, jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(TRAIN_SEED)
    model, history = meta_train(cfg, sample_condition, loss_fn, key, net)
    seconds = time.time() - t0
    grid = [lam for lam in FIXED_GRID if cfg.lambda_min <= lam <= cfg.lambda_max]
    models = {f"lam={lam}": constant_net(model, lam, cfg) for lam in grid}
    losses = condition_losses(loss_fn, {**models, "meta": model})
    u = np.array([0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0])
    meta = {
        "seed": TRAIN_SEED,
        "train_steps": TRAIN_STEPS,
        "conditions": dataclasses.asdict(PaperConditions()),
        "seconds": round(seconds, 1),
        "pre_loss": history["pre_loss"].round(5).tolist(),
        "post_loss": history["post_loss"].round(5).tolist(),
        "eval_losses": {k: float(v.mean()) for k, v in losses.items()},
        "best_constant": best_constant(losses),
        "lambda_of_u": dict(
            zip(u.tolist(), np.asarray(meta_lambda(model, u, cfg)).round(4).tolist(), strict=True)
        ),
    }
    save_checkpoint(path, model, cfg, meta)
    return meta


def load_paper_meta(path: Path = PAPER_META_FILE):
    """``(f_meta, MetaConfig)`` of the stored checkpoint (for ``build_paper_agent(meta=…)``)."""
    return load_checkpoint(path)


def fixed_lambda(path: Path = PAPER_META_FILE) -> float:
    """λ of the "w/o meta-λ" ablation: the checkpoint's ``best_constant`` (module doc)."""
    return float(checkpoint_metadata(path)["best_constant"])


def trace_episode(agent, params: aif_llm_paper.EnvParams, key: jax.Array):
    """One episode of ``agent`` on ``params``, per decision: ``t``, ``slot``, ``phase`` (the
    hidden regime, normal / stressed), ``rtt_ms`` and ``n_down`` (what U_t reads), ``u_t``
    (Eq. 6), ``lam`` (λ_t, Eq. 7), ``advised`` (an advice in force), ``node``, ``outcome``
    (a frame with the columns of ``viz.meta.plot_uncertainty_trace``)."""
    import pandas as pd

    k_reset, _, k_loop = jax.random.split(key, 3)
    obs, env = aif_llm_paper.reset(k_reset, params)

    def body(carry, k):
        obs, env, s = carry
        k_act, k_step = jax.random.split(k)
        advised = (s.advice >= 0) & (obs.slot <= s.advice_until)
        a, s, _ = agent.step(k_act, s, obs)
        u = agent.uncertainty(s.window)
        rec = (obs.slot, obs.rtt_ms, jnp.sum(obs.up == 0), u, agent.lam_t(u), advised, a)
        obs, env, _, _, info = aif_llm_paper.step(k_step, env, a, params)
        return (obs, env, s), (*rec, info.regime, info.outcome)

    keys = jax.random.split(k_loop, params.max_steps)
    _, out = jax.jit(lambda ks: jax.lax.scan(body, (obs, env, agent.init()), ks))(keys)
    names = ("slot", "rtt_ms", "n_down", "u_t", "lam", "advised", "node", "regime", "outcome")
    frame = pd.DataFrame({n: np.asarray(v) for n, v in zip(names, out, strict=True)})
    frame.insert(0, "t", np.arange(len(frame)))
    frame["phase"] = np.where(frame.pop("regime") == 1, "stressed", "normal")
    return frame


if __name__ == "__main__":  # pragma: no cover
    import json

    from aifedge.config import load_overrides

    from .aif_llm_paper_agent import build_paper_agent

    params = aif_llm_paper.make_params(**load_overrides(FROZEN_CONFIG))
    net = make_meta_net(META_CONFIG, jax.random.PRNGKey(0))
    agent = build_paper_agent(params, d_llm=True, semantic=True, meta=(net, META_CONFIG))
    print(json.dumps(train(agent), indent=1))
