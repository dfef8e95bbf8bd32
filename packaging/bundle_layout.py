"""What goes into the frozen ``distilpose-studio`` and where, as plain data.

``distilpose-studio.spec`` builds from these lists, and ``tests/packaging`` checks them without running
PyInstaller (the spec itself can only be run by PyInstaller). Nothing here imports PyInstaller.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from distilpose.app.paths import RESOURCES_DIRNAME

ROOT = Path(__file__).resolve().parent.parent
#: Executable and folder name in ``dist/``; equal to the console script, so the .desktop ``Exec`` matches.
APP_NAME = "distilpose-studio"
ENTRY_SCRIPT = ROOT / "packaging" / "frozen_entry.py"
DESKTOP_FILE = ROOT / "packaging" / f"{APP_NAME}.desktop"
ICON_SVG = ROOT / RESOURCES_DIRNAME / "icons" / f"{APP_NAME}.svg"
ICON_PNG = ROOT / "packaging" / f"{APP_NAME}.png"

#: Sub-folders of ``resources/`` the app reads at run time; optional ones are bundled when present.
REQUIRED_RESOURCES = ("icons", "samples")
OPTIONAL_RESOURCES = ("models",)

#: pyproject's ``[tool.setuptools] package-dir``: ``app/`` and ``training/`` install as sub-packages.
PACKAGE_DIRS = {"distilpose": "distilpose", "distilpose.app": "app", "distilpose.training": "training"}

#: Imported by name at run time (CLI subcommands, model registry, job entry points): collect every module.
PACKAGES_WITH_SUBMODULES = ("distilpose", "distilpose.app", "distilpose.training")

#: Qt drops its SVG icon engine and image-format plugins unless the QtSvg library is bundled; our icons are SVG.
HIDDEN_IMPORTS = ("PySide6.QtSvg",)

#: Development tools and optional integrations the app never imports at run time (some are pulled in by
#: hooks that collect whole packages, e.g. torch's): leaving them out saves size and build time.
EXCLUDES = (
    "tkinter",
    "matplotlib",
    "IPython",
    "jupyter_client",
    "notebook",
    "pytest",
    "_pytest",
    "pytestqt",
    "hypothesis",
    "ruff",
    "tests",
    "torchvision",
    "torchaudio",
    "tensorboard",
    "torch.utils.tensorboard",
    "PyInstaller",
)

#: Bundle folders (destination prefixes) of torch's own C++ test programs and protoc, which its hook collects
#: with the data files: about 130 MB the app never runs. ``KEEP`` wins: torch checks at import that its
#: shared-memory manager exists.
DROP_FROM_BUNDLE = ("torch/test/", "torch/bin/")
KEEP_IN_BUNDLE = ("torch/bin/torch_shm_manager",)

#: Distributions whose metadata is read at run time (``distilpose.__version__`` reads ours).
METADATA = ("distilpose-studio",)


def data_entries() -> list[tuple[Path, str]]:
    """(source folder or file, destination folder inside the bundle) pairs for the spec's ``datas``.

    Destinations mirror the run-time lookups: ``distilpose.app.paths.resources_dir()`` and the training
    configs next to ``distilpose/training/config.py``; the desktop entry and icon go to ``share/``.
    """
    entries = [
        (ROOT / RESOURCES_DIRNAME / name, f"{RESOURCES_DIRNAME}/{name}") for name in REQUIRED_RESOURCES
    ]
    for name in OPTIONAL_RESOURCES:
        folder = ROOT / RESOURCES_DIRNAME / name
        if folder.is_dir():
            entries.append((folder, f"{RESOURCES_DIRNAME}/{name}"))
    entries.append((ROOT / "training" / "configs", "distilpose/training/configs"))
    entries.append((DESKTOP_FILE, "share/applications"))
    entries.append((ICON_PNG, "share/icons/hicolor/256x256/apps"))
    return entries


def keep_in_bundle(dest: str) -> bool:
    """Whether a file collected for bundle path ``dest`` (``/`` or ``\\`` separated) stays in the build."""
    dest = dest.replace("\\", "/")
    if dest in KEEP_IN_BUNDLE:
        return True
    return not dest.startswith(DROP_FROM_BUNDLE)


def stage_sources(dest: Path) -> Path:
    """Copy the packages into ``dest`` in their import layout (``dest/distilpose/app/...``); returns ``dest``.

    PyInstaller's module finder walks ``sys.path`` folders and cannot follow setuptools' editable-install
    finder, which maps ``distilpose.app`` to ``app/`` (pyinstaller/pyinstaller#7524); a plain folder tree on
    ``pathex`` can be followed. Copies rather than symlinks, so the same spec builds on Windows.
    """
    if dest.exists():
        shutil.rmtree(dest)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package, folder in sorted(PACKAGE_DIRS.items()):  # parents before their mapped sub-packages
        target = dest.joinpath(*package.split("."))
        shutil.copytree(ROOT / folder, target, ignore=ignore, dirs_exist_ok=True)
    return dest
