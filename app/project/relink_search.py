"""Searching a folder for a project's missing media off the GUI thread (ADR 0032).

Walking a large folder (up to :data:`~distilpose.project.relink.MAX_SEARCHED` entries), or any folder on a
slow network share, takes seconds to minutes; on the GUI thread the window froze for that long with no way
out. The search itself is the library's (:func:`distilpose.project.relink.search`, the
CLI's too); here it runs as a :class:`~distilpose.app.tasks.BackgroundTask` that says where it is and stops
on Cancel. It only reads the file system: the relink edit is made on the GUI thread from its result.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QProgressDialog, QWidget

from distilpose.app.tasks import BackgroundTask
from distilpose.project.relink import MissingMedia, SearchResult, search

#: Seconds between two "looked through N entries" lines (a folder a millisecond would flood the GUI).
STATUS_INTERVAL_S = 0.1
#: Widest line of the dialog's label; a longer path is elided in the middle.
LABEL_WIDTH_PX = 520


def relink_search_task(
    missing: Sequence[MissingMedia], folder: str, taken: Sequence[Path], parent: QObject | None = None
) -> BackgroundTask:
    """A task whose ``succeeded`` carries the :class:`SearchResult` of looking for ``missing`` under
    ``folder`` (files in ``taken`` are media of the project already); ``status`` says how far it got;
    :meth:`~BackgroundTask.cancel` ends it with ``cancelled`` at the next folder."""

    def work(task: BackgroundTask) -> SearchResult:
        last = 0.0

        def progress(seen: int, where: Path) -> None:
            nonlocal last
            task.check_cancelled()
            now = time.monotonic()
            if now - last >= STATUS_INTERVAL_S:
                last = now
                task.status.emit(f"Looked through {seen:,} files and folders, now in\n{where}")

        return search(missing, [folder], taken, progress)

    return BackgroundTask("relink-search", work, parent)


def search_dialog(task: BackgroundTask, folder: str, count: int, parent: QWidget) -> QProgressDialog:
    """A window-modal busy dialog for ``task`` (shown only when it takes over half a second): the folder,
    how far the search got, and a Cancel that stops it."""
    searching = f"Searching {folder} for {count} missing media file(s)…"
    dialog = QProgressDialog("", "Cancel", 0, 0, parent)
    metrics = dialog.fontMetrics()

    def show(text: str) -> None:
        # a deep path would widen the dialog past the screen (a progress dialog grows to its label, never back)
        lines = (metrics.elidedText(line, Qt.TextElideMode.ElideMiddle, LABEL_WIDTH_PX) for line in text.split("\n"))
        dialog.setLabelText("\n".join(lines))

    show(searching)
    dialog.setWindowTitle("Relink Missing Media")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)  # no other project opened under the search
    dialog.setMinimumDuration(500)
    dialog.setValue(0)  # starts the half-second clock; without it Qt waits its default four seconds
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.canceled.connect(task.cancel)
    task.status.connect(lambda text: show(f"{searching}\n{text}"))
    return dialog
