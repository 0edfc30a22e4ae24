"""Meta-learned semantic weight λ_t (AIF-LLM §4.5 AIF-LLM Eq. 7) with first-order MAML.

    λ_t = λ_min + (λ_max − λ_min) · σ(f_meta(U_t))                                  (AIF-LLM Eq. 7)

``f_meta`` is a small equinox MLP (scalar U_t → scalar logit). It is meta-trained with
first-order MAML (Finn et al. 2017; FOMAML) so that ``inner_steps`` SGD steps on a new
condition (load, failure rate, network volatility) adapt it well:

    for each meta-step:  tasks c_1..c_B ~ task_sampler
        θ'_b = θ − α ∇θ L(θ; c_b, support)           (repeated inner_steps times)
        θ   ← optax_update(θ, mean_b ∇θ' L(θ'_b; c_b, query))     (first-order)

The training loss is a user-supplied pure function ``loss_fn(model, task, key) -> scalar``
(a toy problem in the tests; the agent's QoS as a function of λ once it is wired in). When the
loss is not differentiable (an argmax agent in a simulator), set ``gradient="es"``: gradients
are then antithetic Gaussian-smoothing (evolution-strategies) estimates with common random
numbers — the same ``key`` for both perturbations.

λ_min, λ_max and all optimiser settings are this project's assumptions (the paper gives none).
"""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from aifedge.config import ConfigError, check_fields

CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class MetaConfig:
    """Meta-network and FOMAML settings (all assumed; the paper is silent).

    lambda_min, lambda_max: range of λ_t (AIF-LLM Eq. 7).
    hidden, depth: MLP width and number of hidden layers (tanh).
    inner_lr, inner_steps: SGD adaptation on one task.
    outer_lr, meta_batch, meta_steps: Adam on the meta-parameters, tasks per step, steps.
    gradient: "autodiff" (exact gradients) or "es" (antithetic Gaussian smoothing, for
      non-differentiable losses), with es_sigma (perturbation sd) and es_pairs.
    """

    lambda_min: float = 0.0
    lambda_max: float = 1.0
    hidden: int = 16
    depth: int = 1
    inner_lr: float = 0.5
    inner_steps: int = 3
    outer_lr: float = 1e-2
    meta_batch: int = 8
    meta_steps: int = 300
    gradient: str = "autodiff"
    es_sigma: float = 0.05
    es_pairs: int = 8

    def __post_init__(self):
        def bad(field, rule):
            raise ConfigError(f"MetaConfig.{field}: {rule} (got {getattr(self, field)!r})")

        if not self.lambda_max > self.lambda_min:
            bad("lambda_max", f"must exceed lambda_min = {self.lambda_min}")
        for field in ("hidden", "depth", "meta_batch", "meta_steps", "es_pairs"):
            if not (isinstance(getattr(self, field), int) and getattr(self, field) >= 1):
                bad(field, "must be an int ≥ 1")
        if not (isinstance(self.inner_steps, int) and self.inner_steps >= 0):
            bad("inner_steps", "must be an int ≥ 0")
        for field in ("inner_lr", "outer_lr", "es_sigma"):
            if not getattr(self, field) > 0:
                bad(field, "must be > 0")
        if self.gradient not in ("autodiff", "es"):
            bad("gradient", "must be 'autodiff' or 'es'")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetaConfig:
        check_fields(data, [f.name for f in dataclasses.fields(cls)], "MetaConfig")
        return cls(**data)


def make_meta_net(cfg: MetaConfig, key: jax.Array) -> eqx.nn.MLP:
    """f_meta: an MLP from scalar U_t to a scalar logit; the last layer starts at zero, so the
    initial λ is the mid-range (λ_min + λ_max)/2 for every U."""
    net = eqx.nn.MLP("scalar", "scalar", cfg.hidden, cfg.depth, activation=jnp.tanh, key=key)
    last = net.layers[-1]
    return eqx.tree_at(
        lambda m: (m.layers[-1].weight, m.layers[-1].bias),
        net,
        (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias)),  # type: ignore[arg-type]
    )


def meta_lambda(model: eqx.Module, u_t, cfg: MetaConfig) -> jax.Array:
    """AIF-LLM Eq. 7: λ_t for an uncertainty index ``u_t`` of any shape (elementwise)."""
    u = jnp.asarray(u_t, jnp.float32)
    logits = jax.vmap(model)(u.ravel()).reshape(u.shape)  # type: ignore[type-var, operator]
    lam = cfg.lambda_min + (cfg.lambda_max - cfg.lambda_min) * jax.nn.sigmoid(logits)
    return jnp.clip(lam, cfg.lambda_min, cfg.lambda_max)  # float32 rounding at saturation


def _grad(loss_fn, params, static, task, key, cfg: MetaConfig):
    """(loss, gradient w.r.t. the inexact-array leaves ``params``)."""

    def loss_of(p):
        return loss_fn(eqx.combine(p, static), task, key)

    if cfg.gradient == "autodiff":
        return jax.value_and_grad(loss_of)(params)
    flat, unravel = ravel_pytree(params)
    eps = jax.random.normal(jax.random.fold_in(key, 0x5E5), (cfg.es_pairs, flat.size))

    def pair(e):
        up = loss_of(unravel(flat + cfg.es_sigma * e))
        down = loss_of(unravel(flat - cfg.es_sigma * e))
        return (up - down) / (2 * cfg.es_sigma) * e

    return loss_of(params), unravel(jnp.mean(jax.vmap(pair)(eps), axis=0))


def _adapt_params(params, static, task, loss_fn, cfg: MetaConfig, key):
    def step(p, k):
        loss, g = _grad(loss_fn, p, static, task, k, cfg)
        return jax.tree.map(lambda a, b: a - cfg.inner_lr * b, p, g), loss

    return jax.lax.scan(step, params, jax.random.split(key, cfg.inner_steps))


def adapt(model: eqx.Module, task, loss_fn, cfg: MetaConfig, key: jax.Array) -> eqx.Module:
    """``cfg.inner_steps`` SGD steps of ``loss_fn`` on ``task`` from ``model`` (the MAML inner
    loop; what the agent runs on a new condition). Each step draws a fresh key."""
    params, static = eqx.partition(model, eqx.is_inexact_array)
    params, _ = _adapt_params(params, static, task, loss_fn, cfg, key)
    return eqx.combine(params, static)


def _meta_step(params, opt_state, static, keys, task_sampler, loss_fn, cfg, optimizer):
    """One FOMAML step over ``cfg.meta_batch`` tasks (keys: (meta_batch, 2))."""

    def per_task(key):
        k_task, k_support, k_query = jax.random.split(key, 3)
        task = task_sampler(k_task)
        pre = loss_fn(eqx.combine(params, static), task, k_query)
        adapted, _ = _adapt_params(params, static, task, loss_fn, cfg, k_support)
        post, g = _grad(loss_fn, adapted, static, task, k_query, cfg)
        return pre, post, g

    pre, post, grads = jax.vmap(per_task)(keys)
    grad = jax.tree.map(lambda g: jnp.mean(g, axis=0), grads)
    updates, opt_state = optimizer.update(grad, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, jnp.mean(pre), jnp.mean(post)


def meta_train(
    cfg: MetaConfig, task_sampler, loss_fn, key: jax.Array, model: eqx.Module | None = None
):
    """Meta-train f_meta with first-order MAML.

    Args:
      cfg: :class:`MetaConfig`.
      task_sampler: pure ``task_sampler(key) -> task`` (any pytree of arrays: a simulator
        condition, a seed, ...); vmapped over ``cfg.meta_batch`` keys.
      loss_fn: pure ``loss_fn(model, task, key) -> scalar`` to minimise (e.g. the QoS violation
        rate of the agent when it uses ``meta_lambda(model, U_t, cfg)``); vmapped.
      key: PRNG key. model: initial f_meta (default :func:`make_meta_net`).

    Returns:
      ``(model, history)``; ``history`` holds per meta-step arrays ``pre_loss`` (query loss of
      the meta-parameters before adaptation) and ``post_loss`` (after ``inner_steps`` steps),
      means over the meta-batch — the meta-loss FOMAML minimises is ``post_loss``.
    """
    key_init, key_train = jax.random.split(key)
    model = make_meta_net(cfg, key_init) if model is None else model
    params, static = eqx.partition(model, eqx.is_inexact_array)
    optimizer = optax.adam(cfg.outer_lr)
    opt_state = optimizer.init(params)
    step = jax.jit(
        lambda p, o, k: _meta_step(p, o, static, k, task_sampler, loss_fn, cfg, optimizer)
    )
    pre, post = [], []
    for k in jax.random.split(key_train, cfg.meta_steps):
        params, opt_state, pre_loss, post_loss = step(
            params, opt_state, jax.random.split(k, cfg.meta_batch)
        )
        pre.append(pre_loss)
        post.append(post_loss)
    history = {"pre_loss": np.asarray(jnp.stack(pre)), "post_loss": np.asarray(jnp.stack(post))}
    return eqx.combine(params, static), history


# ---------------------------------------------------------------- checkpoints


def config_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def save_checkpoint(
    path: str | Path, model: eqx.Module, cfg: MetaConfig, metadata: dict | None = None
) -> Path:
    """Write f_meta's weights to ``path`` (equinox leaf serialisation) and its config plus
    provenance (commit, versions, ``metadata``) to ``path + ".json"``; both atomically."""
    from aifedge.results import atomic_path, git_commit, versions, write_json

    path = Path(path)
    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, model)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    write_json(
        config_path(path),
        {
            "format": CHECKPOINT_FORMAT,
            "config": dataclasses.asdict(cfg),
            "commit": git_commit(),
            "versions": versions(),
            "metadata": metadata or {},
        },
    )
    return path


def checkpoint_metadata(path: str | Path) -> dict:
    """The ``metadata`` that ``save_checkpoint`` recorded beside checkpoint ``path`` ({} when
    its ``.json`` is missing or unreadable: ``load_checkpoint`` reports those)."""
    try:
        info = json.loads(config_path(Path(path)).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return info.get("metadata", {}) if isinstance(info, dict) else {}


def load_checkpoint(path: str | Path) -> tuple[eqx.Module, MetaConfig]:
    """Read a checkpoint written by :func:`save_checkpoint`: ``(model, cfg)``."""
    path = Path(path)
    cfg_path = config_path(path)
    for p in (path, cfg_path):
        if not p.is_file():
            raise ConfigError(
                f"meta checkpoint: {str(p)!r} does not exist; write it with "
                "save_checkpoint (aifedge train-meta)"
            )
    try:
        info = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        info = None
    if not isinstance(info, dict) or info.get("format") != CHECKPOINT_FORMAT:
        found = info.get("format") if isinstance(info, dict) else "unreadable JSON"
        raise ConfigError(
            f"meta checkpoint: {cfg_path.name!r} has format {found!r}, this version reads "
            f"{CHECKPOINT_FORMAT}; retrain it (aifedge train-meta)"
        )
    try:
        cfg = MetaConfig.from_dict(info["config"])
        like = make_meta_net(cfg, jax.random.PRNGKey(0))
        with path.open("rb") as fh:
            model = eqx.tree_deserialise_leaves(fh, like)
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, EOFError) as err:
        raise ConfigError(
            f"meta checkpoint: {path.name!r} does not fit its config ({type(err).__name__}: "
            "truncated, altered or from another network size); retrain it"
        ) from None
    return model, cfg
