"""Name -> policy lookup for the CLI (heuristics now; agents register here as they land)."""

from aifedge.baselines import HEURISTICS
from aifedge.config import ConfigError
from aifedge.environments import ENVS, Policy, stateless


def policy_names(env_id: str = "aif-llm") -> list[str]:
    """Names accepted by ``--policy`` for ``env_id``."""
    del env_id  # all current policies act on aif-llm
    return list(HEURISTICS)


def get_policy(name: str, env_id: str = "aif-llm") -> Policy:
    """The ``Policy`` called ``name``; ``ConfigError`` naming the allowed values otherwise."""
    if env_id not in ENVS:
        raise ConfigError(f"--env: unknown environment {env_id!r}; choose from {', '.join(ENVS)}")
    if name not in HEURISTICS:
        raise ConfigError(f"--policy: unknown policy {name!r}; "
                          f"choose from {', '.join(policy_names(env_id))}")
    return stateless(HEURISTICS[name])
