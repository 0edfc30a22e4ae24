"""Packaging: the package-dir mapping in a real wheel, and a torch-free core."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = (
    "environments",
    "generative_models",
    "inference",
    "llm_bridge",
    "baselines",
    "paper_repro",
)


@pytest.mark.slow
def test_wheel_maps_top_level_folders_into_aifedge(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("aifedge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for sub in SUBPACKAGES:
        assert f"aifedge/{sub}/__init__.py" in names, sub
    assert "aifedge/cli.py" in names
    assert {"aifedge/bench/__init__.py", "aifedge/viz/__init__.py"} <= names
    assert "aifedge/paper_repro/configs/he2024_medium.toml" in names
    assert not any(n.startswith(("tests/", "notebooks/", "benchmarks/")) for n in names)


def test_core_does_not_import_torch():
    code = (
        "import sys, aifedge.cli, aifedge.environments, aifedge.baselines, "
        "aifedge.generative_models, aifedge.inference; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert out == "False"


def test_cli_help_imports_no_jax():
    code = (
        "import sys; from aifedge.cli import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in ('jax', 'scipy', 'torch') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert out == "[]"
