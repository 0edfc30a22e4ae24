"""Jobs and where they run: in this process (``serial``) or on a Ray cluster (``--ray``).

A ``Job`` is one pure, picklable function call ``fn(**kwargs)`` named by a unique ``key``.
Its seed is one of its kwargs, fixed by what the job is ("train SAC, seed 2"), never by
when or where it runs, so a job returns the same bytes serially, on 2 local Ray workers,
on a cluster, or after a retry. ``deps`` maps a keyword of ``fn`` to the key of another
job whose result is passed there (on Ray an object reference: the dependent job waits
for it, independent jobs run in parallel). Results (frames, arrays, checkpoint bytes)
come back to the driver, which alone writes result files.

The core never imports ``ray``: ``RayExecutor`` imports it when it starts.
"""

import contextlib
import contextvars
import dataclasses
import logging
import os
import socket
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


def _call(fn: Callable, kwargs: Mapping, names: tuple[str, ...], *values) -> Any:
    return fn(**kwargs, **dict(zip(names, values, strict=True)))


@contextlib.contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[], None]]:
    """The driver's bar (``console.progress``: terminal only); yields ``advance``."""
    with progress(label, "jobs") as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


class SerialExecutor:
    """Runs jobs one after another in this process (the default)."""

    name = "serial"

    def run(self, jobs: Iterable[Job], label: str = "jobs") -> dict[str, Any]:
        """``{key: result}`` of every job."""
        order = _ordered(jobs)
        out: dict[str, Any] = {}
        with _progress(label, len(order)) as advance:
            for job in order:
                out[job.key] = _call(
                    job.fn, job.kwargs, tuple(job.deps), *(out[d] for d in job.deps.values())
                )
                advance()
        return out

    def close(self) -> None:
        pass


class RayExecutor:
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

    def run(self, jobs: Iterable[Job], label: str = "jobs") -> dict[str, Any]:
        """Submit every job (dependencies as object references), wait, ``{key: result}``.
        A job's exception is re-raised on the driver (its original type when it has one)."""
        ray = self._ray
        refs: dict[str, Any] = {}
        for job in _ordered(jobs):
            deps = [refs[d] for d in job.deps.values()]
            refs[job.key] = self._task.remote(job.fn, job.kwargs, tuple(job.deps), *deps)
        pending = list(refs.values())
        with _progress(label, len(pending)) as advance:
            while pending:
                _, pending = ray.wait(pending, num_returns=1)
                advance()
        try:
            values = ray.get(list(refs.values()))
        except ray.exceptions.RayTaskError as err:
            cause = getattr(err, "cause", None)
            raise (cause if isinstance(cause, Exception) else err) from None
        return dict(zip(refs, values, strict=True))

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
    """``current().run(jobs)``."""
    return current().run(jobs, label)


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
