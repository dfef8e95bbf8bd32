"""The app's pre-labelling worker: :class:`distilpose.prelabel.Prelabeller` in a QThread.

The work runs in a :class:`PrelabelThread` with its own store connection (a SQLite connection belongs to one
thread) and its own models; each frame is ONE store transaction, so a cancel or a crash keeps every finished
frame and nothing half-written. The frames of a video are tracked (each person keeps one id across frames).
The GUI does not redraw per frame (X-AnyLabeling's batch labelling is 5 img/s for that reason): the window
refreshes the frame list when the batch ends and records one undo command for the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QThread, Signal

from distilpose.app.live.workers import LiveSettings, ModelLoader
from distilpose.app.tasks import error_message
from distilpose.detection import make_detector
from distilpose.pipeline import LivePipeline
from distilpose.prelabel import (  # noqa: F401  (the names the app has always imported from here)
    PREDICTION_SOURCES,
    FrameOutcome,
    FrameReader,
    Prelabeller,
    write_predictions,
)
from distilpose.project import ProjectStore


class PrelabelThread(QThread):
    """Pre-labels ``frame_ids`` with the model (and comparison teacher) of ``settings``."""

    progress = Signal(int, int)  # frames done, total
    frameDone = Signal(object)  # FrameOutcome
    failed = Signal(str)
    frameFailed = Signal(int, str)  # frame id, why (an unreadable image does not stop the batch)

    def __init__(
        self,
        project_path,
        frame_ids: Sequence[int],
        settings: LiveSettings,
        loader: ModelLoader,
        timeout: float = 5.0,
        threshold: float = 0.0,
        parent=None,
        track: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("prelabel")
        self.project_path = project_path
        self.frame_ids = list(frame_ids)
        self.settings = settings
        self._loader = loader
        self.timeout = timeout
        self.threshold = threshold  # keypoints scoring below it are stored as not labelled (v=0)
        self.track = track  # track ids for the frames of videos and folders
        self._cancel = False
        self.outcomes: list[FrameOutcome] = []
        self.cancelled = False

    def cancel(self) -> None:
        self._cancel = True

    def _stop(self) -> bool:
        self.cancelled = self.cancelled or self._cancel
        return self._cancel

    def run(self) -> None:
        store = None
        try:
            s = self.settings
            model = self._loader(s.model, s.runtime, s.flip)
            teacher = self._loader(s.teacher, s.runtime, s.flip) if s.teacher else None
            detector = make_detector(
                "full-frame" if s.detector == "user-boxes" else s.detector, tracking=False
            )
            pipeline = LivePipeline(
                model.predictor, detector, teacher=teacher.predictor if teacher is not None else None
            )
            store = ProjectStore.open(self.project_path, timeout=self.timeout)
            labeller = Prelabeller(
                store,
                pipeline,
                model.name,
                teacher.name if teacher is not None else None,
                threshold=self.threshold,
                track=self.track,
            )
            for step in labeller.run(self.frame_ids, self._stop):
                if step.error is not None:
                    self.frameFailed.emit(step.frame_id, step.error)
                elif step.outcome is not None:
                    self.outcomes.append(step.outcome)
                    self.frameDone.emit(step.outcome)
                self.progress.emit(step.done, step.total)
        except Exception as exc:
            self.failed.emit(error_message(exc))
        finally:
            if store is not None:
                store.close()
