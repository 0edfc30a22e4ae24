"""Batched episode simulation: the engine behind ``aifedge simulate`` and ``compare``.

``get_policy`` builds a policy by name: a heuristic (``baselines.HEURISTICS``) or an agent
(``registry.AGENTS``). This module sits above ``baselines`` and below ``paper_repro``.

Every environment runs through ``simulate`` (one row of metrics per episode):

* ``aif-llm``: heuristics and agents, batched episodes (AIF-LLM metrics, ``METRIC_NAMES``);
* ``he2024``: the reference heuristics (``HE2024_HEURISTICS``, batched) and ``aif-rg``,
  which learns online (He et al. Alg. 1), so its rows are its learning curve;
* ``ucb-coma``: the multi-agent learners (``baselines.marl.LEARNERS``), trained for the
  given episodes; each row is one training episode (UCB-COMA Fig. 4's curve).

Trained deep-RL baselines run through ``aifedge train`` / ``aifedge repro``.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from aifedge import console
from aifedge.baselines import HEURISTICS
from aifedge.config import ConfigError
from aifedge.environments import (
    ENVS,
    Policy,
    aif_llm,
    batch_rollout,
    env_module,
    episode_metrics,
    stateless,
)
from aifedge.environments.metrics import METRIC_NAMES
from aifedge.registry import AGENTS, REFERENCE_POLICIES, load


def policy_names(env_id: str = "aif-llm") -> list[str]:
    """Names accepted by ``--policy`` for ``env_id``."""
    if env_id == "he2024":
        from aifedge.baselines import HE2024_HEURISTICS

        return [*HE2024_HEURISTICS, "aif-rg"]
    if env_id == "ucb-coma":
        from aifedge.baselines.marl import LEARNERS

        return list(LEARNERS)
    return [*HEURISTICS, *REFERENCE_POLICIES, *AGENTS]


def get_policy(name: str, env_id: str = "aif-llm", params=None) -> Policy:
    """The ``Policy`` called ``name``; ``ConfigError`` naming the allowed values otherwise."""
    if env_id not in ENVS:
        raise ConfigError(f"--env: unknown environment {env_id!r}; choose from {', '.join(ENVS)}")
    if name in HEURISTICS:
        return stateless(HEURISTICS[name])
    if name in REFERENCE_POLICIES:
        params = ENVS[env_id].make_params() if params is None else params
        return load(REFERENCE_POLICIES[name])(params)
    if name in AGENTS:
        params = ENVS[env_id].make_params() if params is None else params
        return load(AGENTS[name])(params)
    raise ConfigError(
        f"--policy: unknown policy {name!r}; choose from {', '.join(policy_names(env_id))}"
    )


SEED_LIMIT = 2**32
"""Seeds are integers in [0, 2^32): ``PRNGKey`` keeps only 32 bits, so larger seeds would
alias smaller ones (2^32 gives seed 0's bytes)."""


def check_seed(seed, what: str = "--seed") -> int:
    """``seed`` if it is an integer in [0, 2^32), else ``ConfigError``."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < SEED_LIMIT:
        raise ConfigError(f"{what}: must be an integer in [0, 2^32 − 1] (got {seed!r})")
    return seed


def episode_keys(seed: int, start: int, stop: int) -> jax.Array:
    """(stop − start, 2) keys ``split(PRNGKey(seed), n)[start:stop]`` for any n ≥ stop,
    computed without materialising the n keys (memory independent of ``--episodes``).

    With JAX's partitionable threefry (the default), key i of ``split(key, n)`` is
    ``threefry_2x32(key, (0, i))`` whatever n is; tests check equality with ``split``.
    """
    key = jax.random.PRNGKey(check_seed(seed, "seed"))
    partitionable = jax.config.jax_threefry_partitionable  # type: ignore[attr-defined]
    if not partitionable:  # keys depend on n: the plain way
        return jax.random.split(key, stop)[start:]
    from jax.extend.random import threefry_2x32

    idx = jnp.arange(start, stop, dtype=jnp.uint32)
    bits = threefry_2x32(key, jnp.concatenate([jnp.zeros_like(idx), idx]))
    return jnp.stack([bits[: stop - start], bits[stop - start :]], axis=1)


STEP_BYTES = 256
"""Upper bound on the bytes a simulated step keeps while its chunk runs (stacked
``StepInfo`` and carried state)."""
ROW_BYTES = 400
"""Upper bound on the bytes one episode's result row takes (metrics, frame, CSV text)."""


def available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``), else None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_memory(episodes: int, steps: int, policies: int = 1, chunk: int = 64) -> int:
    """Estimated peak bytes of ``simulate`` runs; ``ConfigError`` before any computation
    when it exceeds 80 % of the available memory. Returns the estimate."""
    need = episodes * policies * ROW_BYTES + min(chunk, episodes) * steps * STEP_BYTES
    free = available_memory()
    if free is not None and need > 0.8 * free:
        raise ConfigError(
            f"--episodes/--steps: {episodes} episodes × {steps} steps would need about "
            f"{need / 2**30:.1f} GiB of memory, {free / 2**30:.1f} GiB are available; "
            "reduce --episodes or --steps"
        )
    return need


def _setup(env_id: str, policy_name: str, episodes: int, seed: int, params, steps, policy):
    """``(env, steps, policy)`` shared by ``simulate`` and ``records``."""
    if episodes < 1:
        raise ConfigError(f"episodes: must be ≥ 1 (got {episodes})")
    check_seed(seed, "seed")
    steps = params.max_steps if steps is None else steps
    policy = get_policy(policy_name, env_id, params) if policy is None else policy
    return env_module(env_id, params), steps, policy


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
    if env_id != "aif-llm":
        if policy is not None:
            raise ConfigError(f"policy: a Policy object runs on aif-llm only, not {env_id!r}")
        return _OTHER_ENVS[env_id](policy_name, episodes, seed, params, progress)
    env, steps, policy = _setup(env_id, policy_name, episodes, seed, params, steps, policy)
    chunk = min(chunk, episodes)

    @jax.jit
    def run_chunk(k):
        infos = batch_rollout(k, policy, params, steps, env)
        return episode_metrics(infos.outcome, infos.latency_ms)

    parts = []
    with console.progress(policy_name, "episodes", progress) as bar:
        task = bar.add_task("sim", total=episodes)
        for start in range(0, episodes, chunk):
            keys = episode_keys(seed, start, min(start + chunk, episodes))
            pad = chunk - keys.shape[0]  # the last chunk: same shape, padding dropped
            keys = jnp.concatenate([keys, jnp.repeat(keys[:1], pad, axis=0)])
            out = jax.device_get(run_chunk(keys))
            parts.append(out)
            bar.update(task, completed=min(start + chunk, episodes))
    cols = {name: np.concatenate([p[name] for p in parts])[:episodes] for name in METRIC_NAMES}
    frame = pd.DataFrame({"policy": policy_name, "episode": np.arange(episodes), **cols})
    return frame


def _check_name(name: str, env_id: str) -> None:
    if name not in policy_names(env_id):
        raise ConfigError(
            f"--policy: unknown policy {name!r} for {env_id}; "
            f"choose from {', '.join(policy_names(env_id))}"
        )


def _frame(name: str, rows: dict) -> pd.DataFrame:
    cols = {k: np.asarray(v, float) for k, v in rows.items()}
    n = len(next(iter(cols.values())))
    return pd.DataFrame({"policy": name, "episode": np.arange(n), **cols})


def _simulate_he2024(name: str, episodes: int, seed: int, params, progress: bool):
    """He et al. episodes (``he2024.episode_metrics`` per episode, keys as ``simulate``)."""
    from aifedge.baselines import HE2024_HEURISTICS
    from aifedge.environments import he2024

    _check_name(name, "he2024")
    check_seed(seed, "seed")
    if name == "aif-rg":
        from aifedge.inference import he2024_agent

        with console.progress(name, "episodes", progress) as bar:
            bar.add_task("train", total=None)
            _, rows = he2024_agent.train(
                jax.random.PRNGKey(seed), he2024_agent.AifRgConfig(), params, episodes
            )
        return _frame(name, {k: [r[k] for r in rows] for k in rows[0] if k != "episode"})
    act = HE2024_HEURISTICS[name]

    @jax.jit
    @jax.vmap
    def run(key):
        return he2024.episode_metrics(he2024.rollout(key, act, params)[3])

    return _frame(name, jax.device_get(run(episode_keys(seed, 0, episodes))))


def _simulate_dag(name: str, episodes: int, seed: int, params, progress: bool):
    """UCB-COMA learners trained for ``episodes``; one ``marl.EpisodeStats`` row each."""
    from aifedge.baselines import marl

    _check_name(name, "ucb-coma")
    check_seed(seed, "seed")
    with console.progress(name, "episodes", progress) as bar:
        bar.add_task("train", total=None)
        _, stats = marl.train(
            jax.random.PRNGKey(seed), name, params, marl.make_config(name), episodes
        )
    return _frame(name, jax.device_get(stats._asdict()))


_OTHER_ENVS = {"he2024": _simulate_he2024, "ucb-coma": _simulate_dag}


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over episodes per policy (columns ``<metric>_mean``, ``<metric>_std``)
    of every numeric column but ``episode``."""
    metrics = [c for c in frame.columns if c not in ("policy", "episode")]
    agg = frame.groupby("policy", sort=False)[metrics].agg(["mean", "std"])
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
    env, steps, policy = _setup(env_id, policy_name, episodes, seed, params, steps, None)
    keys = episode_keys(seed, 0, episodes)
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
