"""Copy a generated Markdown file into README.md between two marker comments.

Usage: ``python benchmarks/embed_readme.py results/full/REPRODUCTION.md``
(``make repro-full``). The README's reproduction tables are never typed by hand.
"""

import sys
from pathlib import Path

from aifedge.results import write_text_atomic

BEGIN, END = "<!-- REPRODUCTION:BEGIN -->", "<!-- REPRODUCTION:END -->"


def embed(readme: str, generated: str) -> str:
    """``readme`` with the text between the markers replaced by ``generated``."""
    if BEGIN not in readme or END not in readme:
        raise ValueError(f"README.md: needs the markers {BEGIN} and {END}")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    body = generated.replace("\n# ", "\n### ").replace("\n## ", "\n#### ")
    if body.startswith("# "):
        body = "###" + body[1:]
    return f"{head}{BEGIN}\n{body.strip()}\n{END}{tail}"


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "results/full/REPRODUCTION.md")
    readme = Path(__file__).resolve().parents[1] / "README.md"
    write_text_atomic(readme, embed(readme.read_text(), source.read_text()))
    print(f"embedded {source} into {readme}")


if __name__ == "__main__":
    main()
