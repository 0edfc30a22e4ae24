"""Advice tables of the ``aif-llm`` agent (AIF-LLM Eq. 3 and Algorithm 1 lines 5–8).

* Template advice: every text ``llm_bridge.advisors.template_advice`` can produce, and a
  jit-able index from an observation to its row (``template_texts``, ``template_index``), so
  the template advisor runs inside the jitted decision.
* Keyword prior (AIF-LLM Eq. 3): the shipped table ``PRIOR_FILE`` for ``EnvParams()``, refitted on
  simulator logs (about 30 s, memoised) for other parameters (``default_keyword_prior``);
  ``evidence_matrix`` lays its evidence out over the model's flat belief.
  Regenerate the file: ``python -m aifedge.inference.aif_llm_advice``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from aifedge.environments.aif_llm import EnvParams, Obs
from aifedge.environments.task_texts import TASK_TEXTS
from aifedge.generative_models.base import GenerativeModel

from .agent import segments

if TYPE_CHECKING:
    from aifedge.llm_bridge import KeywordPrior

DATA_DIR = Path(__file__).resolve().parent / "data"
PRIOR_FILE = DATA_DIR / "keyword_prior.json"
"""Keyword table of AIF-LLM Eq. 3 for ``EnvParams()`` (``main`` regenerates it)."""

PRIOR_LOG_SEED = 7
"""Seed of the scheduling logs behind the shipped keyword table (distinct from the
reported seed 0 and the evaluation seeds 1000+)."""
PRIOR_LOG_EPISODES = 20


def template_texts(params: EnvParams) -> tuple[tuple[str, ...], np.ndarray]:
    """Every text ``llm_bridge.advisors.template_advice`` can produce, and the index table.

    Returns ``(texts, index)``; ``index[node, congested, down_mask]`` is the row in
    ``texts`` of the advice recommending ``node`` (0 local, 1..E edge, E + 1 cloud) when
    the WAN looks congested (0/1) and the edges in bit mask ``down_mask`` are down
    (−1 where the template never says that). Texts come from ``template_advice`` itself.
    """
    from aifedge.llm_bridge.advisors import ObsSummary, template_advice

    n_edge, base = params.n_edge, float(params.cloud_rtt_ms)
    index = np.full((params.n_nodes, 2, 2**n_edge), -1, np.int32)
    rows: dict[str, int] = {}
    for mask in range(2**n_edge):
        up = tuple(not (mask >> j) & 1 for j in range(n_edge))
        for congested in (0, 1):
            choices = [j + 1 for j in range(n_edge) if up[j]] + [0 if congested else n_edge + 1]
            for node in choices:
                queue = tuple(0.0 if j == node - 1 else 1e9 for j in range(n_edge))
                summary = ObsSummary(queue, up, 2.0 * base if congested else base, base, "", 1000.0)
                text = template_advice(summary).text
                index[node, congested, mask] = rows.setdefault(text, len(rows))
    return tuple(rows), index


def template_index(obs: Obs, index: jax.Array, params: EnvParams) -> jax.Array:
    """Row of ``template_texts`` that ``template_advice(summarise(obs))`` returns (jit-able):
    the shortest up edge queue if it is under half the deadline, else the cloud when the
    RTT is under twice its normal value, else the local device."""
    n_edge = params.n_edge
    up = obs.up > 0
    queue = jnp.where(up, obs.queue_ms, jnp.inf)
    best = jnp.argmin(queue)
    congested = obs.rtt_ms >= 2.0 * params.cloud_rtt_ms
    to_edge = jnp.any(up) & (queue[best] < 0.5 * obs.task.deadline_ms)
    node = jnp.where(to_edge, best + 1, jnp.where(congested, 0, n_edge + 1))
    mask = jnp.sum(jnp.where(up, 0, 2 ** jnp.arange(n_edge)))
    return index[node, congested.astype(jnp.int32), mask]


# ------------------------------------------------------------------ keyword prior
def prior_key(params: EnvParams) -> str:
    """The parameters a keyword table was fitted for (``max_steps`` aside), as stored in it."""
    return repr(tuple(params._replace(max_steps=0)))


def fit_keyword_prior(
    params: EnvParams, seed: int = PRIOR_LOG_SEED, episodes: int = PRIOR_LOG_EPISODES
) -> KeywordPrior:
    """``KeywordPrior`` fitted on ``make_logs(params, episodes=…, seed=…)`` (heuristics)."""
    from aifedge.llm_bridge import KeywordPrior, make_logs

    return KeywordPrior.fit(make_logs(params, episodes=episodes, seed=seed))


@functools.lru_cache(maxsize=4)
def default_keyword_prior(params: EnvParams) -> KeywordPrior:
    """The keyword table for ``params``: the shipped ``PRIOR_FILE`` when it was made from
    the same parameters (``max_steps`` aside; its ``params_key`` field), else fitted now
    (memoised per process)."""
    from aifedge.llm_bridge import KeywordPrior

    if PRIOR_FILE.is_file() and json.loads(PRIOR_FILE.read_text()).get("params_key") == prior_key(
        params
    ):
        return KeywordPrior.load(PRIOR_FILE)
    return fit_keyword_prior(params)


def evidence_matrix(prior: KeywordPrior, model: GenerativeModel) -> np.ndarray:
    """(n_texts, N) Σ_k 1[k ∈ text] w_k a_k(s) of every task text over the flat factor
    layout (zeros for factors the table does not know)."""
    from aifedge.llm_bridge import evidence_table

    known = [f for f in model.factor_names if f in prior.associations]
    table = evidence_table(prior, TASK_TEXTS, known)
    _, fsl = segments(model.num_states)
    out = np.zeros((len(TASK_TEXTS), sum(model.num_states)), np.float32)
    for name in known:
        out[:, fsl[model.factor_index(name)]] = table[name]
    return out


def main() -> None:
    """Regenerate ``PRIOR_FILE`` (and its parameter key) for ``EnvParams()``."""
    from aifedge.results import write_text_atomic

    params = EnvParams()
    prior = fit_keyword_prior(params)
    data = {
        **prior.to_dict(),
        "params_key": prior_key(params),
        "log_seed": PRIOR_LOG_SEED,
        "log_episodes": PRIOR_LOG_EPISODES,
    }
    print(write_text_atomic(PRIOR_FILE, json.dumps(data, sort_keys=True) + "\n"))


if __name__ == "__main__":
    main()
