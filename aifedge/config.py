"""Shared configuration helpers: one error type, config-file loading, JAX dispatch mode.

Every configuration object of the toolkit (simulator parameters, agent and
reproduction configs) is immutable. Overrides come from keyword arguments or
from a JSON/TOML file whose keys must be field names of that object.
"""

import json
import math
import numbers
import os
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A bad configuration value; the message names the field and the fix."""


def check_fields(given: Iterable[str], allowed: Iterable[str], what: str) -> None:
    """Raise ``ConfigError`` if ``given`` names a field that ``allowed`` lacks."""
    allowed = sorted(allowed)
    for name in given:
        if name not in allowed:
            raise ConfigError(
                f"{what}: unknown field {name!r}; allowed fields: {', '.join(allowed)}"
            )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(x)
    except OverflowError:  # an int too large for a float
        return False


def _shape(default: tuple) -> tuple[int, ...] | None:
    """Shape of a rectangular nested tuple of numbers, else None."""
    if all(_is_number(x) for x in default):
        return (len(default),)
    if default and all(isinstance(r, tuple) and r and all(map(_is_number, r)) for r in default):
        if len({len(r) for r in default}) == 1:
            return (len(default), len(default[0]))
    return None


def check_like(what: str, name: str, value: Any, default: Any) -> Any:
    """``value`` checked against the type and nesting of the field's ``default``.

    The one type rule of every config (simulator ``EnvParams`` and repro configs): a bool
    field takes a bool; an int field an int (not a bool); a float field a finite int or
    float (not a bool); a str field a str; a numeric tuple field a list/tuple of finite
    numbers with the default's nesting (rows of a matrix of equal length; integers where
    the default holds only integers); a tuple of str a list of str. Other defaults
    (None, empty tuples, nested configs) are passed through. Lists become tuples. Raises
    ``ConfigError`` naming the field, the value and what is expected; ranges are each
    config's own checks.
    """

    def fail(expected: str):
        raise ConfigError(f"{what}.{name}: expected {expected} (got {_short(value)})")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            fail("true or false")
        return value
    if isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool):
            fail("an integer")
        return value
    if isinstance(default, float):
        if not _is_number(value) or not _finite(value):
            fail("a finite number")
        return value
    if isinstance(default, str):
        if not isinstance(value, str):
            fail("a string")
        return value
    if not isinstance(default, tuple) or not default:
        return _tuples(value)
    if all(isinstance(x, str) for x in default):
        if not isinstance(value, list | tuple) or not all(isinstance(x, str) for x in value):
            fail("a list of strings")
        return tuple(value)
    shape = _shape(default)
    if shape is None:
        return _tuples(value)
    ints = all(isinstance(x, int) for x in (default if len(shape) == 1 else default[0]))
    kind = "integers" if ints else "finite numbers"

    def leaf_ok(x):
        return isinstance(x, int) and not isinstance(x, bool) if ints else _is_number(x)

    if len(shape) == 1:
        if not isinstance(value, list | tuple) or not all(leaf_ok(x) and _finite(x) for x in value):
            fail(f"a list of {kind} (default shape {shape})")
        return tuple(value)
    rows_ok = isinstance(value, list | tuple) and all(
        isinstance(r, list | tuple) and all(leaf_ok(x) and _finite(x) for x in r) for r in value
    )
    if not rows_ok or len({len(r) for r in value}) > 1:
        fail(f"a rectangular list of lists of {kind}, shape (rows, columns) like {shape}")
    return tuple(tuple(r) for r in value)


def _tuples(value: Any) -> Any:
    """Lists (nested) as tuples, so configs stay hashable."""
    if isinstance(value, list | tuple):
        return tuple(_tuples(v) for v in value)
    return value


def check_overrides(what: str, defaults: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` of the NamedTuple/dataclass instance ``defaults``: unknown fields
    refused (``check_fields``), every value checked by ``check_like``."""
    fields = getattr(defaults, "_fields", None) or [
        f for f in getattr(defaults, "__dataclass_fields__", {})
    ]
    check_fields(overrides, fields, what)
    return {k: check_like(what, k, v, getattr(defaults, k)) for k, v in overrides.items()}


def load_overrides(path: str | Path) -> dict[str, Any]:
    """Read a flat mapping of overrides from a ``.json`` or ``.toml`` file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"--config: file {str(path)!r} does not exist; pass a .json or .toml file"
        )
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            raise ConfigError(f"--config: {path.name!r} must end in .json or .toml")
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        kind = path.suffix[1:]
        raise ConfigError(f"--config: {path.name!r} is not valid {kind}: {err}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"--config: {path.name!r} is not UTF-8 text (byte {err.start}); save it as UTF-8"
        ) from None
    except OSError as err:
        raise ConfigError(f"--config: cannot read {path.name!r}: {err.strerror}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config: {path.name!r} must hold a mapping of field names to values")
    return data


def sync_dispatch() -> bool:
    """Run JAX CPU computations inline instead of dispatching them asynchronously.

    One decision of the agents is a few dozen µs of XLA work, and asynchronous dispatch
    about doubles its latency (README, Benchmarks). The ``aifedge`` command and
    ``benchmarks/run.py`` call this first; it must run before JAX's first computation
    (JAX reads the flag when it creates its CPU client). ``AIFEDGE_ASYNC_DISPATCH=1``
    keeps JAX's default. Returns whether dispatch is synchronous.
    """
    if os.environ.get("AIFEDGE_ASYNC_DISPATCH", "0") == "1":
        return False
    import jax

    jax.config.update("jax_cpu_enable_async_dispatch", False)
    return True
