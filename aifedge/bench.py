"""Speed measurements behind ``aifedge bench`` (``benchmarks/run.py`` runs them all).

Each benchmark returns rows ``{name, median_s, p95_s, n_repeats, ...}``; a row's
``median_s`` is the wall time of one call after a compile/warm-up call.
"""

import platform
import time

import jax
import numpy as np

from aifedge.baselines import random_policy
from aifedge.environments import aif_llm, batch_rollout, rollout, stateless


def time_calls(fn, repeats: int) -> np.ndarray:
    """Wall seconds of ``repeats`` calls of ``fn()`` after one warm-up call."""
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return np.asarray(times)


def _row(name: str, times: np.ndarray, **extra) -> dict:
    return {
        "name": name,
        "median_s": float(np.median(times)),
        "p95_s": float(np.percentile(times, 95)),
        "n_repeats": len(times),
        **extra,
    }


def bench_env(batch: int = 1024, steps: int = 100, repeats: int = 10) -> list[dict]:
    """Env steps/s of the jitted ``aif-llm`` step under a random policy.

    ``env_single``: one episode of ``steps`` steps (``lax.scan``);
    ``env_batched``: ``batch`` episodes vmapped.
    """
    params = aif_llm.make_params(max_steps=steps)
    policy = stateless(random_policy)
    key = jax.random.PRNGKey(0)
    single = jax.jit(lambda k: rollout(k, policy, params, steps).outcome)
    keys = jax.random.split(key, batch)
    batched = jax.jit(lambda k: batch_rollout(k, policy, params, steps).outcome)
    t1 = time_calls(lambda: single(key), repeats)
    tb = time_calls(lambda: batched(keys), repeats)
    return [
        _row("env_single", t1, steps=steps, steps_per_s=steps / float(np.median(t1))),
        _row(
            f"env_batched_{batch}",
            tb,
            steps=steps * batch,
            steps_per_s=steps * batch / float(np.median(tb)),
        ),
    ]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """Where a benchmark ran."""
    import os

    return {
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpus": os.cpu_count(),
        "jax_backend": jax.default_backend(),
        "jax_cpu_async_dispatch": bool(jax.config.values["jax_cpu_enable_async_dispatch"]),
        "load_avg_1min": os.getloadavg()[0],
        "python": platform.python_version(),
    }


def run_benchmark(name: str, repeats: int = 10) -> list[dict]:
    """Rows of benchmark ``name`` (``registry.BENCHMARKS``)."""
    from aifedge.registry import BENCHMARKS, load

    return load(BENCHMARKS[name])(repeats=repeats)
