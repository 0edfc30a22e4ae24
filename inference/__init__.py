"""Active-inference decision core, EFE terms, EVT tail, uncertainty and meta-λ.

``agent``: the jitted decision step (Eqs. 4–5); ``policies``: the ``aif`` scheduler;
``bench``: ``aifedge bench decision``.
"""

from .agent import (
    AgentConfig,
    AgentState,
    AifAgent,
    DecisionInfo,
    make_agent,
    split_factors,
    split_modalities,
    to_pymdp_agent,
    with_preferences,
    with_prior,
    with_semantic,
)

__all__ = ["AgentConfig", "AgentState", "AifAgent", "DecisionInfo", "make_agent",
           "split_factors", "split_modalities", "to_pymdp_agent", "with_preferences",
           "with_prior", "with_semantic"]
