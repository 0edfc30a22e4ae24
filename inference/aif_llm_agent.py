"""The full ``aif-llm`` scheduler: AIF-LLM Algorithm 1 with its ablations (Table 4).

One decision at step t (everything below is one pure, ``jit``/``vmap``-able function of the
policy state ``AifLlmState``, a NamedTuple)::

    EVT (§4.4.2)   the previous task's result (``Obs.last_*``): if it completed, its
                   normalised residual e = (L − ℓ̂) / L_QoS (ℓ̂: the latency the model
                   predicted for it, ``aif_llm_slack_model.predicted_latency_ms``) enters the
                   online GPD fit of the excesses e − u over u (``evt_threshold``); every
                   ``evt_every`` decisions the fit is refreshed (``inference.evt.
                   online_refit``). Once ``evt_min_excesses`` excesses were fitted, the tail
                   P(e > x) = p̂_u · S_GPD(x − u; σ̂, ξ̂), p̂_u = #{e > u} / #done, replaces
                   the spike tail **inside the outcome likelihood**: A[outcome:*] =
                   ``aif_llm_slack_model.outcome_table`` of the fitted tail, written into the
                   Dirichlet counts as pA ← pA + c_0 (table_new − table_old) so learned
                   counts are kept. C stays (0, −1, −κ, 0). τ̂ = p̂_u · S_GPD(1 − u) is
                   reported (P(L > ℓ̂ + L_QoS), the tail's weight at the deadline).
    AIF-LLM Eq. 6          U_t = α · L̄_net / L_QoS + β · N_fail / N_total over a sliding window of
                   the measured cloud RTT, L_QoS a fixed reference (``UncertaintyConfig.
                   u_ref_ms``; not the task's deadline); N_fail = edges observed down,
                   plus the node of the previous task if that task failed on a node that
                   is up (a cloud timeout, an edge overflow), capped at N_total.
    line 2 (AIF-LLM Eq. 3) if the task's class has not been seen yet (t = 0 included):
                   prior_f ← softmax(ln prior_f + α_D · Σ_k 1[k ∈ text] w_k a_k(s)) for the
                   factors the keyword table knows (class, net, load:*); Base = ln of the
                   agent's current prior, which is D at t = 0 and the B-propagated belief
                   later, so a new task type re-seeds the belief without discarding what
                   the agent tracks about loads and the WAN. Otherwise the prior is kept.
    lines 5–8      advice that arrived for this step is used; if U_t > δ the advisor is
                   called on o_t and its advice arrives ``delay_steps = 1`` step later
                   (``template``: the advice text is a function of o_t from a finite set,
                   pre-encoded into a (n_texts, 384) table, so the whole loop is jitted).
    line 10 (AIF-LLM Eq. 7) λ_t = λ_min + (λ_max − λ_min) · σ(f_meta(U_t)) (shipped checkpoint).
    lines 11–16    AIF-LLM Eq. 4 pruning and AIF-LLM Eq. 5 EFE in ``inference.agent`` with
                   G_sem(π) = cos(E_{Q(s_t+1|π)}[v_state], v_pref) over the ``sent:*``
                   factors (``llm_bridge.semantic``), 0 while no advice has arrived.

Ablations (``ablate``, any subset; Table 4): ``"prior"`` — no D_LLM (D and the propagated
prior only); ``"semantic"`` — no G_sem and no advisor; ``"meta-lambda"`` — fixed
λ = the best constant on the meta-training conditions, recorded in the checkpoint by
``meta_train.train_meta`` (mid-range (λ_min + λ_max)/2 for a checkpoint without it).
The fitted tail in the likelihood is part of every variant; the pure-AIF row of
Table 4 is the ``aif`` policy (``inference.policies``), on the same slack model
(``generative_models.aif_llm_slack_model``) and decision settings (``AIF_CONFIG``).

Real LLM advisors (``smollm``, ``http``) run asynchronously off the jitted path:
``aif_llm_advised.run_advised`` drives ``llm_bridge.advisors.advised_episode`` with the same
decision function, the advice's v_pref coming from the advisor's worker. The advice tables
(template texts, keyword prior) are built in ``aif_llm_advice``; advisor statistics and
provenance are in ``aif_llm_stats``.

Assumptions (the paper is silent): ``AifLlmConfig`` documents each value. The keyword
table ships as ``data/keyword_prior.json`` (regenerate: ``python -m
aifedge.inference.aif_llm_advice``); it is refitted (about 30 s, memoised) for
``EnvParams`` that differ from the defaults in anything but ``max_steps``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from aifedge.config import ConfigError
from aifedge.environments import Policy, agent_policy, aif_llm_paper
from aifedge.environments.aif_llm import FAILED, EnvParams, Obs
from aifedge.environments.tails import gpd_log_survival
from aifedge.generative_models import aif_llm_model, aif_llm_slack_model
from aifedge.generative_models.base import GenerativeModel
from aifedge.registry import ADVISORS, check_ablate

from .agent import (
    AgentConfig,
    AgentState,
    AifAgent,
    DecisionInfo,
    likelihoods,
    make_agent,
    segments,
    with_semantic,
)
from .aif_llm_advice import (
    default_keyword_prior,
    evidence_matrix,
    template_index,
    template_texts,
)
from .evt import OnlineGPDConfig, OnlineGPDState, online_init, online_push
from .evt import online_refit as _online_refit
from .policies import AIF_CONFIG
from .uncertainty import (
    UncertaintyConfig,
    Window,
    advisor_trigger,
    init_window,
    uncertainty_index,
    update_window,
)

if TYPE_CHECKING:
    import equinox as eqx

    from aifedge.llm_bridge import KeywordPrior, SemanticTables, SentenceEncoder

    from .meta import MetaConfig


META_FILE = Path(__file__).resolve().parent / "data" / "meta_lambda.eqx"
"""Default f_meta checkpoint (AIF-LLM Eq. 7), made by ``aifedge.inference.meta_train``."""


@dataclass(frozen=True)
class AifLlmConfig:
    """Settings of the full agent (this project's assumptions; the paper gives none).

    agent: decision core (``policies.AIF_CONFIG``: horizon 1, deterministic, no pruning —
      Eq. 4's score is constant on the slack model, see there).
    prior_alpha: α of AIF-LLM Eq. 3 (keyword evidence scale).
    uncertainty: AIF-LLM Eq. 6 weights, window and Algorithm 1's trigger δ.
    evt_threshold: u, the POT threshold on the normalised residual (L − ℓ̂) / L_QoS.
    evt_every: N, decisions between refits of the online GPD.
    evt_min_excesses: excesses needed before the fitted tail replaces the simulator's.
    evt_capacity: ring buffer of the online fit (excesses kept).
    advice_delay: decisions between an advisor trigger and its advice (template: 1).
    model_options: ``aif_llm_slack_model.SlackOptions`` overrides (as a tuple of pairs).
    """

    agent: AgentConfig = field(default_factory=lambda: AIF_CONFIG)
    prior_alpha: float = 1.0
    uncertainty: UncertaintyConfig = field(default_factory=UncertaintyConfig)
    evt_threshold: float = 0.1
    evt_every: int = 10
    evt_min_excesses: int = 8
    evt_capacity: int = 256
    advice_delay: int = 1
    model_options: tuple[tuple[str, object], ...] = field(default_factory=tuple)

    def __post_init__(self):
        def bad(name, rule):
            raise ConfigError(f"AifLlmConfig.{name}: {rule} (got {getattr(self, name)!r})")

        if not self.prior_alpha >= 0:
            bad("prior_alpha", "must be ≥ 0")
        if not 0 < self.evt_threshold < 1:
            bad("evt_threshold", "must lie in (0, 1): a fraction of the deadline L_QoS")
        for name, low in (("evt_every", 1), ("evt_min_excesses", 2), ("evt_capacity", 2)):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= low):
                bad(name, f"must be an int ≥ {low}")
        if self.advice_delay != 1:
            bad(
                "advice_delay",
                "the jitted template path supports 1 (use run_advised with "
                "delay_steps for other delays)",
            )


class AifLlmState(NamedTuple):
    """Policy state (pure; every field an array, so it vmaps).

    agent: ``AgentState`` (prior, C, λ, semantic scores, last action, t).
    window: AIF-LLM Eq. 6 sliding window.  tail: online GPD fit of normalised residual excesses.
    n_done, n_excess: completed tasks seen and those with (L − ℓ̂) / L_QoS > u.
    prev_deadline_ms, prev_pred_ms: deadline and predicted latency ℓ̂ of the task decided last.
    table: (3, S + 1) outcome table now inside A[outcome:*] (``aif_llm_slack_model.outcome_table``).
    seen: (K,) task classes seen (Algorithm 1 line 2).
    prior_updates: how many times D_LLM was applied.
    advice: template text in force (−1: none); pending: text triggered last step (−1).
    """

    agent: AgentState
    window: Window
    tail: OnlineGPDState
    n_done: jax.Array
    n_excess: jax.Array
    prev_deadline_ms: jax.Array
    prev_pred_ms: jax.Array
    table: jax.Array
    seen: jax.Array
    prior_updates: jax.Array
    advice: jax.Array
    pending: jax.Array


class AifLlmInfo(NamedTuple):
    """Diagnostics of one decision: U_t, λ_t, the fitted tail probability τ,
    whether D_LLM was applied, whether advice was in force, the prior used (N,), the
    semantic scores (P,) and the decision core's ``DecisionInfo``."""

    u_t: jax.Array
    lam: jax.Array
    tau: jax.Array
    prior_applied: jax.Array
    advised: jax.Array
    prior: jax.Array
    semantic: jax.Array
    decision: DecisionInfo


# ------------------------------------------------------------------ the agent
@dataclass(frozen=True, eq=False)
class AifLlmAgent:
    """The built agent: generative model, decision core, tables; pure functions below.

    ``policy(meta_model=None)``: the ``Policy`` (``meta_model`` overrides f_meta, e.g. a
    traced model during meta-training). ``init()``: a fresh ``AifLlmState``.
    ``template_step(key, state, obs, meta_model=None)``: one decision with the template
    advisor (what ``policy`` runs). ``step(key, state, obs, v_pref, advised,
    meta_model=None)``: one decision with externally supplied advice (``run_advised``).
    ``u_index(state, obs)``: U_t as the next step will compute it. ``jitted``: jitted
    ``step`` and ``u_index``, compiled once per agent.
    """

    params: EnvParams
    ablate: tuple[str, ...]  # a subset of registry.ABLATIONS, in that order
    config: AifLlmConfig
    model: GenerativeModel  # aif_llm_slack_model.build_slack_model; options: SlackOptions
    core: AifAgent
    evidence: jax.Array | None  # (n_texts, N); None when the prior is ablated
    prior_mask: jax.Array  # (N,) 1 for the factors D_LLM touches
    factor_ids: jax.Array  # (N,) factor of each flat belief entry
    sem_slices: tuple[slice, ...]  # slices of the sent:* factors in the flat belief
    sem_tables: SemanticTables | None  # None when the semantic term is ablated
    advice_texts: tuple[str, ...]
    advice_index: jax.Array  # (n_nodes, 2, 2**E) rows of advice_texts
    advice_table: jax.Array  # (n_texts, 384)
    table0: jax.Array  # (3, S + 1) prior outcome table (the model's spike tail)
    tau0: float
    meta_model: eqx.Module
    meta_cfg: MetaConfig
    gpd_config: OnlineGPDConfig
    best_constant_lambda: float | None = None  # from the checkpoint (``fixed_lambda``)

    @property
    def options(self) -> aif_llm_slack_model.SlackOptions:
        """The ``SlackOptions`` the generative model was built with."""
        return self.model.options

    @property
    def fixed_lambda(self) -> float:
        """λ used when ``meta-lambda`` is ablated: the best constant λ on the meta-training
        conditions (``meta_train.train_meta``), else the middle of the checkpoint's range."""
        if self.best_constant_lambda is not None:
            return self.best_constant_lambda
        return 0.5 * (self.meta_cfg.lambda_min + self.meta_cfg.lambda_max)

    def init(self) -> AifLlmState:
        cfg = self.config
        n_cls = len(self.params.class_probs)
        return AifLlmState(
            agent=self.core.init(C=None, lam=0.0),
            window=init_window(cfg.uncertainty.window),
            tail=online_init(self.gpd_config, scale=0.5, concentration=0.1),
            n_done=jnp.int32(0),
            n_excess=jnp.int32(0),
            prev_deadline_ms=jnp.float32(1.0),
            prev_pred_ms=jnp.float32(0.0),
            table=self.table0,
            seen=jnp.zeros(n_cls, bool),
            prior_updates=jnp.int32(0),
            advice=jnp.int32(-1),
            pending=jnp.int32(-1),
        )

    # -- pieces of one decision ---------------------------------------------------
    def _observe_result(self, s: AifLlmState, obs: Obs):
        """EVT bookkeeping of the previous task's result; refit every ``evt_every``."""
        cfg = self.config
        done = (obs.last_node >= 0) & (obs.last_outcome != FAILED)
        resid = (obs.last_latency_ms - s.prev_pred_ms) / s.prev_deadline_ms
        excess = done & (resid > cfg.evt_threshold)
        tail = online_push(
            s.tail, (resid - cfg.evt_threshold)[None], excess[None], config=self.gpd_config
        )
        refit = (s.agent.t > 0) & (s.agent.t % cfg.evt_every == 0)
        tail = jax.lax.cond(
            refit, lambda t: _online_refit(t, config=self.gpd_config), lambda t: t, tail
        )
        n_done = s.n_done + done.astype(jnp.int32)
        n_excess = s.n_excess + excess.astype(jnp.int32)
        return s._replace(tail=tail, n_done=n_done, n_excess=n_excess)

    def tail_probability(self, s: AifLlmState) -> jax.Array:
        """τ̂ = p̂_u · S_GPD(1 − u) from the last refit (the simulator's τ before enough
        excesses were fitted)."""
        u = self.config.evt_threshold
        fitted = s.tail.fit_count >= self.config.evt_min_excesses
        p_u = s.n_excess / jnp.maximum(s.n_done, 1)
        surv = jnp.exp(gpd_log_survival(1.0 - u, jnp.exp(s.tail.log_scale), s.tail.concentration))
        return jnp.where(fitted, p_u * surv, self.tau0)

    def _likelihood(self, s: AifLlmState) -> AifLlmState:
        """Put the fitted tail into A[outcome:*] (module docstring) once it is fitted."""
        u, opt = self.config.evt_threshold, self.options
        fitted = s.tail.fit_count >= self.config.evt_min_excesses
        p_u = s.n_excess / jnp.maximum(s.n_done, 1)
        # traced fields (outcome_table is pure JAX)
        tail = aif_llm_model.EvtTail._make(
            (u, jnp.exp(s.tail.log_scale), s.tail.concentration, p_u)
        )
        new = jnp.where(
            fitted,
            aif_llm_slack_model.prior_outcome_table(self.params, opt, tail, per_deadline=True),
            s.table,
        )
        delta = opt.prior_count * (
            aif_llm_slack_model.outcome_likelihood(new)
            - aif_llm_slack_model.outcome_likelihood(s.table)
        )
        pA = tuple(jnp.maximum(p + delta, 0.0) for p in s.agent.pA)
        return s._replace(agent=s.agent._replace(pA=pA), table=new)

    def _uncertainty(self, s: AifLlmState, obs: Obs) -> tuple[Window, jax.Array]:
        uc = self.config.uncertainty
        n_down = jnp.sum(1.0 - obs.up)
        node = jnp.clip(obs.last_node, 0, self.params.n_nodes - 1)
        up_all = jnp.concatenate([jnp.ones(1), obs.up, jnp.ones(1)])
        failed_up = (obs.last_node >= 0) & (obs.last_outcome == FAILED) & (up_all[node] > 0)
        n_fail = jnp.minimum(n_down + failed_up, uc.n_total)
        window = update_window(s.window, obs.rtt_ms, n_fail)
        l_ref = uc.reference_ms(self.params.deadline_ms)  # fixed, not the task's deadline
        return window, uncertainty_index(window, l_ref, uc.n_total, uc.alpha)

    def u_index(self, s: AifLlmState, obs: Obs) -> jax.Array:
        """U_t (AIF-LLM Eq. 6) of the decision about to be taken on ``obs`` (no state change)."""
        return self._uncertainty(s, obs)[1]

    def _lambda(self, u_t, meta_model):
        from .meta import meta_lambda

        if "semantic" in self.ablate:
            return jnp.float32(0.0)
        if "meta-lambda" in self.ablate:
            return jnp.float32(self.fixed_lambda)
        model = self.meta_model if meta_model is None else meta_model
        return meta_lambda(model, u_t, self.meta_cfg)

    def _prior(self, s: AifLlmState, obs: Obs):
        cls = obs.task.task_class
        new = ~s.seen[cls]
        prior = s.agent.prior
        if self.evidence is None:
            return prior, jnp.asarray(False)
        logit = jnp.where(prior > 0, jnp.log(jnp.where(prior > 0, prior, 1.0)), -jnp.inf)
        logit = logit + self.config.prior_alpha * self.evidence[obs.task.text_id]
        top = jax.ops.segment_max(logit, self.factor_ids, num_segments=len(self.model.num_states))
        e = jnp.exp(logit - top[self.factor_ids])
        z = jax.ops.segment_sum(e, self.factor_ids, num_segments=len(self.model.num_states))
        d_llm = jnp.where(self.prior_mask > 0, e / z[self.factor_ids], prior)
        return jnp.where(new, d_llm, prior), new

    def _semantic(self, pred, v_pref, advised):
        """Per-policy G_sem scores from ``pred`` (N, U), the core's one-step prediction."""
        from aifedge.llm_bridge.semantic import g_semantic

        n_pol = self.core.policies.shape[0]
        if self.sem_tables is None:
            return jnp.zeros(n_pol)
        marginals = [pred[sl].T for sl in self.sem_slices]
        g = g_semantic(marginals, self.sem_tables, v_pref)
        scores = jnp.repeat(g, n_pol // pred.shape[1])
        return jnp.where(advised, scores, 0.0)

    def step(self, key, s: AifLlmState, obs: Obs, v_pref, advised, meta_model=None):
        """One decision (module docstring) with advice ``v_pref`` (384,) in force when
        ``advised``. Returns ``(action, state, AifLlmInfo)``."""
        s = self._likelihood(self._observe_result(s, obs))
        tau = self.tail_probability(s)
        window, u_t = self._uncertainty(s, obs)
        lam = self._lambda(u_t, meta_model)
        prior, applied = self._prior(s, obs)
        seen_obs = aif_llm_slack_model.observation_indices(obs, self.params, self.options)
        qs = self.core.infer_states(prior, seen_obs, likelihoods(s.agent))
        agent = self.core.learn(s.agent, seen_obs, qs)
        pred = self.core.predict(qs)  # (N, U), shared by G_sem and the decision
        scores = self._semantic(pred, v_pref, advised)
        agent = with_semantic(agent._replace(prior=prior), scores, lam)
        action, agent, decision = self.core.decide(key, agent, qs, pred)
        latency, _ = aif_llm_slack_model.predicted_latency_ms(obs, self.params)
        s = s._replace(
            agent=agent,
            window=window,
            prev_deadline_ms=obs.task.deadline_ms,
            prev_pred_ms=latency[action[0]],
            seen=s.seen.at[obs.task.task_class].set(True),
            prior_updates=s.prior_updates + applied.astype(jnp.int32),
        )
        info = AifLlmInfo(
            u_t=u_t,
            lam=lam,
            tau=tau,
            prior_applied=applied,
            advised=jnp.asarray(advised),
            prior=prior,
            semantic=scores,
            decision=decision,
        )
        return action[0].astype(jnp.int32), s, info

    def template_step(self, key, s: AifLlmState, obs: Obs, meta_model=None):
        """``step`` with the ``template`` advisor (Algorithm 1 lines 5–8, delay 1 step)."""
        advice = jnp.where(s.pending >= 0, s.pending, s.advice)
        v_pref = self.advice_table[jnp.maximum(advice, 0)]
        action, s, info = self.step(key, s, obs, v_pref, advice >= 0, meta_model)
        trigger = advisor_trigger(info.u_t, self.config.uncertainty)
        if "semantic" in self.ablate:
            trigger = jnp.asarray(False)
        pending = jnp.where(trigger, template_index(obs, self.advice_index, self.params), -1)
        return action, s._replace(advice=advice, pending=pending), info

    @functools.cached_property
    def jitted(self) -> tuple:
        """``(step, u_index)`` jitted once per agent (``step`` without ``meta_model`` and
        returning ``(action, state)``), for host loops such as ``run_advised``."""
        return (jax.jit(lambda k, s, o, v, a: self.step(k, s, o, v, a)[:2]), jax.jit(self.u_index))

    def policy(self, meta_model=None) -> Policy:
        """``Policy(init, act)`` with the template advisor (``meta_model``: f_meta override)."""
        return agent_policy(
            self.init, lambda key, s, obs: self.template_step(key, s, obs, meta_model)
        )


def _flat_ids(model: GenerativeModel) -> np.ndarray:
    return np.repeat(np.arange(len(model.num_states)), model.num_states).astype(np.int32)


def build_agent(
    params: EnvParams,
    ablate=(),
    config: AifLlmConfig | None = None,
    *,
    keyword_prior: KeywordPrior | None = None,
    encoder: SentenceEncoder | None = None,
    meta_checkpoint: str | Path | None = None,
    meta: tuple[eqx.Module, MetaConfig] | None = None,
) -> AifLlmAgent:
    """Build the full agent for ``params`` (see the module docstring).

    ``keyword_prior``: a ``KeywordPrior`` (default ``default_keyword_prior(params)``);
    ``encoder``: a ``SentenceEncoder`` (default: on-disk cache in the default folder);
    ``meta_checkpoint``: path of an f_meta checkpoint (default ``META_FILE``);
    ``meta``: ``(model, MetaConfig)`` used instead of any checkpoint (meta-training).
    """
    from .meta import checkpoint_metadata, load_checkpoint

    ablate = check_ablate(ablate)
    config = AifLlmConfig() if config is None else config
    model = aif_llm_slack_model.build_slack_model(params, **dict(config.model_options))
    options = model.options
    core = make_agent(model, config.agent)
    _, fsl = segments(model.num_states)
    factor_ids = _flat_ids(model)

    evidence, prior_mask = None, np.zeros(sum(model.num_states), np.float32)
    if "prior" not in ablate:
        kp = default_keyword_prior(params) if keyword_prior is None else keyword_prior
        evidence = evidence_matrix(kp, model)
        for name in kp.associations:
            if name in model.factor_names:
                prior_mask[fsl[model.factor_index(name)]] = 1.0

    sem_slices, sem_tables = (), None
    texts, index = template_texts(params)
    table = np.zeros((len(texts), 384), np.float32)
    if "semantic" not in ablate:
        from aifedge.llm_bridge import SentenceEncoder, aif_llm_texts, build_tables

        encoder = SentenceEncoder() if encoder is None else encoder
        factors = aif_llm_texts(model)
        sem_tables = build_tables(encoder, factors)
        sem_slices = tuple(fsl[model.factor_index(f.name)] for f in factors)
        table = encoder.encode(list(texts))

    tau0 = aif_llm_model.violation_tail_prob(
        aif_llm_slack_model.default_tail(params, options), params
    )

    meta_path = META_FILE if meta_checkpoint is None else meta_checkpoint
    meta_model, meta_cfg = meta if meta is not None else load_checkpoint(meta_path)
    best_lam = None if meta is not None else checkpoint_metadata(meta_path).get("fixed_lambda")
    return AifLlmAgent(
        params=params,
        ablate=ablate,
        config=config,
        model=model,
        core=core,
        evidence=None if evidence is None else jnp.asarray(evidence),
        prior_mask=jnp.asarray(prior_mask),
        factor_ids=jnp.asarray(factor_ids),
        sem_slices=sem_slices,
        sem_tables=sem_tables,
        advice_texts=texts,
        advice_index=jnp.asarray(index),
        advice_table=jnp.asarray(table),
        table0=aif_llm_slack_model.prior_outcome_table(params, options),
        tau0=float(tau0),
        meta_model=meta_model,
        meta_cfg=meta_cfg,
        gpd_config=OnlineGPDConfig(capacity=config.evt_capacity),
        best_constant_lambda=None if best_lam is None else float(best_lam),
    )


def make_aif_llm_policy(params: EnvParams, ablate=(), advisor: str = "template", **opts) -> Policy:
    """The ``aif-llm`` ``Policy`` (jit/vmap-able) with the ``template`` advisor.

    ``ablate``: any subset of ``registry.ABLATIONS``; ``opts``: ``build_agent`` keywords
    (``config``, ``keyword_prior``, ``encoder``, ``meta_checkpoint``). The ``smollm`` and
    ``http`` advisors run asynchronously outside jit: use ``run_advised``.
    """
    if advisor != "template":
        if advisor not in ADVISORS:
            raise ConfigError(
                f"--advisor: unknown advisor {advisor!r}; choose from {', '.join(ADVISORS)}"
            )
        raise ConfigError(
            f"--advisor {advisor}: the batched policy supports the template "
            "advisor only; real LLM advisors run asynchronously through "
            "aifedge.inference.aif_llm_advised.run_advised"
        )
    if isinstance(params, aif_llm_paper.EnvParams):  # scenario paper: inference.aif_llm_paper_agent
        from .aif_llm_paper_agent import build_paper_agent, paper_ablation

        return build_paper_agent(params, **paper_ablation(check_ablate(ablate)), **opts).policy()
    return build_agent(params, ablate, **opts).policy()
