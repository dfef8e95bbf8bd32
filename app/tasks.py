"""One way to run a piece of work off the GUI thread: :class:`BackgroundTask`.

Why: six thread classes each repeated the same try / message / emit, and each invented its own cancel flag
and its own names for "done" and "failed". A task here runs ``work(task)`` once and ends with exactly one of
``succeeded(result)``, ``failed(message)`` or ``cancelled(message)``; ``progress`` and ``status`` carry what
it reports on the way. The work is plain Python (the library's functions), so it stays testable without Qt.

The task object is created, and so lives, in the GUI thread; its signals are emitted from the worker and
queued to receivers there. Long-lived request loops (live inference, camera, heatmap assist) are not tasks:
they keep their own threads in ``workers.py`` and ``assist.py``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from distilpose.errors import DistilPoseError


class TaskCancelled(Exception):
    """Raise it (or let :meth:`BackgroundTask.check_cancelled` raise it) to end a task as cancelled."""


def error_message(exc: BaseException) -> str:
    """What a person reads when background work fails: the library's own message (it names the file and
    the problem), the file and reason of an OS error, else the exception (with its traceback on stderr,
    because that one is a bug)."""
    if isinstance(exc, DistilPoseError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    traceback.print_exception(exc, file=sys.stderr)
    return f"unexpected error: {type(exc).__name__}: {exc}"


class BackgroundTask(QThread):
    """Runs ``work(self)`` in its own thread, once. See the module docs.

    ``cancel_types``: exceptions that mean "the user stopped it" besides :class:`TaskCancelled` (a library's
    own cancellation error); their message is what ``cancelled`` carries.
    """

    progress = Signal(int, int)  # done, total
    status = Signal(str)  # a line for a status label
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal(str)

    def __init__(
        self,
        name: str,
        work: Callable[[BackgroundTask], Any],
        parent: QObject | None = None,
        cancel_types: tuple[type[BaseException], ...] = (),
    ) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._work = work
        self._cancel_types = (TaskCancelled, *cancel_types)
        self._cancel_requested = False

    def cancel(self) -> None:
        """Ask the work to stop at its next check (:meth:`is_cancelled`); it ends with ``cancelled``."""
        self._cancel_requested = True
        self.requestInterruption()

    def is_cancelled(self) -> bool:
        return self._cancel_requested

    def check_cancelled(self) -> None:
        """Raise :class:`TaskCancelled` when a cancel was asked for (for work that reports progress)."""
        if self._cancel_requested:
            raise TaskCancelled("cancelled")

    def report(self, done: int, total: int) -> None:
        self.progress.emit(done, total)

    def say(self, text: str) -> None:
        self.status.emit(text)

    def run(self) -> None:
        try:
            result = self._work(self)
        except self._cancel_types as exc:
            self.cancelled.emit(str(exc) or "cancelled")
        except Exception as exc:  # a bug must end in a message, not a silently dead thread
            if self._cancel_requested:
                self.cancelled.emit("cancelled")
            else:
                self.failed.emit(error_message(exc))
        else:
            self.succeeded.emit(result)
