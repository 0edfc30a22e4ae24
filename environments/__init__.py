"""Pure-JAX simulators: ``reset(key, params)`` / ``step(key, state, action, params)``."""

from . import aif_llm, dag_offload, he2024
from .aif_llm import EnvParams, make_params, reset, step
from .metrics import episode_metrics, rrr, welch_test
from .rollout import Policy, batch_rollout, rollout, stateless

ENVS = {"aif-llm": aif_llm, "dag-offload": dag_offload, "he2024": he2024}
"""Environment id -> module with ``EnvParams``, ``make_params``, ``reset``, ``step``."""

__all__ = [
    "ENVS",
    "EnvParams",
    "Policy",
    "aif_llm",
    "batch_rollout",
    "episode_metrics",
    "make_params",
    "reset",
    "rollout",
    "rrr",
    "stateless",
    "step",
    "welch_test",
]
