"""Simulator speed: ``aifedge bench env``."""

import jax
import numpy as np

from aifedge.baselines import random_policy
from aifedge.bench import row, time_calls
from aifedge.environments import aif_llm, batch_rollout, rollout, stateless


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
        row("env_single", t1, steps=steps, steps_per_s=steps / float(np.median(t1))),
        row(
            f"env_batched_{batch}",
            tb,
            steps=steps * batch,
            steps_per_s=steps * batch / float(np.median(tb)),
        ),
    ]
