"""GP-NFSP baseline on ``he2024`` (He et al. §V.A, their ref. [45]: Hou et al., "GP-NFSP:
Decentralized task offloading for mobile edge computing with independent reinforcement
learning", FGCS 141, 2023). Needs the ``[rl]`` extra (torch).

Neither seed describes GP-NFSP beyond the reference; this is the documented best reading of
the reference's abstract: neural fictitious self-play (NFSP, Heinrich & Silver 2016) whose
best-response learner is PPO and whose average policy Π is a supervised classifier of the
best response's own actions (reservoir-sampled). Each episode is played by the best
response β with probability η (the anticipatory parameter) and by Π otherwise; PPO learns
from the β episodes (it is on-policy), Π from the (observation, action) pairs of the β
episodes. The output strategy NFSP evaluates is Π. He et al. use the scheme as "an existing
scheme that does not consider LLMs"; their env has a single scheduler, so the self-play has
no opponent and Π is the time average of the best responses.

Deviation: the reference's GRU ("G") handles each device's partial view in decentralized
MEC; here the scheduler observes the global state S_t (He et al. §IV.A), so both networks are
MLPs (``hidden_sizes`` as every other baseline), which also keeps the frozen policy a
function of the observation like the other baselines' (``probs``).

``train(params, cfg, seed) -> (NfspPolicy, rows)``; the env is the pure-JAX ``he2024``
stepped in lockstep over ``episodes_per_update`` episodes; the agents see
``he2024_gym.agent_obs`` (the DRL input).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import numpy as np
import torch
from torch import nn

from aifedge.config import ConfigError
from aifedge.environments import he2024
from aifedge.environments.he2024_gym import agent_obs


@dataclass(frozen=True)
class NfspConfig:
    """Hyper-parameters; shared values as ``baselines.rl`` (lr, γ, widths, PPO's clip, GAE λ,
    epochs, coefficients), NFSP's own from Heinrich & Silver (2016) where they give one.

    steps                 env steps of training (the budget; all episodes, β and Π).
    anticipatory          η, share of episodes played by the best response.
    episodes_per_update   episodes rolled out in lockstep per iteration.
    reservoir             capacity of Π's supervised buffer [transitions] (NFSP: 2·10⁶; ≥ the
                          budget here, so nothing is dropped at our sizes).
    sl_lr, sl_batch, sl_steps  Π's Adam rate, minibatch and gradient steps per iteration.
    """

    steps: int = 100_000
    hidden_sizes: tuple[int, ...] = (128, 128)
    lr: float = 3e-4
    gamma: float = 0.9
    gae_lambda: float = 0.95
    eps_clip: float = 0.2
    epochs: int = 4
    minibatches: int = 4
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    max_grad_norm: float = 0.5
    anticipatory: float = 0.1
    episodes_per_update: int = 4
    reservoir: int = 200_000
    sl_lr: float = 1e-3
    sl_batch: int = 128
    sl_steps: int = 8

    def __post_init__(self):
        for name in ("steps", "epochs", "minibatches", "episodes_per_update", "reservoir"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"NfspConfig.{name}: must be an integer ≥ 1 (got {v!r})")
        if not 0.0 < self.anticipatory <= 1.0:
            raise ConfigError(
                f"NfspConfig.anticipatory: η must lie in (0, 1] (got {self.anticipatory})"
            )
        if not 0.0 < self.gamma <= 1.0:
            raise ConfigError(f"NfspConfig.gamma: must lie in (0, 1] (got {self.gamma})")


def _mlp(n_in: int, n_out: int, hidden: tuple[int, ...]) -> nn.Sequential:
    layers, width = [], n_in
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, n_out))


@dataclass(frozen=True)
class NfspPolicy:
    """The average policy Π: ``act`` (its mode) and ``probs`` (its softmax), like
    ``baselines.rl.RLPolicy``."""

    module: nn.Module
    n_actions: int
    algo: str = "gp-nfsp"

    def probs(self, obs_batch) -> np.ndarray:
        with torch.no_grad():
            logits = self.module(torch.as_tensor(np.array(obs_batch, np.float32)))
        return torch.softmax(logits, -1).numpy().astype(np.float64)

    def act(self, obs_batch) -> np.ndarray:
        return self.probs(obs_batch).argmax(-1).astype(np.int64)


@partial(jax.jit, static_argnames=("n", "params"))
def _reset(key, n, params):
    obs, state = jax.vmap(he2024.reset, in_axes=(0, None))(jax.random.split(key, n), params)
    return jax.vmap(agent_obs, in_axes=(0, None))(obs, params), state


@partial(jax.jit, static_argnames=("params",))
def _step(key, state, action, params):
    keys = jax.random.split(key, action.shape[0])
    obs, state, reward, _, info = jax.vmap(he2024.step, in_axes=(0, 0, 0, None))(
        keys, state, action, params
    )
    return jax.vmap(agent_obs, in_axes=(0, None))(obs, params), state, reward, info


def _gae(rew: np.ndarray, val: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """(E, T) advantages of complete episodes (the value after the last step is 0)."""
    adv = np.zeros_like(rew)
    last = np.zeros(rew.shape[0])
    for t in range(rew.shape[1] - 1, -1, -1):
        nxt = val[:, t + 1] if t + 1 < rew.shape[1] else 0.0
        delta = rew[:, t] + gamma * nxt - val[:, t]
        last = delta + gamma * lam * last
        adv[:, t] = last
    return adv


def train(
    params: he2024.EnvParams, cfg: NfspConfig, seed: int = 0
) -> tuple[NfspPolicy, list[dict]]:
    """Train for ``cfg.steps`` env steps; returns Π and one ``he2024.episode_metrics`` row
    per training episode (with ``player``: "br" or "avg")."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_obs, n_act = he2024.obs_dim(params), params.n_actions
    actor = _mlp(n_obs, n_act, cfg.hidden_sizes)
    critic = _mlp(n_obs, 1, cfg.hidden_sizes)
    avg = _mlp(n_obs, n_act, cfg.hidden_sizes)
    ppo_opt = torch.optim.Adam([*actor.parameters(), *critic.parameters()], lr=cfg.lr)
    sl_opt = torch.optim.Adam(avg.parameters(), lr=cfg.sl_lr)
    res_obs = np.zeros((cfg.reservoir, n_obs), np.float32)
    res_act = np.zeros(cfg.reservoir, np.int64)
    seen = 0
    n_ep, n_t = cfg.episodes_per_update, params.n_tasks
    key = jax.random.PRNGKey(seed)
    rows: list[dict] = []
    for _ in range(math.ceil(cfg.steps / (n_ep * n_t))):
        key, k_reset, k_loop = jax.random.split(key, 3)
        br = rng.random(n_ep) < cfg.anticipatory
        obs, state = _reset(k_reset, n_ep, params)
        buf_obs, buf_act, buf_logp, buf_val, buf_rew, infos = [], [], [], [], [], []
        for k in jax.random.split(k_loop, n_t):
            x = torch.as_tensor(np.array(obs))
            with torch.no_grad():
                logits = torch.where(torch.as_tensor(br)[:, None], actor(x), avg(x))
                dist = torch.distributions.Categorical(logits=logits)
                a = dist.sample()
                buf_logp.append(dist.log_prob(a).numpy())
                buf_val.append(critic(x).squeeze(-1).numpy())
            buf_obs.append(x.numpy())
            buf_act.append(a.numpy())
            obs, state, rew, info = _step(k, state, a.numpy(), params)
            buf_rew.append(np.asarray(rew))
            infos.append(info)
        stacked = jax.tree.map(lambda *xs: np.stack(xs, 1), *infos)  # (E, T)
        metrics = he2024.episode_metrics(stacked)
        for e in range(n_ep):
            rows.append(
                {name: float(v[e]) for name, v in metrics.items()}
                | {"player": "br" if br[e] else "avg"}
            )
        if not br.any():
            continue
        o = np.stack(buf_obs, 1)[br]  # (E_br, T, D)
        act = np.stack(buf_act, 1)[br]
        logp = np.stack(buf_logp, 1)[br]
        val = np.stack(buf_val, 1)[br]
        rew = np.stack(buf_rew, 1)[br]
        adv = _gae(rew, val, cfg.gamma, cfg.gae_lambda)
        ret = adv + val
        flat = [t.reshape(-1, *t.shape[2:]) for t in (o, act, logp, adv, ret)]
        _ppo_update(actor, critic, ppo_opt, cfg, rng, *flat)
        for ob, ac in zip(flat[0], flat[1], strict=True):  # reservoir sampling (NFSP)
            slot = seen if seen < cfg.reservoir else rng.integers(0, seen + 1)
            if slot < cfg.reservoir:
                res_obs[slot], res_act[slot] = ob, ac
            seen += 1
        n = min(seen, cfg.reservoir)
        for _ in range(cfg.sl_steps):
            idx = rng.integers(0, n, size=min(cfg.sl_batch, n))
            loss = nn.functional.cross_entropy(
                avg(torch.as_tensor(res_obs[idx])), torch.as_tensor(res_act[idx])
            )
            sl_opt.zero_grad()
            loss.backward()
            sl_opt.step()
    avg.eval()
    return NfspPolicy(module=avg, n_actions=n_act), rows


def _ppo_update(actor, critic, opt, cfg: NfspConfig, rng, obs, act, logp, adv, ret) -> None:
    """Clipped PPO (Schulman et al. 2017) with advantage normalisation, ``epochs`` passes of
    ``minibatches`` minibatches."""
    obs, act = torch.as_tensor(obs), torch.as_tensor(act)
    logp, adv, ret = (torch.as_tensor(v, dtype=torch.float32) for v in (logp, adv, ret))
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    n = obs.shape[0]
    size = max(1, n // cfg.minibatches)
    for _ in range(cfg.epochs):
        perm = torch.as_tensor(rng.permutation(n))
        for start in range(0, n, size):
            idx = perm[start : start + size]
            dist = torch.distributions.Categorical(logits=actor(obs[idx]))
            ratio = torch.exp(dist.log_prob(act[idx]) - logp[idx])
            clipped = torch.clamp(ratio, 1 - cfg.eps_clip, 1 + cfg.eps_clip)
            pg = -torch.min(ratio * adv[idx], clipped * adv[idx]).mean()
            vf = ((critic(obs[idx]).squeeze(-1) - ret[idx]) ** 2).mean()
            loss = pg + cfg.vf_coef * vf - cfg.ent_coef * dist.entropy().mean()
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_([*actor.parameters(), *critic.parameters()], cfg.max_grad_norm)
            opt.step()
