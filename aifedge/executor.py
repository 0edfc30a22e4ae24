"""Jobs and where they run: in this process (``serial``) or on a Ray cluster (``--ray``).

A ``Job`` is one pure, picklable function call ``fn(**kwargs)`` named by a unique ``key``.
Its seed is one of its kwargs, fixed by what the job is ("train SAC, seed 2"), never by
when or where it runs, so a job returns the same bytes serially, on 2 local Ray workers,
on a cluster, or after a retry. ``deps`` maps a keyword of ``fn`` to the key of another
job whose result is passed there (on Ray an object reference: the dependent job waits
for it, independent jobs run in parallel). Results (frames, arrays, checkpoint bytes)
come back to the driver, which alone writes result files.

``caching(folder)`` makes runs resumable at job granularity (``aifedge repro --resume``):
every finished job's result is stored in ``folder`` as soon as it comes back, keyed by the
job's key, its function and kwargs and the code version (``code_version``), and a rerun
loads those instead of running them again, so it writes the same bytes as one that was never
interrupted. It is not a scheduler: the remaining jobs run on the current executor.

The core never imports ``ray``: ``RayExecutor`` imports it when it starts.
"""

import contextlib
import contextvars
import dataclasses
import hashlib
import logging
import os
import pickle
import re
import socket
import subprocess
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from aifedge import results
from aifedge.config import ConfigError
from aifedge.console import progress

MAX_RETRIES = 3
"""Ray re-runs a job up to this many times when its worker process or node dies."""
AUTH_HINT = (
    "; if the cluster uses token authentication (Ray's default when its head found a "
    "token), set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or ~/.ray/auth_token) here"
)
WORKER_ENV = ("JAX_PLATFORMS", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "MPLBACKEND")
"""Environment variables of the driver that Ray workers get too (when set)."""


@dataclasses.dataclass(frozen=True)
class Job:
    """``fn(**kwargs, **{name: result of job deps[name]})``; ``key`` names it uniquely."""

    key: str
    fn: Callable
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    deps: Mapping[str, str] = dataclasses.field(default_factory=dict)


def _ordered(jobs: Iterable[Job]) -> list[Job]:
    """``jobs`` in an order where every dependency comes first; ``ValueError`` on a
    duplicate key, a missing dependency or a cycle."""
    by_key: dict[str, Job] = {}
    for job in jobs:
        if job.key in by_key:
            raise ValueError(f"job {job.key!r}: key used twice")
        by_key[job.key] = job
    order: list[Job] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(key: str, parent: str) -> None:
        if key not in by_key:
            raise ValueError(f"job {parent!r}: depends on unknown job {key!r}")
        if state.get(key) == 1:
            raise ValueError(f"job {key!r}: dependency cycle")
        if state.get(key) == 2:
            return
        state[key] = 1
        for dep in by_key[key].deps.values():
            visit(dep, key)
        state[key] = 2
        order.append(by_key[key])

    for key in by_key:
        visit(key, key)
    return order


OnResult = Callable[[Job, Any], None]


def _call(fn: Callable, kwargs: Mapping, names: tuple[str, ...], *values) -> Any:
    return fn(**kwargs, **dict(zip(names, values, strict=True)))


@contextlib.contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[], None]]:
    """The driver's bar (``console.progress``: terminal only); yields ``advance``."""
    with progress(label, "jobs") as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


class _Executor:
    """What every backend shares: ``run`` skips the jobs in ``done`` and hands the rest,
    dependencies first, to the backend's ``_run``."""

    def run(
        self,
        jobs: Iterable[Job],
        label: str = "jobs",
        done: Mapping[str, Any] | None = None,
        on_result: OnResult | None = None,
    ) -> dict[str, Any]:
        """``{key: result}`` of every job; ``done``: results known already (not run again),
        ``on_result(job, result)``: called on the driver as each job that ran finishes."""
        out: dict[str, Any] = dict(done or {})
        order = [job for job in _ordered(jobs) if job.key not in out]
        return self._run(order, out, label, on_result)

    def _run(self, order: list[Job], out: dict, label: str, on_result: OnResult | None) -> dict:
        raise NotImplementedError


class SerialExecutor(_Executor):
    """Runs jobs one after another in this process (the default)."""

    name = "serial"

    def _run(self, order, out, label, on_result):
        with _progress(label, len(order)) as advance:
            for job in order:
                out[job.key] = _call(
                    job.fn, job.kwargs, tuple(job.deps), *(out[d] for d in job.deps.values())
                )
                if on_result is not None:
                    on_result(job, out[job.key])
                advance()
        return out

    def close(self) -> None:
        pass


class RayExecutor(_Executor):
    """Runs jobs as Ray tasks (1 CPU each, ``MAX_RETRIES`` on worker death).

    ``address``: ``None`` starts a local Ray (``num_cpus`` CPUs, default all) in this
    process; otherwise a running cluster (``"HOST:PORT"`` of ``ray start --head``, or
    ``"auto"``). Workers import ``aifedge`` from their own installation.
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "--ray: needs the [cluster] extra: pip install 'aifedge[cluster]'"
            ) from None
        self._ray = ray
        env = {k: os.environ[k] for k in WORKER_ENV if k in os.environ}
        options: dict[str, Any] = {
            "log_to_driver": False,
            "logging_level": logging.ERROR,
            "runtime_env": {"env_vars": env},
        }
        if address is None:
            options.update(num_cpus=num_cpus, include_dashboard=False)
        try:
            with warnings.catch_warnings():  # a local Ray forks its processes from here;
                # they exec Ray's binaries at once, so JAX's threads are not inherited
                warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
                ray.init(address=address, **options)
        except (ConnectionError, RuntimeError, ValueError) as err:
            hint = "" if os.environ.get("RAY_AUTH_MODE") else AUTH_HINT
            raise ConfigError(f"--ray: cannot connect to {address!r}: {err}{hint}") from None
        self._task = ray.remote(_call).options(num_cpus=1, max_retries=MAX_RETRIES)

    @property
    def cpus(self) -> int:
        return int(self._ray.cluster_resources().get("CPU", 0))

    def _run(self, order, out, label, on_result):
        """Submit every job (dependencies as object references or known values), wait.
        A job's exception is re-raised on the driver (its original type when it has one)
        after the other jobs have finished."""
        ray = self._ray
        refs: dict[str, Any] = {}
        for job in order:
            deps = [refs[d] if d in refs else out[d] for d in job.deps.values()]
            refs[job.key] = self._task.remote(job.fn, job.kwargs, tuple(job.deps), *deps)
        by_ref = {ref: job for job, ref in zip(order, refs.values(), strict=True)}
        pending, error = list(refs.values()), None
        with _progress(label, len(pending)) as advance:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                job = by_ref[ready[0]]
                try:
                    out[job.key] = ray.get(ready[0])
                except ray.exceptions.RayTaskError as err:
                    cause = getattr(err, "cause", None)
                    error = error or (cause if isinstance(cause, Exception) else err)
                else:
                    if on_result is not None:
                        on_result(job, out[job.key])
                advance()
        if error is not None:
            raise error from None
        return out

    def close(self) -> None:
        self._ray.shutdown()


Executor = SerialExecutor | RayExecutor
_CURRENT: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "aifedge_executor", default=None
)


def current() -> Executor:
    """The executor that reproduction modules and sweeps submit their jobs to."""
    return _CURRENT.get() or SerialExecutor()


@contextlib.contextmanager
def using(executor: Executor) -> Iterator[Executor]:
    """Make ``executor`` current inside the block; closes it at the end."""
    token = _CURRENT.set(executor)
    try:
        yield executor
    finally:
        _CURRENT.reset(token)
        executor.close()


def run(jobs: Iterable[Job], label: str = "jobs") -> dict[str, Any]:
    """``current().run(jobs)``, through the current ``caching`` folder when there is one."""
    cache = _CACHE.get()
    if cache is None:
        return current().run(jobs, label)
    jobs = _ordered(jobs)
    done = cache.load(jobs)
    return current().run(jobs, label, done, cache.store)


def _canonical(obj: Any) -> str:
    """A text that identifies ``obj`` across processes and sessions (``ResultCache``):
    plain values by ``repr``, containers and frozen dataclasses field by field, arrays by
    dtype, shape and a hash of their bytes, functions and classes by qualified name;
    ``TypeError`` for anything else (its ``repr`` may hold a memory address)."""
    if obj is None or isinstance(obj, bool | int | float | str | bytes):
        return repr(obj)
    if isinstance(obj, tuple | list):
        inner = ",".join(_canonical(v) for v in obj)
        return f"{type(obj).__name__}({inner})"
    if isinstance(obj, Mapping):
        items = sorted(f"{_canonical(k)}:{_canonical(v)}" for k, v in obj.items())
        return "{" + ",".join(items) + "}"
    kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = ",".join(
            f"{f.name}={_canonical(getattr(obj, f.name))}" for f in dataclasses.fields(obj)
        )
        return f"{kind}({fields})"
    if hasattr(obj, "_asdict"):  # NamedTuple
        return f"{kind}{_canonical(obj._asdict())}"
    if hasattr(obj, "dtype") and hasattr(obj, "shape") and hasattr(obj, "tobytes"):
        digest = hashlib.sha256(obj.tobytes()).hexdigest()
        return f"array({obj.dtype},{tuple(obj.shape)},{digest})"
    if hasattr(obj, "__array__"):  # a JAX array
        import numpy as np

        return _canonical(np.asarray(obj))
    if callable(obj) and hasattr(obj, "__qualname__") and "<" not in obj.__qualname__:
        return f"{obj.__module__}.{obj.__qualname__}"
    name = getattr(obj, "__qualname__", kind) if callable(obj) else kind
    raise TypeError(
        f"cannot identify {name} across runs; pass plain values, dataclasses or "
        "module-level functions"
    )


def code_version() -> str:
    """A hash of the package's Python source (every ``*.py`` file git tracks in the source
    tree, as it is on disk now, tests and benchmarks excluded) and the versions of the
    packages that determine results; without git, of every ``*.py`` file under the
    installed ``aifedge`` folder. Documentation edits keep it; any code edit changes it."""
    from aifedge import results

    here = Path(__file__).resolve().parent
    h = hashlib.sha256(repr(sorted(results.versions().items())).encode())
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=here, capture_output=True, text=True
        )
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", "*.py"],
            cwd=top.stdout.strip() or here,
            capture_output=True,
        )
        ok = top.returncode == 0 and listed.returncode == 0
    except OSError:
        ok = False
    if ok:
        root = Path(top.stdout.strip())
        names = [n for n in listed.stdout.decode().split("\0") if n]
        files = [root / n for n in names if not n.startswith(("tests/", "benchmarks/"))]
    else:
        root, files = here, list(here.rglob("*.py"))
    for path in sorted(files):
        if path.is_file():
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class ResultCache:
    """Finished jobs' results in ``folder``, one pickle per job, written atomically by the
    driver as each job finishes. A job's file is ``<key>.<digest>.pkl``, the digest a hash
    of ``code`` (``code_version()``), the job's key, function and kwargs and its
    dependencies' keys, so a result is reused only for the same call on the same code.
    Each stored result also gets a line in ``folder/jobs.log`` (time, key, wall and CPU
    seconds of this process since the run started; serially, the CPU of the jobs themselves),
    which shows a long run's progress and cost."""

    folder: Path
    code: str
    started: float = dataclasses.field(default_factory=time.perf_counter)
    cpu_started: float = dataclasses.field(default_factory=time.process_time)

    def path(self, job: Job) -> Path:
        """Where ``job``'s result is stored (``TypeError`` if its kwargs cannot be named)."""
        try:
            call = _canonical((self.code, job.key, job.fn, job.kwargs, job.deps))
        except TypeError as err:
            raise TypeError(f"job {job.key!r}: {err}") from None
        digest = hashlib.sha256(call.encode()).hexdigest()[:20]
        return self.folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', job.key)}.{digest}.pkl"

    def load(self, jobs: Iterable[Job]) -> dict[str, Any]:
        """``{key: result}`` of the ``jobs`` stored here."""
        out = {}
        for job in jobs:
            path = self.path(job)
            if path.is_file():
                out[job.key] = pickle.loads(path.read_bytes())
        return out

    def store(self, job: Job, result: Any) -> None:
        """Save ``result`` of ``job`` (atomically) and log it."""
        from aifedge import results

        with results.atomic_path(self.path(job)) as tmp:
            tmp.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        wall = time.perf_counter() - self.started
        cpu = time.process_time() - self.cpu_started
        with open(self.folder / "jobs.log", "a") as log:
            log.write(f"{stamp}  {job.key}  stored (+{wall:.0f} s wall, +{cpu:.0f} s CPU)\n")


_CACHE: contextvars.ContextVar[ResultCache | None] = contextvars.ContextVar(
    "aifedge_cache", default=None
)


@contextlib.contextmanager
def caching(folder: str | Path | None, flag: str = "--resume") -> Iterator[ResultCache | None]:
    """Store and reuse the results of the jobs run inside the block in ``folder`` (created;
    ``ResultCache``); ``None``: no caching. A bad ``folder`` is a ``ConfigError`` naming
    ``flag``."""
    if folder is None:
        yield None
        return
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{flag}: {str(folder)!r} exists and is not a folder; pass a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"{flag}: cannot create {str(folder)!r} ({err.strerror})") from None
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"{flag}: {str(folder)!r} is not writable; pass another folder")
    token = _CACHE.set(ResultCache(folder, code_version()))
    try:
        yield _CACHE.get()
    finally:
        _CACHE.reset(token)


def map_jobs(fn: Callable, calls: Iterable[tuple[str, Mapping]], label: str = "jobs") -> list:
    """``[fn(**kwargs) for key, kwargs in calls]`` on the current executor, in order."""
    calls = list(calls)
    out = run([Job(key, fn, kwargs) for key, kwargs in calls], label)
    return [out[key] for key, _ in calls]


def _reachable(address: str, timeout_s: float = 3.0) -> None:
    """``ConfigError`` unless a TCP connection to ``HOST:PORT`` opens within ``timeout_s``."""
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"--ray: {address!r} is not HOST:PORT; pass the address `ray start --head` "
            "printed (e.g. 10.0.0.5:6379), 'auto', 'local' or 'local:N'"
        )
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as err:
        raise ConfigError(
            f"--ray: no Ray head reachable at {hostport} ({err.strerror or err}); "
            f"start one there with `ray start --head --port {port}` or omit --ray"
        ) from None


def make_executor(ray: str | None) -> Executor:
    """The executor of a ``--ray`` value: ``None`` → serial; ``""`` → ``$RAY_ADDRESS`` if
    set, else local Ray; ``"local"`` / ``"local:N"`` → local Ray (all / N CPUs);
    ``"HOST:PORT"`` (checked reachable first), ``"ray://HOST:PORT"`` or ``"auto"`` → that
    cluster. Errors are ``ConfigError`` naming ``--ray``; nothing has been written then."""
    if ray is None:
        return SerialExecutor()
    address = ray or os.environ.get("RAY_ADDRESS", "local")
    if address == "local" or address.startswith("local:"):
        n = address.partition(":")[2]
        if n and (not n.isdigit() or int(n) < 1):
            raise ConfigError(f"--ray: 'local:N' needs a CPU count N ≥ 1, got {address!r}")
        return RayExecutor(None, int(n) if n else None)
    if address != "auto":
        _reachable(address)
    return RayExecutor(address)


def save_files(folder: str | Path, files: Mapping[str, bytes]) -> Path:
    """Write ``{name: bytes}`` (e.g. a checkpoint made on a worker) into ``folder``, each
    file atomically; returns the folder."""
    folder = Path(folder)
    for name, data in files.items():
        with results.atomic_path(folder / name) as tmp:
            tmp.write_bytes(data)
    return folder


def read_files(folder: str | Path, names: Iterable[str]) -> dict[str, bytes]:
    """``{name: bytes}`` of the files ``names`` in ``folder`` (to send to a worker)."""
    return {name: (Path(folder) / name).read_bytes() for name in names}
