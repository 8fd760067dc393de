"""The app's module import graph, read from the source with `ast` (nothing is imported).

`python -m tests.import_graph` prints the graph's height (the longest chain of
module imports inside app/) and that chain.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"


@dataclass
class Imports:
    internal: set[str] = field(default_factory=set)
    external: set[str] = field(default_factory=set)


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path = APP) -> dict[str, Imports]:
    """Return every module under root with the app modules and outside packages it imports."""
    paths = sorted(root.rglob("*.py"))
    modules = {_module_name(p, root) for p in paths}
    graph: dict[str, Imports] = {}
    for path in paths:
        name = _module_name(path, root)
        imports = graph.setdefault(name, Imports())
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from app.x import y` may name a submodule y or a name inside app.x.
                targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            for target in targets:
                if target in modules:
                    if target != name:
                        imports.internal.add(target)
                elif target.split(".")[0] != root.name:
                    imports.external.add(target)
        # A package's parent __init__ is imported with it, but holds nothing here.
    return graph


def module_cycles(graph: dict[str, Imports]) -> list[list[str]]:
    """Return the import cycles among app modules (empty when the graph is acyclic)."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node].internal):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def longest_chain(graph: dict[str, Imports]) -> list[str]:
    """Return the longest chain of imports (the graph's height), ignoring cycle back-edges."""
    best: dict[str, list[str]] = {}

    def chain(node: str, seen: frozenset[str]) -> list[str]:
        if node in best:
            return best[node]
        tails = [chain(n, seen | {node}) for n in graph[node].internal if n not in seen]
        result = [node] + max(tails, key=len, default=[])
        if not (seen & set(graph[node].internal)):
            best[node] = result
        return result

    return max((chain(n, frozenset()) for n in sorted(graph)), key=len, default=[])


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else APP
    graph = import_graph(root)
    path = longest_chain(graph)
    print(f"modules: {len(graph)}  cycles: {len(module_cycles(graph))}  height: {len(path)}")
    print(" -> ".join(path))
