"""Prints keras_nst's import graph (module: the package's modules it imports, at any depth of
its code) and fails where the graph has a cycle: the map behind docs/architecture.md."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "keras_nst"


def graph() -> dict[str, set[str]]:
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    edges = {}
    for name in sorted(modules):
        tree = ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "keras_nst":
                    found |= {a.name for a in node.names if a.name in modules}
                elif node.module.startswith("keras_nst."):
                    found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found |= {
                    a.name.split(".")[1] for a in node.names if a.name.startswith("keras_nst.")
                }
        edges[name] = found - {name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node, path):
        state[node] = 1
        for other in sorted(edges.get(node, ())):
            if state.get(other) == 1:
                found.append(path[path.index(other) :] + [other])
            elif other not in state:
                visit(other, path + [other])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


if __name__ == "__main__":
    edges = graph()
    for name, uses in edges.items():
        print(f"{name}: {', '.join(sorted(uses))}")
    loops = cycles(edges)
    for loop in loops:
        print("cycle:", " -> ".join(loop), file=sys.stderr)
    sys.exit(1 if loops else 0)
