"""``--screenshot``: the one place that loads, waits for pending work, grabs a window and saves a PNG.

Every screen of the app reuses :func:`take_screenshot`, so docs, CI and headless machines get the same picture
a user would see.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, Qt
from PySide6.QtWidgets import QWidget

from distilpose.app.pending import PendingWork
from distilpose.atomic import atomic_write_with
from distilpose.errors import DistilPoseError

DEFAULT_TIMEOUT_S = 120.0
#: Event-loop rounds after the work is done, so queued resizes, layouts and repaints land in the picture.
SETTLE_ROUNDS = 5


class ScreenshotError(DistilPoseError):
    """The window could not be rendered or the PNG could not be written."""


def wait_until_idle(pending: PendingWork, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Run the event loop until ``pending`` reports no work in flight, then let the window settle."""
    deadline = time.monotonic() + timeout_s
    while True:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if pending.is_idle():
            break
        if time.monotonic() > deadline:
            raise ScreenshotError(f"timed out after {timeout_s:.0f} s waiting for: {pending.describe()}")
        time.sleep(0.01)
    for _ in range(SETTLE_ROUNDS):
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)


def save_widget_png(widget: QWidget, out: str | os.PathLike) -> Path:
    """Render ``widget`` and write it as PNG to ``out`` atomically (a failed save leaves no partial file)."""
    pixmap = widget.grab()
    if pixmap.isNull():
        raise ScreenshotError("the window rendered to an empty picture")
    target = Path(out)

    def write(tmp: str) -> None:
        if not pixmap.save(tmp, "PNG"):
            raise ScreenshotError(f"{target}: Qt could not write the PNG")

    try:
        atomic_write_with(target, write)
    except OSError as exc:
        raise ScreenshotError(f"{target}: cannot write the screenshot ({exc.strerror or exc})") from exc
    return target


def take_screenshot(
    window: QWidget,
    pending: PendingWork,
    out: str | os.PathLike,
    *,
    load: Callable[[], None] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> int:
    """Show ``window`` without putting it on screen, run ``load``, wait, grab and save to ``out``.

    Returns a process exit code: 0 on success, 1 with a message on stderr when loading or saving failed.
    """
    # Laid out and painted like a shown window, but never mapped: no flash on a real desktop.
    window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    window.show()
    try:
        if load is not None:
            load()
        wait_until_idle(pending, timeout_s)
        saved = save_widget_png(window, out)
    except DistilPoseError as exc:
        print(f"distilpose-studio: screenshot not written: {exc}", file=sys.stderr)
        return 1
    finally:
        window.close()
    print(f"distilpose-studio: screenshot written to {saved}", file=sys.stderr)
    return 0
