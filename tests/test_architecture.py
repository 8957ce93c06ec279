"""The three layers and the import graph of the package.

``_common`` imports neither ``_runtime`` nor ``_tools``; those two never
import each other; and no import of the package, at module level or inside
a function (a lazy one), closes a cycle.  Imports under ``if TYPE_CHECKING``
are for annotations only and never run, so they do not count.  The same
layers are also an import-linter contract in ``tox -e lint``.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Dict, List, Set

from conftest import ROOT

if TYPE_CHECKING:
    from pathlib import Path

PACKAGE = ROOT / "shim"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: Dict[str, Path] = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _resolve(name: str) -> str:
    """The module of ours that an imported dotted name lands in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def imports_of(name: str) -> Set[str]:
    """Every module of the package ``name`` imports when its code runs (lazy imports too)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: Set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "shim":
                    found.add(_resolve(alias.name))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] == "shim":
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    found.add(target if target in MODULES else _resolve(base))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(name)
    return found


GRAPH: Dict[str, Set[str]] = {name: imports_of(name) for name in MODULES}


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("_common", "_runtime", "_tools") else ""


def test_common_imports_neither_half() -> None:
    """shim._common is pure: it imports nothing from the runtime or the tools."""
    bad = {m: sorted(i for i in deps if layer(i) in ("_runtime", "_tools"))
           for m, deps in GRAPH.items() if layer(m) == "_common"}
    assert {m: d for m, d in bad.items() if d} == {}


def test_runtime_and_tools_never_import_each_other() -> None:
    """What runs inside the program and the shim command share only shim._common."""
    bad = {m: sorted(i for i in deps if {layer(m), layer(i)} == {"_runtime", "_tools"})
           for m, deps in GRAPH.items()}
    assert {m: d for m, d in bad.items() if d} == {}


def test_no_import_cycle() -> None:
    """No chain of imports, eager or lazy, leads from a module back to itself."""
    cycles: List[List[str]] = []
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(GRAPH.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                walk(nxt)
        path.pop()
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            walk(name)
    assert cycles == []


def test_the_graph_is_read() -> None:
    """The checks above see real edges (an empty graph would pass them all)."""
    assert "shim._runtime.lifecycle" in GRAPH["shim._runtime.startup"]
    assert "shim._common.syntax" in GRAPH["shim._runtime.publish"]
    # A lazy import, inside a function:
    assert "shim._runtime.call" in GRAPH["shim._runtime.lifecycle"]
    assert "shim._tools.cli" in GRAPH["shim.__main__"]
