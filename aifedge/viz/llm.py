"""Matplotlib views of the LLM side (keyword prior, embeddings, semantic scores, advice).

Every ``plot_*`` function returns a ``matplotlib.figure.Figure`` and runs headless.

* ``plot_keyword_weights``: the static keyword table w_k of AIF-LLM Eq. 3 (``KeywordPrior``).
* ``d_llm_frame`` / ``plot_d_llm``: D_LLM (AIF-LLM Eq. 3) of one factor for example texts.
* ``embedding_pca`` / ``plot_embedding_map``: 2-D PCA of sentence embeddings (state
  descriptions, advice) from ``SentenceEncoder``.
* ``plot_semantic_scores``: G_semantic per policy (``semantic.g_semantic``).
* ``follow_advice``, ``observed_uncertainty``, ``plot_advised_episode``: the pieces of a
  minimal advisor loop (``advisors.advised_episode``) for the notebooks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from aifedge.environments.aif_llm import OUTCOME_NAMES
from aifedge.llm_bridge.prior import KeywordPrior, d_llm
from aifedge.viz import OUTCOME_COLORS


def plot_keyword_weights(prior: KeywordPrior, top: int = 20):
    """Horizontal bars of the ``top`` largest keyword weights w_k (max 1), with the
    keyword's mutual information with the target column of the logs (nats)."""
    if top < 1:
        raise ValueError(f"plot_keyword_weights.top: must be ≥ 1 (got {top})")
    w = prior.weights.head(top)[::-1]
    mi = pd.Series(prior.mutual_info, index=prior.vocabulary)[w.index]
    fig, ax = plt.subplots(figsize=(6, 0.25 * len(w) + 1.2))
    ax.barh(w.index, w.to_numpy())
    for y, (wk, m) in enumerate(zip(w.to_numpy(), mi.to_numpy(), strict=True)):
        ax.text(wk, y, f" MI {m:.3f}", va="center", fontsize=7)
    ax.set(
        xlabel="w_k (TF-IDF × MI, normalised)",
        xlim=(0, 1.25),
        title=f"Keyword weights of AIF-LLM Eq. 3 (target: {prior.target})",
    )
    fig.tight_layout()
    return fig


def d_llm_frame(
    prior: KeywordPrior,
    texts: Sequence[str],
    base: Mapping[str, np.ndarray],
    factor: str,
    labels: Sequence[str],
    alpha: float = 1.0,
) -> pd.DataFrame:
    """D_LLM(factor) of each text (rows) over the factor's ``labels`` (columns), AIF-LLM Eq. 3
    with Base = ln ``base[factor]``; a column ``keywords`` lists the known keywords found."""
    rows = [d_llm(prior, t, {factor: base[factor]}, alpha)[factor] for t in texts]
    frame = pd.DataFrame(np.asarray(rows), index=pd.Index(texts, name="text"), columns=list(labels))
    frame["keywords"] = [
        ", ".join(prior.vocabulary[i] for i in prior.keyword_index(t)) for t in texts
    ]
    return frame


def plot_d_llm(frame: pd.DataFrame):
    """Heatmap of a ``d_llm_frame``: one row per text, one column per level, values shown."""
    probs = frame.drop(columns="keywords")
    vals = probs.to_numpy()
    fig, ax = plt.subplots(figsize=(1.3 * vals.shape[1] + 4.5, 0.45 * vals.shape[0] + 1.2))
    ax.imshow(vals, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for (i, j), v in np.ndenumerate(vals):
        ax.text(
            j, i, f"{v:.2f}", ha="center", va="center", fontsize=8, color="w" if v < 0.6 else "k"
        )
    ax.set_xticks(range(vals.shape[1]), probs.columns)
    ax.set_yticks(
        range(vals.shape[0]), [t if len(t) <= 48 else t[:45] + "…" for t in probs.index], fontsize=8
    )
    ax.set_title("D_LLM(s) = softmax(Base(s) + α Σ_k 1[k ∈ text] w_k a_k(s))  (AIF-LLM Eq. 3)")
    fig.tight_layout()
    return fig


def _pca(x: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean (d,), components (k, d), explained variance ratio (k,))`` of the rows of
    ``x``; each component's sign is fixed so that its largest-magnitude loading is
    positive (as scikit-learn's ``svd_flip``)."""
    if x.ndim != 2 or x.shape[0] < 2 or not 1 <= n_components <= min(x.shape):
        raise ValueError(
            f"embedding_pca: need an (n ≥ 2, d) array and 1 ≤ n_components ≤ "
            f"min(n, d) (got shape {x.shape}, n_components {n_components})"
        )
    mean = x.mean(0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    signs = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])
    var = s**2
    return mean, (vt * signs[:, None])[:n_components], var[:n_components] / var.sum()


def embedding_pca(x, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """PCA by SVD of the centred rows of ``x`` (n, d): ``(coords (n, k), explained
    variance ratio (k,))``; each component's sign is fixed so that its largest-magnitude
    loading is positive (as scikit-learn's ``svd_flip``)."""
    x = np.asarray(x, float)
    mean, comps, ratio = _pca(x, n_components)
    return (x - mean) @ comps.T, ratio


def plot_embedding_map(
    embeddings,
    labels: Sequence[str],
    groups: Sequence[str] | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
):
    """2-D PCA map of embeddings (n, 384) with text labels, coloured by ``groups``;
    ``extra`` maps a label to a vector (e.g. an advice's v_pref) projected onto the same
    two components and drawn as a star."""
    x = np.asarray(embeddings, float)
    mean, comps, ratio = _pca(x, 2)
    coords = (x - mean) @ comps.T
    groups = ["all"] * len(labels) if groups is None else list(groups)
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    for g in dict.fromkeys(groups):
        sel = np.asarray([gg == g for gg in groups])
        ax.scatter(coords[sel, 0], coords[sel, 1], s=18, label=g)
    for (cx, cy), text in zip(coords, labels, strict=True):
        ax.annotate(
            text, (cx, cy), fontsize=6, alpha=0.8, xytext=(2, 2), textcoords="offset points"
        )
    if extra:
        for name, v in extra.items():
            p = (np.asarray(v, float) - mean) @ comps.T
            ax.scatter(p[0], p[1], marker="*", s=160, color="k")
            ax.annotate(name, p, fontsize=7, xytext=(4, -8), textcoords="offset points")
    ax.set(
        xlabel=f"PC1 ({ratio[0]:.0%} of variance)",
        ylabel=f"PC2 ({ratio[1]:.0%})",
        title="Sentence embeddings of state descriptions (all-MiniLM-L6-v2, PCA)",
    )
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def plot_semantic_scores(labels: Sequence[str], scores, advice: str = ""):
    """Bars of the semantic score cos(E_Q(s|π)[v_state], v_pref) per policy (higher =
    closer to the advice; G_semantic = −score enters AIF-LLM Eq. 5 times λ)."""
    scores = np.asarray(scores, float)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(labels)), 3.2))
    ax.bar(
        range(len(scores)), scores, color=np.where(scores == scores.max(), "tab:green", "tab:blue")
    )
    ax.set_xticks(range(len(scores)), labels, rotation=45, ha="right")
    ax.set_ylabel("cosine with v_pref")
    ax.set_title(
        "Semantic score per policy" + (f"\nadvice: “{advice}”" if advice else ""), fontsize=9
    )
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- a minimal advisor loop
_EDGE = re.compile(r"edge node (\d+)")


def advised_node(text: str, n_edge: int) -> int | None:
    """The node an advice's first sentence recommends: its "edge node k" (1 ≤ k ≤ n_edge),
    else "cloud", else "local"/"device" (in that order of preference), else None. Later
    sentences (e.g. "Edge node 2 is down.") give context, not the recommendation."""
    first = text.lower().split(".")[0]
    m = _EDGE.search(first)
    if m and 1 <= int(m.group(1)) <= n_edge:
        return int(m.group(1))
    if "cloud" in first:
        return n_edge + 1
    if "local" in first or "device" in first:
        return 0
    return None


def follow_advice(params, default: int | None = None):
    """``act(key, obs, guidance) -> node`` for ``advisors.advised_episode``: send each task
    where the advice in force says (``advised_node``), else to ``default`` (the cloud).

    A teaching baseline: it shows what advice alone achieves when it arrives a step late;
    the AIF-LLM agent instead turns advice into the G_semantic term of AIF-LLM Eq. 5.
    """
    fallback = params.n_edge + 1 if default is None else int(default)

    def act(key, obs, guidance):
        del key, obs
        if guidance.advice is None:
            return fallback
        node = advised_node(guidance.advice.text, params.n_edge)
        return fallback if node is None else node

    return act


def observed_uncertainty(alpha: float = 0.7, n_total: int = 6, u_ref_ms: float | None = None):
    """``uncertainty(obs, params) -> U_t`` of AIF-LLM Eq. 6 from one observation (a window of one
    step): α·RTT_measured/L_QoS + (1 − α)·(edges observed down)/N_total, L_QoS the fixed
    reference ``UncertaintyConfig.reference_ms`` (``u_ref_ms``; None: the tightest class
    deadline of ``params``)."""
    import jax
    import jax.numpy as jnp

    from aifedge.inference.uncertainty import (
        UncertaintyConfig,
        init_window,
        uncertainty_index,
        update_window,
    )

    config = UncertaintyConfig(alpha=alpha, n_total=n_total, u_ref_ms=u_ref_ms)

    @jax.jit
    def index(rtt_ms, up, l_ref_ms):
        window = update_window(init_window(1), rtt_ms, jnp.sum(1.0 - up))
        return uncertainty_index(window, l_ref_ms, n_total, alpha)

    def uncertainty(obs, params):
        return float(index(obs.rtt_ms, obs.up, config.reference_ms(params.deadline_ms)))

    return uncertainty


def plot_advised_episode(rec: Mapping[str, np.ndarray], threshold: float):
    """U_t with the trigger δ, whether advice was in force, and the node and outcome of
    each task over one ``advisors.advised_episode``."""
    t = np.arange(len(rec["u_t"]))
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 4.2), sharex=True)
    a1.plot(t, rec["u_t"], color="tab:purple", label="U_t")
    a1.axhline(threshold, color="k", ls="--", lw=1, label=f"trigger δ = {threshold}")
    a1.fill_between(
        t,
        0,
        1,
        where=np.asarray(rec["advised"]) > 0,
        alpha=0.15,
        transform=a1.get_xaxis_transform(),
        label="advice in force",
    )
    a1.set_ylabel("U_t")
    a1.legend(fontsize=7, loc="upper left")
    for o, (name, color) in enumerate(zip(OUTCOME_NAMES, OUTCOME_COLORS, strict=True)):
        sel = np.asarray(rec["outcome"]) == o
        a2.scatter(t[sel], np.asarray(rec["node"])[sel], s=10, color=color, label=name)
    a2.set(xlabel="step", ylabel="node (0 local … cloud)")
    a2.legend(fontsize=7, ncol=3, loc="upper left")
    fig.tight_layout()
    return fig
