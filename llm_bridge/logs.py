"""Historical scheduling logs for the keyword prior (AIF-LLM §4.3.1, AIF-LLM Eq. 3).

The paper derives its keyword weights from "historical scheduling logs". We make
such logs by running the ``aif-llm`` simulator with given policies (the
heuristics by default) at a fixed seed: one row per task with its text, the
state it met, the node chosen, the best node in hindsight and the outcome.

Columns of ``make_logs`` (E = number of edge nodes, j = 1..E):

==================  =====================================================================
policy, episode,    which run produced the row; ``step`` is the task's index in its episode
step
text_id, text       the task description (``TASK_TEXTS[text_id]``)
task_class,         true task class (index into ``CLASS_NAMES``) and its name
class_name
compute_gflop,      task features
data_mb,
deadline_ms
net                 true WAN condition at dispatch (0 good, 1 degraded, 2 congested)
rtt_ms              measured (noisy) cloud RTT the policy saw
queue_ms_e{j},      observed queue wait and up flag of edge j at dispatch
up_e{j}
load_e{j}           load level of edge j at dispatch (``aif_llm_model.LOAD_LEVELS`` codes from the
                    true queue wait, see ``load_level``)
next_load_e{j}      load level of edge j one step later, after this task was dispatched
node                chosen node (0 local, 1..E edge, E+1 cloud)
best_node           node with the least noise-free expected latency given the true state,
                    among feasible ones (edge up and queue room); the "best decision"
outcome,            0 met / 1 violated / 2 failed, its name, realised latency
outcome_name,
latency_ms
==================  =====================================================================

Tasks arrive independently of the system state in this simulator, so a task's
text carries no information about ``load_e{j}`` or ``net`` at dispatch; it does
about its class, its best node and, through the dispatch, ``next_load_e{j}``.
"""

from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from aifedge.baselines.heuristics import HEURISTICS
from aifedge.config import ConfigError
from aifedge.environments import aif_llm
from aifedge.environments.task_texts import CLASS_NAMES, TASK_TEXTS
from aifedge.generative_models import aif_llm_model

LOAD_EDGES_MS: tuple[float, float] = aif_llm_model.ModelOptions().load_edges_ms
"""Queue-wait edges [ms] low | medium | high: the generative model's default bins, so the
keyword prior's load levels are the model's ``aif_llm_model.LOAD_LEVELS``."""


def load_level(
    backlog: jax.Array,
    up: jax.Array,
    params: aif_llm.EnvParams,
    edges_ms: tuple[float, float] = LOAD_EDGES_MS,
) -> jax.Array:
    """(E,) int32 ``aif_llm_model.LOAD_LEVELS`` code of each edge from its true queue wait
    w = backlog / F_j · 1000 ms (``aif_llm_model.load_level`` of that wait; 3 when down)."""
    return aif_llm_model.load_level(
        backlog / jnp.asarray(params.edge_gflops) * 1000.0, up, edges_ms
    )


def best_node(state: aif_llm.EnvState, params: aif_llm.EnvParams) -> jax.Array:
    """Node with the least noise-free expected latency (no jitter, no spike) under the true
    state; edges that are down or whose queue cannot take the task are excluded."""
    total = aif_llm.latency_components(state.task, state.backlog, state.net, params).sum(-1)
    capacity = jnp.asarray(params.edge_gflops) * params.edge_queue_s
    ok = state.up & (state.backlog + state.task.compute_gflop <= capacity)
    total = total.at[1:-1].set(jnp.where(ok, total[1:-1], jnp.inf))
    return jnp.argmin(total).astype(jnp.int32)


def _episode(
    key: jax.Array,
    which: jax.Array,
    fns: tuple,
    params: aif_llm.EnvParams,
    steps: int,
    edges_ms: tuple[float, float],
) -> dict:
    """One episode of heuristic ``fns[which]`` (same key use as ``environments.rollout``);
    per-step arrays (T, ...)."""
    k_reset, _, k_loop = jax.random.split(key, 3)
    obs, state = aif_llm.reset(k_reset, params)

    def body(carry, k):
        obs, state = carry
        k_act, k_step = jax.random.split(k)
        action = jax.lax.switch(which, fns, k_act, obs, params)
        obs2, state2, _, _, info = aif_llm.step(k_step, state, action, params)
        row = {
            "text_id": state.task.text_id,
            "task_class": state.task.task_class,
            "compute_gflop": state.task.compute_gflop,
            "data_mb": state.task.data_in_mb + state.task.data_out_mb,
            "deadline_ms": state.task.deadline_ms,
            "net": state.net,
            "rtt_ms": obs.rtt_ms,
            "queue_ms": obs.queue_ms,
            "up": state.up,
            "load": load_level(state.backlog, state.up, params, edges_ms),
            "next_load": load_level(state2.backlog, state2.up, params, edges_ms),
            "node": info.node,
            "best_node": best_node(state, params),
            "outcome": info.outcome,
            "latency_ms": info.latency_ms,
        }
        return (obs2, state2), row

    _, rows = jax.lax.scan(body, (obs, state), jax.random.split(k_loop, steps))
    return rows


def make_logs(
    params: aif_llm.EnvParams | None = None,
    policies: Sequence[str] = tuple(HEURISTICS),
    episodes: int = 20,
    steps: int | None = None,
    seed: int = 0,
    load_edges_ms: tuple[float, float] = LOAD_EDGES_MS,
) -> pd.DataFrame:
    """Scheduling logs: ``episodes`` episodes of each heuristic in ``policies``.

    Episode i of the p-th policy uses key ``split(PRNGKey(seed), episodes · P)[p · episodes
    + i]``: every policy meets its own episodes, so the logs hold ``episodes · P``
    independent ones (keyword statistics need independent samples more than paired
    comparisons). Returns one row per task (columns: module
    docstring), ``episodes · steps · len(policies)`` rows.
    """
    params = aif_llm.make_params() if params is None else params
    steps = params.max_steps if steps is None else steps
    if episodes < 1 or steps < 1:
        raise ConfigError(f"make_logs: episodes and steps must be ≥ 1 (got {episodes}, {steps})")
    unknown = [p for p in policies if p not in HEURISTICS]
    if unknown or not policies:
        raise ConfigError(
            f"make_logs.policies: unknown or empty {unknown or list(policies)}; "
            f"choose from {', '.join(HEURISTICS)}"
        )
    keys = jax.random.split(jax.random.PRNGKey(seed), episodes * len(policies))
    fns = tuple(HEURISTICS[name] for name in policies)
    which = jnp.repeat(jnp.arange(len(policies)), episodes)
    edges = tuple(float(e) for e in load_edges_ms)
    if len(edges) != 2 or not 0 < edges[0] < edges[1]:
        raise ConfigError(
            f"make_logs.load_edges_ms: need two increasing waits > 0 ms (got {load_edges_ms})"
        )
    run = jax.jit(jax.vmap(lambda k, w: _episode(k, w, fns, params, steps, edges)))
    rows = jax.device_get(run(keys, which))
    frames = [
        _to_frame(name, {k: v[i * episodes : (i + 1) * episodes] for k, v in rows.items()}, params)
        for i, name in enumerate(policies)
    ]
    return pd.concat(frames, ignore_index=True)


def _to_frame(policy: str, rows: dict, params: aif_llm.EnvParams) -> pd.DataFrame:
    n_ep, n_steps = np.asarray(rows["node"]).shape
    flat = {k: np.asarray(v).reshape(n_ep * n_steps, *np.shape(v)[2:]) for k, v in rows.items()}
    cols: dict = {
        "policy": policy,
        "episode": np.repeat(np.arange(n_ep), n_steps),
        "step": np.tile(np.arange(n_steps), n_ep),
        "text_id": flat["text_id"],
        "text": np.asarray(TASK_TEXTS, dtype=object)[flat["text_id"]],
        "task_class": flat["task_class"],
        "class_name": np.asarray(CLASS_NAMES, dtype=object)[flat["task_class"]],
    }
    for name in ("compute_gflop", "data_mb", "deadline_ms", "net", "rtt_ms"):
        cols[name] = flat[name]
    for j in range(params.n_edge):
        cols[f"queue_ms_e{j + 1}"] = flat["queue_ms"][:, j]
        cols[f"up_e{j + 1}"] = flat["up"][:, j].astype(np.int8)
        cols[f"load_e{j + 1}"] = flat["load"][:, j]
        cols[f"next_load_e{j + 1}"] = flat["next_load"][:, j]
    cols.update(
        node=flat["node"],
        best_node=flat["best_node"],
        outcome=flat["outcome"],
        outcome_name=np.asarray(aif_llm.OUTCOME_NAMES, dtype=object)[flat["outcome"]],
        latency_ms=flat["latency_ms"],
    )
    return pd.DataFrame(cols)


def save_logs(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write logs atomically as ``.csv`` (always available) or ``.parquet`` (needs pyarrow)."""
    from aifedge.results import atomic_path, write_csv

    path = Path(path)
    if path.suffix == ".csv":
        return write_csv(path, frame)
    if path.suffix == ".parquet":
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise ConfigError(
                f"--out: {path.name!r}: Parquet needs pyarrow (pip install pyarrow); or write .csv"
            )
        with atomic_path(path) as tmp:
            frame.to_parquet(tmp, index=False)
        return path
    raise ConfigError(f"--out: {path.name!r} must end in .csv or .parquet")


def load_logs(path: str | Path) -> pd.DataFrame:
    """Read logs written by ``save_logs``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"logs: file {str(path)!r} does not exist; make it with `aifedge logs --out FILE`"
        )
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    raise ConfigError(f"logs: {path.name!r} must end in .csv or .parquet")
