"""The project's modules import each other without a cycle.

A cycle works only while the import order happens to suit it (a name imported from a half-initialised
module is missing), so it breaks when someone imports the other module first. Every ``import`` counts —
at module level or inside a function, where cycles hide — except those under ``if TYPE_CHECKING:``,
which never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# (directory on sys.path, the packages under it that are ours)
SOURCES = ((ROOT, ("ops", "local", "functions")), (ROOT / "layers" / "domain", ("fulfillment",)))


def _modules() -> dict[str, Path]:
    found = {}
    for base, packages in SOURCES:
        for package in packages:
            for path in sorted((base / package).rglob("*.py")):
                parts = path.relative_to(base).with_suffix("").parts
                found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (inner for child in node.orelse for inner in _imports_in(child))
            continue
        yield from _imports_in(node)


def _imports_in(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _imports(node)


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom, known: set[str]) -> Iterator[str]:
    """The modules of ours one import statement runs."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            anchor = package[: len(package) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
    for name in names:
        found = name
        while found and found not in known:  # a name inside a module: the module
            found = found.rpartition(".")[0]
        if found:
            yield found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[module] = {
            target for node in _imports(tree) for target in _targets(module, path, node, known) if target != module
        }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_of_ours_takes_part_in_an_import_cycle() -> None:
    graph = import_graph()

    assert cycles(graph) == []


def test_the_graph_sees_function_level_and_relative_imports() -> None:
    graph = import_graph()

    assert "fulfillment.adapters.platforms.registry" in graph["fulfillment.bootstrap"]  # imported inside a method
    assert "ops.target" in graph["ops.returns_cli"]
    assert {"fulfillment.model.order"} <= graph["fulfillment.model"]  # ``from .order import …`` or absolute


def test_a_cycle_through_a_function_level_import_is_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
