"""Where the product's ``resources/`` folder is (sample media, icons, the default student's weights).

One answer for the library and the app: ``$DISTILPOSE_RESOURCES`` when set (tests, a system-wide install),
the PyInstaller bundle's copy when frozen (``sys._MEIPASS/resources``, see ``packaging/``), else the
repository's folder beside the ``distilpose`` package (the editable install).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

RESOURCES_ENV = "DISTILPOSE_RESOURCES"
RESOURCES_DIRNAME = "resources"


def frozen_bundle_dir() -> Path | None:
    """The unpacked bundle (PyInstaller's ``sys._MEIPASS``) when running frozen, else None."""
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        return Path(bundle)
    return None


def resources_root() -> Path:
    override = os.environ.get(RESOURCES_ENV)
    if override:
        return Path(override)
    bundle = frozen_bundle_dir()
    if bundle is not None:
        return bundle / RESOURCES_DIRNAME
    return Path(__file__).resolve().parents[1] / RESOURCES_DIRNAME
