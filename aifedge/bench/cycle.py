"""Per-cycle timing of the full ``aif-llm`` agent (AIF-LLM Table 5): ``aifedge bench cycle``.

Rows (wall seconds per call after one warm-up call; ``aifedge.bench.time_calls``):

* ``cycle_aif_core``: one jitted decision of the full agent (``template_step``: EVT
  bookkeeping, U_t, meta-net λ_t, D_LLM check, semantic scores from the pre-encoded
  tables, AIF-LLM Eq. 4 pruning and AIF-LLM Eq. 5 EFE), batch 1, advice in force; no encoder call.
* ``cycle_meta_net``: one jitted AIF-LLM Eq. 7 call λ_t = f(U_t) from Python (dispatch included;
  inside ``cycle_aif_core`` it is fused into the decision).
* ``cycle_encoder``: MiniLM encoding of one advice text, uncached (torch, 1 thread).
* ``cycle_llm_advisor``: one ``template`` advisor call (rule-based text). With
  ``AIFEDGE_BENCH_SMOLLM=1`` also ``cycle_llm_advisor_smollm``: one SmolLM2-135M call
  (greedy, 48 new tokens; ``min(repeats, 3)`` calls after the model is loaded).

The encoder and the advisor run in the advisor's background worker, off the decision's
critical path (``critical_path`` in each row).
"""

import os
import tempfile

import jax
import jax.numpy as jnp
import numpy as np

from aifedge.bench import row, time_calls, torch_threads
from aifedge.environments import aif_llm


def _warm_state(agent, params, steps: int = 8):
    """An agent state and observation after ``steps`` decisions on one episode (so advice,
    window and tail are populated), and the jitted decision."""
    decide = jax.jit(lambda k, s, o: agent.template_step(k, s, o))
    obs, env = aif_llm.reset(jax.random.PRNGKey(0), params)
    state = agent.init()
    for t in range(steps):
        action, state, _ = decide(jax.random.PRNGKey(t), state, obs)
        obs, env, *_ = aif_llm.step(jax.random.PRNGKey(100 + t), env, action, params)
    return decide, state, obs


def bench_cycle(repeats: int = 200, threads: int | None = 1) -> list[dict]:
    """Table 5 rows for this machine (see the module docstring)."""
    from aifedge.inference.aif_llm_agent import build_agent
    from aifedge.inference.meta import meta_lambda
    from aifedge.llm_bridge import SentenceEncoder, summarise
    from aifedge.llm_bridge.advisors import TemplateAdvisor

    params = aif_llm.make_params()
    agent = build_agent(params)
    decide, state, obs = _warm_state(agent, params)
    key = jax.random.PRNGKey(1)
    core = time_calls(lambda: decide(key, state, obs)[0], repeats)
    info = decide(key, state, obs)[2]

    lam = jax.jit(lambda u: meta_lambda(agent.meta_model, u, agent.meta_cfg))
    u = jnp.asarray(0.3)
    meta = time_calls(lambda: lam(u), repeats)

    summary = summarise(obs, params, float(info.u_t))
    template = TemplateAdvisor()
    advice = template(summary)
    llm = time_calls(lambda: template(summary), repeats)

    with tempfile.TemporaryDirectory() as tmp, torch_threads(threads) as n_threads:
        enc = SentenceEncoder(cache_dir=tmp)
        enc.encode_uncached(["warm up"])
        encode = time_calls(lambda: enc.encode_uncached([advice.text]), max(3, repeats // 4))

    rows = [
        row(
            "cycle_aif_core",
            core,
            ms=1e3 * float(np.median(core)),
            critical_path=True,
            advised=bool(info.advised),
            n_policies=int(agent.core.policies.shape[0]),
            top_k=agent.config.agent.top_k,
            paper_ms=1.68,
        ),
        row(
            "cycle_meta_net",
            meta,
            us=1e6 * float(np.median(meta)),
            critical_path=True,
            hidden=agent.meta_cfg.hidden,
            paper_ms=1.0,
        ),
        row(
            "cycle_encoder",
            encode,
            ms=1e3 * float(np.median(encode)),
            critical_path=False,
            torch_threads=n_threads,
            text=advice.text,
            paper_ms=3.92,
        ),
        row(
            "cycle_llm_advisor",
            llm,
            ms=1e3 * float(np.median(llm)),
            critical_path=False,
            advisor="template",
            paper_ms=780.0,
        ),
    ]
    if os.environ.get("AIFEDGE_BENCH_SMOLLM") == "1":
        from aifedge.llm_bridge.advisors import SmolLMAdvisor

        smol = SmolLMAdvisor()
        with torch_threads(threads):
            smol.load()
            times = time_calls(lambda: smol(summary), max(1, min(repeats, 3)))
        rows.append(
            row(
                "cycle_llm_advisor_smollm",
                times,
                ms=1e3 * float(np.median(times)),
                critical_path=False,
                advisor="smollm",
                paper_ms=780.0,
                steps_of_delay=int(np.ceil(float(np.median(times)) / (params.step_ms / 1000.0))),
            )
        )
    return rows
