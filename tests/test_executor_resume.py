"""Resumable runs (``executor.caching``, ``aifedge repro --resume``): a run interrupted by a
failing job and rerun skips the jobs that finished and writes the same bytes as a run that
was never interrupted."""

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from aifedge import executor
from aifedge.cli import main
from aifedge.executor import Job
from aifedge.paper_repro import he2024 as repro

CALLS: list[str] = []
FAIL: set[str] = set()


@dataclass(frozen=True)
class Toy:
    scale: float


def square(name: str, x: float, cfg: Toy, plus: float = 0.0) -> float:
    """A job that records its call and fails when its name is in ``FAIL``."""
    CALLS.append(name)
    if name in FAIL:
        raise RuntimeError(f"injected failure in {name}")
    return cfg.scale * x * x + plus


def _jobs(scale: float = 1.0) -> list[Job]:
    cfg = Toy(scale)
    jobs = [
        Job(f"sq:{i}", square, {"name": f"sq:{i}", "x": float(i), "cfg": cfg}) for i in range(4)
    ]
    return [*jobs, Job("sum", square, {"name": "sum", "x": 0.0, "cfg": cfg}, {"plus": "sq:3"})]


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    FAIL.clear()


def test_interrupted_run_resumes_without_rerunning_finished_jobs(tmp_path):
    reference = executor.run(_jobs())
    CALLS.clear()
    FAIL.add("sq:2")
    with executor.caching(tmp_path), pytest.raises(RuntimeError, match="injected"):
        executor.run(_jobs())
    assert CALLS == ["sq:0", "sq:1", "sq:2"]
    assert len(list(tmp_path.glob("*.pkl"))) == 2
    FAIL.clear()
    CALLS.clear()
    with executor.caching(tmp_path):
        assert (
            executor.run(_jobs())
            == reference
            == {
                "sq:0": 0.0,
                "sq:1": 1.0,
                "sq:2": 4.0,
                "sq:3": 9.0,
                "sum": 9.0,
            }
        )
    assert CALLS == ["sq:2", "sq:3", "sum"]
    CALLS.clear()
    with executor.caching(tmp_path):  # everything stored: nothing runs, "sum" gets its dep
        assert executor.run(_jobs()) == reference
    assert CALLS == []
    assert len((tmp_path / "jobs.log").read_text().splitlines()) == 5


def test_other_kwargs_or_code_are_not_reused(tmp_path):
    with executor.caching(tmp_path):
        executor.run(_jobs())
        CALLS.clear()
        assert executor.run(_jobs(scale=2.0))["sq:3"] == 18.0  # cfg is part of the key
    assert len(CALLS) == 5
    job = _jobs()[0]
    same = executor.ResultCache(tmp_path, "code-a")
    assert same.path(job) == executor.ResultCache(tmp_path, "code-a").path(job)
    assert same.path(job) != executor.ResultCache(tmp_path, "code-b").path(job)
    assert executor._canonical(np.arange(3.0)) != executor._canonical(np.arange(3))
    assert executor._canonical((1.0, math.nan)) == executor._canonical((1.0, math.nan))


def test_unnamed_kwargs_are_a_clear_error(tmp_path):
    with executor.caching(tmp_path), pytest.raises(TypeError, match=r"job 'odd'.*builtins\.object"):
        executor.run([Job("odd", square, {"name": "odd", "x": 1.0, "cfg": object()})])
    with pytest.raises(TypeError, match="<lambda>"):
        executor._canonical(lambda: 0)


def test_resume_flag_bad_folder_is_one_line_exit_2(tmp_path, capsys):
    afile = tmp_path / "file"
    afile.write_text("x")
    argv = ["repro", "he2024", "--quick", "--out", str(tmp_path / "o"), "--resume", str(afile)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aifedge: error: --resume:") and "not a folder" in err
    assert len(err.splitlines()) == 1


def _json_without_run_facts(path: Path) -> dict:
    data = json.loads(path.read_text())
    return {k: v for k, v in data.items() if k not in ("wall_s", "argv")}


@pytest.mark.slow
def test_he2024_suite_resumed_is_byte_identical(tmp_path, monkeypatch):
    """``aifedge repro he2024`` at toy size (the two rules, 2 seeds: 4 jobs), interrupted
    by a failure in job 3 (random, seed 0), rerun with the same command: the stored jobs
    are not trained again and every file equals an uninterrupted run's (JSON: all but
    ``wall_s`` and ``argv``, which describe the run, not the results). A third seed added
    later trains only the new jobs."""
    cfg = tmp_path / "toy.json"
    toy = dict(
        seeds=2,
        n_episodes=10,
        eval_episodes=2,
        final_window=2,
        methods=["he-greedy", "random"],
        t_max_values=[3.0, 15.0],
        n_tasks_values=[100, 150],
    )
    cfg.write_text(json.dumps(toy))
    base = ["repro", "he2024", "--config", str(cfg)]
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0

    trained: list[tuple] = []
    fail = {("random", 0)}
    real = repro.train_method
    real.cache_clear()  # the resumed run trains what it trains, not this process's cache

    def recording(method, n_episodes, agent, env, seed, tuned=None):
        trained.append((method, seed))
        if (method, seed) in fail:
            raise RuntimeError("injected interruption")
        return real(method, n_episodes, agent, env, seed, tuned)

    monkeypatch.setattr(repro, "train_method", recording)
    argv = [*base, "--out", str(tmp_path / "resumed"), "--resume", str(tmp_path / "jobs")]
    with pytest.raises(RuntimeError, match="injected"):
        main(argv)
    assert not (tmp_path / "resumed").exists()
    assert trained == [("he-greedy", 0), ("he-greedy", 1), ("random", 0)]
    fail.clear()
    trained.clear()
    assert main(argv) == 0
    assert trained == [("random", 0), ("random", 1)]
    trained.clear()
    more = ["--seeds", "3", "--out", str(tmp_path / "more"), "--resume", str(tmp_path / "jobs")]
    assert main([*base, *more]) == 0
    assert trained == [("he-greedy", 2), ("random", 2)]  # seeds 0, 1: stored jobs

    plain, resumed = tmp_path / "plain", tmp_path / "resumed"
    names = sorted(p.name for p in plain.iterdir())
    assert names == sorted(p.name for p in resumed.iterdir()) and len(names) >= 15
    for name in names:
        if name.endswith(".json"):
            assert _json_without_run_facts(plain / name) == _json_without_run_facts(
                resumed / name
            ), name
        else:
            assert (plain / name).read_bytes() == (resumed / name).read_bytes(), name
