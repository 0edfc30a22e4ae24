"""Speed of the LLM side (paper Table 5: encoder 3.92 ms; LLM asynchronous).

Each function takes ``repeats=`` and returns rows ``{name, median_s, p95_s, n_repeats,
...}`` like ``aifedge.bench``; a row's ``median_s`` is the wall time of one call after a
warm-up call. Register them as ``aifedge bench encoder`` / ``prior`` / ``advisor``.
"""

import tempfile
import time

import numpy as np

from aifedge.bench import row, time_calls, torch_threads


def bench_encoder(repeats: int = 50, batch: int = 24, threads: int | None = 1) -> list[dict]:
    """MiniLM encoder: one uncached text (ms/text, the paper's 3.92 ms), a batch of
    ``batch`` texts (per-text cost), a cached lookup (µs) and the model load; torch
    runs with ``threads`` intra-op threads (recorded in the rows)."""
    from aifedge.environments.task_texts import TASK_TEXTS
    from aifedge.llm_bridge.encoder import SentenceEncoder

    texts = list(TASK_TEXTS)[:batch]
    with tempfile.TemporaryDirectory() as tmp, torch_threads(threads) as n_threads:
        start = time.perf_counter()
        enc = SentenceEncoder(cache_dir=tmp)
        enc.encode_uncached(["warm up"])
        load_s = time.perf_counter() - start
        one = time_calls(lambda: enc.encode_uncached([texts[0]]), repeats)
        many = time_calls(lambda: enc.encode_uncached(texts), max(3, repeats // 10))
        enc.encode(texts)
        hit = time_calls(lambda: enc.encode([texts[0]]), repeats * 20)
        disk = SentenceEncoder(cache_dir=tmp)
        disk_hit = []
        for text in texts:  # first read of each text comes from disk
            t0 = time.perf_counter()
            disk.encode([text])
            disk_hit.append(time.perf_counter() - t0)
    return [
        row(
            "encoder_text",
            one,
            per_text_ms=1e3 * float(np.median(one)),
            paper_ms=3.92,
            torch_threads=n_threads,
        ),
        row(
            f"encoder_batch_{len(texts)}",
            many,
            per_text_ms=1e3 * float(np.median(many)) / len(texts),
            torch_threads=n_threads,
        ),
        row("encoder_cached_memory", hit, median_us=1e6 * float(np.median(hit))),
        row(
            "encoder_cached_disk", np.asarray(disk_hit), median_us=1e6 * float(np.median(disk_hit))
        ),
        row("encoder_load", np.asarray([load_s])),
    ]


def bench_prior(repeats: int = 200, episodes: int = 4, steps: int = 100) -> list[dict]:
    """Keyword prior: fitting on logs, D_LLM (AIF-LLM Eq. 3) of one text over the cloud-edge
    factors (µs), and the per-text table lookup used under jit."""
    from aifedge.environments.task_texts import TASK_TEXTS
    from aifedge.llm_bridge.logs import make_logs
    from aifedge.llm_bridge.prior import DEFAULT_FACTORS, KeywordPrior, d_llm, d_llm_table

    logs = make_logs(episodes=episodes, steps=steps)
    fit = time_calls(lambda: KeywordPrior.fit(logs), max(3, repeats // 50))
    prior = KeywordPrior.fit(logs)
    base = {f: np.full(n, 1.0 / n) for f, n in prior.n_levels.items()}
    text = TASK_TEXTS[6]
    one = time_calls(lambda: d_llm(prior, text, base), repeats)
    table = d_llm_table(prior, TASK_TEXTS, base)
    look = time_calls(lambda: {f: t[6] for f, t in table.items()}, repeats)
    return [
        row("prior_fit", fit, rows=len(logs), vocabulary=len(prior.vocabulary)),
        row(
            "prior_d_llm", one, median_us=1e6 * float(np.median(one)), factors=len(DEFAULT_FACTORS)
        ),
        row("prior_table_lookup", look, median_us=1e6 * float(np.median(look))),
    ]


def bench_advisor(
    repeats: int = 3, max_new_tokens: int = 48, threads: int | None = 1
) -> list[dict]:
    """Advisor latency: ``template`` (µs) and ``smollm`` (s, greedy, ``max_new_tokens``,
    ``threads`` torch threads), with the decision steps k = ⌈ℓ / step_ms⌉ a call spans."""
    from aifedge.environments import aif_llm
    from aifedge.llm_bridge.advisors import ObsSummary, SmolLMAdvisor, TemplateAdvisor

    step_s = aif_llm.EnvParams().step_ms / 1000.0
    summary = ObsSummary(
        queue_ms=(120.0, 950.0, 40.0, 300.0, 10.0),
        up=(True, True, False, True, True),
        rtt_ms=480.0,
        base_rtt_ms=80.0,
        task_text="video analytics on a camera stream",
        deadline_ms=800.0,
    )
    tmpl = time_calls(lambda: TemplateAdvisor()(summary), 1000)
    smol = SmolLMAdvisor(max_new_tokens=max_new_tokens)
    with torch_threads(threads) as n_threads:
        start = time.perf_counter()
        smol.load()
        load_s = time.perf_counter() - start
        gen = time_calls(lambda: smol(summary), repeats)
    return [
        row("advisor_template", tmpl, median_us=1e6 * float(np.median(tmpl))),
        row("advisor_smollm_load", np.asarray([load_s]), torch_threads=n_threads),
        row(
            "advisor_smollm",
            gen,
            max_new_tokens=max_new_tokens,
            torch_threads=n_threads,
            delay_steps=int(np.ceil(float(np.median(gen)) / step_s)),
        ),
    ]


def bench_semantic(repeats: int = 1000) -> list[dict]:
    """Per-decision cost of G_semantic on the cloud-edge model: predicted marginals of the
    ``sent:*`` factors for every policy plus the cosine with v_pref, one jitted call (µs);
    and building the embedding tables once (encoder, cached on disk after the first run)."""
    import jax
    import jax.numpy as jnp

    from aifedge.generative_models.aif_llm_model import build_model
    from aifedge.llm_bridge.encoder import SentenceEncoder
    from aifedge.llm_bridge.semantic import (
        aif_llm_texts,
        build_tables,
        g_semantic,
        predicted_marginals,
    )

    model = build_model()
    with tempfile.TemporaryDirectory() as tmp, torch_threads(1):
        enc = SentenceEncoder(cache_dir=tmp)
        start = time.perf_counter()
        tables = build_tables(enc, aif_llm_texts(model))
        build_s = time.perf_counter() - start
        v_pref = jnp.asarray(enc.encode(["Send the task to edge node 5."])[0])
    prior = tuple(jnp.asarray(d) for d in model.D)
    scores = jax.jit(
        lambda qs, v: g_semantic(predicted_marginals(model, qs, tables.names), tables, v)
    )
    t = time_calls(lambda: scores(prior, v_pref), repeats)
    return [
        row(
            "semantic_scores",
            t,
            median_us=1e6 * float(np.median(t)),
            policies=int(model.num_controls[0]),
            factors=len(tables.names),
        ),
        row(
            "semantic_tables_build",
            np.asarray([build_s]),
            texts=sum(int(x.shape[0]) for x in tables.tables),
        ),
    ]
