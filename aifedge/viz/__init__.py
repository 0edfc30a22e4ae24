"""Notebook helpers and plots above the library (``aifedge.viz.decision``, ``evt``, ``meta``,
``llm``, ``widgets``): they run agents and simulators for display and hold no model logic.
Plots of a model's A and B stay beside it (``generative_models.plots``,
``environments.plots``) because they import only downward."""

OUTCOME_COLORS = ("tab:green", "tab:orange", "tab:red")
"""Colours of the outcomes met / violated / failed in every plot."""
