"""Copy a generated Markdown file into README.md between two marker comments.

Usage: ``python benchmarks/embed_readme.py results/full/REPRODUCTION.md [NAME]``
(``make repro-full``; ``make repro-full-v1`` passes ``REPRODUCTION-V1``): between
``<!-- NAME:BEGIN -->`` and ``<!-- NAME:END -->``, NAME ``REPRODUCTION`` by default.
The README's reproduction tables are never typed by hand.
"""

import sys
from pathlib import Path

from aifedge.results import write_text_atomic


def markers(name: str = "REPRODUCTION") -> tuple[str, str]:
    """The begin and end marker comments of block ``name``."""
    return f"<!-- {name}:BEGIN -->", f"<!-- {name}:END -->"


BEGIN, END = markers()


def embed(readme: str, generated: str, name: str = "REPRODUCTION") -> str:
    """``readme`` with the text between the markers of ``name`` replaced by ``generated``."""
    begin, end = markers(name)
    if begin not in readme or end not in readme:
        raise ValueError(f"README.md: needs the markers {begin} and {end}")
    head, rest = readme.split(begin, 1)
    _, tail = rest.split(end, 1)
    body = generated.replace("\n# ", "\n### ").replace("\n## ", "\n#### ")
    if body.startswith("# "):
        body = "###" + body[1:]
    return f"{head}{begin}\n{body.strip()}\n{end}{tail}"


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "results/full/REPRODUCTION.md")
    name = sys.argv[2] if len(sys.argv) > 2 else "REPRODUCTION"
    readme = Path(__file__).resolve().parents[1] / "README.md"
    write_text_atomic(readme, embed(readme.read_text(), source.read_text(), name))
    print(f"embedded {source} into {readme}")


if __name__ == "__main__":
    main()
