"""pymdp generative models (A, B, C, D), one module per system.

``base``: the ``GenerativeModel`` container, ``validate``, ``describe``;
``aif_llm_model``: the first ``aif-llm`` cloud-edge POMDP (``build_model``; load bins);
``aif_llm_slack_model``: the slack-conditioned POMDP the agents use (``build_slack_model``);
``ucb_coma_model``: the per-task POMDP of the ``ucb-coma`` env;
``tmaze``, ``teaching``: teaching models and formulas; ``plots``: heatmaps of A and B.
"""

from .aif_llm_model import EvtTail, ModelOptions, build_model
from .aif_llm_slack_model import SlackOptions, build_slack_model
from .base import GenerativeModel, describe, validate

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
