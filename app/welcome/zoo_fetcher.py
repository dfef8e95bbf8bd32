"""The model-zoo fetch off the GUI thread, on the app's worker model (a QThread, like exports and jobs).

Cancelling takes effect at the fetch's next step (download done, verified, extracted, each model installed);
the fetch itself guarantees that an interrupted run leaves the cache as it was. A running npm download
cannot be interrupted, so a window closed mid-fetch cancels it and hands the thread to :func:`_keep_until_done`
rather than destroying a running QThread (which aborts the process): the process exits once that step ends.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from distilpose.app.tasks import BackgroundTask
from distilpose.zoo import fetch as zoo_fetch

#: ``fetch(name, *, progress)`` -> graph paths; the signature of :func:`distilpose.zoo.fetch.fetch`.
FetchFunction = Callable[..., list[Path]]
#: Fetch threads whose window has gone: referenced until they end (see the module docs).
_DETACHED: list[QThread] = []


def _fetch_task(name: str, fetch_function: FetchFunction | None, parent: QObject | None) -> BackgroundTask:
    """One fetch as a task: ``status`` per step, ``succeeded`` with the installed graphs' paths (str)."""

    def work(task: BackgroundTask) -> list[str]:
        # Looked up now, not at import: tests (and a future mirror option) replace the module's function.
        fetch = fetch_function or zoo_fetch.fetch

        def progress(text: str) -> None:
            task.check_cancelled()  # stops the fetch between two of its steps
            task.say(text)

        return [str(p) for p in fetch(name, progress=progress)]

    return BackgroundTask("distilpose-zoo-fetch", work, parent)


class ZooFetcher(QObject):
    """Starts fetches and relays their signals; one at a time."""

    message = Signal(str)
    succeeded = Signal(object)  # the installed graphs (list of str)
    failed = Signal(str)
    cancelled = Signal()
    #: The fetch has ended (after the signal that says how).
    done = Signal()

    def __init__(self, parent: QObject | None = None, fetch_function: FetchFunction | None = None) -> None:
        super().__init__(parent)
        self._fetch_function = fetch_function
        self._thread: BackgroundTask | None = None
        self._running = False

    def is_running(self) -> bool:
        return self._running

    def start(self, name: str = "all") -> bool:
        """Start fetching ``name`` (or ``"all"``); False when a fetch is already running."""
        if self._running:
            return False
        thread = _fetch_task(name, self._fetch_function, self)
        thread.status.connect(self.message)
        thread.succeeded.connect(self.succeeded)
        thread.failed.connect(self.failed)
        thread.cancelled.connect(self._on_cancelled)
        thread.finished.connect(self._on_finished)
        thread.finished.connect(thread.deleteLater)
        self._thread, self._running = thread, True
        thread.start()
        return True

    def cancel(self) -> None:
        if self._thread is not None:
            self._thread.cancel()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the worker ends (tests); True when it has."""
        thread = self._thread
        if thread is None:
            return True
        return thread.wait(-1 if timeout_s is None else int(timeout_s * 1000))

    def shutdown(self) -> None:
        """The window closes: cancel, and keep a fetch that is still running alive until it ends."""
        thread = self._thread
        if thread is None or not self._running:
            return
        thread.cancel()
        thread.setParent(None)
        _DETACHED.append(thread)
        thread.finished.connect(lambda: _DETACHED.remove(thread) if thread in _DETACHED else None)
        self._thread = None

    @Slot(str)
    def _on_cancelled(self, _text: str) -> None:
        self.cancelled.emit()

    @Slot()
    def _on_finished(self) -> None:
        """The task has ended (after the signal that said how)."""
        if self.sender() is not self._thread:
            return  # a detached fetch (window closed) ending
        self._thread, self._running = None, False
        self.done.emit()


@atexit.register
def _wait_for_detached() -> None:
    """A QThread destroyed while it runs aborts the process: let a detached fetch finish its step first."""
    for thread in list(_DETACHED):
        thread.wait()
