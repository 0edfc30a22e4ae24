"""Active inference with rewardless guidance (policy ``aif-rg``; He et al. §IV, Algorithm 1).

He et al. plan like Tschantz et al. (2020, "Reinforcement learning through active
inference"): a learned ensemble transition model, candidate action sequences sampled
from q(π), scored by expected free energy, refined by top-k selection (cross-entropy
method) over I iterations. The reward model is replaced by the rewardless guidance

    rg(s_t, a_t) = tc · (1/L_T + P_T)                                         (He et al. Eq. 11)

used as the agent's preference over predicted outcomes.

Generative model (ensemble of ``ensemble_size`` MLPs, member b with parameters θ_b).
Input (``model_input``): flat observation o_t (``he2024.flatten_obs``) without its t_max
feature (constant in training; t_max acts through the guidance only), action features
[one-hot(j), c/c_full, w/w_full, m/m_full] and the addressed server's own entries of o_t
(remaining [C, W, M], distance, queue wait; a gather by j, so each member sees the
server it is asked about without having to learn the indexing). Outputs:

    o_{t+1} − o_t ~ N(μ_Δ, σ²_Δ)          next observation
    executed      ~ Bernoulli(p_x)       the server accepted the request (valid, no OOM)
    L / 10 s      ~ N(μ_L, σ²_L)         He et al. Eq. 8 latency of an executed request
    P             ≈ μ_P                  pass@100 of the result

Each member is fitted on its own bootstrap minibatches from the replay buffer by
maximum likelihood (Gaussian NLL, Bernoulli cross-entropy, squared error).

Expected free energy of a sequence π = a_{0:H−1} (lower is better), Algorithm 1 l. 9–11:

    −G(π) = Σ_h [ E_b rg_b,h  +  λ · IG_h ]
    rg_b,h = p_x · Φ((t_max − L̂)/σ_L) · (1/L̂ + μ_P)      (He et al. Eq. 11 under the model; tc is
             completion within the request's t_max, which the request carries in o_t)
    IG_h   = ½ Σ_d log(1 + Var_b[μ_{b,d}] / E_b[σ²_{b,d}])  (information gain about θ:
             ensemble disagreement over predicted next observation and latency)

Each member rolls its own trajectory (TS-∞). q(π) factorises over horizon steps and
over the action's parts [j, c, w, m] (categoricals); after each iteration it becomes the
top-k frequencies mixed with the previous q by ``smoothing``. The action taken is
sampled from q at h = 0 (Algorithm 1 l. 15) while training; a frozen policy is evaluated
either the same way (``greedy=False``) or deterministically, each part at the mode of q at
h = 0 with the CEM's candidates drawn from a fixed key (``greedy=True``): a deterministic
map from observation to action, like a DRL agent's argmax).

Pure functions: ``init(key, cfg, params) -> AgentState``, ``run_episode`` (jitted, one
episode of acting and recording), ``fit`` (jitted, Algorithm 1 l. 20), ``train`` (the
outer loop) and ``evaluate`` (frozen policy, no fitting).
"""

from dataclasses import dataclass, fields
from functools import partial
from itertools import pairwise
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from aifedge.config import ConfigError, check_fields
from aifedge.environments import he2024

LAT_SCALE_S = 10.0  # latency is modelled in units of 10 s
LOGVAR_MAX = 3.0


@dataclass(frozen=True)
class AifRgConfig:
    """Hyper-parameters. The paper names J, k, I, H and the ensemble but gives no values;
    all values here are this project's choices (fixed before any comparison).

    n_candidates  J, candidate sequences per iteration.
    top_k         k < J, elite sequences that refit q(π).
    n_iters       I, optimisation iterations per decision.
    horizon       H, planning horizon [steps].
    ensemble_size B, members of the transition model.
    hidden        width of each member's two hidden layers.
    info_weight   λ, weight of the information gain in the EFE (paper: r = r1 + r2, λ = 1).
    min_std       floor of every predicted standard deviation (observation units; latency in
                  10 s): the resolution below which the agent does not tell outcomes apart.
                  Without it, disagreement on deterministic features (resources left) at
                  the 1e-3 level dominates the information gain.
    smoothing     share of the previous q(π) kept in each CEM update.
    lr            Adam learning rate.
    fit_steps     gradient steps per fit (once per episode, Algorithm 1 l. 20).
    batch_size    minibatch per member per gradient step.
    buffer_size   replay capacity [transitions].
    n_seed_episodes  episodes of uniform random actions before the first fit.
    """

    n_candidates: int = 128
    top_k: int = 16
    n_iters: int = 3
    horizon: int = 3
    ensemble_size: int = 5
    hidden: int = 64
    info_weight: float = 1.0
    min_std: float = 0.05
    smoothing: float = 0.1
    lr: float = 1e-3
    fit_steps: int = 200
    batch_size: int = 128
    buffer_size: int = 50_000
    n_seed_episodes: int = 1

    def __post_init__(self):
        for f in (
            "n_candidates",
            "top_k",
            "n_iters",
            "horizon",
            "ensemble_size",
            "hidden",
            "fit_steps",
            "batch_size",
            "buffer_size",
        ):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"AifRgConfig.{f}: must be an integer ≥ 1 (got {v!r})")
        if not isinstance(self.n_seed_episodes, int) or self.n_seed_episodes < 0:
            raise ConfigError(
                "AifRgConfig.n_seed_episodes: must be an integer ≥ 0 "
                f"(got {self.n_seed_episodes!r})"
            )
        if self.top_k >= self.n_candidates:
            raise ConfigError(
                f"AifRgConfig.top_k: must be < n_candidates={self.n_candidates} (got {self.top_k})"
            )
        if self.ensemble_size < 2:
            raise ConfigError(
                "AifRgConfig.ensemble_size: information gain needs ≥ 2 members "
                f"(got {self.ensemble_size})"
            )
        if not 0.0 <= self.smoothing < 1.0:
            raise ConfigError(f"AifRgConfig.smoothing: must lie in [0, 1) (got {self.smoothing})")
        if not self.info_weight >= 0.0:
            raise ConfigError(f"AifRgConfig.info_weight: must be ≥ 0 (got {self.info_weight})")
        if not self.min_std > 0.0:
            raise ConfigError(f"AifRgConfig.min_std: must be > 0 (got {self.min_std})")
        if not self.lr > 0.0:
            raise ConfigError(f"AifRgConfig.lr: must be > 0 (got {self.lr})")

    @classmethod
    def make(cls, **overrides) -> "AifRgConfig":
        check_fields(overrides, [f.name for f in fields(cls)], "AifRgConfig")
        return cls(**overrides)


class Buffer(NamedTuple):
    """Ring buffer of transitions (capacity N): obs/next_obs (N, D), act (N, A), outcomes (N,)."""

    obs: jax.Array
    act: jax.Array
    next_obs: jax.Array
    executed: jax.Array
    latency_s: jax.Array
    server_pass: jax.Array
    ptr: jax.Array  # int32 next write position
    size: jax.Array  # int32 filled entries


class AgentState(NamedTuple):
    """Ensemble parameters (leading axis B), optimiser state, replay buffer, episode count."""

    model: dict
    opt_state: optax.OptState
    buffer: Buffer
    episodes: jax.Array


class Prediction(NamedTuple):
    """Outputs of the ensemble; every field has leading axes (B, N)."""

    delta_mean: jax.Array
    delta_logvar: jax.Array
    exec_logit: jax.Array
    lat_mean: jax.Array  # in units of LAT_SCALE_S
    lat_logvar: jax.Array
    pass_mean: jax.Array


# --------------------------------------------------------------------------- model


def act_dim(params: he2024.EnvParams) -> int:
    return params.n_servers + he2024.N_RESOURCES


def action_features(action: jax.Array, params: he2024.EnvParams) -> jax.Array:
    """(..., S + 3): one-hot server and the allocation as a share of ``full_alloc``."""
    server, alloc = jax.vmap(lambda a: he2024.decode_action(a, params))(jnp.ravel(action))
    feats = jnp.concatenate(
        [
            jax.nn.one_hot(server, params.n_servers),
            alloc / jnp.asarray(params.full_alloc, jnp.float32),
        ],
        axis=-1,
    )
    return feats.reshape((*jnp.shape(action), act_dim(params)))


def _init_member(key: jax.Array, sizes: tuple[int, ...]) -> list:
    layers = []
    for k, (n_in, n_out) in zip(
        jax.random.split(key, len(sizes) - 1), pairwise(sizes), strict=True
    ):
        w = jax.random.normal(k, (n_in, n_out)) * jnp.sqrt(1.0 / n_in)
        layers.append((w, jnp.zeros(n_out)))
    return layers


def server_view(obs: jax.Array, act: jax.Array) -> jax.Array:
    """(..., 5) entries of ``flatten_obs`` for the server that ``act`` addresses:
    remaining [C, W, M] fractions, distance [km], queue wait [10 s]."""
    n_srv = (obs.shape[-1] - 3) // 5
    onehot = act[..., :n_srv]
    remaining = obs[..., : 3 * n_srv].reshape((*obs.shape[:-1], n_srv, 3))
    dist, wait = obs[..., 3 * n_srv : 4 * n_srv], obs[..., 4 * n_srv : 5 * n_srv]
    return jnp.concatenate(
        [
            jnp.einsum("...s,...sr->...r", onehot, remaining),
            (onehot * dist).sum(-1, keepdims=True),
            (onehot * wait).sum(-1, keepdims=True),
        ],
        axis=-1,
    )


def model_input(obs: jax.Array, act: jax.Array) -> jax.Array:
    """(..., D − 1 + A + 5) network input: the observation without its t_max feature, the
    action features and ``server_view``. t_max is left out on purpose: it is constant while
    training (15 s), so a network could only extrapolate on it; it enters the decision
    through the guidance (tc = 1[L ≤ t_max]) instead."""
    obs_wo_tmax = jnp.concatenate([obs[..., :-2], obs[..., -1:]], axis=-1)
    return jnp.concatenate([obs_wo_tmax, act, server_view(obs, act)], axis=-1)


def init_model(key: jax.Array, cfg: AifRgConfig, params: he2024.EnvParams) -> dict:
    """Stacked ensemble parameters: ``{"dyn": layers, "out": layers}``, each a list of
    (W (B, in, out), b (B, out)). ``dyn`` predicts the next observation (mean, log-variance),
    ``out`` the request's outcome (executed logit, latency mean and log-variance, pass@100);
    two networks, so that the 2·D observation outputs do not swamp the outcome heads."""
    d_obs = he2024.obs_dim(params)
    d_in = d_obs - 1 + act_dim(params) + 5

    def member(k):
        k_dyn, k_out = jax.random.split(k)
        return {
            "dyn": _init_member(k_dyn, (d_in, cfg.hidden, cfg.hidden, 2 * d_obs)),
            "out": _init_member(k_out, (d_in, cfg.hidden, cfg.hidden, 4)),
        }

    return jax.vmap(member)(jax.random.split(key, cfg.ensemble_size))


def _member_apply(layers: list, x: jax.Array) -> jax.Array:
    for w, b in layers[:-1]:
        x = jax.nn.silu(x @ w + b)
    w, b = layers[-1]
    return x @ w + b


def predict(model: dict, obs: jax.Array, act: jax.Array, min_std: float) -> Prediction:
    """Ensemble prediction for inputs obs (B, N, D) and action features act (B, N, A)."""
    x = model_input(obs, act)
    dyn = jax.vmap(_member_apply)(model["dyn"], x)
    out = jax.vmap(_member_apply)(model["out"], x)
    d = obs.shape[-1]
    clip = partial(jnp.clip, min=2.0 * jnp.log(min_std), max=LOGVAR_MAX)
    return Prediction(
        delta_mean=dyn[..., :d],
        delta_logvar=clip(dyn[..., d:]),
        exec_logit=out[..., 0],
        lat_mean=out[..., 1],
        lat_logvar=clip(out[..., 2]),
        pass_mean=out[..., 3],
    )


def _gauss_nll(mean, logvar, target):
    return 0.5 * (logvar + (target - mean) ** 2 * jnp.exp(-logvar))


def member_losses(pred: Prediction, obs, next_obs, executed, latency_s, server_pass):
    """(B,) negative log-likelihood per member over its minibatch (inputs (B, N, ·))."""
    x = executed.astype(jnp.float32)
    n_x = jnp.maximum(x.sum(-1), 1.0)
    state = _gauss_nll(pred.delta_mean, pred.delta_logvar, next_obs - obs).sum(-1).mean(-1)
    execd = optax.sigmoid_binary_cross_entropy(pred.exec_logit, x).mean(-1)
    lat = (x * _gauss_nll(pred.lat_mean, pred.lat_logvar, latency_s / LAT_SCALE_S)).sum(-1) / n_x
    pas = (x * (pred.pass_mean - server_pass) ** 2).sum(-1) / n_x * 100.0
    return state + execd + lat + pas


# --------------------------------------------------------------------------- guidance and EFE


def guidance(pred: Prediction, t_max_s: jax.Array) -> jax.Array:
    """He et al. Eq. 11 under the model: p_exec · P(L ≤ t_max) · (1/L̂ + P̂), shape (B, N)."""
    lat_s = jnp.maximum(pred.lat_mean * LAT_SCALE_S, 0.1)
    sd_s = jnp.exp(0.5 * pred.lat_logvar) * LAT_SCALE_S
    p_done = jax.nn.sigmoid(pred.exec_logit) * jax.scipy.stats.norm.cdf((t_max_s - lat_s) / sd_s)
    return p_done * (1.0 / lat_s + jnp.clip(pred.pass_mean, 0.0, 1.0))


def info_gain(pred: Prediction) -> jax.Array:
    """(N,) ½ Σ_d log(1 + Var_b[μ] / E_b[σ²]) over next observation and latency."""
    mean = jnp.concatenate([pred.delta_mean, pred.lat_mean[..., None]], axis=-1)
    logvar = jnp.concatenate([pred.delta_logvar, pred.lat_logvar[..., None]], axis=-1)
    ratio = jnp.var(mean, axis=0) / jnp.mean(jnp.exp(logvar), axis=0)
    return 0.5 * jnp.log1p(ratio).sum(-1)


def sequence_value(
    model: dict,
    obs_flat: jax.Array,
    t_max_s,
    seqs: jax.Array,
    cfg: AifRgConfig,
    params: he2024.EnvParams,
) -> jax.Array:
    """−G(π) for J sequences ``seqs`` (J, H) of flat actions from observation (D,)."""
    n_seq = seqs.shape[0]
    obs = jnp.broadcast_to(obs_flat, (cfg.ensemble_size, n_seq, obs_flat.shape[-1]))
    feats = action_features(seqs, params)  # (J, H, A)

    def body(obs, feat_h):
        act = jnp.broadcast_to(feat_h, (cfg.ensemble_size, *feat_h.shape))
        pred = predict(model, obs, act, cfg.min_std)
        value = guidance(pred, t_max_s).mean(0) + cfg.info_weight * info_gain(pred)
        return obs + pred.delta_mean, value

    _, values = jax.lax.scan(body, obs, jnp.swapaxes(feats, 0, 1))
    return values.sum(0)


def _factor_sizes(params: he2024.EnvParams) -> tuple[int, int, int, int]:
    return (params.n_servers, params.n_levels, params.n_levels, params.n_levels)


def plan(
    key: jax.Array,
    model: dict,
    obs_flat: jax.Array,
    t_max_s,
    cfg: AifRgConfig,
    params: he2024.EnvParams,
    greedy: bool | jax.Array = False,
) -> jax.Array:
    """One decision (Algorithm 1 l. 5–15): CEM over q(π); returns a flat action index,
    sampled from q at h = 0, or, when ``greedy``, its per-part mode with the candidates
    drawn from a fixed key (a deterministic function of the observation)."""
    sizes = _factor_sizes(params)
    q0 = tuple(jnp.full((cfg.horizon, n), 1.0 / n) for n in sizes)

    def sample(key, q):
        keys = jax.random.split(key, len(q))
        parts = [
            jax.random.categorical(k, jnp.log(p), shape=(cfg.n_candidates, cfg.horizon))
            for k, p in zip(keys, q, strict=True)
        ]
        return parts, he2024.encode_action(*parts, params)

    def iteration(q, key):
        parts, seqs = sample(key, q)
        value = sequence_value(model, obs_flat, t_max_s, seqs, cfg, params)
        _, elite = jax.lax.top_k(value, cfg.top_k)
        new_q = tuple(
            cfg.smoothing * p + (1.0 - cfg.smoothing) * jax.nn.one_hot(part[elite], n).mean(0)
            for p, part, n in zip(q, parts, sizes, strict=True)
        )
        return new_q, None

    k_iter, k_act = jax.random.split(key)
    # greedy: the same candidates for the same observation (a bool or a traced bool)
    k_iter = jnp.where(greedy, jax.random.PRNGKey(0), k_iter)
    q, _ = jax.lax.scan(iteration, q0, jax.random.split(k_iter, cfg.n_iters))
    keys = jax.random.split(k_act, len(q))
    first = [
        jnp.where(greedy, jnp.argmax(p[0]), jax.random.categorical(k, jnp.log(p[0])))
        for k, p in zip(keys, q, strict=True)
    ]
    server, i_c, i_w, i_m = first
    return jnp.asarray(he2024.encode_action(server, i_c, i_w, i_m, params), jnp.int32)


# --------------------------------------------------------------------------- state, acting, fitting


@partial(jax.jit, static_argnames=("cfg", "params"))
def init(key: jax.Array, cfg: AifRgConfig, params: he2024.EnvParams) -> AgentState:
    """Fresh ensemble, optimiser and empty buffer."""
    model = init_model(key, cfg, params)
    d_obs, n = he2024.obs_dim(params), cfg.buffer_size
    buf = Buffer(
        obs=jnp.zeros((n, d_obs)),
        act=jnp.zeros((n, act_dim(params))),
        next_obs=jnp.zeros((n, d_obs)),
        executed=jnp.zeros(n, bool),
        latency_s=jnp.zeros(n),
        server_pass=jnp.zeros(n),
        ptr=jnp.int32(0),
        size=jnp.int32(0),
    )
    return AgentState(
        model=model, opt_state=optax.adam(cfg.lr).init(model), buffer=buf, episodes=jnp.int32(0)
    )


def record(buf: Buffer, obs, act, next_obs, executed, latency_s, server_pass) -> Buffer:
    """Append T transitions (leading axis T) to the ring buffer."""
    n = buf.obs.shape[0]
    idx = (buf.ptr + jnp.arange(obs.shape[0])) % n
    return Buffer(
        obs=buf.obs.at[idx].set(obs),
        act=buf.act.at[idx].set(act),
        next_obs=buf.next_obs.at[idx].set(next_obs),
        executed=buf.executed.at[idx].set(executed),
        latency_s=buf.latency_s.at[idx].set(latency_s),
        server_pass=buf.server_pass.at[idx].set(server_pass),
        ptr=(buf.ptr + obs.shape[0]) % n,
        size=jnp.minimum(buf.size + obs.shape[0], n),
    )


@partial(jax.jit, static_argnames=("cfg", "params", "explore", "greedy"))
def _run_episode(key, state, t_max_s, cfg, params, explore, greedy):
    params = params._replace(t_max_s=t_max_s)  # traced: one compilation for every t_max
    if explore:
        act = he2024.random_policy
    else:

        def act(k, obs, p):
            flat = he2024.flatten_obs(obs, p)
            return plan(k, state.model, flat, obs.t_max_s, cfg, p, greedy)

    flats, actions, nexts, infos = he2024.rollout(key, act, params)
    buf = record(
        state.buffer,
        flats,
        action_features(actions, params),
        nexts,
        infos.executed,
        infos.latency_s,
        infos.server_pass,
    )
    return state._replace(buffer=buf, episodes=state.episodes + 1), infos


def run_episode(
    key: jax.Array,
    state: AgentState,
    cfg: AifRgConfig,
    params: he2024.EnvParams,
    explore: bool = False,
    greedy: bool = False,
) -> tuple[AgentState, he2024.StepInfo]:
    """One episode (Algorithm 1 l. 2–19): plan, act, record. ``explore``: uniform actions;
    ``greedy``: the mode of q(π) instead of a sample (``plan``). Episode keys as
    ``he2024.rollout``.

    Returns the state with the episode's transitions appended and the ``StepInfo`` (T,).
    Jitted per (cfg, params without t_max, explore, greedy); t_max is traced.
    """
    canonical = params._replace(t_max_s=he2024.EnvParams().t_max_s)
    t_max = jnp.float32(params.t_max_s)
    return _run_episode(key, state, t_max, cfg, canonical, explore, greedy)


@partial(jax.jit, static_argnames=("cfg",))
def fit(key: jax.Array, state: AgentState, cfg: AifRgConfig) -> tuple[AgentState, jax.Array]:
    """``fit_steps`` Adam steps; each member draws its own minibatches (bootstrap).

    Returns the new state and the (fit_steps,) mean loss trace. Needs a non-empty buffer.
    """
    opt = optax.adam(cfg.lr)
    buf = state.buffer

    def loss_fn(model, idx):
        obs = buf.obs[idx]
        pred = predict(model, obs, buf.act[idx], cfg.min_std)
        return member_losses(
            pred,
            obs,
            buf.next_obs[idx],
            buf.executed[idx],
            buf.latency_s[idx],
            buf.server_pass[idx],
        ).sum()

    def one(carry, k):
        model, opt_state = carry
        idx = jax.random.randint(k, (cfg.ensemble_size, cfg.batch_size), 0, buf.size)
        loss, grads = jax.value_and_grad(loss_fn)(model, idx)
        updates, opt_state = opt.update(grads, opt_state, model)
        return (optax.apply_updates(model, updates), opt_state), loss / cfg.ensemble_size

    (model, opt_state), losses = jax.lax.scan(
        one, (state.model, state.opt_state), jax.random.split(key, cfg.fit_steps)
    )
    return state._replace(model=model, opt_state=opt_state), losses


def train(
    key: jax.Array,
    cfg: AifRgConfig,
    params: he2024.EnvParams,
    n_episodes: int,
    state: AgentState | None = None,
) -> tuple[AgentState, list[dict]]:
    """Algorithm 1: ``n_episodes`` of acting then fitting. Returns the state and one row of
    ``he2024.episode_metrics`` per episode (plus ``episode`` and ``fit_loss``)."""
    if not isinstance(n_episodes, int) or n_episodes < 1:
        raise ConfigError(f"n_episodes: must be an integer ≥ 1 (got {n_episodes!r})")
    k_init, k_loop = jax.random.split(key)
    state = init(k_init, cfg, params) if state is None else state
    rows = []
    for k in jax.random.split(k_loop, n_episodes):
        k_ep, k_fit = jax.random.split(k)
        explore = int(state.episodes) < cfg.n_seed_episodes
        state, infos = run_episode(k_ep, state, cfg, params, explore)
        state, losses = fit(k_fit, state, cfg)
        row = {name: float(v) for name, v in he2024.episode_metrics(infos).items()}
        row.update(episode=int(state.episodes), fit_loss=float(np.mean(np.asarray(losses))))
        rows.append(row)
    return state, rows


def evaluate(
    key: jax.Array,
    state: AgentState,
    cfg: AifRgConfig,
    params: he2024.EnvParams,
    n_episodes: int,
    explore: bool = False,
    greedy: bool = False,
) -> list[dict]:
    """Frozen evaluation: ``n_episodes`` episodes (keys ``split(key, n_episodes)``), no
    fitting (the recorded transitions are discarded); ``explore=True`` evaluates the uniform
    random policy, ``greedy=True`` acts at the mode of q(π) (``plan``). One
    ``he2024.episode_metrics`` row per episode."""
    rows = []
    for k in jax.random.split(key, n_episodes):
        _, infos = run_episode(k, state, cfg, params, explore, greedy)
        rows.append({name: float(v) for name, v in he2024.episode_metrics(infos).items()})
    return rows
