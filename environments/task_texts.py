"""Task classes and the short text descriptions the LLM side reads.

Each task of the ``aif-llm`` simulator belongs to one of ``CLASS_NAMES`` and carries
a ``text_id`` into ``TASK_TEXTS``. Texts are drawn from the task's own class
templates, or (with probability ``EnvParams.text_noise``) from another class, so
keywords are informative about the class but not a perfect label.

The keywords follow the paper's examples (AIF-LLM §4.3.1: "实时性" real-time,
"隐私" privacy, batch, video); the exact phrasing is ours.
"""

import numpy as np

CLASS_NAMES: tuple[str, ...] = ("interactive", "video", "document", "batch")

CLASS_TEMPLATES: tuple[tuple[str, ...], ...] = (
    (
        "real-time chat reply for a voice assistant",
        "interactive chat completion, latency-sensitive",
        "real-time code completion in the editor",
        "voice assistant answer, user is waiting",
        "short interactive question answering, real-time",
        "privacy-sensitive chat on a personal device",
    ),
    (
        "video analytics on a camera stream",
        "caption frames from a live video feed",
        "detect events in surveillance video frames",
        "video summarisation of a short clip",
        "multimodal question about a camera image",
        "privacy-sensitive video from a home camera",
    ),
    (
        "summarise a long document",
        "translate a report of several pages",
        "answer questions over a long context",
        "extract entities from a contract document",
        "rewrite a long email thread",
        "privacy-sensitive medical record summary",
    ),
    (
        "batch offline evaluation job",
        "nightly batch embedding of a corpus",
        "bulk translation batch, no deadline pressure",
        "offline report generation batch",
        "batch scoring of logged prompts",
        "background fine-tuning data generation batch",
    ),
)

TASK_TEXTS: tuple[str, ...] = tuple(t for group in CLASS_TEMPLATES for t in group)
"""All task descriptions; ``text_id`` indexes this tuple."""

TEXTS_PER_CLASS: int = len(CLASS_TEMPLATES[0])

TEXT_CLASS: np.ndarray = np.repeat(np.arange(len(CLASS_NAMES)), TEXTS_PER_CLASS)
"""(n_texts,) class whose template produced each text."""


# ------------------------------------------------- scenario ``paper`` (aif_llm_paper)
# v1's names and texts above stay as they are; the paper scenario has its own table.

PAPER_CLASS_NAMES: tuple[str, ...] = (*CLASS_NAMES, "code", "dictation")
"""Task types of ``aif_llm_paper``; the last two appear only mid-run (cold start)."""

PAPER_TYPE_PHRASES: tuple[tuple[str, ...], ...] = (
    (
        "chat reply for a voice assistant",
        "short question answering in a chat app",
        "assistant answer to a spoken request",
    ),
    (
        "caption a frame from a camera stream",
        "describe an event in a video frame",
        "answer a question about a camera image",
    ),
    (
        "summarise a long document",
        "answer questions over a report",
        "extract entities from a contract",
    ),
    (
        "batch evaluation of logged prompts",
        "offline report generation batch",
        "bulk translation batch job",
    ),
    (
        "code completion in the editor",
        "explain a function in a code review",
        "generate a unit test for a function",
    ),
    (
        "transcribe and summarise a dictated note",
        "clinical dictation to structured notes",
        "meeting dictation summary",
    ),
)
"""Base phrases per task type (``PAPER_CLASS_NAMES`` order)."""

PRIVACY_SUFFIX: tuple[str, str] = ("", "; contains personal data, keep it on premises")
STRICT_SUFFIX: tuple[str, str] = ("", "; real-time, the user is waiting")

PAPER_PHRASES_PER_TYPE: int = len(PAPER_TYPE_PHRASES[0])

PAPER_TASK_TEXTS: tuple[str, ...] = tuple(
    phrase + PRIVACY_SUFFIX[priv] + STRICT_SUFFIX[strict]
    for group in PAPER_TYPE_PHRASES
    for priv in (0, 1)
    for strict in (0, 1)
    for phrase in group
)
"""All ``paper`` task texts; ``text_id = ((type · 2 + private) · 2 + strict) · M + phrase``
with ``M = PAPER_PHRASES_PER_TYPE`` (the stated flags are noisy, see ``aif_llm_paper``)."""


def event_texts(n_edge: int) -> tuple[str, ...]:
    """Event-log lines of ``aif_llm_paper`` (``Obs.event`` indexes this tuple).

    0 nothing; 1..E maintenance notice for edge e; E+1 stress forecast; E+2 congestion report.
    """
    return (
        "",
        *(
            f"maintenance notice: edge node {e} reports overheating, may go down"
            for e in range(1, n_edge + 1)
        ),
        "forecast: load surge and unstable links expected shortly",
        "network report: WAN uplink congested",
    )
