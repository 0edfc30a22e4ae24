"""Run folders as transactions (``aifedge.results.run_folder``): staged, swapped into place
whole, refused when non-empty without ``force``, locked against a second writer; files
0644; strict JSON."""

import json
import os
import stat

import pytest

from aifedge import results
from aifedge.cli import main
from aifedge.config import ConfigError


def _write_run(out, seed, force=True):
    with results.run_folder(out, force=force) as stage:
        results.write_json(stage / "summary.json", {"seed": seed})
        results.write_text_atomic(stage / "metrics.csv", f"seed\n{seed}\n")


def _run_of(out):
    """The seed each file of ``out`` names (a mix would give two different seeds)."""
    seeds = {json.loads((out / "summary.json").read_text())["seed"]}
    seeds.add(int((out / "metrics.csv").read_text().split()[1]))
    return seeds


def _siblings(out):
    return sorted(p.name for p in out.parent.iterdir())


def test_publish_refuse_and_force(tmp_path):
    out = tmp_path / "run"
    _write_run(out, 1, force=False)
    assert _run_of(out) == {1} and _siblings(out) == ["run"]  # no lock or staging left
    with pytest.raises(ConfigError, match="already holds a run; pass --force"):
        _write_run(out, 2, force=False)
    assert _run_of(out) == {1}
    _write_run(out, 2)
    assert _run_of(out) == {2} and _siblings(out) == ["run"]


def test_a_failed_run_leaves_the_old_one_and_no_staging(tmp_path):
    out = tmp_path / "run"
    _write_run(out, 1)
    with pytest.raises(RuntimeError, match="crash"):
        with results.run_folder(out, force=True) as stage:
            results.write_json(stage / "summary.json", {"seed": 2})
            raise RuntimeError("crash")
    assert _run_of(out) == {1} and _siblings(out) == ["run"]


def test_crash_between_the_two_renames_leaves_old_or_new(tmp_path, monkeypatch):
    """Without RENAME_EXCHANGE the swap is two renames; a crash between them leaves the old
    run aside, and the next run (before anything else) puts it back: old or new, no mix."""
    out = tmp_path / "run"
    _write_run(out, 1)
    monkeypatch.setattr(results, "_exchange", lambda a, b: False)
    real_rename, calls = os.rename, []

    def crashing_rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # out → aside done; stage → out never happens
            raise KeyboardInterrupt("killed between the renames")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", crashing_rename)
    with pytest.raises(KeyboardInterrupt):
        _write_run(out, 2)
    monkeypatch.setattr(os, "rename", real_rename)
    assert not out.exists() and (tmp_path / ".run.old").is_dir()
    with pytest.raises(ConfigError, match="already holds a run"):  # recovery, then refusal
        _write_run(out, 3, force=False)
    assert _run_of(out) == {1} and _siblings(out) == ["run"]
    _write_run(out, 4)  # the fallback path itself works
    assert _run_of(out) == {4}


def test_real_exchange_swaps_in_one_step(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    if not results._exchange(a, b):
        pytest.skip("renameat2(RENAME_EXCHANGE) unsupported here; the fallback is tested")
    assert (b / "x").read_text() == "a" and not (a / "x").exists()


def test_second_writer_is_refused_while_the_first_runs(tmp_path):
    out = tmp_path / "run"
    with results.run_folder(out) as stage:
        with pytest.raises(ConfigError, match="another aifedge run is writing"):
            with results.run_folder(out, force=True):
                pass
        results.write_json(stage / "summary.json", {"seed": 1})
    assert json.loads((out / "summary.json").read_text()) == {"seed": 1}


def test_files_0644_and_strict_json(tmp_path):
    path = results.write_json(
        tmp_path / "s.json", {"a": float("nan"), "b": [1.0, float("inf")], "c": 2}
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    text = path.read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert data == {"a": None, "b": [1.0, None], "c": 2, "nonfinite_as_null": ["a", "b[1]"]}
    _write_run(tmp_path / "run", 1)
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o755


def test_cli_refuses_existing_out_and_bad_out_before_running(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    args = ["simulate", "--policy", "greedy", "--episodes", "1", "--steps", "2"]
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err and (out / "keep.txt").exists()
    assert main([*args, "--out", "/dev/null/x"]) == 2
    assert capsys.readouterr().err.startswith("aifedge: error: --out: cannot create")


def test_provenance_records_dirty_tree_and_argv(monkeypatch):
    import subprocess
    import sys

    monkeypatch.setattr(sys, "argv", ["aifedge", "simulate", "--seed", "3"])
    prov = results.provenance()
    assert prov["argv"] == ["aifedge", "simulate", "--seed", "3"]
    status = subprocess.run(
        ["git", "-C", os.path.dirname(results.__file__), "diff", "HEAD", "--quiet"],
        check=False,
    )
    assert prov["dirty"] is (status.returncode == 1)  # independent check: git diff
    assert prov["commit"] == results.git_commit() and "numpy" in prov["versions"]


def test_save_figure_writes_one_palette_png_that_keeps_the_line_colours(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], color="tab:red", lw=4)
    out = results.save_figure(tmp_path / "f.png", fig)
    image = Image.open(out)
    assert image.format == "PNG" and image.mode == "P"
    rgb = np.asarray(image.convert("RGB")).astype(int)
    assert (np.abs(rgb - (214, 39, 40)).sum(-1) < 10).sum() > 100  # tab:red kept
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind
