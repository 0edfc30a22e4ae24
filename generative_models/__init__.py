"""pymdp generative models (A, B, C, D), one module per system.

``base``: the ``GenerativeModel`` container, ``validate``, ``describe``;
``cloud_edge``: the ``aif-llm`` cloud-edge POMDP (``build_model``);
``dag_offload``: the per-task POMDP of the ``dag-offload`` env;
``tmaze``, ``teaching``: teaching models and formulas; ``plots``: heatmaps of A and B.
"""

from .base import GenerativeModel, describe, validate
from .cloud_edge import EvtTail, ModelOptions, build_model

__all__ = ["EvtTail", "GenerativeModel", "ModelOptions", "build_model", "describe", "validate"]
