"""Name -> policy, artifact and benchmark lookup for the CLI.

Agents, artifacts and benchmarks register as ``"module:attribute"`` strings, imported
only when used, so that building the CLI (``aifedge --help``) imports neither JAX nor
any optional dependency. A factory is ``factory(params) -> Policy``
(``aifedge.environments.rollout.Policy``).
"""

from importlib import import_module

from aifedge.config import ConfigError

AGENTS: dict[str, str] = {
    "aif": "aifedge.inference.policies:make_aif_policy",
    "aif-llm": "aifedge.inference.aif_llm_agent:make_aif_llm_policy",
}
"""Policy name -> ``"module:factory"`` for the ``aif-llm`` env (stateful agents)."""


ARTIFACTS: dict[str, str] = {
    "table3": "aifedge.paper_repro.aif_llm:TABLE3",
    "rrr": "aifedge.paper_repro.aif_llm:RRR",
    "table4": "aifedge.paper_repro.aif_llm:TABLE4",
    "table5": "aifedge.paper_repro.aif_llm:TABLE5",
    "table6": "aifedge.paper_repro.aif_llm:TABLE6",
    "fig2": "aifedge.paper_repro.aif_llm:TABLE6",
    **{f"he2024-fig{n}": f"aifedge.paper_repro.he2024:FIG{n}" for n in (3, 4, 5)},
    **{f"ucbcoma-fig{n}": f"aifedge.paper_repro.ucb_coma:FIG{n}" for n in range(4, 10)},
    "ucbcoma-aif": "aifedge.paper_repro.ucb_coma:AIF",
    "ucbcoma-sensitivity": "aifedge.paper_repro.ucb_coma:SENSITIVITY",
}
"""Reproduction artifact name -> ``"module:ARTIFACT"`` (a ``paper_repro.common.Artifact``)."""

BENCHMARKS: dict[str, str] = {
    "env": "aifedge.bench:bench_env",
    "decision": "aifedge.inference.bench:bench_decision",
    "encoder": "aifedge.llm_bridge.bench:bench_encoder",
    "prior": "aifedge.llm_bridge.bench:bench_prior",
    "semantic": "aifedge.llm_bridge.bench:bench_semantic",
    "advisor": "aifedge.llm_bridge.bench:bench_advisor",
    "gpd": "aifedge.inference.evt:bench_gpd",
    "meta": "aifedge.inference.meta:bench_meta",
    "cycle": "aifedge.inference.cycle:bench_cycle",
}
"""Benchmark name -> ``"module:function"``; each takes ``repeats=`` and returns JSON rows."""


def load(spec: str):
    """Import ``"package.module:attribute"``."""
    module, _, attr = spec.partition(":")
    return getattr(import_module(module), attr)


def policy_names(env_id: str = "aif-llm") -> list[str]:
    """Names accepted by ``--policy`` for ``env_id``."""
    from aifedge.baselines import HEURISTICS

    del env_id  # all current policies act on aif-llm
    return [*HEURISTICS, *AGENTS]


def get_policy(name: str, env_id: str = "aif-llm", params=None):
    """The ``Policy`` called ``name``; ``ConfigError`` naming the allowed values otherwise."""
    from aifedge.baselines import HEURISTICS
    from aifedge.environments import ENVS, stateless

    if env_id not in ENVS:
        raise ConfigError(f"--env: unknown environment {env_id!r}; choose from {', '.join(ENVS)}")
    if name in HEURISTICS:
        return stateless(HEURISTICS[name])
    if name in AGENTS:
        params = ENVS[env_id].make_params() if params is None else params
        return load(AGENTS[name])(params)
    raise ConfigError(
        f"--policy: unknown policy {name!r}; choose from {', '.join(policy_names(env_id))}"
    )
