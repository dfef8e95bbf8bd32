"""Pre-labelling: run the chosen model on frames of the project and store its people as predictions.

The work runs in a :class:`PrelabelThread` with its own store connection (a SQLite connection belongs to one
thread) and its own models; each frame is ONE store transaction (its old unverified predictions replaced by
the new ones), so a cancel or a crash keeps every finished frame and nothing half-written. The GUI does not
redraw per frame (X-AnyLabeling's batch labelling is 5 img/s for that reason): the window refreshes the frame
list when the batch ends and records one undo command for the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QThread, Signal

from distilpose.app.editing import predictions_of
from distilpose.app.workers import LiveSettings, ModelLoader, _message
from distilpose.detection import make_detector
from distilpose.errors import DistilPoseError
from distilpose.inference.live import LivePipeline
from distilpose.project import Edit, ProjectStore
from distilpose.types import Instance
from distilpose.video import FrameSource, ImageFile, ImageFolder, VideoReader

PREDICTION_SOURCES = ("student", "teacher")


@dataclass
class FrameOutcome:
    """What pre-labelling wrote on one frame: the new instance ids and the predictions they replaced."""

    frame_id: int
    added: list[int] = field(default_factory=list)
    replaced: list[Instance] = field(default_factory=list)

    def undo_edits(self) -> list[Edit]:
        return [Edit("delete_instance", {"instance_id": i}) for i in self.added] + [
            Edit("restore_instance", {"instance": inst}) for inst in self.replaced
        ]


def write_predictions(store: ProjectStore, frame_id: int, people: Sequence[Instance]) -> FrameOutcome:
    """Replace the frame's unverified model predictions by ``people`` in one transaction. People and
    verified instances stay."""
    outcome = FrameOutcome(frame_id)
    with store.transaction("prelabel", {"frame_id": frame_id, "instances": len(people)}):
        for old in store.instances(frame_id):
            if old.source in PREDICTION_SOURCES and not old.extras["verified"]:
                outcome.replaced.append(store.delete_instance(old.extras["id"]))
        outcome.added = [store.add_instance(frame_id, inst) for inst in people]
    return outcome


class FrameReader:
    """Pixels of project frames, keeping one reader per media open (frames of a video come in order)."""

    def __init__(self, store: ProjectStore) -> None:
        self.store = store
        self._sources: dict[int, FrameSource] = {}

    def read(self, frame_id: int) -> np.ndarray:
        frame = self.store.frame(frame_id)
        source = self._sources.get(frame.media_id)
        if source is None:
            media = self.store.media(frame.media_id)
            path = self.store.media_path(media.id)
            kinds = {"image": ImageFile, "video": VideoReader, "folder": ImageFolder}
            source = kinds[media.kind](path)
            self._sources[frame.media_id] = source
        return source.frame(frame.index)

    def close(self) -> None:
        for source in self._sources.values():
            source.close()
        self._sources.clear()


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
    ) -> None:
        super().__init__(parent)
        self.setObjectName("prelabel")
        self.project_path = project_path
        self.frame_ids = list(frame_ids)
        self.settings = settings
        self._loader = loader
        self.timeout = timeout
        self.threshold = threshold  # keypoints scoring below it are stored as not labelled (v=0)
        self._cancel = False
        self.outcomes: list[FrameOutcome] = []
        self.cancelled = False

    def cancel(self) -> None:
        self._cancel = True

    def run(self) -> None:
        store = reader = None
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
            reader = FrameReader(store)
            total = len(self.frame_ids)
            for done, frame_id in enumerate(self.frame_ids, start=1):
                if self._cancel:
                    self.cancelled = True
                    break
                try:
                    image = reader.read(frame_id)
                except DistilPoseError as exc:
                    self.frameFailed.emit(frame_id, str(exc))
                    self.progress.emit(done, total)
                    continue
                result = pipeline.process(image)
                teacher_name = teacher.name if teacher is not None else None
                people = predictions_of(result, model.name, teacher_name, self.threshold)
                outcome = write_predictions(store, frame_id, people)
                self.outcomes.append(outcome)
                self.frameDone.emit(outcome)
                self.progress.emit(done, total)
        except Exception as exc:
            self.failed.emit(_message(exc))
        finally:
            if reader is not None:
                reader.close()
            if store is not None:
                store.close()
