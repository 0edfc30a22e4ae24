"""The full ``aif-llm`` scheduler: Algorithm 1 of seed 000 with its ablations (Table 4).

One decision at step t (everything below is one pure, ``jit``/``vmap``-able function of the
policy state ``AifLlmState``, a NamedTuple)::

    EVT (§4.4.2)   the previous task's result (``Obs.last_*``): if it completed, its
                   normalised latency r = L / L_QoS enters the online GPD fit of the
                   excesses r − u over u (``evt_threshold``); every ``evt_every``
                   decisions the fit is refreshed (``inference.evt.online_refit``) and
                   C of every ``outcome:*`` modality becomes (0, −ρ, −κ_fail·ρ, 0) with
                   ρ = w_evt · exp(η τ̂),  τ̂ = p̂_u · S_GPD(1 − u; σ̂, ξ̂),  p̂_u = #{r > u} / #done
                   (τ̂ = P(L > L_QoS) from the fitted tail; before ``evt_min_excesses``
                   excesses, τ is the simulator's spike tail as in ``cloud_edge``).
    Eq. 6          U_t = α · L̄_net / L_QoS + β · N_fail / N_total over a sliding window of
                   the measured cloud RTT; N_fail = edges observed down, plus the node of
                   the previous task if that task failed on a node that is up (a cloud
                   timeout, an edge overflow), capped at N_total.
    line 2 (Eq. 3) if the task's class has not been seen yet (t = 0 included):
                   prior_f ← softmax(ln prior_f + α_D · Σ_k 1[k ∈ text] w_k a_k(s)) for the
                   factors the keyword table knows (class, net, load:*); Base = ln of the
                   agent's current prior, which is D at t = 0 and the B-propagated belief
                   later, so a new task type re-seeds the belief without discarding what
                   the agent tracks about loads and the WAN. Otherwise the prior is kept.
    lines 5–8      advice that arrived for this step is used; if U_t > δ the advisor is
                   called on o_t and its advice arrives ``delay_steps = 1`` step later
                   (``template``: the advice text is a function of o_t from a finite set,
                   pre-encoded into a (n_texts, 384) table, so the whole loop is jitted).
    line 10 (Eq. 7) λ_t = λ_min + (λ_max − λ_min) · σ(f_meta(U_t)) (shipped checkpoint).
    lines 11–16    Eq. 4 pruning and Eq. 5 EFE in ``inference.agent`` with
                   G_sem(π) = cos(E_{Q(s_t+1|π)}[v_state], v_pref) over the ``sent:*``
                   factors (``llm_bridge.semantic``), 0 while no advice has arrived.

Ablations (``ablate``, any subset; Table 4): ``"prior"`` — no D_LLM (D and the propagated
prior only); ``"semantic"`` — no G_sem and no advisor; ``"meta-lambda"`` — fixed
λ = (λ_min + λ_max)/2 of the checkpoint's range (the untrained meta-net's output; not tuned).
The EVT-penalised C with the fitted tail is part of every variant; the pure-AIF row of
Table 4 is the ``aif`` policy (``inference.policies``).

Real LLM advisors (``smollm``, ``http``) run asynchronously off the jitted path:
``run_advised`` drives ``llm_bridge.advisors.advised_episode`` with the same decision
function, the advice's v_pref coming from the advisor's worker.

Assumptions (the paper is silent): ``AifLlmConfig`` documents each value. The keyword
table ships as ``data/keyword_prior.json`` (regenerate: ``python -m
aifedge.inference.aif_llm_agent``); it is refitted (about 30 s, memoised) for
``EnvParams`` that differ from the defaults in anything but ``max_steps``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from aifedge.config import ConfigError
from aifedge.environments import Policy
from aifedge.environments.aif_llm import FAILED, EnvParams, Obs
from aifedge.environments.task_texts import TASK_TEXTS
from aifedge.generative_models import cloud_edge

from .agent import AgentConfig, AgentState, DecisionInfo, _segments, make_agent, with_semantic
from .evt import OnlineGPDConfig, OnlineGPDState, gpd_log_survival, online_init, online_push
from .evt import online_refit as _online_refit
from .uncertainty import (
    UncertaintyConfig,
    Window,
    advisor_trigger,
    init_window,
    uncertainty_index,
    update_window,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
PRIOR_FILE = DATA_DIR / "keyword_prior.json"
"""Keyword table of Eq. 3 for ``EnvParams()`` (``main`` regenerates it)."""
META_FILE = DATA_DIR / "meta_lambda.eqx"
"""Default f_meta checkpoint (Eq. 7), made by ``aifedge.inference.meta_train``."""

COMPONENTS: tuple[str, ...] = ("prior", "semantic", "meta-lambda")
"""Names accepted by ``ablate``."""

PRIOR_LOG_SEED = 7
"""Seed of the scheduling logs behind the shipped keyword table (distinct from the
reported seed 0 and the evaluation seeds 1000+)."""
PRIOR_LOG_EPISODES = 20


@dataclass(frozen=True)
class AifLlmConfig:
    """Settings of the full agent (this project's assumptions; the paper gives none).

    agent: decision core (K = 5 pruning as in §4.4.1, horizon 1, deterministic).
    prior_alpha: α of Eq. 3 (keyword evidence scale).
    uncertainty: Eq. 6 weights, window and Algorithm 1's trigger δ.
    evt_threshold: u, the POT threshold on the normalised latency L / L_QoS.
    evt_every: N, decisions between refits of the online GPD.
    evt_min_excesses: excesses needed before the fitted tail replaces the simulator's.
    evt_capacity: ring buffer of the online fit (excesses kept).
    advice_delay: decisions between an advisor trigger and its advice (template: 1).
    model_options: ``cloud_edge.ModelOptions`` overrides (as a tuple of pairs).
    """

    agent: AgentConfig = field(default_factory=AgentConfig)
    prior_alpha: float = 1.0
    uncertainty: UncertaintyConfig = field(default_factory=UncertaintyConfig)
    evt_threshold: float = 0.5
    evt_every: int = 10
    evt_min_excesses: int = 8
    evt_capacity: int = 256
    advice_delay: int = 1
    model_options: tuple = field(default_factory=tuple)

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
    window: Eq. 6 sliding window.  tail: online GPD fit of normalised latency excesses.
    n_done, n_excess: completed tasks seen and those with L / L_QoS > u.
    prev_deadline_ms: deadline of the task decided last (to normalise its latency).
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
    seen: jax.Array
    prior_updates: jax.Array
    advice: jax.Array
    pending: jax.Array


class AifLlmInfo(NamedTuple):
    """Diagnostics of one decision: U_t, λ_t, the EVT penalty ρ and tail probability τ,
    whether D_LLM was applied, whether advice was in force, the prior used (N,), the
    semantic scores (P,) and the decision core's ``DecisionInfo``."""

    u_t: jax.Array
    lam: jax.Array
    rho: jax.Array
    tau: jax.Array
    prior_applied: jax.Array
    advised: jax.Array
    prior: jax.Array
    semantic: jax.Array
    decision: DecisionInfo


def check_ablate(ablate: Iterable[str] | str | None) -> tuple[str, ...]:
    """Normalise ``ablate`` (a subset of ``COMPONENTS``; a comma-separated string is
    accepted); ``ConfigError`` naming the allowed values otherwise."""
    if ablate is None:
        return ()
    if isinstance(ablate, str):
        ablate = [a.strip() for a in ablate.split(",") if a.strip()]
    ablate = tuple(ablate)
    unknown = [a for a in ablate if a not in COMPONENTS]
    if unknown:
        raise ConfigError(
            f"--ablate: unknown component(s) {unknown}; choose any of "
            f"{', '.join(COMPONENTS)} (comma-separated)"
        )
    return tuple(c for c in COMPONENTS if c in ablate)


# ------------------------------------------------------------------ template advice table
def template_texts(params: EnvParams) -> tuple[tuple[str, ...], np.ndarray]:
    """Every text ``llm_bridge.advisors.template_advice`` can produce, and the index table.

    Returns ``(texts, index)``; ``index[node, congested, down_mask]`` is the row in
    ``texts`` of the advice recommending ``node`` (0 local, 1..E edge, E + 1 cloud) when
    the WAN looks congested (0/1) and the edges in bit mask ``down_mask`` are down
    (−1 where the template never says that). Texts come from ``template_advice`` itself.
    """
    from aifedge.llm_bridge.advisors import ObsSummary, template_advice

    n_edge, base = params.n_edge, float(params.cloud_rtt_ms)
    index = np.full((params.n_nodes, 2, 2**n_edge), -1, np.int32)
    rows: dict[str, int] = {}
    for mask in range(2**n_edge):
        up = tuple(not (mask >> j) & 1 for j in range(n_edge))
        for congested in (0, 1):
            choices = [j + 1 for j in range(n_edge) if up[j]] + [0 if congested else n_edge + 1]
            for node in choices:
                queue = tuple(0.0 if j == node - 1 else 1e9 for j in range(n_edge))
                summary = ObsSummary(queue, up, 2.0 * base if congested else base, base, "", 1000.0)
                text = template_advice(summary).text
                index[node, congested, mask] = rows.setdefault(text, len(rows))
    return tuple(rows), index


def template_index(obs: Obs, index: jax.Array, params: EnvParams) -> jax.Array:
    """Row of ``template_texts`` that ``template_advice(summarise(obs))`` returns (jit-able):
    the shortest up edge queue if it is under half the deadline, else the cloud when the
    RTT is under twice its normal value, else the local device."""
    n_edge = params.n_edge
    up = obs.up > 0
    queue = jnp.where(up, obs.queue_ms, jnp.inf)
    best = jnp.argmin(queue)
    congested = obs.rtt_ms >= 2.0 * params.cloud_rtt_ms
    to_edge = jnp.any(up) & (queue[best] < 0.5 * obs.task.deadline_ms)
    node = jnp.where(to_edge, best + 1, jnp.where(congested, 0, n_edge + 1))
    mask = jnp.sum(jnp.where(up, 0, 2 ** jnp.arange(n_edge)))
    return index[node, congested.astype(jnp.int32), mask]


# ------------------------------------------------------------------ keyword prior
def _prior_key(params: EnvParams) -> str:
    return repr(tuple(params._replace(max_steps=0)))


def fit_keyword_prior(
    params: EnvParams, seed: int = PRIOR_LOG_SEED, episodes: int = PRIOR_LOG_EPISODES
):
    """``KeywordPrior`` fitted on ``make_logs(params, episodes=…, seed=…)`` (heuristics)."""
    from aifedge.llm_bridge import KeywordPrior, make_logs

    return KeywordPrior.fit(make_logs(params, episodes=episodes, seed=seed))


@functools.lru_cache(maxsize=4)
def default_keyword_prior(params: EnvParams):
    """The keyword table for ``params``: the shipped ``PRIOR_FILE`` when it was made from
    the same parameters (``max_steps`` aside; its ``params_key`` field), else fitted now
    (memoised per process)."""
    from aifedge.llm_bridge import KeywordPrior

    if PRIOR_FILE.is_file() and json.loads(PRIOR_FILE.read_text()).get("params_key") == _prior_key(
        params
    ):
        return KeywordPrior.load(PRIOR_FILE)
    return fit_keyword_prior(params)


def _evidence_matrix(prior, model) -> np.ndarray:
    """(n_texts, N) Σ_k 1[k ∈ text] w_k a_k(s) of every task text over the flat factor
    layout (zeros for factors the table does not know)."""
    from aifedge.llm_bridge import evidence_table

    known = [f for f in model.factor_names if f in prior.associations]
    table = evidence_table(prior, TASK_TEXTS, known)
    _, fsl = _segments(model.num_states)
    out = np.zeros((len(TASK_TEXTS), sum(model.num_states)), np.float32)
    for name in known:
        out[:, fsl[model.factor_index(name)]] = table[name]
    return out


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
    ablate: tuple
    config: AifLlmConfig
    model: object
    core: object
    options: object
    evidence: jax.Array  # (n_texts, N) or None when the prior is ablated
    prior_mask: jax.Array  # (N,) 1 for the factors D_LLM touches
    factor_ids: jax.Array  # (N,) factor of each flat belief entry
    sem_slices: tuple  # slices of the sent:* factors in the flat belief
    sem_tables: object  # SemanticTables or None
    advice_texts: tuple
    advice_index: jax.Array
    advice_table: jax.Array  # (n_texts, 384)
    c_unit: jax.Array  # (M,) C for ρ = 1
    tau0: float
    meta_model: object
    meta_cfg: object
    gpd_config: OnlineGPDConfig

    @property
    def fixed_lambda(self) -> float:
        """λ used when ``meta-lambda`` is ablated: the middle of the checkpoint's range."""
        return 0.5 * (self.meta_cfg.lambda_min + self.meta_cfg.lambda_max)

    def init(self) -> AifLlmState:
        cfg = self.config
        n_cls = len(self.params.class_probs)
        rho = self.options.evt_weight * np.exp(self.options.evt_rate * self.tau0)
        agent = self.core.init(C=None, lam=0.0)
        agent = agent._replace(C=jnp.asarray(rho * self.c_unit, jnp.float32))
        return AifLlmState(
            agent=agent,
            window=init_window(cfg.uncertainty.window),
            tail=online_init(self.gpd_config, scale=0.5, concentration=0.1),
            n_done=jnp.int32(0),
            n_excess=jnp.int32(0),
            prev_deadline_ms=jnp.float32(1.0),
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
        ratio = obs.last_latency_ms / s.prev_deadline_ms
        excess = done & (ratio > cfg.evt_threshold)
        tail = online_push(
            s.tail, (ratio - cfg.evt_threshold)[None], excess[None], config=self.gpd_config
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

    def _uncertainty(self, s: AifLlmState, obs: Obs) -> tuple[Window, jax.Array]:
        uc = self.config.uncertainty
        n_down = jnp.sum(1.0 - obs.up)
        node = jnp.clip(obs.last_node, 0, self.params.n_nodes - 1)
        up_all = jnp.concatenate([jnp.ones(1), obs.up, jnp.ones(1)])
        failed_up = (obs.last_node >= 0) & (obs.last_outcome == FAILED) & (up_all[node] > 0)
        n_fail = jnp.minimum(n_down + failed_up, uc.n_total)
        window = update_window(s.window, obs.rtt_ms, n_fail)
        return window, uncertainty_index(window, obs.task.deadline_ms, uc.n_total, uc.alpha)

    def u_index(self, s: AifLlmState, obs: Obs) -> jax.Array:
        """U_t (Eq. 6) of the decision about to be taken on ``obs`` (no state change)."""
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
        opt = self.options
        s = self._observe_result(s, obs)
        tau = self.tail_probability(s)
        rho = opt.evt_weight * jnp.exp(opt.evt_rate * tau)
        window, u_t = self._uncertainty(s, obs)
        lam = self._lambda(u_t, meta_model)
        prior, applied = self._prior(s, obs)
        seen_obs = jnp.concatenate(
            [
                cloud_edge.observation_indices(obs, self.params, opt),
                cloud_edge.outcome_indices(obs, self.params),
            ]
        )
        qs = self.core.infer_states(prior, seen_obs)
        pred = self.core.predict(qs)  # (N, U), shared by G_sem and the decision
        scores = self._semantic(pred, v_pref, advised)
        agent = with_semantic(s.agent._replace(prior=prior, C=rho * self.c_unit), scores, lam)
        action, agent, decision = self.core.decide(key, agent, qs, pred)
        s = s._replace(
            agent=agent,
            window=window,
            prev_deadline_ms=obs.task.deadline_ms,
            seen=s.seen.at[obs.task.task_class].set(True),
            prior_updates=s.prior_updates + applied.astype(jnp.int32),
        )
        info = AifLlmInfo(
            u_t=u_t,
            lam=lam,
            rho=rho,
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

        def init(key, env_params):
            del key, env_params
            return self.init()

        def act(key, s, obs, env_params):
            del env_params  # the agent's model is built from the factory's params
            action, s, _ = self.template_step(key, s, obs, meta_model)
            return action, s

        return Policy(init=init, act=act)


def _flat_ids(model) -> np.ndarray:
    return np.repeat(np.arange(len(model.num_states)), model.num_states).astype(np.int32)


def build_agent(
    params: EnvParams,
    ablate=(),
    config: AifLlmConfig | None = None,
    *,
    keyword_prior=None,
    encoder=None,
    meta_checkpoint=None,
    meta=None,
) -> AifLlmAgent:
    """Build the full agent for ``params`` (see the module docstring).

    ``keyword_prior``: a ``KeywordPrior`` (default ``default_keyword_prior(params)``);
    ``encoder``: a ``SentenceEncoder`` (default: on-disk cache in the default folder);
    ``meta_checkpoint``: path of an f_meta checkpoint (default ``META_FILE``);
    ``meta``: ``(model, MetaConfig)`` used instead of any checkpoint (meta-training).
    """
    from .meta import load_checkpoint

    ablate = check_ablate(ablate)
    config = AifLlmConfig() if config is None else config
    opts = dict(config.model_options)
    model = cloud_edge.build_model(params, **opts)
    options = cloud_edge.make_options(params, **opts)
    core = make_agent(model, config.agent)
    _, fsl = _segments(model.num_states)
    _, msl = _segments(model.num_obs)
    factor_ids = _flat_ids(model)

    evidence, prior_mask = None, np.zeros(sum(model.num_states), np.float32)
    if "prior" not in ablate:
        kp = default_keyword_prior(params) if keyword_prior is None else keyword_prior
        evidence = _evidence_matrix(kp, model)
        for name in kp.associations:
            if name in model.factor_names:
                prior_mask[fsl[model.factor_index(name)]] = 1.0

    sem_slices, sem_tables = (), None
    texts, index = template_texts(params)
    table = np.zeros((len(texts), 384), np.float32)
    if "semantic" not in ablate:
        from aifedge.llm_bridge import SentenceEncoder, build_tables, cloud_edge_texts

        encoder = SentenceEncoder() if encoder is None else encoder
        factors = cloud_edge_texts(model)
        sem_tables = build_tables(encoder, factors)
        sem_slices = tuple(fsl[model.factor_index(f.name)] for f in factors)
        table = encoder.encode(list(texts))

    unit = cloud_edge.make_options(params, **{**opts, "evt_weight": 1.0, "evt_rate": 0.0})
    c_unit = np.zeros(sum(model.num_obs), np.float32)
    pref = cloud_edge.outcome_preferences(params, unit)
    for m, name in enumerate(model.modality_names):
        if name.startswith("outcome:"):
            c_unit[msl[m]] = pref
    tail = options.evt_tail or cloud_edge.EvtTail.from_params(params)
    tau0 = cloud_edge.violation_tail_prob(tail, params)

    meta_model, meta_cfg = (
        meta
        if meta is not None
        else load_checkpoint(META_FILE if meta_checkpoint is None else meta_checkpoint)
    )
    return AifLlmAgent(
        params=params,
        ablate=ablate,
        config=config,
        model=model,
        core=core,
        options=options,
        evidence=None if evidence is None else jnp.asarray(evidence),
        prior_mask=jnp.asarray(prior_mask),
        factor_ids=jnp.asarray(factor_ids),
        sem_slices=sem_slices,
        sem_tables=sem_tables,
        advice_texts=texts,
        advice_index=jnp.asarray(index),
        advice_table=jnp.asarray(table),
        c_unit=jnp.asarray(c_unit),
        tau0=float(tau0),
        meta_model=meta_model,
        meta_cfg=meta_cfg,
        gpd_config=OnlineGPDConfig(capacity=config.evt_capacity),
    )


def make_aif_llm_policy(params: EnvParams, ablate=(), advisor: str = "template", **opts) -> Policy:
    """The ``aif-llm`` ``Policy`` (jit/vmap-able) with the ``template`` advisor.

    ``ablate``: any subset of ``COMPONENTS``; ``opts``: ``build_agent`` keywords
    (``config``, ``keyword_prior``, ``encoder``, ``meta_checkpoint``). The ``smollm`` and
    ``http`` advisors run asynchronously outside jit: use ``run_advised``.
    """
    if advisor != "template":
        from aifedge.llm_bridge.advisors import ADVISORS

        if advisor not in ADVISORS:
            raise ConfigError(
                f"--advisor: unknown advisor {advisor!r}; choose from {', '.join(ADVISORS)}"
            )
        raise ConfigError(
            f"--advisor {advisor}: the batched policy supports the template "
            "advisor only; real LLM advisors run asynchronously through "
            "aifedge.inference.aif_llm_agent.run_advised"
        )
    return build_agent(params, ablate, **opts).policy()


# ------------------------------------------------------------------ real advisors
def run_advised(
    params: EnvParams,
    episodes: int,
    seed: int,
    advisor_name: str,
    ablate=(),
    advisor_options: dict | None = None,
    *,
    delay_steps: int | None = None,
    agent: AifLlmAgent | None = None,
    encoder=None,
):
    """Episodes of the full agent with a real asynchronous advisor (Algorithm 1 lines 5–8).

    Episode i uses key ``split(PRNGKey(seed), episodes)[i]`` through
    ``llm_bridge.advisors.advised_episode`` (which splits it as (reset, loop), not as
    ``simulate`` does, so episodes differ from ``simulate``'s with the same seed). The
    advisor ``advisor_name`` (``make_advisor(name, **advisor_options)``) runs in a
    background worker, triggered when U_t > δ; the decision loop never waits for it
    (``AsyncAdvisor``, measured-latency mode unless ``delay_steps`` is given; ``template``
    defaults to ``delay_steps = 1``, which reproduces the jitted policy exactly). Each
    episode gets a fresh worker, so no advice carries over; a call still in flight when an
    episode ends is dropped (it finishes in the background).

    ``agent``: a prebuilt ``AifLlmAgent`` (then ``ablate`` is the agent's own).
    Returns ``(frame, stats)``: per-episode metrics with ``simulate``'s columns and the
    advisor counters (``AsyncAdvisor.stats``) plus ``advised_fraction`` and
    ``mean_advisor_wait_s``.
    """
    import pandas as pd

    from aifedge.environments.metrics import METRIC_NAMES, episode_metrics
    from aifedge.llm_bridge import AsyncAdvisor, SentenceEncoder, advised_episode, make_advisor

    if episodes < 1:
        raise ConfigError(f"episodes: must be ≥ 1 (got {episodes})")
    advisor = make_advisor(advisor_name, **(advisor_options or {}))
    if agent is None:
        agent = build_agent(params, ablate, encoder=encoder)
    if "semantic" in agent.ablate:
        raise ConfigError(
            f"--advisor {advisor_name}: with the semantic term ablated no advice "
            "is used; drop --ablate semantic or run the batched policy"
        )
    if delay_steps is None and advisor_name == "template":
        delay_steps = 1
    encoder = SentenceEncoder() if encoder is None else encoder
    advisor.load()
    threshold = agent.config.uncertainty.trigger
    step, u_index = agent.jitted
    zero = np.zeros(384, np.float32)
    rows, waits, advised = [], [], []
    per_episode = []
    for key in jax.random.split(jax.random.PRNGKey(seed), episodes):
        cell = {"state": agent.init()}

        def uncertainty(obs, env_params, cell=cell):
            del env_params
            return u_index(cell["state"], obs)

        def act(k, obs, guidance, cell=cell):
            has = guidance.v_pref is not None
            action, cell["state"] = step(
                k, cell["state"], obs, guidance.v_pref if has else zero, has
            )
            return action

        # a fresh worker per episode: no advice carries over between independent episodes
        with AsyncAdvisor(
            advisor, threshold, params.step_ms / 1000.0, encoder=encoder, delay_steps=delay_steps
        ) as runner:
            rec = advised_episode(key, params, act, runner, uncertainty)
            per_episode.append(runner.stats())
        m = episode_metrics(rec["outcome"], rec["latency_ms"])
        rows.append({k: float(m[k]) for k in METRIC_NAMES})
        waits.append(rec["advisor_wait_s"].mean())
        advised.append(rec["advised"].mean())
    stats = merge_advisor_stats(per_episode)
    stats.update(
        advised_fraction=float(np.mean(advised)),
        mean_advisor_wait_s=float(np.mean(waits)),
        ablate=list(agent.ablate),
    )
    frame = pd.DataFrame(
        {
            "policy": "aif-llm",
            "episode": np.arange(episodes),
            **{k: [r[k] for r in rows] for k in METRIC_NAMES},
        }
    )
    return frame, stats


def merge_advisor_stats(stats: list[dict]) -> dict:
    """Combine per-episode ``AsyncAdvisor.stats()``: counters summed, mean latency and
    delay weighted by the calls that came back, max latency the max."""
    from aifedge.llm_bridge.advisors import COUNTERS

    out = {**stats[0], **{c: sum(s[c] for s in stats) for c in COUNTERS}}
    back = [(s["successes"] + s["failures"] + s["timeouts"], s) for s in stats]
    n = sum(b for b, _ in back)
    for name in ("mean_latency_s", "mean_delay_steps"):
        out[name] = (sum(b * s[name] for b, s in back if b) / n) if n else None
    lat = [s["max_latency_s"] for s in stats if s["max_latency_s"] is not None]
    out["max_latency_s"] = max(lat) if lat else None
    return out


def describe(agent: AifLlmAgent) -> dict:
    """JSON-able summary of an agent's settings (for result provenance)."""
    cfg = dataclasses.asdict(agent.config)
    cfg["agent"] = agent.config.agent._asdict()
    return {
        "ablate": list(agent.ablate),
        "config": cfg,
        "lambda_range": [agent.meta_cfg.lambda_min, agent.meta_cfg.lambda_max],
        "fixed_lambda": agent.fixed_lambda if "meta-lambda" in agent.ablate else None,
        "advice_texts": len(agent.advice_texts),
        "tau0": agent.tau0,
    }


def main() -> None:
    """Regenerate ``PRIOR_FILE`` (and its parameter key) for ``EnvParams()``."""
    from aifedge.results import write_text_atomic

    params = EnvParams()
    prior = fit_keyword_prior(params)
    data = {
        **prior.to_dict(),
        "params_key": _prior_key(params),
        "log_seed": PRIOR_LOG_SEED,
        "log_episodes": PRIOR_LOG_EPISODES,
    }
    print(write_text_atomic(PRIOR_FILE, json.dumps(data, sort_keys=True) + "\n"))


if __name__ == "__main__":
    main()
