"""PettingZoo parallel-API wrapper over the pure-JAX ``ucb-coma`` step (UCB-COMA).

Agents ``task_0 … task_{I-1}``, one per LLM inference task (§4.1). Each agent observes its
own s_i = (P_i, S, DAG) flattened (``agent_obs_dim`` floats, all ≥ 0) and picks one of the
16 joint actions a = sub-task · 4 + location. An agent *terminates* when its task is fully
scheduled; all agents are *truncated* at ``max_steps``. ``state()`` is the global S of the
centralised critics. Two masks, (16,) int8, in ``infos[agent]``:

* ``"action_mask"``: the action space A_i(s) of §4.1.2, every location of every sub-task
  "待调度子任务" (awaiting scheduling, P_i = 0) — ``ucb_coma.pending_action_mask``. An
  action outside it is ignored (reward 0), as in the core env.
* ``"feasible_mask"``: the actions that also satisfy every constraint (precedence C5,
  modality C4, server up) — ``ucb_coma.valid_action_mask``. Feasible actions inside the
  action space that violate a constraint are penalised (η1, η2), not masked (§4.1.2).

The dynamics are
exactly ``ucb_coma.step``; the wrapper only owns the PRNG key and the state (the same
key handling as ``gym_base.JaxEnv``).

PettingZoo and gymnasium are imported here only; the core env never needs them.
"""

import functools
from functools import partial

import jax
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from . import ucb_coma as dag

_HIGH = float(np.finfo(np.float32).max)


def agent_obs_dim() -> int:
    j = dag.J_MAX
    return j * dag.NODE_FEATURES + j * j + j + dag.N_LOC * dag.SERVER_FEATURES + 1


def flatten_agent_obs(obs: dag.Obs) -> np.ndarray:
    """(I, agent_obs_dim) float32: nodes, adjacency, progress, servers, t per agent."""
    n = obs.progress.shape[0]
    parts = [
        np.asarray(obs.nodes).reshape(n, -1),
        np.asarray(obs.adj).reshape(n, -1),
        np.asarray(obs.progress),
        np.asarray(obs.servers).reshape(n, -1),
        np.full((n, 1), float(obs.t)),
    ]
    return np.concatenate(parts, axis=1).astype(np.float32)


def _masks(obs: dag.Obs):
    """(pending = the action space, fully feasible), each (I, 16) bool."""
    return dag.pending_action_mask(obs), dag.valid_action_mask(obs)


# Compiled once per process and per ``EnvParams`` (hashable, hence static), not once per env
# instance; the action mask and task completion are computed inside the same compiled call.
@partial(jax.jit, static_argnames=("params",))
def _reset(key, params):
    obs, state = dag.reset(key, params)
    return obs, state, _masks(obs)


@partial(jax.jit, static_argnames=("params",))
def _step(key, state, actions, params):
    obs, state, rewards, _, _ = dag.step(key, state, actions, params)
    return obs, state, rewards, _masks(obs), dag.task_complete(state)


class DagOffloadParallelEnv(ParallelEnv):
    metadata = {"name": "ucb_coma_v0", "render_modes": []}  # noqa: RUF012 (PettingZoo API)

    def __init__(self, params: dag.EnvParams | None = None):
        self.params = params if params is not None else dag.make_params()
        self.possible_agents = [f"task_{i}" for i in range(self.params.n_tasks)]
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self.agents: list[str] = []
        self._key = jax.random.PRNGKey(0)
        self._state = None
        self._obs = None
        self._mask = None

    @functools.cache  # noqa: B019 (PettingZoo's documented pattern)
    def observation_space(self, agent):
        return spaces.Box(0.0, _HIGH, shape=(agent_obs_dim(),), dtype=np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent):
        return spaces.Discrete(dag.N_ACTIONS)

    def _next_key(self):
        self._key, sub = jax.random.split(self._key)
        return sub

    def _package(self):
        flat = flatten_agent_obs(self._obs)
        pending, feasible = (np.asarray(m).astype(np.int8) for m in self._mask)
        obs = {a: flat[self._index[a]] for a in self.agents}
        infos = {
            a: {"action_mask": pending[self._index[a]], "feasible_mask": feasible[self._index[a]]}
            for a in self.agents
        }
        return obs, infos

    def reset(self, seed=None, options=None):
        if seed is not None:
            self._key = jax.random.PRNGKey(seed)
        self._obs, self._state, self._mask = _reset(self._next_key(), self.params)
        self.agents = self.possible_agents[:]
        return self._package()

    def step(self, actions):
        if self._state is None:
            raise RuntimeError("DagOffloadParallelEnv.step called before reset(); call reset()")
        acts = np.zeros(self.params.n_tasks, np.int32)  # finished agents idle in dag.step
        for agent, a in actions.items():
            if agent not in self.agents:
                raise ValueError(f"actions: {agent!r} is not a live agent ({self.agents})")
            if not self.action_space(agent).contains(int(a)):
                raise ValueError(f"actions[{agent!r}]: {a!r} is not in 0..{dag.N_ACTIONS - 1}")
            acts[self._index[agent]] = int(a)
        self._obs, self._state, rew, self._mask, done_task = _step(
            self._next_key(), self._state, acts, self.params
        )
        live = self.agents
        rew, done_task = np.asarray(rew), np.asarray(done_task)
        trunc = int(self._state.t) >= self.params.max_steps
        rewards = {a: float(rew[self._index[a]]) for a in live}
        terminations = {a: bool(done_task[self._index[a]]) for a in live}
        truncations = {a: trunc and not terminations[a] for a in live}
        obs, infos = self._package()  # still keyed by the agents live during this step
        self.agents = [a for a in live if not (terminations[a] or truncations[a])]
        return obs, rewards, terminations, truncations, infos

    def state(self):
        """Global state S (every agent's observation, flattened)."""
        return flatten_agent_obs(self._obs).reshape(-1)
