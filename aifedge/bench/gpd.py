"""GPD tail fits (NUTS and online): ``aifedge bench gpd``."""

import time

import jax
import jax.numpy as jnp
import numpy as np

from aifedge.bench import row, time_calls
from aifedge.inference.evt import (
    GeneralizedPareto,
    OnlineGPDConfig,
    fit_gpd,
    online_init,
    online_update,
)


def bench_gpd(repeats: int = 10, n_excesses: int = 1500) -> list[dict]:
    """Timing of the two fits on ``n_excesses`` GPD(σ = 50 ms, ξ = 1.5) excesses.

    ``gpd_nuts_fit_cold``: one :func:`fit_gpd` call with its defaults (4 chains, 300 warm-up
    + 500 draws each) after ``jax.clear_caches()``, so tracing and compilation are included
    (target ≤ 5 s); ``first_call_s`` is the very first call in the process (JAX start-up and
    the ArviZ import too). ``gpd_nuts_fit_warm``: the same with the compiled program reused.
    Both run ``min(repeats, 3)`` times. ``gpd_online_update``: one jitted
    :func:`online_update` adding one excess to a buffer of ``n_excesses`` (target ≤ 10 ms).
    ``cpu_s`` is the median process CPU time of a call (robust to a busy machine).
    """
    y = np.asarray(GeneralizedPareto(0.0, 50.0, 1.5).sample(jax.random.PRNGKey(1), (n_excesses,)))
    first = _timed(lambda: fit_gpd(y))
    rows = []
    for name, prepare in (("gpd_nuts_fit_cold", jax.clear_caches), ("gpd_nuts_fit_warm", None)):
        wall, cpu = [], []
        for _ in range(max(1, min(repeats, 3))):
            if prepare is not None:
                prepare()
            w, c = _timed(lambda: fit_gpd(y))
            wall.append(w)
            cpu.append(c)
        rows.append(
            row(
                name,
                np.asarray(wall),
                n_excesses=n_excesses,
                cpu_s=float(np.median(cpu)),
                first_call_s=first[0],
                target_s=5.0,
            )
        )
    config = OnlineGPDConfig()
    state = online_update(online_init(config), y[:-1], config=config)
    one = jnp.asarray(y[-1:])
    online = time_calls(lambda: online_update(state, one, config=config).concentration, repeats)
    rows.append(
        row(
            "gpd_online_update",
            online,
            n_excesses=n_excesses,
            target_s=0.01,
            newton_steps=config.newton_steps,
        )
    )
    return rows


def _timed(fn) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    jax.block_until_ready(fn().posterior["scale"].values)
    return time.perf_counter() - wall, time.process_time() - cpu
