"""Active-inference decision core, EFE terms, EVT tail, uncertainty and meta-λ.

``agent``: the jitted decision step (AIF-LLM Eqs. 4–5); ``policies``: the ``aif``
scheduler; ``aif_llm_agent``: the full ``aif-llm`` scheduler (AIF-LLM Algorithm 1) with its
advice tables (``aif_llm_advice``), asynchronous runner (``aif_llm_advised.run_advised``)
and statistics (``aif_llm_stats``); ``meta_train``: f_meta on the real agent. The last
ones are imported on first use (they pull in NumPyro and the LLM bridge).
"""

from importlib import import_module

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

_LAZY = {
    "AifLlmAgent": "aif_llm_agent",
    "AifLlmConfig": "aif_llm_agent",
    "AifLlmState": "aif_llm_agent",
    "build_agent": "aif_llm_agent",
    "make_aif_llm_policy": "aif_llm_agent",
    "run_advised": "aif_llm_advised",
    "MetaTrainConfig": "meta_train",
    "train_meta": "meta_train",
    "evaluate_meta": "meta_train",
    "compare_meta": "meta_train",
}

__all__ = [
    "AgentConfig",
    "AgentState",
    "AifAgent",
    "DecisionInfo",
    "make_agent",
    "split_factors",
    "split_modalities",
    "to_pymdp_agent",
    "with_preferences",
    "with_prior",
    "with_semantic",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
