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
