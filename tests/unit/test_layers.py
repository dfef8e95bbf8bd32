"""The one-way import rule app -> training -> distilpose, checked on the source with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

QT_PREFIXES = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6", "superqt", "qtawesome")
# The `train` and `project distil` subcommands start the trainer lazily, inside the command: the CLI's
# sanctioned links.
LAZY_ALLOWED = {Path("distilpose/cli/train.py"), Path("distilpose/cli/project_distil.py")}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at_module_level) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, bool]] = []
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top_level))
    return found


def _files(folder: str) -> list[Path]:
    return sorted((REPO_ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _files("distilpose"), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_library_imports_no_qt_app_or_training(path: Path) -> None:
    rel = path.relative_to(REPO_ROOT)
    for module, top in _imports(path):
        assert not module.startswith(QT_PREFIXES), f"{rel} imports Qt module {module}"
        assert not module.startswith("distilpose.app"), f"{rel} imports the app ({module})"
        if module.startswith("distilpose.training"):
            assert rel in LAZY_ALLOWED and not top, f"{rel} imports training ({module})"


@pytest.mark.parametrize("path", _files("training"), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_training_imports_no_qt_or_app(path: Path) -> None:
    rel = path.relative_to(REPO_ROOT)
    for module, _ in _imports(path):
        assert not module.startswith(QT_PREFIXES), f"{rel} imports Qt module {module}"
        assert not module.startswith("distilpose.app"), f"{rel} imports the app ({module})"


def test_app_never_imports_a_trainer_at_module_level() -> None:
    for path in _files("app"):
        for module, top in _imports(path):
            assert not (top and module.startswith("distilpose.training.trainer")), (
                f"{path} imports the trainer; the app reaches training through a subprocess"
            )


def test_no_module_imports_generic_top_level_names() -> None:
    for folder in ("distilpose", "training", "app", "tests"):
        for path in _files(folder):
            for module, _ in _imports(path):
                root = module.split(".")[0]
                assert root not in {"app", "training"}, f"{path} imports {module}; use distilpose.{module}"
