"""Where the app finds its bundled resources (sample media, icons).

One helper so that the rest of the app never guesses paths; the lead may move it into the library.
"""

from __future__ import annotations

from pathlib import Path

import distilpose

DEFAULT_SAMPLE_NAME = "astronaut.jpg"
APP_ICON_NAME = "distilpose-studio.svg"


def resources_dir() -> Path:
    """The repository's ``resources/`` folder.

    The package is installed editable, so ``distilpose/__init__.py`` sits one level below the repository root.
    """
    return Path(distilpose.__file__).resolve().parents[1] / "resources"


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
