"""Import direction of the library: every import points down the layer stack, no cycles.

Layers, bottom to top (a module may import its own layer and the layers below):

0. ground       ``aifedge`` (root), ``config``, ``console`` (progress bars, tables),
                ``results``, ``protocols`` (Policy, Learner),
                ``registry`` (names only, no JAX), ``executor`` (jobs: serial or Ray)
1. environments pure-JAX simulators and the shared GPD tail
2. heuristics   ``baselines.heuristics``: the simulator's reference policies. The keyword
                prior's scheduling logs are made with them (``llm_bridge.logs``), so this
                one module of ``baselines`` sits right above the simulators.
3. models       ``generative_models`` (pymdp A, B, C, D), ``llm_bridge`` (prior, encoder, advisors)
4. inference    agents, EVT, uncertainty, meta-λ
5. baselines    RL, multi-agent learners
6. engine       ``simulate`` (named policies over batched episodes), ``bench`` (timings: the
                AIF-LLM Table 5 artifact measures them, so bench sits below ``paper_repro``),
                ``sweep`` (grid × policy × seed runs of ``simulate``)
7. paper_repro  one module per paper artifact
8. apps         ``cli``, ``viz`` (notebook helpers and plots)

Imports inside functions count too: a lazy import is still a dependency. The graph is
read from the source with ``ast`` (nothing is imported), so the test takes milliseconds.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "aifedge": "aifedge",
    "environments": "aifedge.environments",
    "generative_models": "aifedge.generative_models",
    "inference": "aifedge.inference",
    "llm_bridge": "aifedge.llm_bridge",
    "baselines": "aifedge.baselines",
    "paper_repro": "aifedge.paper_repro",
}
LAYERS = (
    (
        "aifedge",
        "aifedge.config",
        "aifedge.console",
        "aifedge.results",
        "aifedge.protocols",
        "aifedge.registry",
        "aifedge.executor",
    ),
    ("aifedge.environments",),
    ("aifedge.baselines.heuristics",),
    ("aifedge.generative_models", "aifedge.llm_bridge"),
    ("aifedge.inference",),
    ("aifedge.baselines",),
    ("aifedge.simulate", "aifedge.bench", "aifedge.sweep"),
    ("aifedge.paper_repro",),
    ("aifedge.cli", "aifedge.viz"),
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def _modules() -> dict[str, Path]:
    out = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """``aifedge.*`` modules (or packages) that module ``name`` imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:  # `from aifedge import results` imports a module
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    return {m for m in found if m == "aifedge" or m.startswith("aifedge.")}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def unit(module: str) -> str | None:
    """The layer unit (a package or module named in ``LAYERS``) holding ``module``."""
    if module == "aifedge":
        return module
    found = [u for u in RANK if u != "aifedge" and (module == u or module.startswith(u + "."))]
    return max(found, key=len) if found else None


def test_every_module_has_a_layer():
    assert [m for m in MODULES if unit(m) is None] == [], "add new modules to LAYERS"
    assert {unit(m) for m in MODULES} == set(RANK), "LAYERS names a module that is gone"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    upward = [
        f"{module} (layer {RANK[unit(module)]}) imports {dep} (layer {RANK[unit(dep)]})"
        for dep in sorted(GRAPH[module])
        if RANK[unit(dep)] > RANK[unit(module)]
    ]
    assert not upward, "\n".join(upward)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, …, a]``, or None (depth-first search)."""
    colour = dict.fromkeys(graph, 0)  # 0 new, 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node):
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if colour[nxt] == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if colour[nxt] == 0 and (found := visit(nxt)):
                return found
        stack.pop()
        colour[node] = 2
        return None

    for node in sorted(graph):
        if colour[node] == 0 and (found := visit(node)):
            return found
    return None


def test_no_package_cycles():
    units = {u: set() for u in RANK}
    for module, deps in GRAPH.items():
        units[unit(module)].update(unit(d) for d in deps if unit(d) != unit(module))
    assert _cycle(units) is None, " -> ".join(_cycle(units))


def test_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
