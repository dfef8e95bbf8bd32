"""Where the app finds its bundled resources (sample media, icons, the default models).

The folder itself comes from :mod:`distilpose.resources` (editable install, PyInstaller bundle whose spec
copies the folders to ``<bundle>/RESOURCES_DIRNAME``, or ``$DISTILPOSE_RESOURCES``).
"""

from __future__ import annotations

from pathlib import Path

from distilpose.resources import RESOURCES_DIRNAME, frozen_bundle_dir, resources_root

__all__ = [
    "RESOURCES_DIRNAME",
    "frozen_bundle_dir",
    "resources_dir",
    "default_sample",
    "icon_path",
    "app_icon_path",
]

DEFAULT_SAMPLE_NAME = "astronaut.jpg"
APP_ICON_NAME = "distilpose-studio.svg"


def resources_dir() -> Path:
    """The ``resources/`` folder (the library decides: repository, frozen bundle or $DISTILPOSE_RESOURCES)."""
    return resources_root()


def default_sample() -> Path | None:
    """The image ``make run`` opens, or None when the resources are not shipped with this install."""
    path = resources_dir() / "samples" / DEFAULT_SAMPLE_NAME
    return path if path.is_file() else None


def icon_path(name: str) -> Path | None:
    """``resources/icons/<name>.svg``, or None when absent (callers fall back to text-only actions)."""
    path = resources_dir() / "icons" / f"{name}.svg"
    return path if path.is_file() else None


def app_icon_path() -> Path | None:
    """The window icon (SVG), or None when absent."""
    return icon_path(APP_ICON_NAME.removesuffix(".svg"))
