"""Meta-training f_meta (AIF-LLM Eq. 7) on the real ``aif-llm`` agent, and its held-out evaluation.

The meta-network maps the uncertainty index U_t (AIF-LLM Eq. 6) to the semantic weight λ_t of
AIF-LLM Eq. 5. It is meta-trained with first-order MAML (``inference.meta.meta_train``) across a
distribution of simulator conditions; the loss of a condition is the QoS-violation rate
(1 − QoS: violated or failed tasks) of the full agent (template advisor) over short
episodes. The agent is an argmax over policies in a stochastic simulator, so gradients
are antithetic evolution-strategies estimates with common random numbers
(``MetaConfig.gradient = "es"``). The agent's generative model stays the one built from
the default ``EnvParams``: a condition changes the world, not the model, which is what λ
has to adapt to.

Conditions (``ConditionRanges``; uniform draws, this project's assumptions — the paper
names "load, failure rate, network volatility" without ranges; the defaults of
``EnvParams`` lie inside every range):

    compute_scale   [0.7, 1.5]   multiplies every class's compute demand (load)
    bg_util         [0.1, 0.6]   background utilisation of the edge nodes (load; default 0.3)
    edge_fail_prob  [0, 0.05]    per-step edge failure probability (default 0.01)
    net_volatility  [0, 0.6]     v: WAN transition matrix (1 − v)·P_default + v/3 (default 0)

Seeds: training draws conditions and episodes from ``PRNGKey(seed)`` (default 100);
``evaluate_meta`` draws held-out conditions from ``PRNGKey(20_000)``; both differ from the
evaluation seeds (0 reported, 1000+ in ``paper_repro.aif_llm``).

The default checkpoint ``inference/data/meta_lambda.eqx`` is made by
``python -m aifedge.inference.meta_train`` (= ``train_meta(MetaTrainConfig(), META_FILE,
100)``; its ``.json`` records the config, time and loss history).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from aifedge.config import ConfigError
from aifedge.environments import aif_llm, batch_rollout

from .meta import (
    MetaConfig,
    adapt,
    load_checkpoint,
    make_meta_net,
    meta_lambda,
    meta_train,
    save_checkpoint,
)

TRAIN_SEED = 100
HELD_OUT_SEED = 20_000


@dataclass(frozen=True)
class ConditionRanges:
    """(low, high) of each uniformly drawn condition (module docstring)."""

    compute_scale: tuple = (0.7, 1.5)
    bg_util: tuple = (0.1, 0.6)
    edge_fail_prob: tuple = (0.0, 0.05)
    net_volatility: tuple = (0.0, 0.6)

    def __post_init__(self):
        limits = {
            "compute_scale": (1e-3, np.inf),
            "bg_util": (0.0, 0.99),
            "edge_fail_prob": (0.0, 1.0),
            "net_volatility": (0.0, 1.0),
        }
        for name, (lo_ok, hi_ok) in limits.items():
            lo, hi = getattr(self, name)
            if not lo_ok <= lo <= hi <= hi_ok:
                raise ConfigError(
                    f"ConditionRanges.{name}: need {lo_ok} ≤ low ≤ high ≤ {hi_ok} (got {(lo, hi)})"
                )


class Condition(NamedTuple):
    """One simulator condition (scalars; arrays when batched)."""

    compute_scale: jax.Array
    bg_util: jax.Array
    edge_fail_prob: jax.Array
    net_volatility: jax.Array


def sample_condition(key: jax.Array, ranges: ConditionRanges = ConditionRanges()) -> Condition:
    """A uniform draw from ``ranges``."""
    keys = jax.random.split(key, len(Condition._fields))
    return Condition(
        *(
            jax.random.uniform(k, minval=getattr(ranges, f)[0], maxval=getattr(ranges, f)[1])
            for k, f in zip(keys, Condition._fields, strict=True)
        )
    )


def condition_params(base: aif_llm.EnvParams, cond: Condition) -> aif_llm.EnvParams:
    """``base`` with ``cond`` applied (fields may be traced: no validation here)."""
    trans = jnp.asarray(base.net_transition)
    v = cond.net_volatility
    traced: dict[str, Any] = {  # arrays where EnvParams declares tuples and floats
        "compute_lo": jnp.asarray(base.compute_lo) * cond.compute_scale,
        "compute_hi": jnp.asarray(base.compute_hi) * cond.compute_scale,
        "bg_util": cond.bg_util,
        "edge_fail_prob": cond.edge_fail_prob,
        "net_transition": (1.0 - v) * trans + v / 3.0,
    }
    return base._replace(**traced)


def default_meta_config() -> MetaConfig:
    """f_meta and FOMAML settings of the shipped checkpoint (assumed, not tuned on evaluation
    seeds). λ ∈ [0, 4]: λ_max equals the EVT penalty weight w_evt, so at its maximum the
    semantic term (a cosine in [−1, 1]) can move G by about what one QoS violation costs."""
    return MetaConfig(
        lambda_min=0.0,
        lambda_max=4.0,
        hidden=8,
        depth=1,
        inner_lr=20.0,
        inner_steps=1,
        outer_lr=0.05,
        meta_batch=4,
        meta_steps=40,
        gradient="es",
        es_sigma=0.1,
        es_pairs=4,
    )


@dataclass(frozen=True)
class MetaTrainConfig:
    """meta: ``MetaConfig``; episodes × steps: one loss evaluation (per condition and
    perturbation); ranges: the condition distribution."""

    meta: MetaConfig = field(default_factory=default_meta_config)
    episodes: int = 8
    steps: int = 50
    ranges: ConditionRanges = ConditionRanges()

    def __post_init__(self):
        for name in ("episodes", "steps"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ConfigError(
                    f"MetaTrainConfig.{name}: must be an int ≥ 1 (got {getattr(self, name)!r})"
                )


def make_loss_fn(agent, base: aif_llm.EnvParams, episodes: int, steps: int):
    """``loss_fn(model, cond, key)``: QoS-violation rate of ``agent.policy(model)`` over
    ``episodes`` episodes of ``steps`` steps under condition ``cond`` (pure, vmappable)."""

    def loss_fn(model, cond, key):
        params = condition_params(base, cond)
        infos = batch_rollout(jax.random.split(key, episodes), agent.policy(model), params, steps)
        return 1.0 - jnp.mean(infos.outcome == aif_llm.MET)

    return loss_fn


def constant_net(model, lam, cfg: MetaConfig):
    """``model`` with zero weights and the bias that makes λ = ``lam`` for every U (AIF-LLM
    Eq. 7 with a constant f_meta; ``lam`` may be traced)."""
    import equinox as eqx

    frac = (lam - cfg.lambda_min) / (cfg.lambda_max - cfg.lambda_min)
    frac = jnp.clip(frac, 1e-6, 1.0 - 1e-6)
    net = jax.tree.map(lambda a: jnp.zeros_like(a) if eqx.is_inexact_array(a) else a, model)
    return eqx.tree_at(lambda m: m.layers[-1].bias, net, jnp.log(frac / (1.0 - frac)))


FIXED_GRID = (0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
"""λ values tried for the best constant λ (the "w/o meta-λ" ablation of Table 4)."""


def _agent(meta_model, meta_cfg, steps: int):
    from .aif_llm_agent import build_agent

    base = aif_llm.make_params(max_steps=steps)
    return build_agent(base, (), meta=(meta_model, meta_cfg)), base


def condition_losses(loss_fn, models: dict, ranges: ConditionRanges, n: int, seed: int) -> dict:
    """Loss of each f_meta in ``models`` (name -> model) on the same ``n`` conditions drawn
    from ``ranges`` and the same episode keys (common random numbers), from
    ``fold_in(PRNGKey(seed), 1)`` (meta-training draws its own from ``PRNGKey(seed)``);
    name -> (n,) array. Fixed conditions make losses comparable: the meta-training history
    draws new conditions at every step, whose spread (a few points of violation rate)
    hides any change of the loss."""
    import equinox as eqx

    k_cond, k_ep = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), 1))
    conds = jax.vmap(lambda k: sample_condition(k, ranges))(jax.random.split(k_cond, n))
    keys = jax.random.split(k_ep, n)
    run = eqx.filter_jit(lambda m, c, k: jax.vmap(loss_fn, in_axes=(None, 0, 0))(m, c, k))
    return {name: np.asarray(run(m, conds, keys)) for name, m in models.items()}


def fixed_lambda_table(losses: dict, grid=FIXED_GRID) -> dict:
    """From ``condition_losses`` over ``{"λ=x": constant_net(x)}`` (and any other models):
    mean ± SE of each entry and the best constant λ of ``grid`` (lowest mean loss)."""
    stats = {
        k: [float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size))] for k, v in losses.items()
    }
    best = min(grid, key=lambda lam: stats[f"λ={lam:g}"][0])
    return {"best": float(best), "mean_se": stats}


def train_meta(
    cfg: MetaTrainConfig | None = None,
    out: str | Path | None = None,
    seed: int = TRAIN_SEED,
    n_check: int = 32,
) -> Path:
    """Meta-train f_meta on the full agent and save a checkpoint (``meta.save_checkpoint``)
    at ``out`` (default ``aif_llm_agent.META_FILE``); returns its path. The metadata
    records the condition ranges, episodes, seed, wall time, the loss history and, on
    ``n_check`` fixed conditions of the training distribution (``condition_losses``), the
    loss of the initial and the trained f_meta and of every constant λ of ``FIXED_GRID``,
    with the best constant (``fixed_lambda``: the "w/o meta-λ" ablation of Table 4)."""
    from .aif_llm_agent import META_FILE

    cfg = MetaTrainConfig() if cfg is None else cfg
    out = META_FILE if out is None else Path(out)
    key_init, key_train = jax.random.split(jax.random.PRNGKey(seed))
    model0 = make_meta_net(cfg.meta, key_init)
    agent, base = _agent(model0, cfg.meta, cfg.steps)
    loss_fn = make_loss_fn(agent, base, cfg.episodes, cfg.steps)
    start = time.perf_counter()
    model, history = meta_train(
        cfg.meta, lambda k: sample_condition(k, cfg.ranges), loss_fn, key_train, model=model0
    )
    wall = time.perf_counter() - start
    constants = {f"λ={lam:g}": constant_net(model, lam, cfg.meta) for lam in FIXED_GRID}
    models = {"initial f_meta": model0, "trained f_meta": model, **constants}
    losses = condition_losses(loss_fn, models, cfg.ranges, n_check, seed)
    check = fixed_lambda_table(losses)
    u = np.linspace(0.0, 1.5, 7)
    metadata = {
        "seed": seed,
        "episodes": cfg.episodes,
        "steps": cfg.steps,
        "ranges": asdict(cfg.ranges),
        "wall_s": wall,
        "pre_loss": history["pre_loss"].tolist(),
        "post_loss": history["post_loss"].tolist(),
        "lambda_at_u": {f"{x:g}": float(meta_lambda(model, x, cfg.meta)) for x in u},
        "fixed_lambda": check["best"],
        "check_losses": {"n_conditions": n_check, **check["mean_se"]},
        "check_losses_by_condition": {k: v.tolist() for k, v in losses.items()},
        "command": "python -m aifedge.inference.meta_train",
    }
    return save_checkpoint(out, model, cfg.meta, metadata)


def evaluate_meta(
    checkpoint: str | Path | None = None,
    n_conditions: int = 16,
    episodes: int = 32,
    steps: int = 100,
    seed: int = HELD_OUT_SEED,
    lambda_grid: tuple = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0),
    support: MetaTrainConfig | None = None,
    ranges: ConditionRanges = ConditionRanges(),
) -> pd.DataFrame:
    """Held-out comparison of λ rules on ``n_conditions`` fresh conditions.

    For each condition: ``meta`` (f_meta as trained), ``meta-adapted`` (after
    ``inner_steps`` ES steps on support episodes of that condition, sized by ``support``),
    and ``fixed`` λ for every value of ``lambda_grid``; all evaluated on the same
    ``episodes`` query episodes of ``steps`` steps (keys independent of the support).
    Returns one row per condition and method: ``condition``, the condition's fields,
    ``method``, ``lam`` (fixed λ; NaN otherwise), ``violation_rate``. ``compare_meta``
    picks the best fixed λ and tests it against the adapted rule.
    """
    from .aif_llm_agent import META_FILE

    support = MetaTrainConfig() if support is None else support
    model, cfg = load_checkpoint(META_FILE if checkpoint is None else checkpoint)
    agent, base = _agent(model, cfg, steps)
    query_loss = make_loss_fn(agent, base, episodes, steps)
    support_loss = make_loss_fn(
        agent, aif_llm.make_params(max_steps=support.steps), support.episodes, support.steps
    )
    grid = jnp.asarray(lambda_grid, jnp.float32)
    if bool(jnp.any((grid < cfg.lambda_min) | (grid > cfg.lambda_max))):
        raise ConfigError(
            f"evaluate_meta.lambda_grid: values must lie in [{cfg.lambda_min}, "
            f"{cfg.lambda_max}] (the checkpoint's λ range)"
        )

    def one(key):
        k_cond, k_support, k_query = jax.random.split(key, 3)
        cond = sample_condition(k_cond, ranges)
        adapted = adapt(model, cond, support_loss, cfg, k_support)
        fixed = jax.vmap(lambda lam: query_loss(constant_net(model, lam, cfg), cond, k_query))(grid)
        return cond, query_loss(model, cond, k_query), query_loss(adapted, cond, k_query), fixed

    keys = jax.random.split(jax.random.PRNGKey(seed), n_conditions)
    cond, plain, adapted, fixed = jax.device_get(jax.jit(jax.vmap(one))(keys))
    rows = []
    for i in range(n_conditions):
        info = {"condition": i, **{f: float(getattr(cond, f)[i]) for f in Condition._fields}}
        rows.append({**info, "method": "meta", "lam": np.nan, "violation_rate": plain[i]})
        rows.append({**info, "method": "meta-adapted", "lam": np.nan, "violation_rate": adapted[i]})
        rows += [
            {**info, "method": "fixed", "lam": float(lam), "violation_rate": fixed[i, j]}
            for j, lam in enumerate(lambda_grid)
        ]
    return pd.DataFrame(rows)


def compare_meta(frame: pd.DataFrame) -> dict:
    """Best fixed λ (lowest mean violation over the held-out conditions — chosen on the
    evaluation data itself, which favours it) vs ``meta-adapted`` and ``meta``: means and
    paired t-tests over conditions (scipy ``ttest_rel``), and a verdict."""
    from scipy import stats

    fixed = frame[frame.method == "fixed"].pivot(
        index="condition", columns="lam", values="violation_rate"
    )
    best = float(fixed.mean().idxmin())
    out: dict[str, Any] = {
        "best_fixed_lambda": best,
        "best_fixed": float(fixed[best].mean()),
        "fixed_by_lambda": {f"{k:g}": float(v) for k, v in fixed.mean().items()},
    }
    for method in ("meta", "meta-adapted"):
        v = frame[frame.method == method].set_index("condition")["violation_rate"]
        diff = v.loc[fixed.index] - fixed[best]
        t = stats.ttest_rel(v.loc[fixed.index], fixed[best])
        out[method] = float(v.mean())
        out[f"{method}_minus_best_fixed"] = float(diff.mean())
        out[f"{method}_p"] = float(t.pvalue)
    d, p = out["meta-adapted_minus_best_fixed"], out["meta-adapted_p"]
    if d < 0 and p < 0.05:
        out["verdict"] = "adapted λ beats the best fixed λ"
    elif d > 0 and p < 0.05:
        out["verdict"] = "adapted λ does not beat the best fixed λ (it is worse)"
    else:
        out["verdict"] = "adapted λ does not beat the best fixed λ (no significant difference)"
    return out


def main() -> None:
    """Train the default checkpoint (``train_meta`` with its defaults) and print its path."""
    print(train_meta())


if __name__ == "__main__":
    main()
