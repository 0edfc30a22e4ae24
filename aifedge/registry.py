"""The one home of every name the CLI offers: algorithms, ablations, advisors, agents,
artifacts and benchmarks (ground layer: imports nothing but ``aifedge.config``).

Agents, artifacts and benchmarks register as ``"module:attribute"`` strings, imported
only when used, so that building the CLI (``aifedge --help``) imports neither JAX nor
any optional dependency. A factory is ``factory(params) -> Policy``
(``aifedge.protocols.Policy``). Library modules take their name lists from here too
(``baselines.rl``, ``inference.aif_llm_agent``, ``llm_bridge.advisors``).
"""

from collections.abc import Iterable
from importlib import import_module

from aifedge.config import ConfigError

RL_ALGOS: tuple[str, ...] = ("sac", "ppo", "dqn", "a2c", "rainbow")
"""Single-agent RL algorithms (``aifedge train --algo``; ``baselines.rl.CONFIGS``)."""

ABLATIONS: tuple[str, ...] = ("prior", "semantic", "meta-lambda")
"""Components of the ``aif-llm`` agent that ``--ablate`` removes (AIF-LLM Table 4)."""

ADVISORS: tuple[str, ...] = ("template", "smollm", "http")
"""LLM advisors (``--advisor``; ``llm_bridge.advisors.make_advisor``)."""

HE2024_LEARNED: tuple[str, ...] = ("aif-rg", "gp-nfsp", "rainbow", "ppo", "sac")
"""He et al. methods that train (``paper_repro.he2024``): the proposed ``aif-rg``, the paper's
GP-NFSP and its three DRL baselines (``RL_ALGOS`` names)."""

AGENTS: dict[str, str] = {
    "aif": "aifedge.inference.policies:make_aif_policy",
    "aif-llm": "aifedge.inference.aif_llm_agent:make_aif_llm_policy",
}
"""Policy name -> ``"module:factory"`` for the ``aif-llm`` env (stateful agents)."""

REFERENCE_POLICIES: dict[str, str] = {
    "oracle": "aifedge.baselines.reference:make_oracle",
    "mpc": "aifedge.baselines.reference:make_mpc",
}
"""Reference policies that read the true state (``aif-llm --scenario paper`` only)."""


ARTIFACTS: dict[str, str] = {
    "table3": "aifedge.paper_repro.aif_llm:TABLE3",
    "rrr": "aifedge.paper_repro.aif_llm:RRR",
    "table4": "aifedge.paper_repro.aif_llm:TABLE4",
    "table5": "aifedge.paper_repro.aif_llm:TABLE5",
    "table6": "aifedge.paper_repro.aif_llm:TABLE6",
    "fig2": "aifedge.paper_repro.aif_llm:TABLE6",
    **{f"he2024-fig{n}": f"aifedge.paper_repro.he2024:FIG{n}" for n in (3, 4, 5)},
    "he2024-tuning": "aifedge.paper_repro.he2024:TUNING",
    **{f"ucbcoma-fig{n}": f"aifedge.paper_repro.ucb_coma:FIG{n}" for n in range(4, 10)},
    "ucbcoma-aif": "aifedge.paper_repro.ucb_coma:AIF",
    "ucbcoma-sensitivity": "aifedge.paper_repro.ucb_coma:SENSITIVITY",
    "aif-learning": "aifedge.paper_repro.aif_learning:LEARNING",
    "calibration": "aifedge.paper_repro.calibration:CALIBRATION",
    "sensitivity": "aifedge.paper_repro.sensitivity:SENSITIVITY",
    "paper-agents": "aifedge.paper_repro.paper_agents:PAPER_AGENTS",
}
"""Reproduction artifact name -> ``"module:ARTIFACT"`` (a ``paper_repro.common.Artifact``)."""

SUITES: dict[str, str] = {
    "all": "aifedge.paper_repro.aif_llm:run_all",
    "he2024": "aifedge.paper_repro.he2024:run_all",
    "ucbcoma": "aifedge.paper_repro.ucb_coma:run_all",
}
"""Suite name -> ``"module:run_all"``: every artifact of one paper from shared training runs,
``run_all(overrides, out, quick)`` (``aifedge repro SUITE``; ``all`` is AIF-LLM's)."""

BENCHMARKS: dict[str, str] = {
    "env": "aifedge.bench.env:bench_env",
    "decision": "aifedge.bench.decision:bench_decision",
    "encoder": "aifedge.bench.llm:bench_encoder",
    "prior": "aifedge.bench.llm:bench_prior",
    "semantic": "aifedge.bench.llm:bench_semantic",
    "advisor": "aifedge.bench.llm:bench_advisor",
    "gpd": "aifedge.bench.gpd:bench_gpd",
    "meta": "aifedge.bench.meta:bench_meta",
    "cycle": "aifedge.bench.cycle:bench_cycle",
    "sweep": "aifedge.sweep:bench_sweep",
}
"""Benchmark name -> ``"module:function"``; each takes ``repeats=`` and returns JSON rows."""


def load(spec: str):
    """Import ``"package.module:attribute"``."""
    module, _, attr = spec.partition(":")
    return getattr(import_module(module), attr)


def check_ablate(ablate: Iterable[str] | str | None) -> tuple[str, ...]:
    """Normalise ``ablate`` (a subset of ``ABLATIONS``; a comma-separated string is
    accepted) into ``ABLATIONS`` order; ``ConfigError`` naming the allowed values otherwise."""
    if ablate is None:
        return ()
    if isinstance(ablate, str):
        ablate = [a.strip() for a in ablate.split(",") if a.strip()]
    ablate = tuple(ablate)
    unknown = [a for a in ablate if a not in ABLATIONS]
    if unknown:
        raise ConfigError(
            f"--ablate: unknown component(s) {unknown}; choose any of "
            f"{', '.join(ABLATIONS)} (comma-separated)"
        )
    return tuple(c for c in ABLATIONS if c in ablate)
