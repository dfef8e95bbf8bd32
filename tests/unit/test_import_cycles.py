"""No import circles in distilpose/, training/ or app/ (issue 21): a module never reaches itself through imports.

Every import counts, at module level, inside a function or under ``TYPE_CHECKING``: a lazy import hides a
circle from Python's loader but not from a reader following the code. The graph is read from the source with
ast and its strongly connected components found with networkx (a dependency of torch): any component of more
than one module is a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

from tests.conftest import REPO_ROOT

#: Source folder -> the package it is installed as (ADR 0001).
PACKAGES = {"distilpose": "distilpose", "training": "distilpose.training", "app": "distilpose.app"}


def module_names(root: Path = REPO_ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the three layers."""
    modules: dict[str, Path] = {}
    for folder, package in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


def _target(name: str, modules: dict[str, Path]) -> str | None:
    """The most specific known module that ``name`` (a module or a name inside one) refers to."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path = REPO_ROOT) -> nx.DiGraph:
    """Module -> modules it imports (anywhere in the file), within the three layers."""
    modules = module_names(root)
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                names = [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                target = _target(name, modules)
                if target is not None and target != module:
                    graph.add_edge(module, target)
    return graph


def import_circles(root: Path = REPO_ROOT) -> list[list[str]]:
    """Each set of modules that import one another in a circle (sorted), largest first."""
    components = [sorted(c) for c in nx.strongly_connected_components(import_graph(root)) if len(c) > 1]
    return sorted(components, key=lambda c: (-len(c), c))


def test_the_graph_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    """The reader must find a circle made of a function-level import and a TYPE_CHECKING one."""
    lib = tmp_path / "distilpose"
    lib.mkdir()
    (lib / "__init__.py").write_text("")
    (lib / "a.py").write_text("def f():\n    from distilpose import b\n")
    (lib / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from distilpose.c import X\n")
    (lib / "c.py").write_text("from . import a\n")
    (tmp_path / "training").mkdir()
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "d.py").write_text("import distilpose.a\n")
    assert import_circles(tmp_path) == [["distilpose.a", "distilpose.b", "distilpose.c"]]


def test_no_import_circles() -> None:
    circles = import_circles()
    assert circles == [], "import circles (break one edge of each):\n" + "\n".join(" <-> ".join(c) for c in circles)
