"""The app's remembered choices (QSettings, an INI file beside the recent-files lists in ``config_dir()``).

An INI file in our own config folder rather than the platform's registry or plist: tests point it at a temp
folder with ``DISTILPOSE_STUDIO_CONFIG`` like the recent lists, and a person can read it.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

from distilpose.app.recent import config_dir

SETTINGS_FILE = "settings.ini"
#: Turn live inference on for every image, video, folder or camera the user opens (default on: a first
#: run should show keypoints, not a bare picture).
RUN_ON_OPEN = "live/run_on_open"


def settings() -> QSettings:
    return QSettings(str(config_dir() / SETTINGS_FILE), QSettings.Format.IniFormat)


def run_on_open() -> bool:
    value = settings().value(RUN_ON_OPEN, True)
    return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "yes")


def set_run_on_open(on: bool) -> None:
    store = settings()
    store.setValue(RUN_ON_OPEN, bool(on))
    store.sync()
