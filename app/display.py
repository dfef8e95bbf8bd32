"""Whether Qt can open a window here, the offscreen fallback for headless rendering, and where Qt paints.

Without a display Qt's default (xcb) platform aborts the whole process, so anything that only renders
(``--screenshot``, ``make run`` on a headless machine) must pick the offscreen platform before the
QApplication exists.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

from distilpose.cpu_pools import POOL_MIN_CORES  # below it, the cores are taken by the model and the detector

DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY")
#: Qt's switch for its GUI thread pool, which its raster engine hands large fills and image scaling to.
NO_GUI_THREADPOOL = "QT_NO_GUI_THREADPOOL"


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


def paint_on_gui_thread(env: MutableMapping[str, str] | None = None, cores: int | None = None) -> bool:
    """Have Qt fill and scale on the painting (GUI) thread on a machine with few cores; returns whether it
    did. Call before the first paint (before QApplication).

    Why: Qt's raster engine hands every fill of more than ~96 spans (a limb, a box, the scaled frame) to its
    GUI thread pool and waits for it. With few cores, busy with the model and the detector, the GUI thread
    mostly waits for a pool thread to be scheduled (ADR 0020, second amendment: the canvas paint 3-4x faster
    at the median on 2 shared cores without the pool). A user's own setting wins."""
    env = os.environ if env is None else env
    cores = (os.cpu_count() or 1) if cores is None else cores
    if NO_GUI_THREADPOOL in env or cores >= POOL_MIN_CORES:
        return False
    env[NO_GUI_THREADPOOL] = "1"
    return True
