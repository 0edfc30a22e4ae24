"""Speed measurements behind ``aifedge bench`` (``benchmarks/run.py`` runs them all).

The bench layer sits above the library (it imports environments … baselines) and below
``paper_repro`` (AIF-LLM Table 5 is a timing table). One module per subject: ``env``,
``decision``, ``llm`` (encoder, prior, semantic, advisor), ``gpd``, ``meta``, ``cycle``.

Each benchmark returns rows ``{name, median_s, p95_s, n_repeats, ...}``; a row's
``median_s`` is the wall time of one call after a compile/warm-up call.
"""

import contextlib
import os
import platform
import time

import jax
import numpy as np


def time_calls(fn, repeats: int) -> np.ndarray:
    """Wall seconds of ``repeats`` calls of ``fn()`` after one warm-up call."""
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return np.asarray(times)


def row(name: str, times: np.ndarray, **extra) -> dict:
    """A benchmark row: ``name``, median and p95 of ``times`` (s), ``n_repeats``, ``extra``."""
    return {
        "name": name,
        "median_s": float(np.median(times)),
        "p95_s": float(np.percentile(times, 95)),
        "n_repeats": len(times),
        **extra,
    }


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with ``torch.set_num_threads(n)`` (``None``: unchanged), then restore.

    torch's intra-op pool spins; on a 2-core machine shared with the JAX decision loop
    (or other processes) 1 thread is typically several times faster than 2.
    """
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


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
