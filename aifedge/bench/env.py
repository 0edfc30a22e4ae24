"""Simulator speed: ``aifedge bench env`` (scenarios ``v1`` and ``paper`` of ``aif-llm``)."""

import jax
import numpy as np

from aifedge.baselines import random_policy
from aifedge.bench import row, time_calls
from aifedge.environments import SCENARIOS, batch_rollout, rollout, stateless


def _bench_scenario(env, batch: int, steps: int, repeats: int, tag: str) -> list[dict]:
    params = env.make_params(max_steps=steps)
    policy = stateless(random_policy)
    key = jax.random.PRNGKey(0)
    keys = jax.random.split(key, batch)
    single = jax.jit(lambda k: rollout(k, policy, params, steps, env).outcome)
    batched = jax.jit(lambda k: batch_rollout(k, policy, params, steps, env).outcome)
    t1 = time_calls(lambda: single(key), repeats)
    tb = time_calls(lambda: batched(keys), repeats)
    return [
        row(f"env_single{tag}", t1, steps=steps, steps_per_s=steps / float(np.median(t1))),
        row(
            f"env_batched_{batch}{tag}",
            tb,
            steps=steps * batch,
            steps_per_s=steps * batch / float(np.median(tb)),
        ),
    ]


def bench_env(batch: int = 1024, steps: int = 100, repeats: int = 10) -> list[dict]:
    """Env steps/s (= task decisions/s) of the jitted ``aif-llm`` step under a random policy,
    per scenario (row names of scenario paper end in ``_paper``).

    ``env_single``: one episode of ``steps`` steps (``lax.scan``);
    ``env_batched``: ``batch`` episodes vmapped.
    """
    return [
        r
        for name, env in SCENARIOS.items()
        for r in _bench_scenario(env, batch, steps, repeats, "" if name == "v1" else f"_{name}")
    ]
