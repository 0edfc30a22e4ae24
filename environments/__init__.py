"""Pure-JAX simulators: ``reset(key, params)`` / ``step(key, state, action, params)``."""

from . import aif_llm, aif_llm_paper, he2024, ucb_coma
from .aif_llm import EnvParams, make_params, reset, step
from .metrics import episode_metrics, rrr, welch_test
from .rollout import Policy, agent_policy, batch_rollout, rollout, stateless

ENVS = {"aif-llm": aif_llm, "ucb-coma": ucb_coma, "he2024": he2024}
"""Environment id -> module with ``EnvParams``, ``make_params``, ``reset``, ``step``."""

SCENARIOS = {"v1": aif_llm, "paper": aif_llm_paper}
"""Scenarios of ``aif-llm`` (``--scenario``): v1 = ``aif_llm`` with its defaults, byte for
byte; paper = ``aif_llm_paper`` (issue #17). Default ``v1`` until the calibration is frozen."""


def env_module(env_id: str, params):
    """The module that simulates ``params``: ``ENVS[env_id]``, or ``aif_llm_paper`` when
    ``params`` is a paper-scenario ``EnvParams``."""
    if isinstance(params, aif_llm_paper.EnvParams):
        return aif_llm_paper
    return ENVS[env_id]


__all__ = [
    "ENVS",
    "SCENARIOS",
    "EnvParams",
    "Policy",
    "agent_policy",
    "aif_llm",
    "aif_llm_paper",
    "batch_rollout",
    "env_module",
    "episode_metrics",
    "make_params",
    "reset",
    "rollout",
    "rrr",
    "stateless",
    "step",
    "welch_test",
]
