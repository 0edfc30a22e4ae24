"""Multi-agent learners for ``ucb-coma`` (UCB-COMA §4.2, §5.2): UCB-COMA and its baselines.

One agent per task L_i; every learner acts through the same env and the same episode
loop (``train`` / ``evaluate``) with the same number of episodes, so budgets are equal.

==========  ===============================================================================
ucb-coma    COMA (Foerster et al. 2018) with a centralised Q(S, A) critic, a target critic
            refreshed every 10 updates, replay, one update every 32 env steps (Alg. 1), and
            the UCB action selection of Eqs. (2)–(3): argmax_a ln ω(a|s_i) +
            ε √(2 ln N_i / (n_i(a) + 1)), ε decaying linearly to 0 over training.
coma        the same learner, actions sampled from ω (no UCB term).
ucb-coma-softmax  not the paper's method, a named variant: actions *sampled* from
            softmax(g) with g the Eqs. (2)–(3) score, instead of argmax g; as ε → 0 it
            becomes COMA's sampling, so a near-deterministic wrong choice is not absorbing.
mappo       on-policy PPO per agent with a centralised V(S), GAE, clipped ratio; one
            update per rollout of ``rollout_episodes`` episodes.
maddpg      per-agent actors and centralised Q_i(S, A) critics, Gumbel-softmax (straight-
            through) for the discrete actions, soft target updates.
cs-ucb      PerLLM's constraint-satisfaction UCB: filter the actions that satisfy every
            constraint, play the feasible arm with the highest UCB1 value (no network).
random      uniform over the action space: every location of every pending sub-task.
==========  ===============================================================================

Reference policies (not in the paper; rows that show the headroom of every table):

=============  ============================================================================
ready-cloud    the first pending sub-task whose predecessors are all scheduled, on the
               cloud (feasible by construction; the best policy found, the "ceiling").
masked-random  uniform over the fully feasible actions (``valid_action_mask``).
=============  ============================================================================

Action space (§4.1.2): the sub-task is chosen among the sub-tasks awaiting scheduling
("待调度子任务"): every actor's sub-task head is masked with P_i (``marl_nets``), Random
draws from ``pending_action_mask``, and the COMA baseline, UCB scores and Gumbel samples
therefore give a scheduled sub-task probability 0. Constraint violations inside that space
(precedence η1, modality η2) are penalised by the env, never masked, except by CS-UCB and
the reference policies whose definition is a feasibility filter.

COMA quantities (§4.2): critic loss L = E[(y − Q(S, A))²], y = r + ψ Q'(S', A');
counterfactual baseline B_i(S, A^{-i}) = Σ_{a'} ω(a'|s_i) Q(S, (a', A^{-i}));
advantage 𝒜_i(S, A) = Q(S, A) − B_i; ∇J_i = E[∇ ln ω(a_i|s_i) 𝒜_i(S, A)].
The critic takes (S, A^{-i}, one-hot i) and returns Q for all 16 actions of agent i.

Hyper-parameters the paper states: lr 1e-3 and ψ = 0.95 (Table 2), target every 10
updates (Alg. 1), 700 episodes (Fig. 4), GCN 2 × 64 → 16. The rest (batch 64, buffer 5000,
MLP widths, ε0 = 1, entropy 0.01, PPO and MADDPG constants, UCB c = 1) are this project's
assumptions, the same for every learner where they apply. Deviations, found in
development (before the action-space fix of issue #18) and applied to COMA, UCB-COMA and
MADDPG alike: Alg. 1 updates every 32 env steps, ≈ 260 updates in 700 episodes on this env
(≤ 12 steps per episode), so they update every 4 steps; the COMA actors use lr 1e-4
(critic 1e-3). The COMA actor loss standardises the advantage 𝒜_i over the sampled batch
(active agents only, ``standardise``): with raw advantages (|𝒜| ≈ 10 at θ = 2) and entropy
0.01 the policies reached zero entropy within ≈ 240 episodes and the sampled COMA gradient
vanished; standardising fixes the gradient's scale, and ``ComaConfig.standardise = False``
restores the raw form for ablation. Scale-only normalisation (no mean subtraction) was also
tried, one 700-episode run each at W = 6 MHz: COMA seed 0 completed 80 % of tasks (100 %
centred), UCB-COMA seeds 0 / 1 / 2 80 / 60 / 100 % (seed 0: 60 % centred); the centred form
was kept, as the issue's diagnosis had tested it.
MAPPO standardises its GAE advantages over the whole rollout (``rollout_episodes`` ×
``max_steps`` steps), not one 12-step episode.

Public API: ``LEARNERS`` (name -> ``Learner``), ``make_config(name, **overrides)``,
``train(key, name, params, cfg, n_episodes) -> (state, EpisodeStats (E,))`` and
``evaluate(key, name, state, params, cfg, n_episodes) -> EpisodeStats (E,)``.
"""

from dataclasses import dataclass, fields, replace
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from aifedge.config import ConfigError, check_fields
from aifedge.environments import ucb_coma as env
from aifedge.inference import ucb_coma_agent
from aifedge.protocols import Learner

from . import marl_nets as nets

A = env.N_ACTIONS


# --------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class ComaConfig:
    """COMA / UCB-COMA. ``ucb_eps`` = ε0 of Eqs. (2)–(3); 0 gives plain COMA (sampling)."""

    ucb_eps: float = 1.0  # assumption (the paper: "decays linearly", no start value)
    lr: float = 1e-3  # critic learning rate, Table 2
    actor_lr: float = 1e-4  # assumption (module docstring)
    psi: float = 0.95  # ψ, Table 2
    batch_size: int = 64  # B, assumption
    buffer_size: int = 5000  # |D|, assumption
    update_every: int = 4  # Alg. 1 line 8 says 32: see the module docstring
    target_every: int = 10  # Alg. 1 line 12
    gcn_hidden: int = 64  # §4.1.1
    embed: int = 16  # §4.1.1
    hidden: int = 64  # actor MLP width, assumption
    critic_hidden: int = 128  # assumption
    grad_clip: float = 10.0  # assumption
    entropy: float = 0.01  # policy-entropy bonus, assumption (as MAPPO's)
    standardise: bool = True  # per-batch advantage standardisation (module docstring)
    ucb_sample: bool = False  # sample from softmax(g) (variant ucb-coma-softmax), not argmax g


@dataclass(frozen=True)
class MappoConfig:
    lr: float = 1e-3  # same lr as UCB-COMA
    psi: float = 0.95
    gae_lambda: float = 0.95  # assumption (MAPPO default)
    clip: float = 0.2  # assumption (MAPPO default)
    epochs: int = 4  # assumption
    entropy: float = 0.01  # assumption
    rollout_episodes: int = 8  # episodes per update, advantages standardised over all, assumption
    gcn_hidden: int = 64
    embed: int = 16
    hidden: int = 64
    critic_hidden: int = 128
    grad_clip: float = 10.0


@dataclass(frozen=True)
class MaddpgConfig:
    lr: float = 1e-3
    psi: float = 0.95
    batch_size: int = 64
    buffer_size: int = 5000
    update_every: int = 4  # same schedule as (UCB-)COMA
    tau: float = 0.01  # soft target update, assumption (MADDPG default)
    gumbel_temp: float = 1.0  # assumption
    gcn_hidden: int = 64
    embed: int = 16
    hidden: int = 64
    critic_hidden: int = 128
    grad_clip: float = 10.0


@dataclass(frozen=True)
class CsUcbConfig:
    c: float = 1.0  # UCB1 exploration weight, assumption


@dataclass(frozen=True)
class RandomConfig:
    pass


# --------------------------------------------------------------------------- shared pieces
class Transition(NamedTuple):
    obs: env.Obs
    actions: jax.Array  # (I,)
    rewards: jax.Array  # (I,) r_i of §4.1.2
    next_obs: env.Obs
    done: jax.Array  # episode ended with this step
    valid: jax.Array  # the step happened before the episode ended


class Buffer(NamedTuple):
    """Ring replay buffer 𝒟 of ``Transition`` (leading capacity axis)."""

    data: Transition
    ptr: jax.Array
    size: jax.Array


def _buffer_init(params: env.EnvParams, capacity: int) -> Buffer:
    def example(key: jax.Array) -> Transition:
        obs = env.reset(key, params)[0]
        n, false = params.n_tasks, jnp.bool_(False)
        return Transition(obs, jnp.zeros(n, jnp.int32), jnp.zeros(n), obs, false, false)

    tr = jax.eval_shape(example, jax.random.PRNGKey(0))
    data = jax.tree.map(lambda x: jnp.zeros((capacity, *x.shape), x.dtype), tr)
    return Buffer(data, jnp.int32(0), jnp.int32(0))


def _buffer_add(buf: Buffer, tr: Transition) -> Buffer:
    """Write a valid step at ``ptr`` and advance; an invalid step (after the episode ended)
    writes nothing, so every slot below ``size`` (all of them once full) is a real step."""
    data = jax.tree.map(
        lambda d, x: d.at[buf.ptr].set(jnp.where(tr.valid, x, d[buf.ptr])), buf.data, tr
    )
    cap = buf.data.done.shape[0]
    adv = tr.valid.astype(jnp.int32)
    return Buffer(data, (buf.ptr + adv) % cap, jnp.minimum(buf.size + adv, cap))


def _buffer_sample(key: jax.Array, buf: Buffer, n: int) -> Transition:
    """``n`` slots uniformly (with replacement) among the ``size`` filled ones."""
    idx = jax.random.randint(key, (n,), 0, jnp.maximum(buf.size, 1))
    return jax.tree.map(lambda d: d[idx], buf.data)


def _adam(cfg, lr: float | None = None) -> optax.GradientTransformation:
    return optax.chain(
        optax.clip_by_global_norm(cfg.grad_clip), optax.adam(cfg.lr if lr is None else lr)
    )


def _no_end(key, state, params, cfg):
    return state


def _onehot_actions(actions: jax.Array) -> jax.Array:
    return jax.nn.one_hot(actions, A)


def standardise(x: jax.Array, mask: jax.Array) -> jax.Array:
    """(x − mean) / std over every entry where ``mask`` (the whole batch), 0 elsewhere."""
    m = mask.astype(jnp.float32)
    n = jnp.maximum(m.sum(), 1.0)
    mean = (x * m).sum() / n
    std = jnp.sqrt((((x - mean) * m) ** 2).sum() / n)
    return jnp.where(mask, (x - mean) / (std + 1e-8), 0.0)


def _active(obs: env.Obs) -> jax.Array:
    """(..., I) bool: the agent's task still has a sub-task awaiting scheduling."""
    return jnp.any(obs.progress < 0.5, -1)


# --------------------------------------------------------------------------- (UCB-)COMA
class ComaState(NamedTuple):
    actor: Any
    critic: Any
    target: Any
    opt_actor: Any
    opt_critic: Any
    buffer: Buffer
    counts: jax.Array  # (I, 16) n_i(a_sub, a_loc), Eqs. (2)-(3)
    tries: jax.Array  # (I,) N_i
    step: jax.Array
    n_updates: jax.Array
    episode: jax.Array
    n_episodes: jax.Array


def _coma_critic_inputs(gs: jax.Array, actions: jax.Array) -> jax.Array:
    """(D,), (I,) -> (I, D + 16 I + I): S, A^{-i} one-hot (own row zeroed), one-hot i."""
    n = actions.shape[0]
    oh = _onehot_actions(actions)
    others = jnp.broadcast_to(oh, (n, n, A)) * (1.0 - jnp.eye(n))[:, :, None]
    return jnp.concatenate(
        [jnp.broadcast_to(gs, (n, gs.shape[0])), others.reshape(n, -1), jnp.eye(n)], -1
    )


def _coma_q(critic, obs: env.Obs, actions: jax.Array) -> jax.Array:
    """Q(S, (·, A^{-i})) for every agent: (I, 16)."""
    x = _coma_critic_inputs(nets.global_state(obs), actions)
    return nets.mlp_apply(critic, x)


def coma_init(key, params, cfg: ComaConfig, n_episodes: int) -> ComaState:
    n = params.n_tasks
    k_a, k_c = jax.random.split(key)
    actor = nets.actors_init(k_a, n, cfg.gcn_hidden, cfg.embed, cfg.hidden)
    d_in = nets.global_state_dim(n) + n * A + n
    critic = nets.mlp_init(k_c, (d_in, cfg.critic_hidden, cfg.critic_hidden, A))
    opt = _adam(cfg)
    return ComaState(
        actor,
        critic,
        critic,
        _adam(cfg, cfg.actor_lr).init(actor),
        opt.init(critic),
        _buffer_init(params, cfg.buffer_size),
        jnp.zeros((n, A)),
        jnp.zeros(n),
        jnp.int32(0),
        jnp.int32(0),
        jnp.int32(0),
        jnp.int32(n_episodes),
    )


def ucb_scores(logp: jax.Array, counts: jax.Array, tries: jax.Array, eps) -> jax.Array:
    """Eqs. (2)–(3) on the joint action: ln ω(a|s_i) + ε √(2 ln N_i / (n_i(a) + 1))."""
    bonus = jnp.sqrt(2.0 * jnp.log(jnp.maximum(tries, 1.0))[:, None] / (counts + 1.0))
    return logp + eps * bonus


def ucb_epsilon(state: ComaState, cfg: ComaConfig) -> jax.Array:
    """ε decays linearly from ε0 to 0 over the training episodes (§4.2)."""
    frac = state.episode / jnp.maximum(state.n_episodes, 1)
    return cfg.ucb_eps * jnp.maximum(0.0, 1.0 - frac)


def coma_act(key, state: ComaState, obs, params, cfg: ComaConfig, explore: bool):
    logp = nets.actors_logp(state.actor, obs)
    if not explore:
        return jnp.argmax(logp, -1)
    if cfg.ucb_eps > 0:
        g = ucb_scores(logp, state.counts, state.tries, ucb_epsilon(state, cfg))
        return jax.random.categorical(key, g) if cfg.ucb_sample else jnp.argmax(g, -1)
    return jax.random.categorical(key, logp)


def coma_advantage(logp: jax.Array, q: jax.Array, actions: jax.Array) -> jax.Array:
    """𝒜_i(S, A) = Q(S, A) − Σ_{a'} ω(a'|s_i) Q(S, (a', A^{-i})) (§4.2).

    logp, q (..., I, 16): ln ω and Q(S, (·, A^{-i})); actions (..., I) -> (..., I).
    """
    baseline = jnp.sum(jnp.exp(logp) * q, -1)  # B_i(S, A^{-i})
    return jnp.take_along_axis(q, actions[..., None], -1)[..., 0] - baseline


def _coma_update(key, s: ComaState, cfg: ComaConfig) -> ComaState:
    k_b, k_next = jax.random.split(key)
    batch = _buffer_sample(k_b, s.buffer, cfg.batch_size)
    team_r = batch.rewards.sum(-1)  # r: the agents' summed immediate reward (§4.2)
    next_logp = jax.vmap(nets.actors_logp, (None, 0))(s.actor, batch.next_obs)
    next_a = jax.random.categorical(k_next, next_logp)  # A' ~ ω(·|S')
    q_next = jax.vmap(_coma_q, (None, 0, 0))(s.target, batch.next_obs, next_a)
    q_next = jnp.take_along_axis(q_next, next_a[..., None], -1)[..., 0]  # (B, I)
    y = team_r[:, None] + cfg.psi * (1.0 - batch.done[:, None]) * q_next

    def critic_loss(c):
        q = jax.vmap(_coma_q, (None, 0, 0))(c, batch.obs, batch.actions)
        q_a = jnp.take_along_axis(q, batch.actions[..., None], -1)[..., 0]
        return jnp.mean((jax.lax.stop_gradient(y) - q_a) ** 2), q

    (_, q_all), g = jax.value_and_grad(critic_loss, has_aux=True)(s.critic)
    upd, opt_c = _adam(cfg).update(g, s.opt_critic, s.critic)
    critic = optax.apply_updates(s.critic, upd)

    active = _active(batch.obs)  # (B, I): idle agents' actions change nothing

    def actor_loss(actor):
        logp = jax.vmap(nets.actors_logp, (None, 0))(actor, batch.obs)  # (B, I, 16)
        adv = jax.lax.stop_gradient(coma_advantage(logp, q_all, batch.actions))
        if cfg.standardise:
            adv = standardise(adv, active)
        logp_a = jnp.take_along_axis(logp, batch.actions[..., None], -1)[..., 0]
        ent = -jnp.sum(jnp.exp(logp) * logp, -1)
        per = (logp_a * adv + cfg.entropy * ent) * active
        return -per.sum() / jnp.maximum(active.sum(), 1.0)

    g = jax.grad(actor_loss)(s.actor)
    upd, opt_a = _adam(cfg, cfg.actor_lr).update(g, s.opt_actor, s.actor)
    actor = optax.apply_updates(s.actor, upd)
    n_up = s.n_updates + 1
    target = jax.tree.map(
        lambda t, c: jnp.where(n_up % cfg.target_every == 0, c, t), s.target, critic
    )
    return s._replace(
        actor=actor, critic=critic, target=target, opt_actor=opt_a, opt_critic=opt_c, n_updates=n_up
    )


def coma_observe(key, s: ComaState, tr: Transition, params, cfg: ComaConfig) -> ComaState:
    v = tr.valid.astype(jnp.float32)
    s = s._replace(
        buffer=_buffer_add(s.buffer, tr),
        counts=s.counts + v * _onehot_actions(tr.actions),
        tries=s.tries + v,
        step=s.step + tr.valid.astype(jnp.int32),
    )
    due = tr.valid & (s.step % cfg.update_every == 0) & (s.buffer.size >= cfg.batch_size)
    return jax.lax.cond(due, lambda st: _coma_update(key, st, cfg), lambda st: st, s)


def coma_end(key, s: ComaState, params, cfg) -> ComaState:
    return s._replace(episode=s.episode + 1)


# --------------------------------------------------------------------------- MAPPO
class MappoState(NamedTuple):
    actor: Any
    critic: Any
    opt_actor: Any
    opt_critic: Any
    traj: Transition  # the rollout's steps, leading axes (rollout_episodes, max_steps)
    t: jax.Array  # step within the episode
    ep: jax.Array  # episode within the rollout


def mappo_init(key, params, cfg: MappoConfig, n_episodes: int) -> MappoState:
    n = params.n_tasks
    k_a, k_c = jax.random.split(key)
    actor = nets.actors_init(k_a, n, cfg.gcn_hidden, cfg.embed, cfg.hidden)
    critic = nets.mlp_init(k_c, (nets.global_state_dim(n), cfg.critic_hidden, cfg.critic_hidden, 1))
    opt = _adam(cfg)
    one = _buffer_init(params, params.max_steps).data
    traj = jax.tree.map(lambda x: jnp.stack([x] * cfg.rollout_episodes), one)
    return MappoState(
        actor, critic, opt.init(actor), opt.init(critic), traj, jnp.int32(0), jnp.int32(0)
    )


def mappo_act(key, s, obs, params, cfg, explore: bool):
    """Sample from ω while exploring, its mode otherwise (MAPPO and MADDPG alike)."""
    logp = nets.actors_logp(s.actor, obs)
    return jax.random.categorical(key, logp) if explore else jnp.argmax(logp, -1)


def mappo_observe(key, s: MappoState, tr: Transition, params, cfg) -> MappoState:
    traj = jax.tree.map(lambda d, x: d.at[s.ep, s.t].set(x), s.traj, tr)
    return s._replace(traj=traj, t=s.t + 1)


def _gae(rewards, values, next_values, dones, valid, psi, lam):
    """Generalised advantage estimation over one episode (reverse scan)."""
    deltas = rewards + psi * next_values * (1.0 - dones) - values

    def back(carry, x):
        delta, d, v = x
        adv = jnp.where(v, delta + psi * lam * (1.0 - d) * carry, 0.0)
        return adv, adv

    _, adv = jax.lax.scan(back, 0.0, (deltas, dones, valid), reverse=True)
    return adv


def _mappo_value(critic, obs: env.Obs) -> jax.Array:
    """Centralised V(S) of one (unbatched) observation."""
    return nets.mlp_apply(critic, nets.global_state(obs))[0]


def mappo_advantages(critic, tr: Transition, cfg: MappoConfig):
    """GAE per episode, standardised over the whole rollout; (E, T) advantages and returns.

    ``tr`` has leading axes (episodes E, steps T). The standardisation pools every valid
    step of every episode (PPO's batch normalisation), so an episode's advantages keep
    their sign and scale relative to the other episodes of the rollout.
    """
    value = jax.vmap(jax.vmap(_mappo_value, (None, 0)), (None, 0))
    v, v_next = value(critic, tr.obs), value(critic, tr.next_obs)
    gae = jax.vmap(_gae, (0, 0, 0, 0, 0, None, None))
    adv = gae(
        tr.rewards.sum(-1),
        v,
        v_next,
        tr.done.astype(jnp.float32),
        tr.valid,
        cfg.psi,
        cfg.gae_lambda,
    )
    return standardise(adv, tr.valid), adv + v


def _mappo_update(s: MappoState, cfg: MappoConfig) -> MappoState:
    tr = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), s.traj)  # (E·T, ...)
    adv_n, ret = (x.reshape(-1) for x in mappo_advantages(s.critic, s.traj, cfg))
    vf = tr.valid.astype(jnp.float32)
    n_valid = jnp.maximum(vf.sum(), 1.0)
    value = jax.vmap(_mappo_value, (None, 0))
    old_logp = jax.vmap(nets.actors_logp, (None, 0))(s.actor, tr.obs)
    old_a = jnp.take_along_axis(old_logp, tr.actions[..., None], -1)[..., 0]  # (E·T, I)

    def actor_loss(actor):
        logp = jax.vmap(nets.actors_logp, (None, 0))(actor, tr.obs)
        logp_a = jnp.take_along_axis(logp, tr.actions[..., None], -1)[..., 0]
        ratio = jnp.exp(logp_a - old_a)
        a = adv_n[:, None]
        surr = jnp.minimum(ratio * a, jnp.clip(ratio, 1 - cfg.clip, 1 + cfg.clip) * a)
        ent = -jnp.sum(jnp.exp(logp) * logp, -1)
        per_step = (surr + cfg.entropy * ent).mean(-1)
        return -(per_step * vf).sum() / n_valid

    def critic_loss(c):
        pred = value(c, tr.obs)
        return (((pred - ret) ** 2) * vf).sum() / n_valid

    opt = _adam(cfg)

    def epoch(st, _):
        actor, critic, oa, oc = st
        g = jax.grad(actor_loss)(actor)
        upd, oa = opt.update(g, oa, actor)
        actor = optax.apply_updates(actor, upd)
        g = jax.grad(critic_loss)(critic)
        upd, oc = opt.update(g, oc, critic)
        return (actor, optax.apply_updates(critic, upd), oa, oc), None

    (actor, critic, oa, oc), _ = jax.lax.scan(
        epoch, (s.actor, s.critic, s.opt_actor, s.opt_critic), None, length=cfg.epochs
    )
    return s._replace(actor=actor, critic=critic, opt_actor=oa, opt_critic=oc)


def mappo_end(key, s: MappoState, params, cfg: MappoConfig) -> MappoState:
    """Close the episode; after ``rollout_episodes`` of them, one PPO update on all."""
    s = s._replace(t=jnp.int32(0), ep=s.ep + 1)
    full = s.ep == cfg.rollout_episodes
    s = jax.lax.cond(full, lambda st: _mappo_update(st, cfg), lambda st: st, s)
    return s._replace(ep=jnp.where(full, 0, s.ep))


# --------------------------------------------------------------------------- MADDPG
class MaddpgState(NamedTuple):
    actor: Any
    critic: Any  # per-agent critics, leading agent axis
    target_actor: Any
    target_critic: Any
    opt_actor: Any
    opt_critic: Any
    buffer: Buffer
    step: jax.Array


def maddpg_init(key, params, cfg: MaddpgConfig, n_episodes: int) -> MaddpgState:
    n = params.n_tasks
    k_a, k_c = jax.random.split(key)
    actor = nets.actors_init(k_a, n, cfg.gcn_hidden, cfg.embed, cfg.hidden)
    d_in = nets.global_state_dim(n) + n * A
    critic = jax.vmap(lambda k: nets.mlp_init(k, (d_in, cfg.critic_hidden, cfg.critic_hidden, 1)))(
        jax.random.split(k_c, n)
    )
    opt = _adam(cfg)
    return MaddpgState(
        actor,
        critic,
        actor,
        critic,
        opt.init(actor),
        opt.init(critic),
        _buffer_init(params, cfg.buffer_size),
        jnp.int32(0),
    )


maddpg_act = mappo_act


def _maddpg_q(critics, obs: env.Obs, joint: jax.Array) -> jax.Array:
    """Q_i(S, A) for every agent i: joint (I, 16) (one-hot or relaxed) -> (I,)."""
    x = jnp.concatenate([nets.global_state(obs), joint.reshape(-1)])
    return jax.vmap(lambda c: nets.mlp_apply(c, x)[0])(critics)


def _gumbel_hard(key, logp, temp):
    """Straight-through Gumbel-softmax: one-hot forward, soft gradient."""
    y = jax.nn.softmax((logp + jax.random.gumbel(key, logp.shape)) / temp)
    hard = jax.nn.one_hot(jnp.argmax(y, -1), y.shape[-1])
    return y + jax.lax.stop_gradient(hard - y)


def _maddpg_update(key, s: MaddpgState, cfg: MaddpgConfig) -> MaddpgState:
    k_b, k_t, k_a = jax.random.split(key, 3)
    batch = _buffer_sample(k_b, s.buffer, cfg.batch_size)
    bsz = cfg.batch_size
    next_logp = jax.vmap(nets.actors_logp, (None, 0))(s.target_actor, batch.next_obs)
    next_joint = _gumbel_hard(k_t, next_logp, cfg.gumbel_temp)
    q_next = jax.vmap(_maddpg_q, (None, 0, 0))(s.target_critic, batch.next_obs, next_joint)
    y = batch.rewards + cfg.psi * (1.0 - batch.done[:, None]) * q_next  # per-agent r_i
    joint = _onehot_actions(batch.actions)

    def critic_loss(c):
        q = jax.vmap(_maddpg_q, (None, 0, 0))(c, batch.obs, joint)
        return jnp.mean((jax.lax.stop_gradient(y) - q) ** 2)

    g = jax.grad(critic_loss)(s.critic)
    upd, opt_c = _adam(cfg).update(g, s.opt_critic, s.critic)
    critic = optax.apply_updates(s.critic, upd)
    n = batch.actions.shape[1]

    def actor_loss(actor):
        logp = jax.vmap(nets.actors_logp, (None, 0))(actor, batch.obs)  # (B, I, 16)
        soft = _gumbel_hard(k_a, logp, cfg.gumbel_temp)
        # agent i's own action relaxed, the others' from the buffer
        eye = jnp.eye(n)[None, :, :, None]
        mixed = eye * soft[:, None] + (1 - eye) * joint[:, None]  # (B, i, I, 16)
        q = jax.vmap(jax.vmap(_maddpg_q, (None, None, 0)), (None, 0, 0))(
            critic, batch.obs, mixed
        )  # (B, i, I)
        own = jnp.diagonal(q, axis1=1, axis2=2)
        # small logit regulariser over the action space only: a masked log-probability
        # (≈ MASKED = −1e9) squared would swamp the Q gradient after clipping
        allowed = logp > nets.MASKED / 2
        return -jnp.mean(own) + 1e-3 * jnp.mean(jnp.where(allowed, logp, 0.0) ** 2) / bsz

    g = jax.grad(actor_loss)(s.actor)
    upd, opt_a = _adam(cfg).update(g, s.opt_actor, s.actor)
    actor = optax.apply_updates(s.actor, upd)
    soft_upd = partial(optax.incremental_update, step_size=cfg.tau)
    return s._replace(
        actor=actor,
        critic=critic,
        opt_actor=opt_a,
        opt_critic=opt_c,
        target_actor=soft_upd(actor, s.target_actor),
        target_critic=soft_upd(critic, s.target_critic),
    )


def maddpg_observe(key, s: MaddpgState, tr: Transition, params, cfg) -> MaddpgState:
    s = s._replace(buffer=_buffer_add(s.buffer, tr), step=s.step + tr.valid.astype(jnp.int32))
    due = tr.valid & (s.step % cfg.update_every == 0) & (s.buffer.size >= cfg.batch_size)
    return jax.lax.cond(due, lambda st: _maddpg_update(key, st, cfg), lambda st: st, s)


# --------------------------------------------------------------------------- CS-UCB, Random
class UcbState(NamedTuple):
    mean: jax.Array  # (I, 16) empirical mean of r_i per arm
    counts: jax.Array  # (I, 16)
    tries: jax.Array  # (I,)


def csucb_init(key, params, cfg, n_episodes: int) -> UcbState:
    n = params.n_tasks
    return UcbState(jnp.zeros((n, A)), jnp.zeros((n, A)), jnp.zeros(n))


def csucb_act(key, s: UcbState, obs, params, cfg: CsUcbConfig, explore: bool):
    """Constraint filter (``valid_action_mask``), then the feasible arm of highest UCB1."""
    feasible = env.valid_action_mask(obs)
    bonus = cfg.c * jnp.sqrt(
        2.0 * jnp.log(jnp.maximum(s.tries, 1.0))[:, None] / jnp.maximum(s.counts, 1.0)
    )
    ucb = jnp.where(s.counts > 0, s.mean + bonus, jnp.inf) if explore else s.mean
    ucb = jnp.where(feasible, ucb, -jnp.inf)
    return jnp.where(feasible.any(-1), jnp.argmax(ucb, -1), jnp.argmax(s.mean, -1))


def csucb_observe(key, s: UcbState, tr: Transition, params, cfg) -> UcbState:
    played = _onehot_actions(tr.actions) * tr.valid
    counts = s.counts + played
    mean = s.mean + played * (tr.rewards[:, None] - s.mean) / jnp.maximum(counts, 1.0)
    return UcbState(mean, counts, s.tries + tr.valid)


def _uniform(key, mask: jax.Array) -> jax.Array:
    """One action per agent, uniform over ``mask`` (I, 16); any action if the row is empty."""
    mask = mask | ~mask.any(-1, keepdims=True)
    return jax.random.categorical(key, jnp.where(mask, 0.0, -jnp.inf))


def random_act(key, s, obs, params, cfg, explore: bool):
    """Random (§5.2 (5)): sub-task and location uniform over the action space."""
    return _uniform(key, env.pending_action_mask(obs))


def masked_random_act(key, s, obs, params, cfg, explore: bool):
    """Reference: uniform over the actions that satisfy every constraint."""
    return _uniform(key, env.valid_action_mask(obs))


def ready_cloud_act(key, s, obs, params, cfg, explore: bool):
    """Reference ceiling: the first ready pending sub-task (lowest index), on the cloud."""
    feasible = env.valid_action_mask(obs).reshape(-1, env.J_MAX, env.N_LOC)[..., env.CLOUD]
    return env.encode_action(jnp.argmax(feasible, -1), env.CLOUD)


def _stateless(act) -> Learner:
    return Learner(lambda k, p, c, n: (), act, lambda k, s, t, p, c: s, _no_end, RandomConfig)


LEARNERS: dict[str, Learner] = {
    "ucb-coma": Learner(coma_init, coma_act, coma_observe, coma_end, ComaConfig),
    "coma": Learner(coma_init, coma_act, coma_observe, coma_end, ComaConfig),
    "ucb-coma-softmax": Learner(coma_init, coma_act, coma_observe, coma_end, ComaConfig),
    "mappo": Learner(mappo_init, mappo_act, mappo_observe, mappo_end, MappoConfig),
    "maddpg": Learner(maddpg_init, maddpg_act, maddpg_observe, _no_end, MaddpgConfig),
    "cs-ucb": Learner(csucb_init, csucb_act, csucb_observe, _no_end, CsUcbConfig),
    "random": _stateless(random_act),
    "aif": ucb_coma_agent.LEARNER,
    "ready-cloud": _stateless(ready_cloud_act),
    "masked-random": _stateless(masked_random_act),
}
"""Learner name -> pure functions. The paper's six schemes (Fig. 4 legend), this toolkit's
active-inference agent ``aif`` (``inference.ucb_coma_agent``; it does not learn) and the two
reference policies ``ready-cloud`` and ``masked-random``."""

DEFAULT_CONFIGS: dict[str, Any] = {
    "ucb-coma": ComaConfig(ucb_eps=1.0),
    "coma": ComaConfig(ucb_eps=0.0),
    "ucb-coma-softmax": ComaConfig(ucb_eps=1.0, ucb_sample=True),
    "mappo": MappoConfig(),
    "maddpg": MaddpgConfig(),
    "cs-ucb": CsUcbConfig(),
    "random": RandomConfig(),
    "aif": ucb_coma_agent.DagAifConfig(),
    "ready-cloud": RandomConfig(),
    "masked-random": RandomConfig(),
}
"""One frozen configuration per learner (the values used for every figure)."""


def make_config(name: str, **overrides):
    """The frozen default config of learner ``name`` with validated overrides."""
    if name not in LEARNERS:
        raise ConfigError(f"learner: unknown name {name!r}; choose one of {', '.join(LEARNERS)}")
    cfg = DEFAULT_CONFIGS[name]
    allowed = [f.name for f in fields(cfg)]
    check_fields(overrides, allowed, type(cfg).__name__)
    cfg = replace(cfg, **overrides)
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        if f.name == "ucb_eps":
            ok = v == 0 if name == "coma" else v > 0
            fix = "> 0 for ucb-coma and ucb-coma-softmax, 0 for coma"
        elif f.name in ("gae_lambda", "psi", "clip", "tau"):
            ok, fix = 0 < v <= 1, "in (0, 1]"
        elif f.name == "entropy":
            ok, fix = v >= 0, "≥ 0"
        elif f.name in ("standardise", "ucb_sample"):
            ok, fix = isinstance(v, bool), "True or False"
        elif f.name in ("rollout_episodes", "epochs", "batch_size", "buffer_size"):
            ok, fix = isinstance(v, int) and v > 0, "a positive integer"
        else:
            ok, fix = v > 0, "> 0"
        if not ok:
            raise ConfigError(f"{type(cfg).__name__}.{f.name}: must be {fix} (got {v!r})")
    return cfg


# --------------------------------------------------------------------------- episode loop
class EpisodeStats(NamedTuple):
    """Per-episode outcome: ``reward`` Σ_t Σ_i r_i; ``weighted`` mean over completed tasks
    of γ T_i + (1 − γ) Cost_i (the summand of (1)); ``delay`` [s], ``cost`` [$], ``energy``
    [J] means over completed tasks; ``completion`` and ``deadline`` task fractions;
    ``r_theta`` … ``r_fault``: Σ_t Σ_i of each reward term (``env.REWARD_TERMS``; they sum
    to ``reward``); ``not_pending``: picks outside the action space (0 for every learner)."""

    reward: jax.Array
    weighted: jax.Array
    delay: jax.Array
    cost: jax.Array
    energy: jax.Array
    completion: jax.Array
    deadline: jax.Array
    r_theta: jax.Array
    r_objective: jax.Array
    r_eta1: jax.Array
    r_eta2: jax.Array
    r_eta3: jax.Array
    r_fault: jax.Array
    not_pending: jax.Array


def _episode(key, name: str, state, params, cfg, learn: bool):
    learner = LEARNERS[name]
    k_reset, k_steps, k_end = jax.random.split(key, 3)
    obs, es = env.reset(k_reset, params)

    def body(carry, k):
        obs, es, state, finished = carry
        k_a, k_s, k_o = jax.random.split(k, 3)
        actions = learner.act(k_a, state, obs, params, cfg, learn)
        obs2, es2, rewards, done, info = env.step(k_s, es, actions, params)
        valid = ~finished
        if learn:
            tr = Transition(obs, actions, rewards, obs2, done, valid)
            state = learner.observe(k_o, state, tr, params, cfg)
        terms = {f: getattr(info, f).sum() * valid for f in env.REWARD_TERMS}
        terms["not_pending"] = info.not_pending.sum() * valid
        return (obs2, es2, state, finished | done), (rewards.sum() * valid, terms)

    (_, es, state, _), (rewards, terms) = jax.lax.scan(
        body, (obs, es, state, jnp.bool_(False)), jax.random.split(k_steps, params.max_steps)
    )
    if learn:
        state = learner.end_episode(k_end, state, params, cfg)
    m = env.task_metrics(es, params)
    stats = EpisodeStats(
        reward=rewards.sum(),
        weighted=jnp.nanmean(m.weighted),
        delay=jnp.nanmean(m.delay),
        cost=jnp.nanmean(m.cost),
        energy=jnp.nanmean(m.energy),
        completion=jnp.mean(m.complete.astype(jnp.float32)),
        deadline=jnp.mean(m.deadline_met.astype(jnp.float32)),
        **{k: v.sum().astype(jnp.float32) for k, v in terms.items()},
    )
    return state, stats


_DYNAMIC = ("bandwidth_mhz", "t_max_s", "fault_prob", "theta", "vartheta", "delay_unit_s", "gamma")
"""Scalar ``EnvParams`` fields traced, not static, so a sweep over them compiles once."""


def _split(name: str, params: env.EnvParams):
    """(static params with the ``_DYNAMIC`` fields zeroed, their values as float32 scalars);
    ``aif`` builds its pymdp model from the numbers eagerly, so it keeps them all static."""
    if name == "aif":
        return params, None
    dyn = tuple(jnp.float32(getattr(params, f)) for f in _DYNAMIC)
    zeros: dict[str, Any] = dict.fromkeys(_DYNAMIC, 0.0)
    return params._replace(**zeros), dyn


def _join(params: env.EnvParams, dyn) -> env.EnvParams:
    return params if dyn is None else params._replace(**dict(zip(_DYNAMIC, dyn, strict=True)))


def _train(key, name, params, cfg, n_episodes, dyn):
    params = _join(params, dyn)
    k_init, k_run = jax.random.split(key)
    state = LEARNERS[name].init(k_init, params, cfg, n_episodes)

    def one(state, k):
        return _episode(k, name, state, params, cfg, True)

    return jax.lax.scan(one, state, jax.random.split(k_run, n_episodes))


def _evaluate(key, name, state, params, cfg, n_episodes, dyn):
    params = _join(params, dyn)
    run = jax.vmap(lambda k: _episode(k, name, state, params, cfg, False)[1])
    return run(jax.random.split(key, n_episodes))


_STATIC = ("name", "params", "cfg", "n_episodes")
_QUICK = {"xla_backend_optimization_level": 0}  # ~2x faster XLA compile, ~2x slower run
_JIT = {
    False: (jax.jit(_train, static_argnames=_STATIC), jax.jit(_evaluate, static_argnames=_STATIC)),
    True: (
        jax.jit(_train, static_argnames=_STATIC, compiler_options=_QUICK),
        jax.jit(_evaluate, static_argnames=_STATIC, compiler_options=_QUICK),
    ),
}


def train(
    key: jax.Array,
    name: str,
    params: env.EnvParams,
    cfg,
    n_episodes: int,
    quick_compile: bool = False,
):
    """Train learner ``name`` for ``n_episodes``; returns (state, EpisodeStats with (E,)).

    ``quick_compile`` lowers XLA's optimisation level: for short runs (tests, ``--quick``)
    where compilation, not the run, dominates. Results are identical up to float rounding.
    The ``_DYNAMIC`` env fields are traced, so a W / T_max / fault / θ sweep compiles once.
    """
    static, dyn = _split(name, params)
    return _JIT[quick_compile][0](
        key, name=name, params=static, cfg=cfg, n_episodes=n_episodes, dyn=dyn
    )


def evaluate(
    key: jax.Array,
    name: str,
    state,
    params: env.EnvParams,
    cfg,
    n_episodes: int,
    quick_compile: bool = False,
):
    """Exploit-only episodes of a trained learner, vmapped; EpisodeStats with (E,)."""
    static, dyn = _split(name, params)
    return _JIT[quick_compile][1](
        key, name=name, state=state, params=static, cfg=cfg, n_episodes=n_episodes, dyn=dyn
    )
