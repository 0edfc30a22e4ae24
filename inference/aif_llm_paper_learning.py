"""Learning the hidden-requirement prior per task text on ``paper`` (issue 16, items 3–4).

A policy wrapper around ``aif_llm_paper_agent.PaperAgent`` (its public API only). The state
carries Dirichlet counts d (n_texts, 4) over the factor ``req`` (r = 2 · private + strict)
for every task text ``text_id``, the pymdp "learn D" of one factor per context (the text)::

    d₀[x]      = c · D_req(x)            D_req = the agent's ``req_prior`` table: P(req | type)
                                         (``req_prior_table(d_llm=False)``) or AIF-LLM Eq. 3's
                                         D_LLM; so the keyword prior is the Dirichlet prior of a
                                         text never seen (a new task type, Alg. 1 cold start)
    prior      P(req | x_t) = d[x_t] / Σ_r d[x_t, r]   (E[Dir(d)], replaces ``req_prior``)
    update     d[x_{t−1}] += lr · q_t(req of task t−1)     once its outcome is observed

The outcome of decision t − 1 is fixed at dispatch and reported in ``Obs.last_outcome`` of
decision t (one task per decision; several decisions may share a slot, the bookkeeping is per
decision). Task t − 1 went to node j = ``Obs.last_node``; the model copies (bin, q(req)[,
health]) of it into ``sent:j`` (q = req on the cloud, the strict bit elsewhere), so the core's
posterior ``DecisionInfo.qs`` over ``sent:j`` at decision t gives the requirement posterior of
task t − 1 by Bayes (req ⟂ o given q(req); D the prior that task was dispatched with)::

    q_t(r) = D(r) · Q_t(sent_j ∈ q(r)) / Σ_{r': q(r') = q(r)} D(r')
           ∝ D(r) · Σ_{b,h} P(b, h) A[o | b, q(r), h]

(= the exact posterior when the sent prior is B(u) Q(s_{t−1}), as in the core). On the cloud
this separates private from open (a private task fails there); on the device and the edges
only strict from relaxed. Several tasks of one text add their q one by one (pymdp's
Σ_t q(s_t) sufficient statistic, online). Only c / lr matters for the mean prior.

Episode boundaries: ``Obs.last_node`` = −1 at the first decision of an episode (the env was
reset), so the last task of an episode is never scored (its outcome is not observed) and no
count is added; the counts carry across episodes with a carried policy state
(``batch_rollout(carry_policy_state=True)``), the agent's own bookings are its business.

Per text, not per type: the text states the flags (noisy), so P(req | text) differs within a
type by an order of magnitude, which a per-type count cannot learn; D_LLM works on the text.

Timing: the prior of task t is set before its decision, from the counts that include tasks
≤ t − 2 (task t − 1's outcome arrives in the same step's posterior): one decision of delay.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from aifedge.environments import Policy, agent_policy
from aifedge.environments.aif_llm_paper import EnvParams, Obs
from aifedge.environments.task_texts import PAPER_PHRASES_PER_TYPE, PAPER_TASK_TEXTS
from aifedge.generative_models.aif_llm_model import IDLE
from aifedge.generative_models.aif_llm_paper_model import REQ_LEVELS

from .agent import segments
from .aif_llm_paper_agent import PaperAgent, PaperState


class ReqLearnState(NamedTuple):
    """Wrapper state: the agent's ``PaperState``; counts d (n_texts, 4); the text of the task
    dispatched last (−1 none) and the requirement prior it was dispatched with (4,)."""

    inner: PaperState
    counts: jax.Array
    pending_text: jax.Array
    pending_prior: jax.Array


def sent_req_maps(agent: PaperAgent) -> tuple[np.ndarray, list[slice]]:
    """``(M (N, L, 4), slices)``: M[j, ℓ, r] = 1 when level ℓ of ``sent:<node j>`` is busy and
    carries q(r) (req r itself on the cloud, r's strict bit elsewhere), zero-padded to L
    levels; ``slices[j]``: that factor's span in the flat ``qs``."""
    model = agent.model
    _, fsl = segments(model.num_states)
    names = [n for n in model.factor_names if n.startswith("sent:")]
    levels = [model.factor_levels[model.factor_index(n)] for n in names]
    maps = np.zeros((len(names), max(map(len, levels)), 4), np.float32)
    for j, lvs in enumerate(levels):
        for i, label in enumerate(lvs):
            if label == IDLE:
                continue
            q = label.split("|")[1]
            for r, name in enumerate(REQ_LEVELS):
                maps[j, i, r] = q == name if q in REQ_LEVELS else (q == "strict") == bool(r % 2)
    return maps, [fsl[model.factor_index(n)] for n in names]


def req_posterior(qs_sent: jax.Array, maps: jax.Array, prior: jax.Array) -> jax.Array:
    """(4,) q(req) of the task behind ``sent:j`` (module docstring): ``qs_sent`` (L,) its
    posterior (padded), ``maps`` (L, 4) = ``sent_req_maps``' M[j], ``prior`` (4,) D."""
    group = qs_sent @ maps  # Q(sent ∈ q(r)) per r
    equiv = jnp.einsum("lr,ls->rs", maps, maps) > 0  # r ~ s: same q on this node
    mass = jnp.where(equiv, prior[None, :], 0.0).sum(-1)  # Σ_{s ~ r} D(s)
    q = prior * group / jnp.maximum(mass, 1e-12)
    return q / jnp.maximum(q.sum(), 1e-12)


@dataclass(frozen=True, eq=False)
class ReqLearner:
    """``agent`` with its requirement prior learned per text (module docstring); ``d0`` the
    initial counts c · D_req (n_texts, 4), ``lr`` the learning rate."""

    agent: PaperAgent
    d0: jax.Array
    lr: float
    maps: jax.Array  # (N, L, 4) sent_req_maps
    sent_index: jax.Array  # (N, L) flat qs index of each padded sent level (0 for padding)

    def init(self) -> ReqLearnState:
        return ReqLearnState(self.agent.init(), self.d0, jnp.int32(-1), jnp.zeros(4))

    def prior_table(self, counts: jax.Array) -> jax.Array:
        """(n_texts, 4) E[Dir(d)] = d / Σ_r d."""
        return counts / counts.sum(-1, keepdims=True)

    def step(self, key, s: ReqLearnState, obs: Obs):
        """``(action, state, DecisionInfo)``: the agent's decision with the learned prior,
        then d[x_{t−1}] += lr · q_t(req of task t − 1)."""
        table = self.prior_table(s.counts)
        agent = dataclasses.replace(self.agent, req_prior=table)
        action, inner, info = agent.step(key, s.inner, obs)
        node = jnp.maximum(obs.last_node, 0)
        padded = jnp.where(self.maps[node].sum(-1) > 0, info.qs[self.sent_index[node]], 0.0)
        q = req_posterior(padded, self.maps[node], s.pending_prior)
        seen = (obs.last_node >= 0) & (s.pending_text >= 0)
        counts = s.counts.at[jnp.maximum(s.pending_text, 0)].add(jnp.where(seen, self.lr * q, 0.0))
        text = obs.task.text_id
        return action, ReqLearnState(inner, counts, text, table[text]), info

    def policy(self) -> Policy:
        return agent_policy(self.init, self.step)


def build_req_learner(agent: PaperAgent, prior_count: float, lr: float = 1.0) -> ReqLearner:
    """The wrapper with d₀ = ``prior_count`` · ``agent.req_prior`` (c · D_req)."""
    if not prior_count > 0 or lr < 0:
        raise ValueError(f"need prior_count > 0 and lr >= 0 (got {prior_count}, {lr})")
    maps, slices = sent_req_maps(agent)
    index = np.zeros(maps.shape[:2], np.int32)
    for j, sl in enumerate(slices):
        index[j, : sl.stop - sl.start] = np.arange(sl.start, sl.stop)
    return ReqLearner(
        agent=agent,
        d0=prior_count * jnp.asarray(agent.req_prior, jnp.float32),
        lr=float(lr),
        maps=jnp.asarray(maps),
        sent_index=jnp.asarray(index),
    )


def text_req_rates(params: EnvParams) -> np.ndarray:
    """(n_texts, 4) the true P(req | text) of the simulator: the type's private / strict rates
    (``private_prob``, ``strict_prob``) and the stated flags, each flipped w.p. ``text_noise``
    (text_id = ((type · 2 + said private) · 2 + said strict) · M + phrase), by Bayes."""
    p, s = np.asarray(params.private_prob, float), np.asarray(params.strict_prob, float)
    rates = np.stack([(1 - p) * (1 - s), (1 - p) * s, p * (1 - s), p * s], -1)
    noise = params.text_noise
    out = np.zeros((len(PAPER_TASK_TEXTS), 4))
    for x in range(len(PAPER_TASK_TEXTS)):
        cls, rest = divmod(x // PAPER_PHRASES_PER_TYPE, 4)
        said = (rest // 2, rest % 2)
        like = [
            (1 - noise if said[0] == r // 2 else noise) * (1 - noise if said[1] == r % 2 else noise)
            for r in range(4)
        ]
        joint = rates[cls] * np.asarray(like)
        out[x] = joint / joint.sum()
    return out
