"""Run mypy on the library as the installed package ``aifedge`` (``make typecheck``).

mypy cannot follow setuptools' ``package-dir`` mapping (``aifedge.inference`` lives in
``inference/``) nor the editable install's import hook, so this script lays the package
out as installed — a folder ``aifedge/`` of symlinks, built from ``pyproject.toml``'s
``[tool.setuptools.package-dir]`` — in ``build/typecheck`` and runs ``mypy -p aifedge``
there with the ``[tool.mypy]`` settings. Extra arguments go to mypy.
"""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package_tree(dest: Path) -> Path:
    """``dest/aifedge``: symlinks to the source folders, as the wheel installs them."""
    dirs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = dirs["package-dir"]
    shutil.rmtree(dest, ignore_errors=True)
    pkg = dest / "aifedge"
    pkg.mkdir(parents=True)
    for entry in (ROOT / mapping["aifedge"]).iterdir():
        if entry.name != "__pycache__":
            (pkg / entry.name).symlink_to(entry)
    for name, folder in mapping.items():
        if name != "aifedge":
            (pkg / name.removeprefix("aifedge.")).symlink_to(ROOT / folder)
    return pkg


def main() -> int:
    build = ROOT / "build" / "typecheck"
    package_tree(build)
    cmd = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--cache-dir",
        str(ROOT / ".mypy_cache"),
        "-p",
        "aifedge",
        *sys.argv[1:],
    ]
    return subprocess.run(cmd, cwd=build, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
