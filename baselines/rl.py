"""Deep-RL baselines on any Gymnasium env: discrete SAC, PPO, DQN, A2C and Rainbow (Tianshou 2.0.1).

Needs the ``[rl]`` extra (torch, tianshou); ``import aifedge.baselines`` never imports it.
Used by the AIF-LLM reproduction (SAC / PPO / DQN / A2C, AIF-LLM Table 3) and the He et al.
reproduction (Rainbow / PPO / SAC, He et al. Fig. 3)::

    from aifedge.baselines import rl
    from aifedge.environments.gym_wrapper import AifLlmEnv

    res = rl.train("sac", AifLlmEnv, rl.make_config("sac", steps=20_000), seed=0, out_dir="ckpt")
    policy = rl.load_policy(res.checkpoint, AifLlmEnv)       # greedy / deterministic actor
    frame = rl.evaluate(policy, AifLlmEnv, episodes=200, seed=1)  # one row per episode

Every environment is built by an ``env_factory: Callable[[], gymnasium.Env]`` with a flat
``Box`` observation and a ``Discrete`` action space. The agents see exactly what the env's
observation holds (for ``aif-llm``: ``aif_llm.flatten_obs``, the same information the AIF
agent observes) and learn from the env's reward (``aif-llm``: +1 met, 0 violated, −1 failed).

Hyper-parameters. Neither paper gives any, so the values below were fixed before any
baseline was run and are never changed after seeing results. Shared by every algorithm
(equal budgets and network sizes): training env steps ``steps``; MLPs of ``hidden_sizes`` =
(128, 128) ReLU for every network (Q-nets, actors, critics); Adam, ``lr`` = 3e-4 (the SAC and
PPO papers' Adam rate); ``gamma`` = 0.9 — in ``aif-llm`` an action's effect (the queue it
fills) lasts at most ``edge_queue_s / step_ms`` = 20 steps, 1/(1 − γ) = 10 steps covers it,
and with |r| ≤ 1 it bounds |Q| ≤ 10 = the standard C51/Rainbow support [−10, 10];
``n_envs`` = 4 training envs. The He et al. runs re-derive γ (and SAC's target entropy, PPO's
entropy coefficient, Rainbow's rate) for their env by an equal tuning budget per method
(``paper_repro.he2024.TUNING_GRID`` / ``TUNED``). Algorithm-specific values come from each
algorithm's reference implementation, cited on the config classes. Tianshou collects data
with its networks in eval mode, which switches Rainbow's noisy layers off during collection,
so Rainbow also uses DQN's ε-greedy schedule.

Randomness: Tianshou samples replay batches and ε-greedy actions from NumPy's and torch's
global generators; ``train`` seeds both from ``seed`` and restores their previous state on
exit, so the same seed gives the same weights (on one machine, ``threads`` = 1).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import pandas as pd
import torch
from tianshou.algorithm import A2C, DQN, PPO, DiscreteSAC, RainbowDQN
from tianshou.algorithm.algorithm_base import Algorithm, OffPolicyAlgorithm, OnPolicyAlgorithm
from tianshou.algorithm.modelfree.c51 import C51Policy
from tianshou.algorithm.modelfree.discrete_sac import DiscreteSACPolicy
from tianshou.algorithm.modelfree.dqn import DiscreteQLearningPolicy
from tianshou.algorithm.modelfree.reinforce import DiscreteActorPolicy
from tianshou.algorithm.modelfree.sac import AutoAlpha
from tianshou.algorithm.optim import AdamOptimizerFactory
from tianshou.data import (
    Batch,
    Collector,
    CollectStats,
    PrioritizedVectorReplayBuffer,
    VectorReplayBuffer,
)
from tianshou.env import DummyVectorEnv, SubprocVectorEnv
from tianshou.utils.net.common import Net
from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic, NoisyLinear
from tianshou.utils.torch_utils import policy_within_training_step, torch_train_mode

from aifedge import console, results
from aifedge.config import ConfigError, check_fields
from aifedge.registry import RL_ALGOS

QUICK_STEPS = 20_000
"""Training env steps per algorithm of ``--quick`` runs (200 episodes of 100 steps)."""
FULL_STEPS = 100_000
"""Training env steps per algorithm of full runs (1,000 episodes of 100 steps); the default."""

CHECKPOINT_FORMAT = "aifedge-rl-1"
LOG = logging.getLogger(__name__)
CHECKPOINT_NAME = "policy.pt"


# ----------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class _Common:
    """Fields every algorithm shares, equal across algorithms (the papers are silent).

    steps         env steps of training, all training envs together (the budget).
    hidden_sizes  hidden layer widths of every MLP (ReLU).
    lr            Adam learning rate of every network (SAC and PPO papers: 3e-4).
    gamma         discount; see the module docstring for why 0.9.
    n_envs        parallel training envs (Tianshou vector env).
    vector        "dummy" (envs stepped in this process; fastest on 2 cores) or "subproc"
                  (one process per env, ``spawn`` start since JAX must not be forked; a
                  calling script needs an ``if __name__ == "__main__":`` guard).
    threads       torch intra-op threads while training (1 is fastest for these MLPs).
    """

    steps: int = FULL_STEPS
    hidden_sizes: tuple[int, ...] = (128, 128)
    lr: float = 3e-4
    gamma: float = 0.9
    n_envs: int = 4
    vector: str = "dummy"
    threads: int = 1


@dataclass(frozen=True)
class _OffPolicy(_Common):
    """Replay-buffer fields shared by DQN, Rainbow and discrete SAC.

    batch_size        transitions per gradient step (discrete-SAC paper: 64).
    buffer_size       replay capacity [transitions] (≥ the budget: nothing is overwritten).
    learning_starts   uniform-random env steps before learning (part of ``steps``).
    collect_steps     env steps per collection (all envs), then
    updates_per_step  gradient steps per collected env step: 0.25 = one update every 4
                      env steps (DQN, Mnih et al. 2015; discrete SAC, Christodoulou 2019).
    """

    batch_size: int = 64
    buffer_size: int = 100_000
    learning_starts: int = 1_000
    collect_steps: int = 16
    updates_per_step: float = 0.25


@dataclass(frozen=True)
class _EpsGreedy(_OffPolicy):
    """Exploration and target fields shared by DQN and Rainbow.

    eps_start, eps_end, eps_fraction  ε-greedy from 1.0 to 0.05 linearly over the first 10 %
                                      of ``steps`` (Stable-Baselines3 defaults); greedy at
                                      evaluation.
    target_update   gradient steps between hard target-network copies (250 = 1,000 env steps).
    """

    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_fraction: float = 0.1
    target_update: int = 250


@dataclass(frozen=True)
class DQNConfig(_EpsGreedy):
    """Double DQN (Mnih et al. 2015; van Hasselt et al. 2016), Tianshou ``DQN``.

    huber_delta     Huber TD loss threshold (Nature DQN's error clipping at 1).
    """

    huber_delta: float = 1.0


@dataclass(frozen=True)
class RainbowConfig(_EpsGreedy):
    """Rainbow (Hessel et al. 2018), Tianshou ``RainbowDQN``: C51 + double + dueling + noisy
    heads + n-step + prioritised replay. Paper values: ``n_step`` 3, 51 atoms on [−10, 10],
    noisy σ₀ 0.5, priority exponent α 0.5, importance exponent β 0.4 → 1 over training.
    ε-greedy as ``DQNConfig`` (noisy layers are off while Tianshou collects; module docstring).
    """

    n_step: int = 3
    num_atoms: int = 51
    v_min: float = -10.0
    v_max: float = 10.0
    noisy_std: float = 0.5
    prio_alpha: float = 0.5
    prio_beta: float = 0.4


@dataclass(frozen=True)
class SACConfig(_OffPolicy):
    """Discrete soft actor-critic (Christodoulou 2019), Tianshou ``DiscreteSAC``: twin
    critics with Polyak targets (``tau`` 0.005, Haarnoja et al. 2018), entropy temperature
    tuned towards ``target_entropy_ratio`` · log|A| (the paper's 0.98). The evaluation
    policy is the actor's mode (greedy).
    """

    tau: float = 0.005
    target_entropy_ratio: float = 0.98


@dataclass(frozen=True)
class PPOConfig(_Common):
    """PPO (Schulman et al. 2017), Tianshou ``PPO``; CleanRL's classic-control setting.

    collect_steps  env steps per update, all envs (4 envs × 128).
    batch_size     minibatch size (4 minibatches);  epochs: passes over each rollout.
    eps_clip 0.2, value clipping, advantage normalisation, GAE λ 0.95, value coefficient
    0.5, entropy coefficient 0.01, gradient-norm clip 0.5. Greedy (mode) at evaluation.
    """

    collect_steps: int = 512
    batch_size: int = 128
    epochs: int = 4
    eps_clip: float = 0.2
    gae_lambda: float = 0.95
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    max_grad_norm: float = 0.5


@dataclass(frozen=True)
class A2CConfig(_Common):
    """Synchronous advantage actor-critic (Mnih et al. 2016), Tianshou ``A2C``.

    collect_steps  env steps per update, all envs (4 envs × 5 steps, the paper's t_max = 5).
    One gradient step on each rollout; n-step returns (GAE λ = 1); value coefficient 0.5,
    entropy coefficient 0.01 (paper), gradient-norm clip 0.5. Greedy (mode) at evaluation.
    """

    collect_steps: int = 20
    gae_lambda: float = 1.0
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    max_grad_norm: float = 0.5


ALGOS = RL_ALGOS
RLConfig = SACConfig | PPOConfig | DQNConfig | A2CConfig | RainbowConfig
"""The config of any single-agent algorithm."""
CONFIGS: dict[str, type] = dict(
    zip(ALGOS, (SACConfig, PPOConfig, DQNConfig, A2CConfig, RainbowConfig), strict=True)
)
"""Algorithm name (``registry.RL_ALGOS``) -> its frozen config class."""


def _check_algo(algo: str) -> None:
    if algo not in CONFIGS:
        raise ConfigError(f"algo: unknown algorithm {algo!r}; choose from {', '.join(ALGOS)}")


def make_config(algo: str, **overrides) -> RLConfig:
    """The frozen config of ``algo`` with validated ``overrides``; raises ``ConfigError``."""
    _check_algo(algo)
    cls = CONFIGS[algo]
    what = cls.__name__
    check_fields(overrides, [f.name for f in dataclasses.fields(cls)], what)
    if "hidden_sizes" in overrides:
        overrides["hidden_sizes"] = tuple(overrides["hidden_sizes"])
    cfg = cls(**overrides)
    for name in (
        "steps",
        "n_envs",
        "threads",
        "collect_steps",
        "batch_size",
        "buffer_size",
        "epochs",
        "target_update",
        "n_step",
        "num_atoms",
    ):
        value = getattr(cfg, name, 1)
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{what}.{name}: must be an integer ≥ 1 (got {value!r})")
    if not cfg.hidden_sizes or any(not isinstance(h, int) or h < 1 for h in cfg.hidden_sizes):
        raise ConfigError(f"{what}.hidden_sizes: needs positive integers (got {cfg.hidden_sizes})")
    if not 0 < cfg.gamma <= 1:
        raise ConfigError(f"{what}.gamma: must lie in (0, 1] (got {cfg.gamma})")
    if not cfg.lr > 0:
        raise ConfigError(f"{what}.lr: must be > 0 (got {cfg.lr})")
    if cfg.vector not in ("dummy", "subproc"):
        raise ConfigError(f"{what}.vector: {cfg.vector!r}; choose 'dummy' or 'subproc'")
    if cfg.collect_steps % cfg.n_envs:
        raise ConfigError(
            f"{what}.collect_steps: {cfg.collect_steps} must be a multiple of n_envs = {cfg.n_envs}"
        )
    if isinstance(cfg, _OffPolicy):
        if not 0 <= cfg.learning_starts < cfg.steps:
            raise ConfigError(
                f"{what}.learning_starts: must lie in [0, steps = {cfg.steps}) "
                f"(got {cfg.learning_starts})"
            )
        if round(cfg.updates_per_step * cfg.collect_steps) < 1:
            raise ConfigError(
                f"{what}.updates_per_step: updates_per_step · collect_steps must "
                f"round to ≥ 1 gradient step"
            )
    if isinstance(cfg, _EpsGreedy):
        for name in ("eps_start", "eps_end", "eps_fraction"):
            if not 0 <= getattr(cfg, name) <= 1:
                raise ConfigError(f"{what}.{name}: must lie in [0, 1] (got {getattr(cfg, name)})")
    if isinstance(cfg, RainbowConfig) and not cfg.v_min < cfg.v_max:
        raise ConfigError(f"{what}.v_min: must be < v_max (got {cfg.v_min}, {cfg.v_max})")
    return cfg


# ---------------------------------------------------------------------------- networks


def _spaces(env_factory: Callable[[], gym.Env]) -> tuple[gym.spaces.Box, gym.spaces.Discrete]:
    env = env_factory()
    try:
        obs_space, act_space = env.observation_space, env.action_space
    finally:
        env.close()
    if not isinstance(act_space, gym.spaces.Discrete):
        raise ValueError(f"env_factory: action space must be Discrete (got {act_space})")
    if not isinstance(obs_space, gym.spaces.Box):
        raise ValueError(f"env_factory: observation space must be a flat Box (got {obs_space})")
    return obs_space, act_space


def _trunk(cfg, obs_shape) -> Net:
    return Net(state_shape=obs_shape, hidden_sizes=cfg.hidden_sizes)


def _build_policy(algo: str, cfg, obs_space, act_space):
    """The acting module (what a checkpoint stores); deterministic outside training."""
    shape, n = obs_space.shape, int(act_space.n)
    kw = {"action_space": act_space, "observation_space": obs_space}
    if algo == "dqn":
        net = Net(state_shape=shape, action_shape=n, hidden_sizes=cfg.hidden_sizes)
        return DiscreteQLearningPolicy(model=net, eps_training=cfg.eps_start, **kw)
    if algo == "rainbow":

        def noisy(d_in: int, d_out: int) -> NoisyLinear:
            return NoisyLinear(d_in, d_out, cfg.noisy_std)

        net = Net(
            state_shape=shape,
            action_shape=n,
            hidden_sizes=cfg.hidden_sizes,
            softmax=True,
            num_atoms=cfg.num_atoms,
            dueling_param=({"linear_layer": noisy}, {"linear_layer": noisy}),
        )
        return C51Policy(
            model=net,
            num_atoms=cfg.num_atoms,
            v_min=cfg.v_min,
            v_max=cfg.v_max,
            eps_training=cfg.eps_start,
            **kw,
        )
    actor = DiscreteActor(preprocess_net=_trunk(cfg, shape), action_shape=n, softmax_output=False)
    if algo == "sac":
        return DiscreteSACPolicy(actor=actor, deterministic_eval=True, **kw)
    return DiscreteActorPolicy(actor=actor, deterministic_eval=True, **kw)


def _build_algorithm(algo: str, cfg, policy, obs_space, act_space) -> Algorithm:
    adam = AdamOptimizerFactory(lr=cfg.lr)
    shape, n = obs_space.shape, int(act_space.n)
    if algo == "dqn":
        return DQN(
            policy=policy,
            optim=adam,
            gamma=cfg.gamma,
            target_update_freq=cfg.target_update,
            is_double=True,
            huber_loss_delta=cfg.huber_delta,
        )
    if algo == "rainbow":
        return RainbowDQN(
            policy=policy,
            optim=adam,
            gamma=cfg.gamma,
            n_step_return_horizon=cfg.n_step,
            target_update_freq=cfg.target_update,
        )
    if algo == "sac":
        critics = [DiscreteCritic(preprocess_net=_trunk(cfg, shape), last_size=n) for _ in range(2)]
        alpha = AutoAlpha(cfg.target_entropy_ratio * math.log(n), 0.0, adam)
        return DiscreteSAC(
            policy=policy,
            policy_optim=adam,
            critic=critics[0],
            critic_optim=adam,
            critic2=critics[1],
            critic2_optim=adam,
            tau=cfg.tau,
            gamma=cfg.gamma,
            alpha=alpha,
        )
    critic = DiscreteCritic(preprocess_net=_trunk(cfg, shape), last_size=1)
    common = {
        "policy": policy,
        "critic": critic,
        "optim": adam,
        "gamma": cfg.gamma,
        "gae_lambda": cfg.gae_lambda,
        "vf_coef": cfg.vf_coef,
        "ent_coef": cfg.ent_coef,
        "max_grad_norm": cfg.max_grad_norm,
    }
    if algo == "ppo":
        return PPO(eps_clip=cfg.eps_clip, value_clip=True, advantage_normalization=True, **common)
    return A2C(**common)


def _buffer(algo: str, cfg):
    if algo == "rainbow":
        return PrioritizedVectorReplayBuffer(
            cfg.buffer_size, cfg.n_envs, alpha=cfg.prio_alpha, beta=cfg.prio_beta, weight_norm=True
        )
    size = cfg.buffer_size if isinstance(cfg, _OffPolicy) else cfg.collect_steps
    return VectorReplayBuffer(size, cfg.n_envs)


# ------------------------------------------------------------------------------ policy


@dataclass(frozen=True)
class RLPolicy:
    """A trained agent for evaluation: ``act(obs_batch (B, *obs_shape)) -> (B,) int64``.

    Greedy and deterministic: argmax Q (DQN), argmax expected distributional Q with the
    noisy layers' mean weights (Rainbow), the actor's mode (SAC, PPO, A2C).
    """

    algo: str
    config: Any
    module: torch.nn.Module
    obs_shape: tuple[int, ...]
    n_actions: int

    def _forward(self, obs_batch) -> Batch:
        obs = np.array(obs_batch, dtype=np.float32)  # a writable copy (torch needs one)
        if obs.shape[1:] != self.obs_shape:
            raise ValueError(
                f"obs_batch: expected shape (B, {', '.join(map(str, self.obs_shape))})"
                f", got {obs.shape}"
            )
        with torch.no_grad(), torch_train_mode(self.module, enabled=False):
            return self.module(Batch(obs=obs, info=Batch()))

    def act(self, obs_batch) -> np.ndarray:
        act = self._forward(obs_batch).act
        return np.asarray(act.cpu() if isinstance(act, torch.Tensor) else act, dtype=np.int64)

    def probs(self, obs_batch) -> np.ndarray:
        """(B, A) the distribution the policy samples from in training, for sampling-mode
        evaluation: the actor's softmax (SAC, PPO, A2C) or ε-greedy around ``act`` with the
        final ε ``eps_end`` (DQN, Rainbow). ``act`` is its mode."""
        out = self._forward(obs_batch)
        if hasattr(out, "dist") and out.dist is not None:
            return out.dist.probs.cpu().numpy().astype(np.float64)
        greedy = np.asarray(out.act, dtype=np.int64)
        eps = self.config.eps_end
        probs = np.full((greedy.size, self.n_actions), eps / self.n_actions)
        probs[np.arange(greedy.size), greedy] += 1.0 - eps
        return probs


def _save_checkpoint(path: Path, algo: str, cfg, policy: RLPolicy) -> Path:
    """``torch.save`` via a temporary file in the same folder, then rename (atomic)."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "algo": algo,
        "config": json.dumps(dataclasses.asdict(cfg)),
        "obs_shape": list(policy.obs_shape),
        "n_actions": policy.n_actions,
        "state_dict": policy.module.state_dict(),
        "meta": {"commit": results.git_commit(), "versions": results.versions()},
    }
    with results.atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def _check_meta(path: Path, meta) -> None:
    """Log a warning when the checkpoint was written with other library versions (its
    numbers may then not reproduce); older checkpoints carry no metadata."""
    if not isinstance(meta, dict):
        LOG.warning("checkpoint %s carries no version metadata (written before 2026-12)", path)
        return
    now = results.versions()
    then = meta.get("versions", {})
    diff = [
        f"{k} {then[k]} → {now.get(k)}"
        for k in ("torch", "tianshou", "aifedge")
        if k in then and then[k] != now.get(k)
    ]
    if diff:
        LOG.warning(
            "checkpoint %s was written with %s (commit %s); results may differ",
            path,
            ", ".join(diff),
            str(meta.get("commit", "?"))[:10],
        )


def load_policy(
    checkpoint_path: str | Path, env_factory: Callable[[], gym.Env] | None = None
) -> RLPolicy:
    """Rebuild the greedy policy saved by ``train``; checks it fits ``env_factory``'s spaces."""
    path = Path(checkpoint_path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise ConfigError(
            f"--checkpoint: {str(path)!r} does not exist; pass the {CHECKPOINT_NAME} "
            f"(or its folder) written by `aifedge train`"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch's message may suggest weights_only=False: never relay it
        raise ConfigError(
            f"--checkpoint: {str(path)!r} is not a loadable aifedge checkpoint "
            f"({type(err).__name__}: corrupted, truncated or foreign); retrain it with "
            "`aifedge train`"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"--checkpoint: {str(path)!r} was not written by aifedge.baselines.rl")
    try:
        algo = payload["algo"]
        cfg = make_config(algo, **json.loads(payload["config"]))
        obs_shape, n = tuple(int(d) for d in payload["obs_shape"]), int(payload["n_actions"])
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(
            f"--checkpoint: {str(path)!r} lacks or garbles a field ({err}); retrain it"
        ) from None
    _check_meta(path, payload.get("meta"))
    obs_space = gym.spaces.Box(-np.inf, np.inf, shape=obs_shape, dtype=np.float32)
    act_space = gym.spaces.Discrete(n)
    if env_factory is not None:
        env_obs, env_act = _spaces(env_factory)
        if env_obs.shape != obs_shape or int(env_act.n) != n:
            raise ConfigError(
                f"--checkpoint: {path.name} was trained on obs {obs_shape} / {n} actions, "
                f"this env gives obs {env_obs.shape} / {env_act.n} actions (another number "
                "of edge nodes?); train one for these parameters"
            )
        obs_space, act_space = env_obs, env_act
    module = _build_policy(algo, cfg, obs_space, act_space)
    try:
        module.load_state_dict(payload["state_dict"])
    except (KeyError, RuntimeError, TypeError, AttributeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(
            f"--checkpoint: {path.name}: weights do not fit a {algo} network ({first})"
        ) from None
    module.eval()
    return RLPolicy(algo=algo, config=cfg, module=module, obs_shape=obs_shape, n_actions=n)


# ------------------------------------------------------------------------------- train


class TrainResult(NamedTuple):
    """What ``train`` returns. ``curve``: one row per finished training episode."""

    policy: RLPolicy
    curve: pd.DataFrame
    checkpoint: Path | None
    env_steps: int
    wall_s: float


@contextmanager
def _global_rng(seed: int, threads: int) -> Iterator[None]:
    """Seed NumPy's and torch's global generators (Tianshou uses them); restore on exit."""
    np_state = np.random.get_state()  # noqa: NPY002 (Tianshou samples from the global RNG)
    n_threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        np.random.seed(seed % 2**32)  # noqa: NPY002
        torch.manual_seed(seed)
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            np.random.set_state(np_state)  # noqa: NPY002
            torch.set_num_threads(n_threads)


class _NoInfo(gym.Wrapper):
    """Drops ``info`` while training: Tianshou stores it in the replay buffer, and nested
    records (``aif-llm``'s ``StepInfo``) make every buffer sample several times slower."""

    def reset(self, **kwargs):
        return self.env.reset(**kwargs)[0], {}

    def step(self, action):
        obs, reward, terminated, truncated, _ = self.env.step(action)
        return obs, reward, terminated, truncated, {}


class _EpisodeLog:
    """Collector step hook: per-env running return and length; finished episodes in ``done``.

    Tianshou's own per-collect ``returns``/``lens`` come from the buffer, which on-policy
    algorithms clear after each update, cutting episodes that span an update.
    """

    def __init__(self, n_envs: int):
        self.ret, self.len = np.zeros(n_envs), np.zeros(n_envs, dtype=np.int64)
        self.done: list[tuple[float, int]] = []

    def __call__(self, action_batch, rollout_batch) -> None:
        del action_batch
        ids = np.asarray(rollout_batch.info.env_id)
        self.ret[ids] += rollout_batch.rew
        self.len[ids] += 1
        for i in ids[np.asarray(rollout_batch.done)]:
            self.done.append((float(self.ret[i]), int(self.len[i])))
            self.ret[i], self.len[i] = 0.0, 0


def _vector_env(env_factory, cfg, seed: int):
    fns = [lambda: _NoInfo(env_factory())] * cfg.n_envs
    envs = DummyVectorEnv(fns) if cfg.vector == "dummy" else SubprocVectorEnv(fns, context="spawn")
    envs.seed([int(s) for s in episode_seeds(seed, cfg.n_envs)])
    return envs


def _schedule(algo: str, cfg, algorithm: Algorithm, buffer, frac: float) -> None:
    """ε-greedy annealing (DQN, Rainbow) and importance-weight β annealing (Rainbow)."""
    if isinstance(cfg, _EpsGreedy):
        ramp = min(1.0, frac / cfg.eps_fraction) if cfg.eps_fraction > 0 else 1.0
        algorithm.policy.set_eps_training(cfg.eps_start + ramp * (cfg.eps_end - cfg.eps_start))
    if algo == "rainbow":
        buffer.set_beta(cfg.prio_beta + frac * (1.0 - cfg.prio_beta))


def _update(algo: str, cfg, algorithm: Algorithm, collector, n_collected: int) -> dict:
    stats: Any = None
    if isinstance(algorithm, OffPolicyAlgorithm):
        for _ in range(round(cfg.updates_per_step * n_collected)):
            stats = algorithm.update(buffer=collector.buffer, sample_size=cfg.batch_size)
    elif isinstance(algorithm, OnPolicyAlgorithm):
        repeat = cfg.epochs if algo == "ppo" else 1
        batch = cfg.batch_size if algo == "ppo" else None
        stats = algorithm.update(buffer=collector.buffer, batch_size=batch, repeat=repeat)
        collector.reset_buffer(keep_statistics=True)
    return {} if stats is None else stats.get_loss_stats_dict()


def train(
    algo: str,
    env_factory: Callable[[], gym.Env],
    cfg: RLConfig | None = None,
    seed: int = 0,
    out_dir: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``algo`` for ``cfg.steps`` env steps on ``cfg.n_envs`` copies of the env.

    Writes (when ``out_dir`` is given, each file atomically) ``policy.pt`` (the acting
    network, the config and the spaces; ``load_policy`` reads it), ``config.json``
    (algorithm, config, seed, commit, versions, wall time) and ``curve.csv`` (per training
    episode: env_step, return, length, latest losses). A progress bar goes to stderr.
    """
    _check_algo(algo)
    cfg = make_config(algo) if cfg is None else cfg
    if type(cfg) is not CONFIGS[algo]:
        raise ValueError(
            f"cfg: {algo!r} needs a {CONFIGS[algo].__name__}, got "
            f"{type(cfg).__name__}; build it with make_config({algo!r}, ...)"
        )
    obs_space, act_space = _spaces(env_factory)
    start = time.perf_counter()
    rows: list[dict] = []
    with _global_rng(seed, cfg.threads):
        policy = _build_policy(algo, cfg, obs_space, act_space)
        algorithm = _build_algorithm(algo, cfg, policy, obs_space, act_space)
        envs = _vector_env(env_factory, cfg, seed)
        buffer = _buffer(algo, cfg)
        log = _EpisodeLog(cfg.n_envs)
        collector = Collector[CollectStats](
            algorithm, envs, buffer, exploration_noise=True, on_step_hook=log
        )
        collector.reset()
        env_step, losses = 0, {}
        bar = console.progress(algo, "steps {task.fields[ret]}", progress)
        try:
            with bar:
                task = bar.add_task("train", total=cfg.steps, ret="")
                while env_step < cfg.steps:
                    warmup, n = False, cfg.collect_steps
                    if isinstance(cfg, _OffPolicy) and env_step < cfg.learning_starts:
                        warmup, n = True, cfg.learning_starts - env_step
                    _schedule(algo, cfg, algorithm, buffer, env_step / cfg.steps)
                    with policy_within_training_step(policy):
                        stats = collector.collect(
                            n_step=-(-n // cfg.n_envs) * cfg.n_envs, random=warmup
                        )
                        env_step += stats.n_collected_steps
                        if not warmup:
                            losses = _update(
                                algo, cfg, algorithm, collector, stats.n_collected_steps
                            )
                    for ret, length in log.done[len(rows) :]:
                        rows.append(
                            {
                                "algo": algo,
                                "seed": seed,
                                "env_step": env_step,
                                "episode": len(rows),
                                "return": float(ret),
                                "length": int(length),
                                "wall_s": time.perf_counter() - start,
                                **losses,
                            }
                        )
                    recent = np.mean([r["return"] for r in rows[-10:]]) if rows else None
                    bar.update(
                        task,
                        completed=min(env_step, cfg.steps),
                        ret="" if recent is None else f"return {recent:.2f}",
                    )
        finally:
            envs.close()
    policy.eval()
    trained = RLPolicy(
        algo=algo,
        config=cfg,
        module=policy,
        obs_shape=tuple(obs_space.shape),
        n_actions=int(act_space.n),
    )
    wall = time.perf_counter() - start
    curve = pd.DataFrame(
        rows,
        columns=None
        if rows
        else ["algo", "seed", "env_step", "episode", "return", "length", "wall_s"],
    )
    checkpoint = None
    if out_dir is not None:
        out = Path(out_dir)
        checkpoint = _save_checkpoint(out / CHECKPOINT_NAME, algo, cfg, trained)
        results.write_csv(out / "curve.csv", curve)
        results.write_json(
            out / "config.json",
            {
                "algo": algo,
                "seed": seed,
                "config": dataclasses.asdict(cfg),
                "obs_shape": list(trained.obs_shape),
                "n_actions": trained.n_actions,
                "env_steps": env_step,
                "wall_s": wall,
                "commit": results.git_commit(),
                "versions": results.versions(),
            },
        )
    return TrainResult(
        policy=trained, curve=curve, checkpoint=checkpoint, env_steps=env_step, wall_s=wall
    )


# ---------------------------------------------------------------------------- evaluate


def episode_seeds(seed: int, n: int) -> np.ndarray:
    """(n,) uint32 reset seeds for episodes 0..n-1 (independent of batching)."""
    return np.random.SeedSequence(seed).generate_state(n)


def step_metrics(infos: list[dict]) -> dict[str, float]:
    """Per-episode metrics of ``aif-llm`` from its ``info["step"]`` records (``StepInfo``).

    Same definitions as ``aifedge.environments.metrics.episode_metrics`` (it is called);
    empty when the env's infos carry no ``step`` record with ``outcome`` and ``latency_ms``.
    """
    steps = [info["step"] for info in infos if "step" in info]
    if not steps or len(steps) != len(infos) or not hasattr(steps[0], "outcome"):
        return {}
    from aifedge.environments.metrics import episode_metrics

    out = episode_metrics(
        np.array([s.outcome for s in steps]),
        np.array([s.latency_ms for s in steps], dtype=np.float32),
    )
    return {name: float(value) for name, value in out.items()}


def evaluate(
    policy,
    env_factory: Callable[[], gym.Env],
    episodes: int,
    seed: int = 0,
    n_envs: int = 4,
    metrics_fn: Callable[[list[dict]], dict] = step_metrics,
    progress: bool = False,
) -> pd.DataFrame:
    """Run ``episodes`` episodes with ``policy.act``; one row per episode.

    Episode i starts from ``env.reset(seed=episode_seeds(seed, episodes)[i])``; ``n_envs``
    episodes run in lockstep so the policy acts on a batch. Columns: ``policy`` (the
    algorithm name), ``episode``, ``seed``, ``return``, ``length``, and ``metrics_fn``'s
    per-episode metrics (``aif-llm``: qos, latency_ms, tcr, violation_risk, failure_rate,
    the same schema as ``aifedge.simulate.simulate``).
    """
    if episodes < 1:
        raise ConfigError(f"episodes: must be ≥ 1 (got {episodes})")
    seeds = episode_seeds(seed, episodes)
    envs = [env_factory() for _ in range(min(n_envs, episodes))]
    name = getattr(policy, "algo", type(policy).__name__)
    rows = []
    bar = console.progress(name, "episodes", progress)
    try:
        with bar:
            task = bar.add_task("eval", total=episodes)
            for first in range(0, episodes, len(envs)):
                chunk = seeds[first : first + len(envs)]
                rows += _run_chunk(policy, envs[: len(chunk)], chunk, first, metrics_fn, name)
                bar.update(task, completed=first + len(chunk))
    finally:
        for env in envs:
            env.close()
    return pd.DataFrame(rows)


def _run_chunk(policy, envs, seeds, first: int, metrics_fn, name: str) -> list[dict]:
    obs = [env.reset(seed=int(s))[0] for env, s in zip(envs, seeds, strict=True)]
    infos: list[list[dict]] = [[] for _ in envs]
    returns = [0.0] * len(envs)
    live = list(range(len(envs)))
    while live:
        actions = policy.act(np.stack([obs[i] for i in live]))
        still = []
        for i, action in zip(live, actions, strict=True):
            obs[i], reward, terminated, truncated, info = envs[i].step(int(action))
            returns[i] += float(reward)
            infos[i].append(info)
            if not (terminated or truncated):
                still.append(i)
        live = still
    return [
        {
            "policy": name,
            "episode": first + i,
            "seed": int(s),
            "return": returns[i],
            "length": len(infos[i]),
            **metrics_fn(infos[i]),
        }
        for i, s in enumerate(seeds)
    ]


# --------------------------------------------------------------------- aif-llm (JAX)


def jax_policy(policy: RLPolicy, params):
    """``policy`` as an ``aifedge.environments.Policy`` for the pure-JAX ``aif-llm`` rollouts.

    ``act`` feeds ``aif_llm.flatten_obs(obs, params)`` — exactly ``AifLlmEnv``'s observation —
    to ``policy.act`` through ``jax.pure_callback``; under ``vmap`` (``batch_rollout``) the
    callback receives the whole batch, so one network call serves every episode of a step.
    This lets ``aifedge simulate``'s vmapped engine run a checkpoint.
    """
    import jax
    import jax.numpy as jnp

    from aifedge.environments import aif_llm, stateless

    dim = aif_llm.obs_dim(params)
    if policy.obs_shape != (dim,) or policy.n_actions != params.n_nodes:
        raise ValueError(
            f"policy: trained on obs {policy.obs_shape} / {policy.n_actions} actions; "
            f"aif-llm with these params has obs ({dim},) / {params.n_nodes} actions"
        )

    def host_act(flat: np.ndarray) -> np.ndarray:
        flat = np.asarray(flat, dtype=np.float32)
        return policy.act(flat.reshape(-1, dim)).astype(np.int32).reshape(flat.shape[:-1])

    def act(key, obs, p):
        del key
        flat = aif_llm.flatten_obs(obs, p)
        out = jax.ShapeDtypeStruct(flat.shape[:-1], jnp.int32)
        return jax.pure_callback(host_act, out, flat, vmap_method="expand_dims")

    return stateless(act)


def checkpoint_policy(checkpoint_path: str | Path, params, algo: str | None = None):
    """``jax_policy(load_policy(checkpoint_path), params)``; ``ConfigError`` if the checkpoint
    holds another algorithm than ``algo`` (for ``aifedge simulate --policy ALGO --checkpoint``).
    """
    from aifedge.environments.gym_wrapper import AifLlmEnv

    policy = load_policy(checkpoint_path, lambda: AifLlmEnv(params))
    if algo is not None and policy.algo != algo:
        raise ConfigError(
            f"--checkpoint: holds a {policy.algo!r} policy, not {algo!r}; pass "
            f"--policy {policy.algo} or another checkpoint"
        )
    return jax_policy(policy, params)
