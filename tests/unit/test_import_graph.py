"""The modules of functions/ import one another in one direction: no cycle, however far round.

A cycle that happens to import in one order (a module importing another at its bottom, which imports it back)
hides until someone imports them in the other order; read from the source, it shows at once.
"""

from __future__ import annotations

import ast
from pathlib import Path

from qunyun_ops.paths import ROOT

FUNCTIONS = ROOT / "functions"


def module_name(path: Path) -> str:
    parts = path.relative_to(FUNCTIONS).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module → the modules of functions/ it imports, anywhere in its source (functions' imports too)."""
    modules = {module_name(p): p for p in FUNCTIONS.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from qunyun.services import push_job` imports the submodule, `from x import f` the module
                imported |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                             for a in node.names}
            elif isinstance(node, ast.Import):
                imported |= {a.name for a in node.names}
        graph[name] = {m for m in imported if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_of_functions_imports_back_up():
    graph = import_graph()
    # GIVEN the graph holds the push modules and sees a submodule imported from its package
    assert "qunyun.services.push_job" in graph["qunyun.services.push_send"]
    # THEN no module reaches itself again
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle_round_three_modules():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
