"""pymdp generative models (A, B, C, D), one module per system.

``base``: the ``GenerativeModel`` container, ``validate``, ``describe``;
``cloud_edge``: the first ``aif-llm`` cloud-edge POMDP (``build_model``; load bins);
``cloud_edge_slack``: the slack-conditioned POMDP the agents use (``build_slack_model``);
``dag_offload``: the per-task POMDP of the ``dag-offload`` env;
``tmaze``, ``teaching``: teaching models and formulas; ``plots``: heatmaps of A and B.
"""

from .base import GenerativeModel, describe, validate
from .cloud_edge import EvtTail, ModelOptions, build_model
from .cloud_edge_slack import SlackOptions, build_slack_model

__all__ = [
    "EvtTail",
    "GenerativeModel",
    "ModelOptions",
    "SlackOptions",
    "build_model",
    "build_slack_model",
    "describe",
    "validate",
]
