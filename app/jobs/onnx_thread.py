"""Export a finished job's student to ONNX off the GUI thread (tracing and the ORT check take seconds)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QThread, Signal

from distilpose.app.workers import _message


class OnnxExportThread(QThread):
    """``load_model(weights)`` then ``export_onnx`` to ``out``; ``succeeded`` carries the ONNX path."""

    succeeded = Signal(int, str)
    failed = Signal(int, str)

    def __init__(self, job_id: int, weights: Path, out: Path, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName(f"onnx-export-job-{job_id}")
        self.job_id = job_id
        self.weights = weights
        self.out = out

    def run(self) -> None:
        try:
            from distilpose.inference.onnx_service import export_onnx
            from distilpose.models.checkpoint import load_model

            model, _spec = load_model(self.weights)
            export_onnx(model, self.out)
        except Exception as exc:
            self.failed.emit(self.job_id, _message(exc))
        else:
            self.succeeded.emit(self.job_id, str(self.out))
