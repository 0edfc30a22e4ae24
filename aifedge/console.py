"""Terminal output shared by every layer: progress bars on stderr and result tables.

A progress bar is drawn only when stderr is a terminal, so logs and pipes get no bar and
no blank line where a bar was. A table is a rich table on a terminal and Markdown when
stdout is piped (``fmt="auto"``), or what ``fmt`` ("rich" / "markdown") says.
"""

import math

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

STDERR = Console(stderr=True)
FORMATS = ("auto", "rich", "markdown")


def progress(label: str, unit: str, enabled: bool = True) -> Progress:
    """A transient rich bar ``label [bar] done/total unit elapsed`` on stderr."""
    return Progress(
        TextColumn(f"{label:>12}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} " + unit),
        TimeElapsedColumn(),
        console=STDERR,
        disable=not (enabled and STDERR.is_terminal),
        transient=True,
    )


def _cell(v, float_fmt: str = "{:.4g}") -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else float_fmt.format(v)
    return str(v)


def to_markdown(frame, float_fmt: str = "{:.4g}") -> str:
    """A GitHub Markdown table of a DataFrame (NaN as an empty cell; no extra dependency)."""

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = [
        "| " + " | ".join(_cell(v, float_fmt) for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([head, rule, *rows]) + "\n"


def print_table(frame, title: str = "", fmt: str = "auto") -> None:
    """Print a DataFrame as a rich table (terminal) or GitHub Markdown (piped / "markdown")."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt: {fmt!r} is not one of {', '.join(FORMATS)}")
    out = Console()
    if fmt == "markdown" or (fmt == "auto" and not out.is_terminal):
        print(f"{title}\n\n{to_markdown(frame)}" if title else to_markdown(frame))
        return
    from rich.table import Table

    table = Table(title=title or None)
    for col in frame.columns:
        table.add_column(str(col), justify="right" if frame[col].dtype.kind in "fiu" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    out.print(table)
