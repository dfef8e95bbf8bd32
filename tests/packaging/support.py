"""Loads the build scripts in ``packaging/`` by file path.

The folder must never go on ``sys.path`` as a package: ``packaging`` is also the name of the distribution that
pip, setuptools and PyInstaller import, and ours would shadow it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from tests.conftest import REPO_ROOT

PACKAGING_DIR = REPO_ROOT / "packaging"
SPEC_FILE = PACKAGING_DIR / "distilpose-studio.spec"


def load_packaging_module(name: str) -> ModuleType:
    """Import ``packaging/<name>.py`` under a private module name."""
    path: Path = PACKAGING_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_distilpose_packaging_{name}", path)
    assert spec is not None and spec.loader is not None, f"{path}: cannot be loaded"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
