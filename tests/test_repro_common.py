"""The shared reproduction plumbing: verdicts, Markdown, overrides, artifact files."""

import dataclasses
import json

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from aifedge.console import to_markdown
from aifedge.paper_repro.common import (
    Artifact,
    reproduced,
    with_overrides,
    write_artifact,
)


@dataclasses.dataclass(frozen=True)
class _Cfg:
    seeds: int = 2
    episodes: int = 3


def _run(cfg):
    return pd.DataFrame({"seed": range(cfg.seeds), "value": [0.5] * cfg.seeds})


def _plot(frame):
    fig, ax = plt.subplots()
    ax.plot(frame["seed"], frame["value"])
    return fig


def test_reproduced_verdicts():
    assert reproduced(92.0, 92.57, tol=1.0) == "yes"
    assert reproduced(90.0, 92.57, tol=1.0) == "no"
    assert reproduced(float("nan"), 92.57, tol=1.0) == "n/a"


def test_markdown_table_shape():
    md = to_markdown(pd.DataFrame({"a": [1.23456, float("nan")], "b": ["x", "y"]}))
    lines = md.strip().splitlines()
    assert lines[0] == "| a | b |" and lines[1] == "|---|---|"
    assert lines[2] == "| 1.235 | x |" and lines[3] == "|  | y |"


def test_overrides_reject_unknown_fields():
    assert with_overrides(_Cfg(), seeds=5).seeds == 5
    assert with_overrides(_Cfg(), seeds=None) == _Cfg()
    with pytest.raises(ValueError, match="steps: not a field of _Cfg"):
        with_overrides(_Cfg(), steps=3)


def test_overrides_from_files_stay_hashable():
    @dataclasses.dataclass(frozen=True)
    class Outer:
        values: tuple = (1, 2)
        inner: _Cfg = _Cfg()

    cfg = with_overrides(Outer(), values=[3, 4])
    assert cfg.values == (3, 4) and hash(cfg) == hash(Outer(values=(3, 4)))
    with pytest.raises(ValueError, match="inner: holds a nested _Cfg"):
        with_overrides(Outer(), inner=5)


def test_write_artifact_files(tmp_path):
    art = Artifact("toy", "Toy table", _run, quick=_Cfg(), full=_Cfg(seeds=4), plot=_plot)
    cfg = art.quick
    paths = write_artifact(art, art.run(cfg), cfg, tmp_path, wall_s=0.1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "toy.csv",
        "toy.json",
        "toy.md",
        "toy.png",
    ]
    assert pd.read_csv(paths["csv"]).shape == (2, 2)
    meta = json.loads(paths["json"].read_text())
    assert meta["seeds"] == 2 and meta["config"] == {"seeds": 2, "episodes": 3}
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"


def test_embed_readme_replaces_only_between_markers():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "embed_readme.py"
    spec = importlib.util.spec_from_file_location("embed_readme", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    readme = f"top\n{mod.BEGIN}\nold\n{mod.END}\nbottom\n"
    out = mod.embed(readme, "# Title\n\n## Table\n| a |\n")
    assert out == f"top\n{mod.BEGIN}\n### Title\n\n#### Table\n| a |\n{mod.END}\nbottom\n"
    with pytest.raises(ValueError, match="markers"):
        mod.embed("no markers", "x")
    v1_begin, v1_end = "<!-- REPRODUCTION-V1:BEGIN -->", "<!-- REPRODUCTION-V1:END -->"
    both = f"{readme}{v1_begin}\nv1\n{v1_end}\n"  # a named block; the default one untouched
    out = mod.embed(both, "# V1\n", "REPRODUCTION-V1")
    assert out == f"{readme}{v1_begin}\n### V1\n{v1_end}\n"
