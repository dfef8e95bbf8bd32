"""The report of a finished job, computed off the GUI thread: its student beside the student it started
from, MoveNet Lightning and the teacher on the job's val split, and their live FPS on a project video.

The work is the Qt-free :func:`distilpose.training.project_report.make_report`, the same as at the end of
`distilpose project distil`; the result is ``report.json`` in the job folder, so a reopened project shows it
without recomputing.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QThread, Signal

from distilpose.app.workers import _message
from distilpose.training.project_report import BENCH_FRAMES, make_report


class ComparisonThread(QThread):
    """Runs :func:`make_report` into ``out``.

    ``progressed`` carries a status line; ``succeeded`` the saved file; ``failed`` a message (also on
    cancel: :meth:`requestInterruption` stops it between images, and nothing is saved).
    """

    progressed = Signal(int, str)
    succeeded = Signal(int, str)
    failed = Signal(int, str)

    def __init__(
        self,
        job_id: int,
        config_path: Path,
        new_weights: Path,
        out: Path,
        *,
        video: str | None = None,
        name: str = "",
        frames: int = BENCH_FRAMES,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"report-job-{job_id}")
        self.job_id = job_id
        self.config_path = Path(config_path)
        self.new_weights = Path(new_weights)
        self.out = Path(out)
        self.video = video
        self.name = name
        self.frames = frames

    def run(self) -> None:
        try:
            self.progressed.emit(self.job_id, "Scoring the new student, its start, Lightning and the teacher…")
            make_report(
                self.config_path,
                self.new_weights,
                self.out,
                video=self.video,
                name=self.name,
                frames=self.frames,
                progress=self._progress,
                should_stop=self._stop,
            )
        except Exception as exc:
            cancelled = self.isInterruptionRequested()
            self.failed.emit(self.job_id, "report cancelled" if cancelled else _message(exc))
        else:
            self.succeeded.emit(self.job_id, str(self.out))

    def _stop(self) -> bool:
        return self.isInterruptionRequested()

    def _progress(self, label: str, done: int, total: int) -> None:
        self.progressed.emit(self.job_id, f"Scoring on the validation split: {label}, image {done}/{total}…")
