"""Batched episode simulation: the engine behind ``aifedge simulate`` and ``compare``.

``get_policy`` builds a policy by name: a heuristic (``baselines.HEURISTICS``) or an agent
(``registry.AGENTS``). This module sits above ``baselines`` and below ``paper_repro``.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from aifedge import console
from aifedge.baselines import HEURISTICS
from aifedge.config import ConfigError
from aifedge.environments import ENVS, Policy, aif_llm, batch_rollout, episode_metrics, stateless
from aifedge.environments.metrics import METRIC_NAMES
from aifedge.registry import AGENTS, load


def policy_names(env_id: str = "aif-llm") -> list[str]:
    """Names accepted by ``--policy`` for ``env_id``."""
    del env_id  # all current policies act on aif-llm
    return [*HEURISTICS, *AGENTS]


def get_policy(name: str, env_id: str = "aif-llm", params=None) -> Policy:
    """The ``Policy`` called ``name``; ``ConfigError`` naming the allowed values otherwise."""
    if env_id not in ENVS:
        raise ConfigError(f"--env: unknown environment {env_id!r}; choose from {', '.join(ENVS)}")
    if name in HEURISTICS:
        return stateless(HEURISTICS[name])
    if name in AGENTS:
        params = ENVS[env_id].make_params() if params is None else params
        return load(AGENTS[name])(params)
    raise ConfigError(
        f"--policy: unknown policy {name!r}; choose from {', '.join(policy_names(env_id))}"
    )


def _setup(env_id: str, policy_name: str, episodes: int, seed: int, params, steps, policy):
    """``(env, steps, policy, keys)`` shared by ``simulate`` and ``records``."""
    if episodes < 1:
        raise ConfigError(f"episodes: must be ≥ 1 (got {episodes})")
    steps = params.max_steps if steps is None else steps
    policy = get_policy(policy_name, env_id, params) if policy is None else policy
    return ENVS[env_id], steps, policy, jax.random.split(jax.random.PRNGKey(seed), episodes)


def simulate(
    env_id: str,
    policy_name: str,
    episodes: int,
    seed: int,
    params,
    steps: int | None = None,
    chunk: int = 64,
    progress: bool = True,
    policy: Policy | None = None,
) -> pd.DataFrame:
    """Run ``episodes`` independent episodes; one row of metrics per episode.

    Episode i uses key ``split(PRNGKey(seed), episodes)[i]``, so results do not
    depend on ``chunk`` (episodes per vmapped call). ``policy`` (optional) is used
    instead of looking ``policy_name`` up; the name then only labels the rows.
    """
    env, steps, policy, keys = _setup(env_id, policy_name, episodes, seed, params, steps, policy)
    chunk = min(chunk, episodes)
    pad = (-episodes) % chunk
    keys = jnp.concatenate([keys, jnp.repeat(keys[:1], pad, axis=0)])

    @jax.jit
    def run_chunk(k):
        infos = batch_rollout(k, policy, params, steps, env)
        return episode_metrics(infos.outcome, infos.latency_ms)

    parts = []
    with console.progress(policy_name, "episodes", progress) as bar:
        task = bar.add_task("sim", total=episodes)
        for start in range(0, keys.shape[0], chunk):
            out = jax.device_get(run_chunk(keys[start : start + chunk]))
            parts.append(out)
            bar.update(task, completed=min(start + chunk, episodes))
    cols = {name: np.concatenate([p[name] for p in parts])[:episodes] for name in METRIC_NAMES}
    frame = pd.DataFrame({"policy": policy_name, "episode": np.arange(episodes), **cols})
    return frame


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over episodes per policy (columns ``<metric>_mean``, ``<metric>_std``)."""
    agg = frame.groupby("policy", sort=False)[list(METRIC_NAMES)].agg(["mean", "std"])
    agg.columns = [f"{m}_{s}" for m, s in agg.columns]
    return agg.reset_index()


def timed(fn, *args, **kwargs):
    """``(result, wall seconds)`` of ``fn(*args, **kwargs)``."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def records(
    env_id: str, policy_name: str, episodes: int, seed: int, params, steps: int | None = None
) -> pd.DataFrame:
    """One row per task: ``episode, t, node, task_class, deadline_ms, latency_ms, outcome``.

    Same keys as ``simulate`` (episode i uses ``split(PRNGKey(seed), episodes)[i]``).
    ``latency_ms`` is NaN for failed tasks (their latency is unbounded or undefined).
    """
    env, steps, policy, keys = _setup(env_id, policy_name, episodes, seed, params, steps, None)
    infos = jax.device_get(jax.jit(lambda k: batch_rollout(k, policy, params, steps, env))(keys))
    shape = infos.outcome.shape
    failed = infos.outcome == aif_llm.FAILED
    return pd.DataFrame(
        {
            "policy": policy_name,
            "episode": np.repeat(np.arange(shape[0]), shape[1]),
            "t": np.tile(np.arange(shape[1]), shape[0]),
            "node": infos.node.ravel(),
            "task_class": infos.task_class.ravel(),
            "deadline_ms": infos.deadline_ms.ravel(),
            "latency_ms": np.where(failed, np.nan, infos.latency_ms).ravel(),
            "outcome": infos.outcome.ravel(),
            "net_delay_ms": infos.net_delay_ms.ravel(),
        }
    )
