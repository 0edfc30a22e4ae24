"""U_t (AIF-LLM Eq. 6) and λ_t (AIF-LLM Eq. 7) in the notebooks: traces, meta-training curves, toys.

``uncertainty_trace`` (an ``aif-llm`` episode with injected congestion / failures, AIF-LLM Eq. 6 per
step), ``phase_summary``, ``plot_uncertainty_trace``, ``plot_meta_history``,
``checkpoint_history``, ``checkpoint_check_losses``, ``plot_lambda_response``, and a toy
task family for meta-λ demonstrations (``toy_lambda_task``, ``toy_best_lambda``,
``toy_lambda_loss``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from aifedge.environments import aif_llm
from aifedge.environments.aif_llm import NET_NAMES, OUTCOME_NAMES, EnvParams
from aifedge.inference.uncertainty import (
    UncertaintyConfig,
    init_window,
    uncertainty_index,
    update_window,
)
from aifedge.viz import OUTCOME_COLORS

PHASE_FIELDS: tuple[str, ...] = (
    "net_transition",
    "edge_fail_prob",
    "edge_recover_prob",
    "bg_util",
    "spike_prob",
)
"""``EnvParams`` fields a phase of ``uncertainty_trace`` may override (they enter the
simulator's step only arithmetically, so they can change inside one compiled scan)."""


def uncertainty_trace(
    key: jax.Array,
    policy,
    params: EnvParams,
    phases: Sequence[tuple[str, int, Mapping]],
    config: UncertaintyConfig | None = None,
) -> pd.DataFrame:
    """One ``aif-llm`` episode in phases with injected conditions, U_t (AIF-LLM Eq. 6) per step.

    ``phases``: ``(name, steps, overrides)`` run back to back, ``overrides`` a dict of
    ``PHASE_FIELDS`` (e.g. ``{"net_transition": ((0, 0, 1),) * 3}`` forces congestion,
    ``{"edge_fail_prob": 0.3}`` makes nodes fail). The episode is one jitted ``lax.scan``:
    the phase's field values are selected per step, everything else is ``params``.
    ``policy``: a ``Policy`` (its ``act`` receives the phase's params).

    U_t at step t uses what a scheduler sees before deciding: the measured cloud RTT
    ``Obs.rtt_ms`` (window of ``config.window`` steps), the nodes observed down
    ``Σ(1 − Obs.up)`` and the fixed reference ``config.reference_ms`` (not the task's
    deadline), with ``config.alpha`` and ``config.n_total`` (``config`` default:
    ``UncertaintyConfig()``).

    Returns one row per step: ``t``, ``phase``, ``net`` (true WAN state 0..2),
    ``rtt_ms`` (measured), ``n_down`` (observed), ``deadline_ms``, ``u_t``, ``trigger``
    (U_t > δ), ``node``, ``outcome`` (0 met / 1 violated / 2 failed), ``latency_ms``.
    """
    config = UncertaintyConfig() if config is None else config
    if not phases:
        raise ValueError("uncertainty_trace.phases: give at least one (name, steps, overrides)")
    per_phase = []
    for name, steps, overrides in phases:
        bad = sorted(set(overrides) - set(PHASE_FIELDS))
        if bad:
            raise ValueError(
                f"uncertainty_trace: phase {name!r} overrides {bad}; only "
                f"{', '.join(PHASE_FIELDS)} may change within an episode"
            )
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"uncertainty_trace: phase {name!r} needs steps ≥ 1 (got {steps!r})")
        per_phase.append(aif_llm.make_params(**{**params._asdict(), **overrides}))
    names = [p[0] for p in phases]
    phase_of_step = np.repeat(np.arange(len(phases)), [p[1] for p in phases])
    tables = {f: jnp.asarray([getattr(p, f) for p in per_phase], jnp.float32) for f in PHASE_FIELDS}
    frame = _trace_scan(key, policy, params, tables, jnp.asarray(phase_of_step), config)
    frame = {k: np.asarray(v) for k, v in jax.device_get(frame).items()}
    out = pd.DataFrame(
        {
            "t": np.arange(phase_of_step.size),
            "phase": np.asarray(names, dtype=object)[phase_of_step],
            **frame,
        }
    )
    out["trigger"] = out["u_t"] > config.trigger
    return out


@partial(jax.jit, static_argnames=("policy", "params", "config"))
def _trace_scan(key, policy, params, tables, phase_of_step, config):
    """The scan of ``uncertainty_trace``; compiled once per (policy, params, config, length),
    so phases with other field values reuse it."""
    k_reset, k_init, k_loop = jax.random.split(key, 3)
    obs, state = aif_llm.reset(k_reset, params)
    pstate = policy.init(k_init, params)

    def body(carry, xs):
        obs, state, pstate, window = carry
        k, phase = xs
        p = params._replace(**{f: tables[f][phase] for f in PHASE_FIELDS})
        n_down = jnp.sum(1.0 - obs.up)
        window = update_window(window, obs.rtt_ms, n_down)
        l_ref = config.reference_ms(params.deadline_ms)
        u_t = uncertainty_index(window, l_ref, config.n_total, config.alpha)
        k_act, k_step = jax.random.split(k)
        action, pstate = policy.act(k_act, pstate, obs, p)
        obs2, state2, _, _, info = aif_llm.step(k_step, state, action, p)
        row = {
            "net": state.net,
            "rtt_ms": obs.rtt_ms,
            "n_down": n_down,
            "deadline_ms": obs.task.deadline_ms,
            "u_t": u_t,
            "node": info.node,
            "outcome": info.outcome,
            "latency_ms": info.latency_ms,
        }
        return (obs2, state2, pstate, window), row

    carry = (obs, state, pstate, init_window(config.window))
    keys = jax.random.split(k_loop, phase_of_step.shape[0])
    return jax.lax.scan(body, carry, (keys, phase_of_step))[1]


def plot_uncertainty_trace(
    frame: pd.DataFrame, trigger: float | None = None, lam: Sequence[float] | None = None
):
    """Measured RTT and failed nodes, U_t (with the advisor trigger δ), λ_t (optional) and
    the task outcomes over an ``uncertainty_trace`` episode; phases shaded."""
    n_panels = 4 if lam is not None else 3
    fig, axes = plt.subplots(n_panels, 1, figsize=(8, 1.9 * n_panels + 0.5), sharex=True)
    t = frame["t"].to_numpy()
    starts = np.flatnonzero(
        np.r_[True, frame["phase"].to_numpy()[1:] != frame["phase"].to_numpy()[:-1]]
    )
    for ax in axes:
        for i, s in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(t)
            if i % 2:
                ax.axvspan(t[s] - 0.5, t[end - 1] + 0.5, color="0.92", zorder=0)
    for s in starts:
        axes[0].text(
            t[s], 1.02, frame["phase"].iloc[s], transform=axes[0].get_xaxis_transform(), fontsize=8
        )
    axes[0].plot(t, frame["rtt_ms"], label="measured cloud RTT (ms)")
    axes[0].set_ylabel("RTT (ms)")
    ax_d = axes[0].twinx()
    ax_d.step(t, frame["n_down"], where="mid", color="tab:red", label="edge nodes down")
    ax_d.set_ylabel("nodes down", color="tab:red")
    axes[1].plot(t, frame["u_t"], color="tab:purple")
    if trigger is not None:
        axes[1].axhline(trigger, color="k", ls="--", lw=1, label=f"trigger δ = {trigger}")
        axes[1].legend(fontsize=8, loc="upper left")
    axes[1].set_ylabel("U_t (AIF-LLM Eq. 6)")
    if lam is not None:
        axes[2].plot(t, lam, color="tab:green")
        axes[2].set_ylabel("λ_t (AIF-LLM Eq. 7)")
    ax_o = axes[-1]
    for o, (name, color) in enumerate(zip(OUTCOME_NAMES, OUTCOME_COLORS, strict=True)):
        sel = frame["outcome"].to_numpy() == o
        ax_o.scatter(t[sel], frame["node"].to_numpy()[sel], s=10, color=color, label=name)
    ax_o.set(ylabel="node (0 local … cloud)", xlabel="step")
    ax_o.legend(fontsize=7, ncol=3, loc="upper left")
    fig.tight_layout()
    return fig


def phase_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per phase of an ``uncertainty_trace``: steps, mean U_t, fraction of steps above the
    trigger, share of tasks met / violated / failed, fraction of steps with a congested WAN."""
    g = frame.groupby("phase", sort=False)
    return pd.DataFrame(
        {
            "steps": g.size(),
            "mean_u_t": g["u_t"].mean(),
            "triggered": g["trigger"].mean(),
            **{
                name: g["outcome"].apply(lambda s, o=o: float((s == o).mean()))
                for o, name in enumerate(OUTCOME_NAMES)
            },
            "congested": g["net"].apply(
                lambda s: float((s == NET_NAMES.index("congested")).mean())
            ),
        }
    ).reset_index()


def plot_meta_history(
    history: Mapping[str, np.ndarray], title: str = "Meta-training of f_meta", log: bool = True
):
    """FOMAML meta-training curve (``meta.meta_train``'s history): query loss before and
    after the inner adaptation steps, per meta-step."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ax.plot(history["pre_loss"], label="before adaptation (meta-parameters)", alpha=0.8)
    ax.plot(history["post_loss"], label="after inner steps (meta-loss)", alpha=0.8)
    ax.set(yscale="log" if log else "linear", xlabel="meta-step", ylabel="query loss", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def checkpoint_history(path) -> dict[str, np.ndarray]:
    """``pre_loss`` / ``post_loss`` recorded in the metadata of an f_meta checkpoint
    (``meta.save_checkpoint``'s ``.json``, as written by ``inference.meta_train``)."""
    import json
    from pathlib import Path

    from aifedge.inference.meta import config_path

    info = config_path(Path(path))
    if not info.is_file():
        raise ValueError(
            f"checkpoint_history: {str(info)!r} does not exist; pass the path "
            "of a checkpoint written by meta.save_checkpoint"
        )
    meta_data = json.loads(info.read_text()).get("metadata", {})
    missing = [k for k in ("pre_loss", "post_loss") if k not in meta_data]
    if missing:
        raise ValueError(
            f"checkpoint_history: {info.name} records no {missing} in its "
            "metadata (train it with inference.meta_train)"
        )
    return {k: np.asarray(meta_data[k], float) for k in ("pre_loss", "post_loss")}


def checkpoint_check_losses(path) -> pd.DataFrame:
    """The violation rates ``inference.meta_train.train_meta`` measured on fixed
    meta-training conditions (``check_losses_by_condition`` of the checkpoint's metadata):
    the initial and the trained f_meta and every constant λ, as % (mean over conditions),
    and each one's paired difference from the trained f_meta with its SE and paired t-test
    p-value (the same conditions and episodes for every model)."""
    from scipy import stats

    from aifedge.inference.meta import checkpoint_metadata

    by_cond = checkpoint_metadata(path).get("check_losses_by_condition")
    if not by_cond:
        raise ValueError(
            f"checkpoint_check_losses: {path} records no check_losses_by_condition "
            "(retrain it with python -m aifedge.inference.meta_train)"
        )
    trained = 100 * np.asarray(by_cond["trained f_meta"])
    rows = []
    for name, values in by_cond.items():
        v = 100 * np.asarray(values)
        diff = v - trained
        same = not np.any(diff)
        rows.append(
            {
                "f_meta": name,
                "violation %": v.mean(),
                "minus trained (pts)": diff.mean(),
                "SE": diff.std(ddof=1) / np.sqrt(diff.size),
                "paired p": np.nan if same else stats.ttest_rel(v, trained).pvalue,
            }
        )
    return pd.DataFrame(rows).assign(conditions=trained.size)


def plot_lambda_response(
    cfg,
    nets: Mapping[str, eqx.Module],
    targets: Mapping[str, Callable] | None = None,
    u: Sequence[float] = tuple(np.linspace(0.0, 1.5, 61)),
):
    """λ = AIF-LLM Eq. 7 (``meta.meta_lambda``) against U for each f_meta in ``nets``;
    ``targets`` maps a label to ``fn(u) -> λ`` drawn dashed (e.g. a task's best λ)."""
    from aifedge.inference.meta import meta_lambda

    u = np.asarray(u, float)
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for label, net in nets.items():
        ax.plot(u, np.asarray(meta_lambda(net, u, cfg)), label=label)
    for label, fn in (targets or {}).items():
        ax.plot(u, np.asarray(fn(u)), "--", label=label)
    ax.set(
        xlabel="U_t",
        ylabel="λ_t",
        ylim=(cfg.lambda_min - 0.02, cfg.lambda_max + 0.02),
        title="λ_t = λ_min + (λ_max − λ_min)·σ(f_meta(U_t))",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def toy_lambda_task(key: jax.Array) -> dict:
    """A toy meta-λ condition: slope a ~ U(4, 10), knee b ~ U(0.2, 0.8) (see
    ``toy_best_lambda``). A stand-in for simulator conditions, used to show what FOMAML
    does; the real training target is the agent's QoS (``inference.meta``)."""
    ka, kb = jax.random.split(key)
    return {
        "a": jax.random.uniform(ka, minval=4.0, maxval=10.0),
        "b": jax.random.uniform(kb, minval=0.2, maxval=0.8),
    }


def toy_best_lambda(task: Mapping, u, cfg) -> jax.Array:
    """The toy condition's best λ(U) = λ_min + (λ_max − λ_min)·σ(a (U − b)): lean on the
    LLM more once U passes the condition's knee b."""
    return cfg.lambda_min + (cfg.lambda_max - cfg.lambda_min) * jax.nn.sigmoid(
        task["a"] * (jnp.asarray(u) - task["b"])
    )


def toy_lambda_loss(cfg) -> Callable:
    """``loss_fn(model, task, key)`` for ``meta.meta_train``: mean squared distance of
    AIF-LLM Eq. 7's λ to ``toy_best_lambda`` at 32 uniform U ∈ [0, 1]."""
    from aifedge.inference.meta import meta_lambda

    def loss_fn(model, task, key):
        u = jax.random.uniform(key, (32,))
        return jnp.mean((meta_lambda(model, u, cfg) - toy_best_lambda(task, u, cfg)) ** 2)

    return loss_fn
