"""Heatmap assist: the teacher's heatmaps of the person being edited, for the heatmap dock and snap-to-peak.

When a joint of a project person is selected (a drag starts with that), the teacher runs once on the person's
box in a worker thread (latest request wins, like the live worker) and the result is cached per frame, person
and box: the heatmaps depend only on the crop, so dragging joints does not recompute them, moving the whole
person does. The teacher is the model panel's comparison model, or the live model when that is a teacher.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QMutex, QMutexLocker, QObject, QThread, QWaitCondition, Signal

from distilpose.app.live.workers import ModelLoader
from distilpose.app.state import AppState
from distilpose.app.tasks import error_message
from distilpose.inference.predictor import CropGeometry
from distilpose.models import model_spec


@dataclass
class EditHeatmap:
    """Heatmaps (K, h, w) of one project person on one frame, with the crop that maps them to the image."""

    frame_id: int
    instance_id: int
    box: tuple[float, float, float, float]
    heatmaps: np.ndarray
    crop: CropGeometry
    model: str


@dataclass
class _Request:
    request_id: int
    model: str
    runtime: str
    image: np.ndarray
    box: tuple[float, float, float, float]


class AssistWorker(QThread):
    """Loads the teacher (once per name) and computes heatmaps for the newest request only."""

    ready = Signal(int, object, object)  # request id, heatmaps (K, h, w), CropGeometry
    failed = Signal(int, str)

    def __init__(self, loader: ModelLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("heatmap-assist")
        self._loader = loader
        self._mutex = QMutex()
        self._wake = QWaitCondition()
        self._request: _Request | None = None
        self._stop = False
        self._model = None
        self._model_key: tuple | None = None

    def submit(self, request: _Request) -> None:
        with QMutexLocker(self._mutex):
            self._request = request
            self._wake.wakeOne()

    def stop(self, timeout_ms: int = 60_000) -> bool:
        with QMutexLocker(self._mutex):
            self._stop = True
            self._request = None
            self._wake.wakeOne()
        return self.wait(timeout_ms)

    def run(self) -> None:
        while True:
            self._mutex.lock()
            try:
                while not self._stop and self._request is None:
                    self._wake.wait(self._mutex)
                if self._stop:
                    return
                request, self._request = self._request, None
            finally:
                self._mutex.unlock()
            try:
                key = (request.model, request.runtime)
                if self._model is None or self._model_key != key:
                    self._model = None
                    self._model = self._loader(request.model, request.runtime, False)
                    self._model_key = key
                people = self._model.predictor.predict(
                    request.image, np.asarray([request.box], dtype=np.float64), return_heatmaps=True
                )
                heatmaps = people[0].extras.get("heatmaps") if people else None
                if heatmaps is None:
                    raise ValueError(f"{request.model} gave no heatmaps")
                self.ready.emit(request.request_id, np.asarray(heatmaps), people[0].extras["crop"])
            except Exception as exc:  # a missing model must not kill the thread
                self.failed.emit(request.request_id, error_message(exc))


def assist_model(model: str, teacher: str | None) -> str | None:
    """The model whose heatmaps assist editing: the comparison model, else the live model when it is a
    teacher (TokenPose, MoveNet)."""
    if teacher:
        return teacher
    try:
        spec = model_spec(model)
    except Exception:  # a checkpoint path or an unknown name: no teacher heatmaps to offer
        return None
    return model if spec.is_teacher else None


class HeatmapAssist(QObject):
    """Keeps ``state.edit_heatmap`` up to date for the selected project person while enabled."""

    enabledChanged = Signal(bool)
    errorOccurred = Signal(str, str)

    def __init__(self, state: AppState, live, loader: ModelLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.live = live
        self._loader = loader
        self.enabled = False
        self.worker: AssistWorker | None = None
        self._request_id = 0
        self._pending: dict[int, tuple[int, int, tuple, str]] = {}  # request -> frame, person, box, model
        self._in_flight = False
        self._cache: dict[tuple, EditHeatmap] = {}
        state.jointChanged.connect(self._on_joint)
        state.instancesChanged.connect(self._on_joint)
        state.projectChanged.connect(self._cache.clear)

    def model(self) -> str | None:
        s = self.live.settings
        return assist_model(s.model, s.teacher)

    def set_enabled(self, on: bool) -> None:
        on = bool(on)
        if on == self.enabled:
            return
        if on and self.model() is None:
            self.errorOccurred.emit(
                "Heatmap assist needs a teacher",
                "Choose a heatmap teacher in the Model panel ('Compare with', e.g. movenet-thunder), or run a "
                "heatmap model live.",
            )
            self.enabledChanged.emit(False)
            return
        self.enabled = on
        if not on:
            self.state.set_edit_heatmap(None)
        self.enabledChanged.emit(on)
        self._on_joint()

    def shutdown(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self._end_pending()

    def _on_joint(self) -> None:
        state = self.state
        iid = state.selected_instance_id()
        if not self.enabled or iid is None or state.frame_id is None or state.image is None:
            return
        inst = state.instance_by_id(iid)
        box = inst.bbox if inst.bbox is not None else inst.bbox_from_keypoints(0.15)
        model = self.model()
        if box is None or model is None or box[2] <= 1 or box[3] <= 1:
            return
        box = tuple(round(float(v), 2) for v in box)
        key = (state.frame_id, iid, box, model)
        cached = self._cache.get(key)
        if cached is not None:
            state.set_edit_heatmap(cached)
            return
        current = state.edit_heatmap
        if current is not None and (current.frame_id, current.instance_id) != (state.frame_id, iid):
            state.set_edit_heatmap(None)  # never show another person's heatmap
        if self.worker is None:
            self.worker = AssistWorker(self._loader)
            self.worker.ready.connect(self._on_ready)
            self.worker.failed.connect(self._on_failed)
            self.worker.start()
        self._request_id += 1
        self._pending[self._request_id] = key
        if not self._in_flight:
            self._in_flight = True
            state.pending.begin("heatmap assist")
        self.worker.submit(_Request(self._request_id, model, self.live.settings.runtime, state.image, box))

    def _on_ready(self, request_id: int, heatmaps: np.ndarray, crop: CropGeometry) -> None:
        key = self._pending.pop(request_id, None)
        if key is None:
            return
        frame_id, iid, box, model = key
        result = EditHeatmap(frame_id, iid, box, heatmaps, crop, model)
        self._cache[key] = result
        if (self.state.frame_id, self.state.selected_instance_id()) == (frame_id, iid):
            self.state.set_edit_heatmap(result)
        if request_id == self._request_id:
            self._pending.clear()
            self._end_pending()

    def _on_failed(self, request_id: int, message: str) -> None:
        self._pending.pop(request_id, None)
        if request_id == self._request_id:
            self._pending.clear()
            self._end_pending()
            self.errorOccurred.emit("Heatmap assist failed", message)

    def _end_pending(self) -> None:
        if self._in_flight:
            self._in_flight = False
            self.state.pending.end("heatmap assist")
