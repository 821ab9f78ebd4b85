"""The package's import graph: no cycles, layers that depend inward, and a layout section in
docs/architecture.md that names what `ls src/ledgerbridge` shows.

Read from the source with `ast` (nothing is imported): an edge is an import executed when the
module loads, so imports under `if TYPE_CHECKING:` and inside functions do not count for cycles.
The layer rules count every import, deferred ones included: a deferred import still couples.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "ledgerbridge"


@dataclass(frozen=True)
class Import:
    target: str  # a module of the package
    at_load: bool  # executed when the importing module loads


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name in MODULES:
                yield alias.name
        return
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        # `from package import submodule` needs the submodule; `from module import name` the module.
        target = submodule if submodule in MODULES else base
        if target in MODULES and target != module:
            yield target


@functools.cache
def imports(module: str) -> tuple[Import, ...]:
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def visit(nodes: list[ast.stmt], at_load: bool) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.extend(Import(t, at_load) for t in _targets(node, module, is_package))
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.body, False)
                visit(node.orelse, at_load)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):  # runs when called, not when the module loads
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        found.extend(Import(t, False) for t in _targets(inner, module, is_package))
            elif isinstance(node, ast.stmt):
                children = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)]
                visit(children, at_load)

    visit(ast.parse(path.read_text()).body, True)
    return tuple(found)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_the_package_has_no_import_cycles() -> None:
    graph = {m: {i.target for i in imports(m) if i.at_load} for m in MODULES}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


# What each layer must never import (at load time or deferred).
FORBIDDEN: dict[str, set[str]] = {
    "domain": {layer for layer in (_layer(m) for m in MODULES) if layer != "domain"},
    "engine": {"connectors", "store", "sandbox", "web", "workers", "bootstrap", "settings"},
    "connectors": {"store", "sandbox", "web", "workers", "bootstrap"},
    "store": {"connectors", "sandbox", "web", "workers", "bootstrap"},
    # The sandboxes behave like the real APIs, not like us.
    "sandbox": {"engine", "connectors", "store", "web", "workers", "bootstrap", "connect"},
    # The console never builds sandboxes or the process stack; those are built around it.
    "web": {"sandbox", "demo", "process_stack", "console_stack", "fleet", "cluster"},
}
# Known exceptions, each to be removed by the change that fixes it (the test fails when one is
# gone, so this list cannot go stale): the backfill's checkpoint reads the connectors' rate
# budget directly instead of through a port.
KNOWN = {("ledgerbridge.engine.checkpoint", "ledgerbridge.connectors.budget")}


def test_layers_depend_inward() -> None:
    found: set[tuple[str, str]] = set()
    for module in MODULES:
        forbidden = FORBIDDEN.get(_layer(module), set())
        for imp in imports(module):
            if _layer(imp.target) in forbidden:
                found.add((module, imp.target))
    assert found - KNOWN == set()
    assert found >= KNOWN, f"fixed, remove from KNOWN: {sorted(KNOWN - found)}"


def test_the_layout_in_the_architecture_doc_names_every_module_and_package() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    section = doc.split("## Layout", 1)[1].split("```", 2)[1]
    # Entries start a line, indented by two: "  engine/   ...", "  metrics.py, logs.py   ...".
    entries: set[str] = set()
    for line in section.splitlines():
        match = re.match(r"^  (\S.*?)(?:\s{2,}|$)", line)
        if match:
            entries.update(re.findall(r"\w+(?:\.py|/)", match.group(1)))
    words = set(re.findall(r"\w+", section))
    present = {
        p.name + ("/" if p.is_dir() else "")
        for p in PACKAGE.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.name != "__init__.py")
    }
    # A module may be named inside another entry ("cli_reconcile and cli_scale add ...").
    missing = {n for n in present if n not in entries and n.removesuffix(".py") not in words}
    assert missing == set(), f"docs/architecture.md's layout does not name {sorted(missing)}"
    assert entries - present == set(), "the layout names what `ls src/ledgerbridge` does not show"
