"""The ``aif-llm`` agent with a real asynchronous LLM advisor (AIF-LLM Algorithm 1, lines
5–8): a host loop around the jitted decision, the advisor in a background worker."""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd

from aifedge.config import ConfigError
from aifedge.environments.aif_llm import EnvParams
from aifedge.environments.metrics import METRIC_NAMES, episode_metrics

from .aif_llm_agent import AifLlmAgent, build_agent
from .aif_llm_stats import merge_advisor_stats


def run_advised(
    params: EnvParams,
    episodes: int,
    seed: int,
    advisor_name: str,
    ablate=(),
    advisor_options: dict | None = None,
    *,
    delay_steps: int | None = None,
    agent: AifLlmAgent | None = None,
    encoder=None,
):
    """Episodes of the full agent with a real asynchronous advisor (Algorithm 1 lines 5–8).

    Episode i uses key ``split(PRNGKey(seed), episodes)[i]`` through
    ``llm_bridge.advisors.advised_episode`` (which splits it as (reset, loop), not as
    ``simulate`` does, so episodes differ from ``simulate``'s with the same seed). The
    advisor ``advisor_name`` (``make_advisor(name, **advisor_options)``) runs in a
    background worker, triggered when U_t > δ; the decision loop never waits for it
    (``AsyncAdvisor``, measured-latency mode unless ``delay_steps`` is given; ``template``
    defaults to ``delay_steps = 1``, which reproduces the jitted policy exactly). Each
    episode gets a fresh worker, so no advice carries over; a call still in flight when an
    episode ends is dropped (it finishes in the background).

    ``agent``: a prebuilt ``AifLlmAgent`` (then ``ablate`` is the agent's own).
    Returns ``(frame, stats)``: per-episode metrics with ``simulate``'s columns and the
    advisor counters (``AsyncAdvisor.stats``) plus ``advised_fraction`` and
    ``mean_advisor_wait_s``.
    """
    from aifedge.llm_bridge import AsyncAdvisor, SentenceEncoder, advised_episode, make_advisor

    if episodes < 1:
        raise ConfigError(f"episodes: must be ≥ 1 (got {episodes})")
    advisor = make_advisor(advisor_name, **(advisor_options or {}))
    if agent is None:
        agent = build_agent(params, ablate, encoder=encoder)
    if "semantic" in agent.ablate:
        raise ConfigError(
            f"--advisor {advisor_name}: with the semantic term ablated no advice "
            "is used; drop --ablate semantic or run the batched policy"
        )
    if delay_steps is None and advisor_name == "template":
        delay_steps = 1
    encoder = SentenceEncoder() if encoder is None else encoder
    advisor.load()
    threshold = agent.config.uncertainty.trigger
    step, u_index = agent.jitted
    zero = np.zeros(384, np.float32)
    rows, waits, advised = [], [], []
    per_episode = []
    for key in jax.random.split(jax.random.PRNGKey(seed), episodes):
        cell = {"state": agent.init()}

        def uncertainty(obs, env_params, cell=cell):
            del env_params
            return u_index(cell["state"], obs)

        def act(k, obs, guidance, cell=cell):
            has = guidance.v_pref is not None
            action, cell["state"] = step(
                k, cell["state"], obs, guidance.v_pref if has else zero, has
            )
            return action

        # a fresh worker per episode: no advice carries over between independent episodes
        with AsyncAdvisor(
            advisor, threshold, params.step_ms / 1000.0, encoder=encoder, delay_steps=delay_steps
        ) as runner:
            rec = advised_episode(key, params, act, runner, uncertainty)
            per_episode.append(runner.stats())
        m = episode_metrics(rec["outcome"], rec["latency_ms"])
        rows.append({k: float(m[k]) for k in METRIC_NAMES})
        waits.append(rec["advisor_wait_s"].mean())
        advised.append(rec["advised"].mean())
    stats = merge_advisor_stats(per_episode)
    stats.update(
        advised_fraction=float(np.mean(advised)),
        mean_advisor_wait_s=float(np.mean(waits)),
        ablate=list(agent.ablate),
    )
    frame = pd.DataFrame(
        {
            "policy": "aif-llm",
            "episode": np.arange(episodes),
            **{k: [r[k] for r in rows] for k in METRIC_NAMES},
        }
    )
    return frame, stats
