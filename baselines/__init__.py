"""Baseline schedulers: heuristics here; RL agents need the ``[rl]`` extra."""

from .heuristics import (
    HE2024_HEURISTICS,
    HEURISTICS,
    best_edge,
    cloud_only,
    greedy,
    random_policy,
    round_robin,
)

__all__ = [
    "HE2024_HEURISTICS",
    "HEURISTICS",
    "best_edge",
    "cloud_only",
    "greedy",
    "random_policy",
    "round_robin",
]
