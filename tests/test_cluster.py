"""The Ray backend on a real local Ray head (no mocks): same bytes as a serial run, a
killed worker's job re-run with the same result, and one-line errors for bad input.

The head is started here (``ray start --head --block`` bound to 127.0.0.1, 2 CPUs, its
own temp dir, no dashboard) and stopped at the end of the session.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from aifedge import executor
from aifedge.cli import main
from aifedge.config import ConfigError
from aifedge.environments import aif_llm
from aifedge.executor import Job
from aifedge.paper_repro.common import reproduced

SWEEP = [
    "sweep",
    "--policies",
    "random,greedy",
    "--grid",
    "max_steps=5,8",
    "--seeds",
    "1",
    "--episodes",
    "3",
    "--claim",
    "qos:greedy>random",
]
SWEEP_FILES = ("sweep.csv", "summary.csv", "claims.csv")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_head():
    """``HOST:PORT`` of a Ray head started for this session (2 CPUs); stopped after."""
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths are long
    log = open(Path(temp) / "head.log", "w")  # closed at teardown
    cmd = [
        str(Path(sys.executable).with_name("ray")),
        "start",
        "--head",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--num-cpus=2",
        "--include-dashboard=false",
        "--disable-usage-stats",
        "--object-store-memory=100000000",
        f"--temp-dir={temp}",
    ]
    # Token authentication: conftest.py puts this session's token in the environment before
    # Ray is first imported (Ray reads it once); the head gets it from the same environment.
    assert os.environ.get("RAY_AUTH_MODE") == "token" and os.environ.get("RAY_AUTH_TOKEN")
    pytest.importorskip("ray")  # the [cluster] extra (make test installs it)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (Path(temp) / "head.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "Ray head did not start in 90 s"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        yield {"address": f"127.0.0.1:{port}", "temp": temp}
    finally:
        proc.send_signal(signal.SIGTERM)  # `ray start --block` stops its processes
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the process group started above
            proc.wait()
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def serial_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "sweep"
    assert main([*SWEEP, "--out", str(out)]) == 0
    return out


def _same_files(a: Path, b: Path, names) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _busy_workers(temp: str) -> list[int]:
    """PIDs of this session's Ray workers that are running a job (title ``ray::_call``):
    children of the raylet started with our temp dir."""
    raylets = [
        int(p.name)
        for p in Path("/proc").glob("[0-9]*")
        if "raylet/raylet" in (c := _cmdline(int(p.name))) and temp in c
    ]
    return [w for r in raylets for w in _children(r) if _cmdline(w).startswith("ray::_call")]


def test_executor_orders_dependencies_and_rejects_bad_graphs():
    jobs = [
        Job("b", dict, {"x": 1}, {"y": "a"}),
        Job("a", reproduced, {"ours": 1.0, "paper": 1.5, "tol": 1.0}),
    ]
    assert executor.SerialExecutor().run(jobs) == {"a": "yes", "b": {"x": 1, "y": "yes"}}
    with pytest.raises(ValueError, match="dependency cycle"):
        executor.SerialExecutor().run(
            [Job("a", dict, {}, {"x": "b"}), Job("b", dict, {}, {"x": "a"})]
        )
    with pytest.raises(ValueError, match="unknown job 'c'"):
        executor.SerialExecutor().run([Job("a", dict, {}, {"x": "c"})])
    with pytest.raises(ValueError, match="used twice"):
        executor.SerialExecutor().run([Job("a", dict), Job("a", dict)])


def test_core_never_imports_ray():
    code = (
        "import sys, aifedge.cli, aifedge.executor, aifedge.sweep, aifedge.simulate, "
        "aifedge.environments, aifedge.inference, aifedge.paper_repro.aif_llm; "
        "from aifedge.cli import build_parser; build_parser().format_help(); "
        "print('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "grid, needle",
    [
        (["bogus=1,2"], "--grid 'bogus': not a sweepable field of aif-llm; use FIELD=V1,V2 with "),
        (["max_steps=5,7.5"], "--grid max_steps: expected int values, got '5,7.5'"),
        (["spike_prob=0.1,x"], "--grid spike_prob: expected float values"),
        (["edge_gflops=1,2"], "not a sweepable field"),  # a tuple field
        (["spike_prob=0.1,1.5"], "--grid: EnvParams.spike_prob"),  # rejected by make_params
    ],
)
def test_sweep_bad_grid_is_one_line_exit_2(grid, needle, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["sweep", "--policies", "random,greedy", "--out", str(out)]
    for g in grid:
        argv += ["--grid", g]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("aifedge: error: ") and err.count("\n") == 1, err
    assert needle in err, err
    if "sweepable" in needle:  # names the allowed fields
        assert "spike_prob" in err and "max_steps" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "claim, needle",
    [
        ("qos greedy>random", "is not METRIC:A>B"),
        ("speed:greedy>random", "unknown metric 'speed'; choose from qos,"),
        ("qos:aif>random", "policy 'aif' is not in --policies (random, greedy)"),
    ],
)
def test_sweep_bad_claim_is_one_line_exit_2(claim, needle, tmp_path, capsys):
    argv = ["sweep", "--policies", "random,greedy", "--grid", "max_steps=5,8", "--claim", claim]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "out").exists()


def test_unreachable_ray_address_is_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "out"
    bad = f"127.0.0.1:{_free_port()}"  # nothing listens there
    start = time.monotonic()
    assert main([*SWEEP, "--out", str(out), "--ray", bad]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"aifedge: error: --ray: no Ray head reachable at {bad}"), err
    assert err.count("\n") == 1
    assert not out.exists()
    assert time.monotonic() - start < 20
    assert main(["repro", "ucbcoma-fig4", "--quick", "--out", str(out), "--ray", bad]) == 2
    assert not out.exists()


@pytest.mark.slow
def test_ray_jobs_dependencies_and_errors(ray_head):
    """Object-reference dependencies resolve on the cluster; a job's ConfigError comes
    back to the driver as a ConfigError."""
    with executor.using(executor.make_executor(ray_head["address"])) as ex:
        assert ex.cpus == 2
        jobs = [
            Job("a", reproduced, {"ours": 1.0, "paper": 1.5, "tol": 1.0}),
            Job("b", dict, {"x": 1}, {"y": "a"}),
        ]
        assert executor.run(jobs) == {"a": "yes", "b": {"x": 1, "y": "yes"}}
        with pytest.raises(ConfigError, match="max_steps"):
            executor.run([Job("bad", aif_llm.make_params, {"max_steps": -1})])


@pytest.mark.slow
def test_sweep_on_ray_is_byte_identical_to_serial(ray_head, serial_sweep, tmp_path):
    out = tmp_path / "ray"
    assert main([*SWEEP, "--out", str(out), "--ray", ray_head["address"]]) == 0
    _same_files(serial_sweep, out, SWEEP_FILES)
    assert (out / "claim_1.png").is_file() and (out / "qos.png").is_file()


@pytest.mark.slow
def test_killed_worker_job_is_rerun_with_identical_result(ray_head, serial_sweep, tmp_path):
    """SIGKILL one worker (a process of the head started above) while it runs a job."""
    killed: list[int] = []
    stop = threading.Event()

    def killer():
        while not stop.is_set() and not killed:
            busy = _busy_workers(ray_head["temp"])
            if busy:
                os.kill(busy[0], signal.SIGKILL)
                killed.append(busy[0])
            time.sleep(0.05)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        out = tmp_path / "ray"
        assert main([*SWEEP, "--out", str(out), "--ray", ray_head["address"]]) == 0
    finally:
        stop.set()
        thread.join()
    assert len(killed) == 1
    _same_files(serial_sweep, out, SWEEP_FILES)


@pytest.mark.slow
def test_repro_on_ray_is_byte_identical_to_serial(ray_head, tmp_path):
    """A toy UCB-COMA Fig. 4 (two schemes, two seeds: four training jobs)."""
    cfg = tmp_path / "toy.json"
    cfg.write_text('{"n_episodes": 5, "schemes": ["random", "cs-ucb"], "quick_compile": true}')
    argv = ["repro", "ucbcoma-fig4", "--config", str(cfg), "--seeds", "2"]
    assert main([*argv, "--out", str(tmp_path / "serial")]) == 0
    assert main([*argv, "--out", str(tmp_path / "ray"), "--ray", ray_head["address"]]) == 0
    names = ("ucbcoma-fig4.csv", "ucbcoma-fig4_data.csv", "ucbcoma-fig4.md")
    _same_files(tmp_path / "serial", tmp_path / "ray", names)


@pytest.mark.slow
def test_ray_resumes_from_stored_jobs(ray_head, tmp_path):
    """A serial run that stopped at a failing job, resumed on Ray: the stored jobs are not
    submitted, a new job gets a stored job's result as its dependency, and the new result
    is stored too (``executor.caching``)."""
    a = Job("a", reproduced, {"ours": 1.0, "paper": 1.5, "tol": 1.0})
    b = Job("b", dict, {"x": 1}, {"y": "a"})
    with executor.caching(tmp_path), pytest.raises(ConfigError, match="max_steps"):
        executor.run([a, b, Job("bad", aif_llm.make_params, {"max_steps": -1})])
    assert len(list(tmp_path.glob("*.pkl"))) == 2
    c = Job("c", dict, {"z": 2}, {"w": "a"})
    with (
        executor.using(executor.make_executor(ray_head["address"])),
        executor.caching(tmp_path),
    ):
        out = executor.run([a, b, c])
    assert out == {"a": "yes", "b": {"x": 1, "y": "yes"}, "c": {"z": 2, "w": "yes"}}
    log = (tmp_path / "jobs.log").read_text().split()
    assert [k for k in log if k in ("a", "b", "c", "bad")] == ["a", "b", "c"]
