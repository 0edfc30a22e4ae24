"""Shared configuration helpers: one error type, config-file loading, JAX dispatch mode.

Every configuration object of the toolkit (simulator parameters, agent and
reproduction configs) is immutable. Overrides come from keyword arguments or
from a JSON/TOML file whose keys must be field names of that object.
"""

import json
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


def load_overrides(path: str | Path) -> dict[str, Any]:
    """Read a flat mapping of overrides from a ``.json`` or ``.toml`` file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"--config: file {str(path)!r} does not exist; pass a .json or .toml file"
        )
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text())
        elif path.suffix == ".json":
            data = json.loads(path.read_text())
        else:
            raise ConfigError(f"--config: {path.name!r} must end in .json or .toml")
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        kind = path.suffix[1:]
        raise ConfigError(f"--config: {path.name!r} is not valid {kind}: {err}") from None
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
