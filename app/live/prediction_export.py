"""Export Predictions (File menu, ``Ctrl+E``): the live settings run over every frame of the open video, folder
or image in a worker thread, with a progress dialog that can cancel; it writes a COCO results file, its image
list and a rendered video, or nothing at all.

Beside :mod:`distilpose.app.project.actions` (the project's dataset export): the window only creates it and
wires its action.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QProgressDialog

from distilpose.app.live.workers import export_task
from distilpose.app.tasks import BackgroundTask
from distilpose.inference.prediction_export import ExportResult

#: How long a status-bar message stays (ms).
STATUS_TIMEOUT_MS = 10_000
NOTHING_TO_EXPORT = "Open a video, a folder of images or an image first."


class PredictionExport(QObject):
    """See the module docs. ``window`` is the MainWindow (state, live, dialogs, status bar, report_error)."""

    #: An export ended: True on success, False when it failed or was cancelled.
    finished = Signal(bool)

    def __init__(self, window, model_loader) -> None:
        super().__init__(window)
        self.window = window
        self.state = window.state
        self._loader = model_loader
        self.thread: BackgroundTask | None = None
        self.result: ExportResult | None = None
        self._ok = False
        self.dialog: QProgressDialog | None = None

    def ask(self) -> None:
        if self.state.media_kind not in ("video", "folder", "image"):
            self.window.report_error("Nothing to export", NOTHING_TO_EXPORT)
            return
        path = self.window.dialogs.save_file(
            self.window, "Export Predictions (COCO results JSON)", "COCO results (*.json)"
        )
        if path:
            self.start(path)

    def start(self, results_path: str | os.PathLike, video: bool = True) -> bool:
        """Export the open media's predictions to ``results_path`` (+ ``.images.json`` and, with ``video``,
        a rendered ``.mp4`` beside it) in a worker thread, with a progress dialog that can cancel."""
        window, source = self.window, self.state.source
        if source is None or source.kind == "camera":
            window.report_error("Nothing to export", NOTHING_TO_EXPORT)
            return False
        if self.thread is not None:
            window.report_error("Export running", "Wait for the current export to finish or cancel it.")
            return False
        results = Path(results_path)
        if results.suffix.lower() != ".json":
            results = results.with_name(results.name + ".json")
        video_path = results.with_suffix(".mp4") if video else None
        settings = replace(window.live.settings, user_boxes=tuple(self.state.user_boxes), heatmaps=False)
        source_path = source.path if hasattr(source, "path") else None
        if source_path is None:
            return False
        thread = export_task(source_path, settings, results, video_path, self.state.threshold, self._loader)
        thread.progress.connect(self._on_progress)
        thread.succeeded.connect(self._on_succeeded)
        thread.failed.connect(lambda message: window.report_error("Export failed", message))
        thread.cancelled.connect(self._on_cancelled)
        thread.finished.connect(self._on_thread_done)
        dialog = QProgressDialog("Exporting predictions…", "Cancel", 0, max(1, len(source)), window)
        dialog.setWindowTitle("Export")
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(thread.cancel)
        dialog.open()
        self.dialog = dialog
        self.thread = thread
        self.result = None
        self._ok = False
        self.state.pending.begin("export")
        thread.start()
        return True

    def cancel(self) -> None:
        if self.thread is not None:
            self.thread.cancel()

    def shutdown(self) -> None:
        """The window closes: stop the worker (a running QThread destroyed with its owner aborts)."""
        if self.thread is not None:
            self.thread.cancel()
            self.thread.wait(60_000)

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, STATUS_TIMEOUT_MS)

    def _on_progress(self, done: int, total: int) -> None:
        # a local reference: a window-modal setValue() processes events, and the export may finish (and clear
        # self.dialog) inside it
        dialog = self.dialog
        if dialog is not None:
            dialog.setMaximum(total)
            dialog.setValue(done)
            dialog.setLabelText(f"Exporting predictions… frame {done} of {total}")

    def _on_succeeded(self, result: ExportResult) -> None:
        self.result = result
        written = [str(result.results_path), str(result.images_path)]
        if result.video_path is not None:
            written.append(str(result.video_path))
        self._status(f"Exported {result.instances} predictions from {result.frames} frames: {', '.join(written)}")
        self._ok = True

    def _on_cancelled(self, message: str) -> None:
        self._status(f"{message}; nothing was written")

    def _on_thread_done(self) -> None:
        """The thread has ended (after its last signal): close the dialog and tell listeners."""
        thread, self.thread = self.thread, None
        if thread is not None:
            thread.deleteLater()
        if self.dialog is not None:
            self.dialog.canceled.disconnect()
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
        self.state.pending.end("export")
        self.finished.emit(self._ok)
