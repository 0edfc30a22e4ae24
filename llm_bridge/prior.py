"""Keyword prior D_LLM (AIF-LLM §4.3.1, AIF-LLM Eq. 3, Algorithm 1 line 2).

    D_LLM(s) = softmax( Base(s) + α · Σ_{k ∈ K} 1[k ∈ text] · w_k · a_k(s) )          (3)

per hidden-state factor f, s ranging over the levels of f.

* **Keywords K** are the vocabulary of a TF-IDF model over the task texts of the
  scheduling logs (``keywords`` is the analyser: lower-case words of ≥ 2 letters and
  hyphenated compounds, "privacy-sensitive" giving "privacy", "sensitive" and
  "privacy-sensitive"; English stop words dropped).
* **Weights w_k** (the paper's static table): mutual information (nats) between the
  keyword's presence and the target column of the logs (the best decision,
  ``best_node``, by default; or the outcome), times the keyword's smoothed IDF
  ``ln((1 + n) / (1 + df_k)) + 1`` (MI is capped by the entropy of a keyword's
  presence, which is small for rare keywords; the IDF compensates), normalised so
  the largest weight is 1.
* **Mapping onto factor levels a_k(s)**: the paper maps keywords "to the latent state
  space" without saying how. We use the pointwise mutual information of the keyword
  with each level of each factor column of the logs,
  ``a_k(s) = ln P(s | k ∈ text) − ln P(s)``. P(s) is the smoothed base rate
  ``(n_s + 1) / (n + L)``; P(s | k) is shrunk toward it with ``m`` pseudo-counts,
  ``(n_{k,s} + m · P(s)) / (n_k + m)``, so a rare keyword (or a spurious correlation
  in short, autocorrelated logs) moves the prior little. A keyword that makes a level
  more frequent than its base rate raises that level's prior; w_k scales the shift by
  how informative the keyword is overall.
* **Base(s)** = ln D_stored(s), so with no known keyword in the text D_LLM = D_stored.

Which factor each log column stands for is the caller's choice (``factors`` of
``KeywordPrior.fit``: model factor name -> log column of integer level codes).
"""

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from aifedge.config import ConfigError

FORMAT_VERSION = 1

DEFAULT_FACTORS: dict[str, str] = {
    "class": "task_class",
    "net": "net",
    **{f"load:edge{j}": f"load_e{j}" for j in range(1, 6)},
}
"""Default factor -> log column of ``KeywordPrior.fit``: the factor names of
``generative_models.aif_llm_model`` mapped to the dispatch-time columns of ``make_logs``
(5 edge nodes). Tasks arrive independently of the system state in the simulator, so only
``class`` gets a real association; pass ``{"load:edge1": "next_load_e1", …}`` to map
keywords onto the load a task's dispatch leads to instead."""

DEFAULT_LEVELS: dict[str, int] = {"class": 4, "net": 3, **{f"load:edge{j}": 4 for j in range(1, 6)}}
"""Level counts of ``DEFAULT_FACTORS`` (aif_llm_model: 4 classes, 3 WAN states, load
low/medium/high/down), used when ``fit`` gets no ``factors``; a level absent from short
logs still gets its row."""

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def keywords(text: str) -> list[str]:
    """Keyword tokens of ``text`` (the analyser of the TF-IDF model; order kept)."""
    out = []
    for match in _WORD.findall(text.lower()):
        parts = match.split("-")
        for tok in (*parts, match) if len(parts) > 1 else (match,):
            if len(tok) >= 2 and tok not in ENGLISH_STOP_WORDS:
                out.append(tok)
    return out


def mutual_information(presence: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(K,) MI in nats between each binary column of ``presence`` (n, K) and ``target`` (n,).

    I(X_k; Y) = Σ_{x, y} p(x, y) ln[p(x, y) / (p(x) p(y))] from the empirical counts.
    """
    presence = np.asarray(presence, bool)
    _, y = np.unique(np.asarray(target), return_inverse=True)
    n = presence.shape[0]
    onehot = np.eye(y.max() + 1)[y]  # (n, Y)
    n1 = presence.T.astype(float) @ onehot  # (K, Y) counts with the keyword
    n0 = onehot.sum(0)[None, :] - n1  # (K, Y) counts without
    joint = np.stack([n0, n1], axis=1) / n  # (K, 2, Y)
    px = joint.sum(2, keepdims=True)
    py = joint.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / (px * py)), 0.0)
    return terms.sum((1, 2))


def level_association(
    presence: np.ndarray, levels: np.ndarray, n_levels: int, shrinkage: float = 10.0
) -> np.ndarray:
    """(K, L) shrunk PMI ``ln P(s | k) − ln P(s)`` between keywords and level codes.

    P(s) = (n_s + 1) / (n + L); P(s | k) = (n_{k,s} + m · P(s)) / (n_k + m), m = shrinkage.
    """
    if not shrinkage > 0:
        raise ValueError(f"level_association.shrinkage: must be > 0 (got {shrinkage})")
    presence = np.asarray(presence, bool)
    onehot = np.eye(n_levels)[np.asarray(levels, int)]  # (n, L)
    with_k = presence.T.astype(float) @ onehot  # (K, L)
    base = (onehot.sum(0) + 1.0) / (onehot.shape[0] + n_levels)
    p_given_k = (with_k + shrinkage * base) / (with_k.sum(1, keepdims=True) + shrinkage)
    return np.log(p_given_k) - np.log(base)[None, :]


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax along the last axis."""
    x = np.asarray(x, float)
    return np.exp(x - logsumexp(x, axis=-1, keepdims=True))


class KeywordPrior:
    """Static keyword table of AIF-LLM Eq. 3: vocabulary, weights w_k and level associations a_k(s).

    Build with ``KeywordPrior.fit(logs)``; ``save``/``load`` a JSON file. Attributes:
      vocabulary: tuple of K keywords.
      weights: pandas Series w_k indexed by keyword, sorted descending (max 1).
      associations: {factor: (K, L_f) array a_k(s)}.
      n_levels: {factor: L_f}; target: the log column the MI was taken against.
    """

    def __init__(
        self,
        vocabulary: Sequence[str],
        weights: Sequence[float] | np.ndarray,
        associations: Mapping[str, np.ndarray],
        target: str,
        mutual_info: Sequence[float] | np.ndarray,
        idf: Sequence[float] | np.ndarray,
    ):
        self.vocabulary = tuple(vocabulary)
        k = len(self.vocabulary)
        self._w = np.asarray(weights, float)
        self.mutual_info = np.asarray(mutual_info, float)
        self.idf = np.asarray(idf, float)
        self.associations = {f: np.asarray(a, float) for f, a in associations.items()}
        for name, arr in (
            ("weights", self._w),
            ("mutual_info", self.mutual_info),
            ("idf", self.idf),
        ):
            if arr.shape != (k,):
                raise ValueError(
                    f"KeywordPrior.{name}: needs one entry per keyword ({k}), got shape {arr.shape}"
                )
            if not np.all(np.isfinite(arr)):
                raise ValueError(
                    f"KeywordPrior.{name}: has non-finite entries; refit it (KeywordPrior.fit)"
                )
        for f, a in self.associations.items():
            if a.ndim != 2 or a.shape[0] != k:
                raise ValueError(
                    f"KeywordPrior.associations[{f!r}]: needs shape ({k}, L), got {a.shape}"
                )
            if not np.all(np.isfinite(a)):
                raise ValueError(
                    f"KeywordPrior.associations[{f!r}]: has non-finite entries; refit the prior"
                )
        self.n_levels = {f: a.shape[1] for f, a in self.associations.items()}
        self.target = target
        self._index = {w: i for i, w in enumerate(self.vocabulary)}

    @property
    def weights(self) -> pd.Series:
        """w_k as a Series indexed by keyword, largest first."""
        s = pd.Series(self._w, index=pd.Index(self.vocabulary, name="keyword"), name="w")
        return s.sort_values(ascending=False, kind="stable")

    @classmethod
    def fit(
        cls,
        logs: pd.DataFrame,
        factors: Mapping[str, str] | None = None,
        target: str = "best_node",
        min_df: int = 1,
        text_column: str = "text",
        n_levels: Mapping[str, int] | None = None,
        shrinkage: float = 10.0,
    ) -> "KeywordPrior":
        """Fit the table from scheduling logs.

        Args:
          logs: one row per task with ``text_column``, ``target`` and the factor columns.
          factors: model factor name -> log column of integer level codes 0..L-1
            (default ``DEFAULT_FACTORS``, for logs from ``make_logs``).
          target: column whose MI with each keyword's presence gives w_k
            (``best_node``: best decision; ``outcome``: good/bad outcome).
          min_df: keywords in fewer rows are dropped.
          n_levels: factor -> number of levels L (default: ``DEFAULT_LEVELS`` for the
            default factors, else max code + 1 in the logs).
          shrinkage: pseudo-counts m pulling P(s | k) toward P(s) (see module docstring).
        """
        if factors is None:
            factors, n_levels = DEFAULT_FACTORS, {**DEFAULT_LEVELS, **(n_levels or {})}
        factors, n_levels = dict(factors), dict(n_levels or {})
        needed = [text_column, target, *factors.values()]
        missing = [c for c in needed if c not in logs.columns]
        if missing:
            raise ConfigError(
                f"KeywordPrior.fit: logs lack column(s) {missing}; columns are {list(logs.columns)}"
            )
        if len(logs) == 0:
            raise ConfigError("KeywordPrior.fit: logs are empty; make them with make_logs")
        column = logs[text_column]
        if column.isna().any() or not column.map(lambda t: isinstance(t, str)).all():
            bad = column[column.isna() | ~column.map(lambda t: isinstance(t, str))].index[0]
            raise ConfigError(
                f"KeywordPrior.fit: {text_column!r} must hold text in every row; row {bad} "
                f"holds {column[bad]!r} (drop or fill missing texts first)"
            )
        texts = column.tolist()
        if not any(keywords(t) for t in texts):
            raise ConfigError(
                f"KeywordPrior.fit: no keyword in any {text_column!r} (only stop words, "
                "one-letter words or punctuation); the prior needs descriptive task texts"
            )
        vec = TfidfVectorizer(analyzer=keywords, min_df=min_df, smooth_idf=True)
        try:
            tfidf = vec.fit_transform(texts)
        except ValueError as err:  # e.g. min_df leaves no keyword
            raise ConfigError(f"KeywordPrior.fit: {err}; lower min_df") from None
        vocab = vec.get_feature_names_out()
        presence = (tfidf > 0).toarray()
        mi = mutual_information(presence, logs[target].to_numpy())
        score = mi * vec.idf_
        top = score.max()
        weights = score / top if top > 0 else np.zeros_like(score)
        assoc = {}
        for name, col in factors.items():
            codes = logs[col].to_numpy()
            if not np.issubdtype(codes.dtype, np.integer) or codes.min() < 0:
                raise ConfigError(
                    f"KeywordPrior.fit: factor {name!r} column {col!r} must hold "
                    f"integer level codes ≥ 0"
                )
            n_lev = int(n_levels.get(name, codes.max() + 1))
            if codes.max() >= n_lev:
                raise ConfigError(
                    f"KeywordPrior.fit: column {col!r} has code {codes.max()} but "
                    f"n_levels[{name!r}] = {n_lev}"
                )
            assoc[name] = level_association(presence, codes, n_lev, shrinkage)
        return cls(vocab, weights, assoc, target, mi, vec.idf_)

    def keyword_index(self, text: str) -> list[int]:
        """Vocabulary indices of the keywords in ``text`` (each once, sorted)."""
        return sorted({self._index[k] for k in keywords(text) if k in self._index})

    def evidence(self, text: str, factor: str, idx: list[int] | None = None) -> np.ndarray:
        """(L_f,) Σ_k 1[k ∈ text] · w_k · a_k(s) of AIF-LLM Eq. 3 (each keyword counted once);
        ``idx`` = ``keyword_index(text)`` if already computed."""
        if factor not in self.associations:
            raise ValueError(
                f"KeywordPrior: unknown factor {factor!r}; known: {', '.join(self.associations)}"
            )
        idx = self.keyword_index(text) if idx is None else idx
        a = self.associations[factor]
        if not idx:
            return np.zeros(a.shape[1])
        return self._w[idx] @ a[idx]

    def to_dict(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "target": self.target,
            "vocabulary": list(self.vocabulary),
            "weights": self._w.tolist(),
            "mutual_info": self.mutual_info.tolist(),
            "idf": self.idf.tolist(),
            "associations": {f: a.tolist() for f, a in self.associations.items()},
        }

    def save(self, path: str | Path) -> Path:
        """Write the table as JSON (atomic)."""
        from aifedge.results import write_json

        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "KeywordPrior":
        path = Path(path)
        if not path.is_file():
            raise ConfigError(
                f"KeywordPrior.load: {str(path)!r} does not exist; fit and save a prior first"
            )
        data = json.loads(path.read_text())
        if data.get("format_version") != FORMAT_VERSION:
            raise ConfigError(
                f"KeywordPrior.load: {path.name!r} has format_version "
                f"{data.get('format_version')!r}, expected {FORMAT_VERSION}"
            )
        return cls(
            data["vocabulary"],
            data["weights"],
            data["associations"],
            data["target"],
            data["mutual_info"],
            data["idf"],
        )


def d_llm(
    prior: KeywordPrior, text: str, base: Mapping[str, np.ndarray], alpha: float = 1.0
) -> dict[str, np.ndarray]:
    """AIF-LLM Eq. 3 for every factor in ``base``: {factor: (L_f,) D_LLM}, each summing to 1.

    ``base`` maps factor name -> stored prior D_f (L_f,) (a probability vector; Base =
    ln D_f). Factors the prior does not know keep D_f.
    """
    if not (np.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"d_llm.alpha: must be a finite number ≥ 0 (got {alpha})")
    idx = prior.keyword_index(text)
    out = {}
    for name, d in base.items():
        d = np.asarray(d, float)
        if d.ndim != 1 or not np.all(d >= 0) or not np.isclose(d.sum(), 1.0, atol=1e-6):
            raise ValueError(f"d_llm: base[{name!r}] must be a probability vector; got {d}")
        if name not in prior.associations:
            out[name] = d
            continue
        if prior.n_levels[name] != d.shape[0]:
            raise ValueError(
                f"d_llm: factor {name!r} has {d.shape[0]} levels in base but "
                f"{prior.n_levels[name]} in the prior; refit with n_levels"
            )
        with np.errstate(divide="ignore"):
            out[name] = softmax(np.log(d) + alpha * prior.evidence(text, name, idx))
    return out


def d_llm_table(
    prior: KeywordPrior, texts: Sequence[str], base: Mapping[str, np.ndarray], alpha: float = 1.0
) -> dict[str, np.ndarray]:
    """{factor: (n_texts, L_f)} D_LLM of every text, for indexing by ``text_id`` under jit."""
    rows = [d_llm(prior, t, base, alpha) for t in texts]
    return {name: np.stack([r[name] for r in rows]) for name in base}


def evidence_table(
    prior: KeywordPrior, texts: Sequence[str], factors: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """{factor: (n_texts, L_f)} Σ_k 1[k ∈ text] w_k a_k(s) of every text (AIF-LLM Eq. 3 without
    Base and α), so that under jit ``softmax(ln prior_f + α · table[f][text_id])`` applies
    AIF-LLM Eq. 3 to any current belief (``Base = ln D_stored``)."""
    factors = list(prior.associations) if factors is None else list(factors)
    return {f: np.stack([prior.evidence(t, f) for t in texts]) for f in factors}
