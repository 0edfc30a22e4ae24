"""Provenance (commit, versions) and atomic writing of result files."""

import contextlib
import json
import os
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

import pandas as pd

TRACKED_PACKAGES = (
    "aifedge",
    "jax",
    "jaxlib",
    "inferactively-pymdp",
    "numpyro",
    "numpy",
    "scipy",
    "pandas",
    "torch",
    "tianshou",
    "sentence-transformers",
)


def git_commit() -> str:
    """The current git commit of the source tree or working directory, else "unknown"."""
    for where in (Path(__file__).resolve().parent, Path.cwd()):
        try:
            out = subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=where,
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0:
            return out.stdout.strip()
    return "unknown"


def versions() -> dict[str, str]:
    """Installed versions of the packages that determine results."""
    found = {}
    for name in TRACKED_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp"):
    """Yield a temporary file path in ``path``'s folder (created); when the block succeeds
    it is renamed onto ``path``, when it fails it is removed. Writers that need a file name
    (``np.save`` on a handle, ``DataFrame.to_parquet``, ``Figure.savefig``) write to it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder, then rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, newline="")
    return Path(path)


def write_json(path: str | Path, data: dict) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def write_csv(path: str | Path, frame: pd.DataFrame) -> Path:
    """CSV with a fixed float format, so the same numbers give the same bytes."""
    return write_text_atomic(path, frame.to_csv(index=False, float_format="%.7g"))


def save_figure(path: str | Path, fig) -> Path:
    """Save a matplotlib figure as PNG atomically (temporary file, then rename), then close it."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)
