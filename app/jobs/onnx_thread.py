"""Export a finished job's student to ONNX off the GUI thread (tracing and the ORT check take seconds)."""

from __future__ import annotations

from pathlib import Path

from distilpose.app.tasks import BackgroundTask


def onnx_export_task(job_id: int, weights: Path, out: Path, parent=None) -> BackgroundTask:
    """``load_model(weights)`` then ``export_onnx`` to ``out``; ``succeeded`` carries the ONNX path (str)."""

    def work(_task: BackgroundTask) -> str:
        from distilpose.inference.onnx_service import export_onnx
        from distilpose.models.checkpoint import load_model

        model, _spec = load_model(weights)
        export_onnx(model, out)
        return str(out)

    return BackgroundTask(f"onnx-export-job-{job_id}", work, parent)
