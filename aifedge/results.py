"""Provenance (commit, versions), atomic result files and run folders as transactions.

A run folder (``--out`` of ``simulate``, ``compare``, ``train``, ``repro``) is written as
one transaction (``run_folder``): the files go into a hidden staging folder beside it,
which replaces the old folder in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``;
elsewhere two renames, the old folder kept aside until the new one is in place and
restored by the next run if a crash came between them). Readers see the old run or the
new one, never a mix. An existing non-empty folder is refused unless ``force``; a lock
file beside the folder stops two concurrent writers. Files are created 0644; JSON is
strict (non-finite numbers become ``null`` and are listed under ``nonfinite_as_null``).
"""

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import json
import math
import os
import shutil
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

import pandas as pd

from aifedge.config import ConfigError

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


def git_dirty() -> bool | None:
    """Whether the source tree has uncommitted changes to tracked files (None: unknown).
    Recorded with ``git_commit``: a dirty tree's results are not reproducible from it."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return bool(out.stdout.strip()) if out.returncode == 0 else None


def provenance() -> dict:
    """``commit``, ``dirty`` (uncommitted changes), ``argv`` (the command line) and
    ``versions``: what every result file records."""
    import sys

    return {
        "commit": git_commit(),
        "dirty": git_dirty(),
        "argv": list(sys.argv),
        "versions": versions(),
    }


def versions() -> dict[str, str]:
    """Installed versions of the packages that determine results."""
    found = {}
    for name in TRACKED_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


FILE_MODE = 0o644


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp"):
    """Yield a temporary file path in ``path``'s folder (created); when the block succeeds
    it is renamed onto ``path``, when it fails it is removed. Writers that need a file name
    (``np.save`` on a handle, ``DataFrame.to_parquet``, ``Figure.savefig``) write to it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.fchmod(fd, FILE_MODE)  # mkstemp creates 0600
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


def _finite_json(obj, where: str, found: list[str]):
    """``obj`` with non-finite floats replaced by None (their paths appended to ``found``)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        found.append(where or "(top)")
        return None
    if isinstance(obj, dict):
        return {k: _finite_json(v, f"{where}.{k}".lstrip("."), found) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_json(v, f"{where}[{i}]", found) for i, v in enumerate(obj)]
    if hasattr(obj, "dtype") and getattr(obj, "shape", None) == ():  # numpy scalars
        return _finite_json(obj.item(), where, found)
    return obj


def strict_json(data) -> str:
    """Strict JSON text (RFC 8259: no NaN/Infinity): non-finite numbers become ``null``,
    and a dict gets ``nonfinite_as_null`` listing where that happened."""
    found: list[str] = []
    data = _finite_json(data, "", found)
    if found and isinstance(data, dict):
        data["nonfinite_as_null"] = found
    return json.dumps(data, indent=2, sort_keys=True, default=str, allow_nan=False) + "\n"


def write_json(path: str | Path, data: dict) -> Path:
    return write_text_atomic(path, strict_json(data))


def write_csv(path: str | Path, frame: pd.DataFrame) -> Path:
    """CSV with a fixed float format, so the same numbers give the same bytes."""
    return write_text_atomic(path, frame.to_csv(index=False, float_format="%.7g"))


def save_figure(path: str | Path, fig) -> Path:
    """Save a matplotlib figure as PNG atomically (temporary file, then rename), then close it.

    The image is stored with a 256-colour palette (no dithering): line plots look the same
    and the file is ≈ 3× smaller, which keeps the stored results in the repository small."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    buf = io.BytesIO()
    try:
        fig.savefig(buf, dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)
    image = Image.open(buf).convert("RGB")
    palette = image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    with atomic_path(path, suffix=".png") as tmp:
        palette.save(tmp, format="PNG", optimize=True)
    return Path(path)


def check_writable_file(path: str | Path, flag: str = "--out") -> Path:
    """``path`` if a file can be written there (not a folder; its folder exists or can be
    created and is writable), else ``ConfigError``: called before any computation."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{flag}: {str(path)!r} is a folder; pass a file path")
    _writable_parent(path, flag)
    return path


def _writable_parent(path: Path, flag: str) -> None:
    """Create ``path``'s folder if needed; ``ConfigError`` if that fails or it is read-only."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"{flag}: cannot create {str(path.parent)!r}: {err.strerror}") from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag}: folder {str(path.parent)!r} is not writable")


# ------------------------------------------------------------------ run folders
def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _publish(stage: Path, out: Path) -> None:
    """Put ``stage`` in place of ``out`` (absent or a folder) as one step for readers."""
    if not out.exists():
        os.rename(stage, out)
        return
    if _exchange(stage, out):
        shutil.rmtree(stage)  # now holds the old run
        return
    aside = out.with_name(f".{out.name}.old")
    os.rename(out, aside)  # a crash here: the next run restores ``aside`` (_recover)
    os.rename(stage, out)
    shutil.rmtree(aside)


def _recover(out: Path) -> None:
    """Undo what a crashed run left (called under the lock): stale staging folders are
    removed; an old run set aside without its replacement is put back."""
    for stale in out.parent.glob(f".{out.name}.staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    aside = out.with_name(f".{out.name}.old")
    if aside.is_dir():
        if out.exists():
            shutil.rmtree(aside)
        else:
            os.rename(aside, out)


@contextlib.contextmanager
def _locked(lock: Path, out: Path):
    """An exclusive ``fcntl.flock`` on ``lock`` (removed afterwards); refuses if held."""
    while True:
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(
                f"--out: another aifedge run is writing {str(out)!r}; wait for it to "
                "finish or choose another --out"
            ) from None
        try:
            if os.path.samestat(os.fstat(fd), os.stat(lock)):
                break  # the file we locked is still the lock file
        except FileNotFoundError:
            pass
        os.close(fd)  # its holder removed it meanwhile: lock the new one
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


@contextlib.contextmanager
def run_folder(out: str | Path, force: bool = False):
    """Yield an empty staging folder for a run's files; publish it as ``out`` when the
    block succeeds, remove it when it fails (the previous ``out`` stays untouched).

    Checked on entry, before any computation: ``out`` is a folder path whose parent is
    writable, it is absent or empty unless ``force``, and no other run holds its lock.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {str(out)!r} exists and is not a folder; pass a folder path")
    _writable_parent(out, "--out")
    with _locked(out.with_name(f".{out.name}.lock"), out):
        _recover(out)
        if out.is_dir() and any(out.iterdir()) and not force:
            raise ConfigError(
                f"--out: {str(out)!r} already holds a run; pass --force to replace it "
                "or choose another --out"
            )
        stage = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.staging-"))
        os.chmod(stage, 0o755)
        try:
            yield stage
            _publish(stage, out)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
