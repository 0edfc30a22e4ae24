"""What every reproduction artifact shares: registration, verdicts and output files.

An artifact is one paper table or figure: a frozen config class, ``run(cfg) ->
DataFrame``, a ``quick`` and a ``full`` config, and optionally ``plot(frame) ->
Figure``. ``write_artifact`` stores ``NAME.csv``, ``NAME.md``, ``NAME.png`` (when
there is a plot), ``NAME_data.csv`` / ``NAME_final.csv`` (when the frame keeps such
DataFrames in ``frame.attrs``) and ``NAME.json`` (commit, seeds, versions, config, wall time).
"""

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from aifedge import results
from aifedge.config import ConfigError, check_like
from aifedge.console import to_markdown


@dataclasses.dataclass(frozen=True)
class Artifact:
    """One reproducible paper table/figure."""

    name: str
    title: str
    run: Callable[..., pd.DataFrame]  # run(cfg) or, sharing trained runs, run(cfg, runs)
    quick: Any
    full: Any
    plot: Callable[[pd.DataFrame], Any] | None = None


def reproduced(ours: float, paper: float, tol: float) -> str:
    """Verdict ``"yes"`` if ``|ours − paper| ≤ tol`` (same units), ``"no"``, or ``"n/a"``."""
    if paper is None or ours is None or math.isnan(paper) or math.isnan(ours):
        return "n/a"
    return "yes" if abs(ours - paper) <= tol else "no"


def with_overrides(cfg: Any, **overrides) -> Any:
    """``dataclasses.replace`` for the fields ``cfg`` has; ``ConfigError`` naming unknown ones.

    ``None`` values are ignored; each value must have the type and shape of the field's
    current value (``aifedge.config.check_like``: bools are not ints, numbers are finite);
    lists (from JSON/TOML files) become tuples, so configs stay hashable. A field holding
    a nested config cannot be replaced by a plain value.
    """
    fields = {f.name for f in dataclasses.fields(cfg)}
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(k for k in given if k not in fields)
    if unknown:
        raise ConfigError(
            f"{', '.join(unknown)}: not a field of {type(cfg).__name__}; "
            f"fields are {', '.join(sorted(fields))}"
        )
    for k, v in given.items():
        current = getattr(cfg, k)
        if dataclasses.is_dataclass(current) and not dataclasses.is_dataclass(v):
            raise ConfigError(
                f"{k}: holds a nested {type(current).__name__} and cannot be set "
                "from a file; change it in Python with dataclasses.replace"
            )
        if not dataclasses.is_dataclass(current):
            given[k] = check_like(type(cfg).__name__, k, v, current)
    return dataclasses.replace(cfg, **given)


def write_artifact(
    art: Artifact, frame: pd.DataFrame, cfg: Any, out: str | Path, wall_s: float, note: str = ""
) -> dict[str, Path]:
    """Write ``NAME.csv/.md/.json`` (+ ``.png``, ``NAME_data/_final.csv``) atomically;
    returns the paths."""
    out = Path(out)
    paths = {"csv": results.write_csv(out / f"{art.name}.csv", frame)}
    md = f"## {art.title}\n\n{note + chr(10) * 2 if note else ''}{to_markdown(frame)}"
    paths["md"] = results.write_text_atomic(out / f"{art.name}.md", md)
    for extra in ("data", "final"):  # raw curves / per-episode data kept by some artifacts
        if isinstance(frame.attrs.get(extra), pd.DataFrame):
            paths[extra] = results.write_csv(out / f"{art.name}_{extra}.csv", frame.attrs[extra])
    if art.plot is not None:
        paths["png"] = results.save_figure(out / f"{art.name}.png", art.plot(frame))
    config = (
        dataclasses.asdict(cfg)
        if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type)
        else dict(cfg)
    )
    paths["json"] = results.write_json(
        out / f"{art.name}.json",
        {
            "artifact": art.name,
            **results.provenance(),
            "config": config,
            "seeds": config.get("seeds", config.get("seed")),
            "wall_s": wall_s,
        },
    )
    return paths
