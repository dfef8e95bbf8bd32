"""Garbage collection on the GUI thread only.

Why: CPython collects cyclic garbage in whichever thread happens to allocate when a threshold is crossed.
When that is a worker thread (the inference or export worker building a model) and the garbage holds Qt
objects (a closed window's menus, kept in a reference cycle), PySide6 destroys them there: the worker, inside
``~QObject``, waits for the GIL while the GUI thread, holding the GIL, waits for that object's mutex. The
process hangs. So automatic collection is switched off and a timer on the GUI thread collects instead,
generation by generation, when CPython's own thresholds say a collection is due.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

#: How often the GUI thread looks at the allocation counts (a collection is only run when one is due).
INTERVAL_MS = 250


class MainThreadCollector(QObject):
    """Owns automatic garbage collection while started: ``start()`` switches CPython's off, ``stop()`` collects
    once more (on this thread) and switches it back on."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self._was_enabled = gc.isenabled()

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()

    def collect_due(self) -> int:
        """Collect the oldest generation whose count passed its threshold (as CPython would); the number of
        objects found unreachable."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if thresholds[generation] and counts[generation] > thresholds[generation]:
                return gc.collect(generation)
        return 0


def install(app: QObject) -> MainThreadCollector:
    """Start GUI-thread collection for the running application (once; later calls return the same one)."""
    existing = app.findChild(MainThreadCollector)
    if existing is not None:
        return existing
    collector = MainThreadCollector(app)
    collector.start()
    return collector


def uninstall() -> None:
    """Stop the application's collector, if any (CPython's automatic collection is back on)."""
    from PySide6.QtCore import QCoreApplication

    app = QCoreApplication.instance()
    collector = app.findChild(MainThreadCollector) if app is not None else None
    if collector is not None:
        collector.stop()
        collector.setParent(None)
        collector.deleteLater()
