"""Whether Qt can open a window here, and the offscreen fallback for headless rendering.

Without a display Qt's default (xcb) platform aborts the whole process, so anything that only renders
(``--screenshot``, ``make run`` on a headless machine) must pick the offscreen platform before the
QApplication exists.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY")


def has_display(env: MutableMapping[str, str] | None = None) -> bool:
    """True when a window can be shown: a display is set, or the user chose a Qt platform themselves."""
    env = os.environ if env is None else env
    return any(env.get(name) for name in (*DISPLAY_VARIABLES, "QT_QPA_PLATFORM"))


def use_offscreen_if_headless(env: MutableMapping[str, str] | None = None) -> bool:
    """Select Qt's offscreen platform when there is no display; returns whether it did. Call before QApplication."""
    env = os.environ if env is None else env
    if has_display(env):
        return False
    env["QT_QPA_PLATFORM"] = "offscreen"
    return True
