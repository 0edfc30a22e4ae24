"""Baseline schedulers: heuristics here; RL agents need the ``[rl]`` extra."""

from .heuristics import HEURISTICS, best_edge, cloud_only, greedy, random_policy, round_robin

__all__ = ["HEURISTICS", "best_edge", "cloud_only", "greedy", "random_policy", "round_robin"]
