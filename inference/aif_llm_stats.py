"""Advisor statistics and provenance of the ``aif-llm`` agent (for result files)."""

from __future__ import annotations

import dataclasses

from aifedge.llm_bridge.advisors import COUNTERS  # the fields that add up over episodes

from .aif_llm_agent import AifLlmAgent


def merge_advisor_stats(stats: list[dict]) -> dict:
    """Combine per-episode ``AsyncAdvisor.stats()``: counters summed, mean latency and
    delay weighted by the calls that came back, max latency the max."""
    out = {**stats[0], **{c: sum(s[c] for s in stats) for c in COUNTERS}}
    back = [(s["successes"] + s["failures"] + s["timeouts"], s) for s in stats]
    n = sum(b for b, _ in back)
    for name in ("mean_latency_s", "mean_delay_steps"):
        out[name] = (sum(b * s[name] for b, s in back if b) / n) if n else None
    lat = [s["max_latency_s"] for s in stats if s["max_latency_s"] is not None]
    out["max_latency_s"] = max(lat) if lat else None
    return out


def describe(agent: AifLlmAgent) -> dict:
    """JSON-able summary of an agent's settings (for result provenance)."""
    cfg = dataclasses.asdict(agent.config)
    cfg["agent"] = agent.config.agent._asdict()
    return {
        "ablate": list(agent.ablate),
        "config": cfg,
        "lambda_range": [agent.meta_cfg.lambda_min, agent.meta_cfg.lambda_max],
        "fixed_lambda": agent.fixed_lambda if "meta-lambda" in agent.ablate else None,
        "advice_texts": len(agent.advice_texts),
        "tau0": agent.tau0,
    }
