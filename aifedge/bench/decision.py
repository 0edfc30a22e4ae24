"""Decision-core speed: ``aifedge bench decision`` (issue 4's benchmark).

Rows (wall seconds per call, after one compile/warm-up call):

* ``decision_single``: one jitted ``step`` of the ``aif`` agent (fast engine) on the
  default slack model (``aif_llm_slack_model``), ``AIF_CONFIG`` with learning on (the
  Dirichlet update of A[outcome:*] is part of every call), ≥ 1,000 calls.
* ``decision_single_no_learning``: the same step with ``learn_A`` off (the shipped ``aif``).
* ``decision_batched_<B>``: the vmapped step over B agents; ``decisions_per_s``.
* ``decision_single_pymdp_engine``: the same step evaluated with pymdp's functions.
* ``decision_single_paper``: one jitted step of ``aif`` on scenario ``paper``
  (``inference.aif_llm_paper_agent``: observation mapping, own-work booking and the decision on
  ``aif_llm_paper_model``, learning off), on the scenario's first observation.
* ``pymdp_agent_single``: plain ``pymdp.agent.Agent`` on the same A, B, C, D —
  ``infer_states`` + ``infer_policies`` + ``sample_action``, jitted — with
  ``ratio_to_ours`` = its median / ``decision_single``'s median.

All calls see the same observation (every modality observed), so the work per call is
the same for every row.
"""

import jax
import jax.numpy as jnp
import numpy as np

from aifedge.bench import row, time_calls
from aifedge.generative_models import aif_llm_slack_model
from aifedge.inference.agent import AgentConfig, make_agent, to_pymdp_agent
from aifedge.inference.policies import AIF_CONFIG


def bench_decision(
    repeats: int = 1000,
    batch: int = 1024,
    batch_repeats: int = 20,
    config: AgentConfig | None = None,
) -> list[dict]:
    """Per-decision latency (single, batched) and the plain-pymdp reference; see module doc.

    ``repeats`` single calls (at least 1,000), ``batch_repeats`` batched calls.
    """
    repeats = max(int(repeats), 1000)
    config = AIF_CONFIG._replace(learn_A=True) if config is None else config
    model = aif_llm_slack_model.build_slack_model()
    n_nodes = len(model.control_levels[0])
    # slack bins of the 7 nodes, RTT bin, class, then the last task (on edge 2) was met
    outcomes = [3] * n_nodes
    outcomes[2] = 0
    obs = jnp.asarray([*[9, 0, 3, 4, 2, 1, 1][:n_nodes], 1, 0, *outcomes], jnp.int32)
    key = jax.random.PRNGKey(0)
    fast = make_agent(model, config, engine="fast")
    fixed = make_agent(model, config._replace(learn_A=False), engine="fast")
    ref = make_agent(model, config, engine="pymdp")
    state = fast.init()
    t_fast = time_calls(lambda: fast.step(key, state, obs)[0], repeats)
    t_fixed = time_calls(lambda: fixed.step(key, state, obs)[0], repeats)
    t_ref = time_calls(lambda: ref.step(key, state, obs)[0], repeats)

    states = jax.tree.map(lambda x: jnp.broadcast_to(x, (batch, *x.shape)), state)
    obs_b = jnp.broadcast_to(obs, (batch, *obs.shape))
    keys = jax.random.split(key, batch)
    t_batch = time_calls(lambda: fast.batch_step(keys, states, obs_b)[0], batch_repeats)

    agent = to_pymdp_agent(model, config)
    obs_list = [o[None] for o in obs]

    @jax.jit
    def pymdp_decide(k):
        qs = agent.infer_states(obs_list, agent.D)
        q_pi, _ = agent.infer_policies(qs)
        return agent.sample_action(q_pi, rng_key=k[None])

    t_pymdp = time_calls(lambda: pymdp_decide(key), repeats)
    t_paper = _time_paper(repeats)
    ours = float(np.median(t_fast))
    n_pol = int(fast.policies.shape[0])
    common = {
        "n_policies": n_pol,
        "top_k": config.top_k,
        "policy_len": config.policy_len,
        "learn_A": config.learn_A,
    }
    return [
        row("decision_single", t_fast, decisions_per_s=1.0 / ours, **common),
        row("decision_single_no_learning", t_fixed, **{**common, "learn_A": False}),
        row(
            f"decision_batched_{batch}",
            t_batch,
            batch=batch,
            decisions_per_s=batch / float(np.median(t_batch)),
            **common,
        ),
        row(
            "decision_single_pymdp_engine",
            t_ref,
            ratio_to_ours=float(np.median(t_ref)) / ours,
            **common,
        ),
        row("decision_single_paper", t_paper, decisions_per_s=1.0 / float(np.median(t_paper))),
        row(
            "pymdp_agent_single", t_pymdp, ratio_to_ours=float(np.median(t_pymdp)) / ours, **common
        ),
    ]


def _time_paper(repeats: int) -> np.ndarray:
    """Wall seconds of the ``paper`` agent's jitted step (``decision_single_paper``)."""
    from aifedge.environments import aif_llm_paper
    from aifedge.inference.aif_llm_paper_agent import build_paper_agent

    params = aif_llm_paper.make_params()
    agent = build_paper_agent(params)
    obs, _ = aif_llm_paper.reset(jax.random.PRNGKey(0), params)
    step, state, key = jax.jit(agent.step), agent.init(), jax.random.PRNGKey(1)
    return time_calls(lambda: step(key, state, obs)[0], repeats)
