"""A counter of work in flight, so that ``--screenshot`` can wait until the window shows its final state.

Anything asynchronous (loading threads, inference workers, jobs) calls :meth:`PendingWork.begin` when it starts
and :meth:`PendingWork.end` when its result has reached the state; the screenshot waits for :meth:`is_idle`.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

from PySide6.QtCore import QObject, Signal


class PendingWork(QObject):
    """Named counters of unfinished work; emits ``changed`` with the total after each change."""

    changed = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._counts: Counter[str] = Counter()

    def begin(self, what: str) -> None:
        self._counts[what] += 1
        self.changed.emit(self.total())

    def end(self, what: str) -> None:
        if self._counts[what] <= 0:
            raise RuntimeError(f"PendingWork.end({what!r}) without a matching begin()")
        self._counts[what] -= 1
        if self._counts[what] == 0:
            del self._counts[what]
        self.changed.emit(self.total())

    @contextlib.contextmanager
    def busy(self, what: str) -> Iterator[None]:
        """Mark synchronous work (or work that finishes in this scope) as pending."""
        self.begin(what)
        try:
            yield
        finally:
            self.end(what)

    def total(self) -> int:
        return sum(self._counts.values())

    def is_idle(self) -> bool:
        return not self._counts

    def describe(self) -> str:
        """What is still pending, for timeout messages, e.g. ``"inference x2, loading"``."""
        return ", ".join(f"{name} x{n}" if n > 1 else name for name, n in sorted(self._counts.items()))
