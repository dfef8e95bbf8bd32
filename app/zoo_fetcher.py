"""The model-zoo fetch off the GUI thread, on the app's worker model (a QThread, like exports and jobs).

Cancelling takes effect at the fetch's next step (download done, verified, extracted, each model installed);
the fetch itself guarantees that an interrupted run leaves the cache as it was. A running npm download
cannot be interrupted, so a window closed mid-fetch cancels it and hands the thread to :func:`_keep_until_done`
rather than destroying a running QThread (which aborts the process): the process exits once that step ends.
"""

from __future__ import annotations

import atexit
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from distilpose.errors import DistilPoseError
from distilpose.zoo import fetch as zoo_fetch

#: ``fetch(name, *, progress)`` -> graph paths; the signature of :func:`distilpose.zoo.fetch.fetch`.
FetchFunction = Callable[..., list[Path]]
#: Fetch threads whose window has gone: referenced until they end (see the module docs).
_DETACHED: list[QThread] = []


class FetchCancelled(Exception):
    """Raised from the progress callback to stop a fetch between two of its steps."""


class _FetchThread(QThread):
    """One fetch: reports through queued signals, ends with ``done`` after the signal that says how."""

    message = Signal(str)
    succeeded = Signal(list)
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, name: str, fetch_function: FetchFunction | None, parent: QObject | None = None):
        super().__init__(parent)
        self.setObjectName("distilpose-zoo-fetch")
        self.name = name
        self._fetch_function = fetch_function
        self.cancel_event = threading.Event()

    def run(self) -> None:
        # Looked up now, not at import: tests (and a future mirror option) replace the module's function.
        fetch = self._fetch_function or zoo_fetch.fetch

        def progress(text: str) -> None:
            if self.cancel_event.is_set():
                raise FetchCancelled
            self.message.emit(text)

        try:
            paths = fetch(self.name, progress=progress)
        except FetchCancelled:
            self.cancelled.emit()
        except DistilPoseError as exc:
            self.failed.emit(str(exc))
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            self.failed.emit(f"{where}{exc.strerror or exc}")
        except Exception as exc:  # a bug must end in a message, not a silently dead worker
            traceback.print_exc(file=sys.stderr)
            self.failed.emit(f"unexpected error: {type(exc).__name__}: {exc}")
        else:
            self.succeeded.emit([str(p) for p in paths])
        finally:
            self.done.emit()


class ZooFetcher(QObject):
    """Starts fetches and relays their signals; one at a time."""

    message = Signal(str)
    succeeded = Signal(list)
    failed = Signal(str)
    cancelled = Signal()
    #: The fetch has ended (after the signal that says how).
    done = Signal()

    def __init__(self, parent: QObject | None = None, fetch_function: FetchFunction | None = None) -> None:
        super().__init__(parent)
        self._fetch_function = fetch_function
        self._thread: _FetchThread | None = None
        self._running = False

    def is_running(self) -> bool:
        return self._running

    def start(self, name: str = "all") -> bool:
        """Start fetching ``name`` (or ``"all"``); False when a fetch is already running."""
        if self._running:
            return False
        thread = _FetchThread(name, self._fetch_function, self)
        for source, target in (
            (thread.message, self.message),
            (thread.succeeded, self.succeeded),
            (thread.failed, self.failed),
            (thread.cancelled, self.cancelled),
        ):
            source.connect(target)
        thread.done.connect(self._on_done)
        thread.finished.connect(self._on_finished)
        thread.finished.connect(thread.deleteLater)
        self._thread, self._running = thread, True
        thread.start()
        return True

    def cancel(self) -> None:
        if self._thread is not None:
            self._thread.cancel_event.set()

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
        thread.cancel_event.set()
        thread.setParent(None)
        _DETACHED.append(thread)
        thread.finished.connect(lambda: _DETACHED.remove(thread) if thread in _DETACHED else None)
        self._thread = None

    @Slot()
    def _on_done(self) -> None:
        self._running = False
        self.done.emit()

    @Slot()
    def _on_finished(self) -> None:
        if self.sender() is self._thread:
            self._thread = None


@atexit.register
def _wait_for_detached() -> None:
    """A QThread destroyed while it runs aborts the process: let a detached fetch finish its step first."""
    for thread in list(_DETACHED):
        thread.wait()
