"""Semantic preferences (AIF-LLM §4.3.2, Eq. 5's G_semantic) and the AIF-LLM Eqs. 1–2 fusion.

**State embeddings.** Every level of a hidden-state factor (and every outcome of an
observation modality) gets a one-sentence description; its embedding is v_f(s)
(384-d, L2-normalised; ``""`` gives the zero vector, used for "nothing happened"
levels such as ``idle``). A joint state's embedding is the sum over the chosen factors,
v_state(s) = Σ_f v_f(s_f), so under a factorised belief its expectation is exact:

    E_{Q(s|π)}[v_state] = Σ_f Σ_{s_f} Q(s_f | π) v_f(s_f)                 (P, 384)
    G_semantic(π) = cos(E_{Q(s|π)}[v_state], v_pref)                        (P,)

with v_pref the encoded advice (Algorithm 1 line 7). Higher = better aligned; the
decision core subtracts it, G(π) = G_prag + G_epis − λ·G_semantic (the paper writes
``+ λ · Sim`` under ``argmin G``, which would penalise agreement with the advice; we
read it as a preference, as §4.3.2 describes).

The tables (``SemanticTables``) are encoded once, through the encoder's caches, before
any decision; ``g_semantic`` is a pure ``jax.numpy`` function (jit/vmap-able), so the
real-time loop never runs the encoder. Only new advice text is encoded, in the advisor's
background worker.

**The interface** is deliberately small: factor names, their level labels and one
description per level (``FactorTexts``), and per-policy predicted marginals as arrays
(P, L_f). ``aif_llm_texts(model)`` writes the descriptions for
``aifedge.generative_models.aif_llm_model``; ``predicted_marginals`` computes Q(s_{t+1}|π)
from any ``GenerativeModel`` with pymdp.

**AIF-LLM Eqs. 1–2.** ``o_t = Linear(Concat(x_struct, z_text))`` with z_text the MiniLM
embedding of the task text (the paper's image and audio encoders have no counterpart in
this simulator): ``init_fusion``, ``fuse``, ``task_text_table``.
"""

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .encoder import EMBED_DIM


class FactorTexts(NamedTuple):
    """Descriptions of one factor's (or modality's) levels.

    name: factor or modality name; labels (L,): level labels; descriptions (L,): one
    sentence each ("" for a level that should not contribute, e.g. ``idle``).
    """

    name: str
    labels: tuple[str, ...]
    descriptions: tuple[str, ...]


class SemanticTables(NamedTuple):
    """Precomputed level embeddings: ``names[f]`` and ``tables[f]`` (L_f, 384) float32."""

    names: tuple[str, ...]
    tables: tuple


def build_tables(encoder, factors: Sequence[FactorTexts]) -> SemanticTables:
    """Encode every description once (through the encoder's caches); "" -> zero row."""
    tables = []
    for f in factors:
        if len(f.labels) != len(f.descriptions):
            raise ValueError(
                f"FactorTexts {f.name!r}: {len(f.labels)} labels but "
                f"{len(f.descriptions)} descriptions; give one per level"
            )
        table = np.zeros((len(f.descriptions), EMBED_DIM), np.float32)
        rows = [i for i, d in enumerate(f.descriptions) if d]
        if rows:
            table[rows] = encoder.encode([f.descriptions[i] for i in rows])
        tables.append(jnp.asarray(table))
    return SemanticTables(names=tuple(f.name for f in factors), tables=tuple(tables))


def expected_embedding(marginals: Sequence[jax.Array], tables: Sequence[jax.Array]) -> jax.Array:
    """E_{Q(s|π)}[v_state] = Σ_f marginals[f] @ tables[f]: (P, L_f) x (L_f, d) -> (P, d)."""
    if len(marginals) != len(tables):
        raise ValueError(
            f"expected_embedding: {len(marginals)} marginals for {len(tables)} "
            f"tables; pass one (P, L_f) array per table"
        )
    return sum(
        (jnp.asarray(q) @ t for q, t in zip(marginals, tables, strict=True)),
        start=jnp.float32(0.0),
    )


def g_semantic(
    marginals: Sequence[jax.Array], tables: SemanticTables, v_pref: jax.Array, eps: float = 1e-8
) -> jax.Array:
    """(P,) cosine of each policy's expected state embedding with v_pref (0 if either is 0)."""
    v = expected_embedding(marginals, tables.tables)
    v_pref = jnp.asarray(v_pref, jnp.float32)
    num = v @ v_pref
    den = jnp.linalg.norm(v, axis=-1) * jnp.linalg.norm(v_pref)
    return jnp.where(den > eps, num / jnp.maximum(den, eps), 0.0)


def predicted_marginals(
    model, qs: Sequence[jax.Array], factors: Sequence[str], policies: jax.Array | None = None
) -> list[jax.Array]:
    """Q(s_f,t+1 | π) = B_f(u_1) Q(s_t) for the named factors: list of (P, L_f).

    ``model``: a ``generative_models.base.GenerativeModel`` (its B has a trailing action
    axis of size 1 for factors no action moves). ``qs``: belief per factor.
    ``policies``: (P, n_factors) flattened first actions (``AifAgent.policies[:, 0]``);
    default all actions of a single control factor.
    """
    from pymdp import control

    idx = [model.factor_index(name) for name in factors]
    if policies is None:
        if len(model.num_controls) != 1:
            raise ValueError(
                "predicted_marginals: pass policies for models with several control factors"
            )
        u = jnp.arange(model.num_controls[0])
        policies = jnp.stack([u * (len(a) > 0) for a in model.B_action_dependencies], -1)
    B = [jnp.asarray(b, jnp.float32) for b in model.B]
    deps = [list(d) for d in model.B_dependencies]
    qs = [jnp.asarray(q, jnp.float32) for q in qs]

    def one(u):
        nxt = control.compute_expected_state(qs, B, u, deps)
        return [nxt[i] for i in idx]

    return list(jax.vmap(one)(jnp.asarray(policies, jnp.int32)))


# ------------------------------------------------------------- cloud-edge descriptions
CLASS_PHRASES: dict[str, str] = {
    "interactive": "a real-time interactive request",
    "video": "a video analytics task",
    "document": "a long document processing task",
    "batch": "an offline batch job",
}
LOAD_PHRASES: dict[str, str] = {
    "low": "lightly loaded with a short queue",
    "medium": "moderately loaded",
    "high": "heavily loaded with a long queue",
    "down": "failed and unavailable",
}
NET_PHRASES: dict[str, str] = {
    "good": "fast and stable",
    "degraded": "degraded with higher latency",
    "congested": "congested with very high latency",
}
OUTCOME_PHRASES: dict[str, str] = {
    "met": "finished within its deadline",
    "violated": "violated its QoS deadline",
    "failed": "failed or timed out",
    "idle": "",
}


def _node_phrase(node: str) -> str:
    if node == "local":
        return "the local device"
    if node == "cloud":
        return "the cloud"
    return f"edge node {node.removeprefix('edge')}"


def _phrase(table: Mapping[str, str], label: str) -> str:
    return table.get(label, label)


def level_description(factor: str, label: str) -> str:
    """One sentence for level ``label`` of a cloud-edge factor or modality ("" for idle)."""
    kind, _, node = factor.partition(":")
    if kind == "load":
        return f"{_node_phrase(node)} is {_phrase(LOAD_PHRASES, label)}"
    if kind in ("net", "obs_rtt"):
        return f"the network to the cloud is {_phrase(NET_PHRASES, label)}"
    if kind in ("class", "obs_class"):
        return f"the task is {_phrase(CLASS_PHRASES, label)}"
    if kind == "sent":
        if label == "idle":
            return ""
        cls, _, ctx = label.partition("|")
        where = _node_phrase(node)
        text = f"{_phrase(CLASS_PHRASES, cls)} was sent to {where}"
        if ctx in NET_PHRASES:
            return f"{text} while the network was {NET_PHRASES[ctx]}"
        if ctx:
            return f"{text} while it was {_phrase(LOAD_PHRASES, ctx)}"
        return text
    if kind == "outcome":
        phrase = _phrase(OUTCOME_PHRASES, label)
        return f"the task on {_node_phrase(node)} {phrase}" if phrase else ""
    if kind == "obs_load":
        return f"{_node_phrase(node)} looks {_phrase(LOAD_PHRASES, label)}"
    return f"{factor} is {label}"


def factor_texts(
    names: Sequence[str], levels: Sequence[Sequence[str]], describe=level_description
) -> list[FactorTexts]:
    """``FactorTexts`` for each (name, level labels) pair, sentences from ``describe``."""
    return [
        FactorTexts(n, tuple(lv), tuple(describe(n, label) for label in lv))
        for n, lv in zip(names, levels, strict=True)
    ]


def aif_llm_texts(model, factors: Sequence[str] | None = None) -> list[FactorTexts]:
    """Descriptions of a cloud-edge ``GenerativeModel``'s factors (default: ``sent:*``, the
    factors that say where the task went and in which context)."""
    if factors is None:
        factors = [n for n in model.factor_names if n.startswith("sent:")]
    levels = [model.factor_levels[model.factor_index(n)] for n in factors]
    return factor_texts(factors, levels)


# ------------------------------------------------------------- AIF-LLM Eqs. 1-2 fusion
class FusionParams(NamedTuple):
    """o_t = W · Concat(x_struct, z_text) + b (AIF-LLM Eq. 2).

    W (d_obs, d_struct + d_text), b (d_obs,)."""

    W: jax.Array
    b: jax.Array


def init_fusion(key: jax.Array, d_struct: int, d_obs: int, d_text: int = EMBED_DIM) -> FusionParams:
    """Uniform(±1/√fan_in) init (PyTorch/equinox ``Linear`` convention), b likewise."""
    for name, v in (("d_struct", d_struct), ("d_obs", d_obs), ("d_text", d_text)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"init_fusion.{name}: must be a positive integer (got {v!r})")
    k_w, k_b = jax.random.split(key)
    fan_in = d_struct + d_text
    bound = 1.0 / np.sqrt(fan_in)
    return FusionParams(
        W=jax.random.uniform(k_w, (d_obs, fan_in), minval=-bound, maxval=bound),
        b=jax.random.uniform(k_b, (d_obs,), minval=-bound, maxval=bound),
    )


def fuse(params: FusionParams, x_struct: jax.Array, z_text: jax.Array) -> jax.Array:
    """AIF-LLM Eq. 2: (..., d_struct), (..., d_text) -> (..., d_obs)."""
    x = jnp.concatenate(
        [jnp.asarray(x_struct, jnp.float32), jnp.asarray(z_text, jnp.float32)], axis=-1
    )
    if x.shape[-1] != params.W.shape[1]:
        raise ValueError(
            f"fuse: Concat(x_struct, z_text) has {x.shape[-1]} features but W "
            f"expects {params.W.shape[1]}; check d_struct / d_text"
        )
    return x @ params.W.T + params.b


def task_text_table(encoder, texts: Sequence[str] | None = None) -> jax.Array:
    """z_text of AIF-LLM Eq. 1 for every task text: (n_texts, 384), row ``text_id``.

    Default texts: the simulator's ``TASK_TEXTS``; under jit, z_text = table[text_id].
    """
    if texts is None:
        from aifedge.environments.task_texts import TASK_TEXTS

        texts = TASK_TEXTS
    return jnp.asarray(encoder.encode(list(texts)))
