"""Live inference in the window: feeds frames to the worker, shows its results, keeps the statistics.

The controller lives in the GUI thread. Every shown frame goes to the :class:`InferenceWorker`'s one-frame
slot (latest wins); results come back as queued signals. Work in flight is registered with
``state.pending`` so ``--screenshot`` waits for the model and the first result.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from dataclasses import dataclass, field, replace

from PySide6.QtCore import QObject, Signal

from distilpose.app.state import AppState
from distilpose.app.workers import (
    FrameJob,
    InferenceWorker,
    LiveSettings,
    ModelLoader,
    ModelStatus,
    default_loader,
)
from distilpose.inference.live import FrameResult

#: Seconds of results the FPS is averaged over.
FPS_WINDOW_S = 2.0
#: Results the per-stage medians are taken over.
STAGE_WINDOW = 15


@dataclass
class LiveStats:
    """What the status bar shows."""

    fps: float = 0.0
    stage_ms: dict[str, float] = field(default_factory=dict)  # decode, detect, pose, teacher, draw (medians)
    processed: int = 0
    dropped: int = 0
    persons: int = 0

    def text(self) -> str:
        if self.processed == 0:
            return "live: waiting for the first result"
        order = ("decode", "detect", "pose", "teacher", "draw")
        stages = " · ".join(f"{s} {self.stage_ms[s]:.0f}" for s in order if s in self.stage_ms)
        rate = f"{self.fps:.1f} FPS" if self.fps > 0 else "– FPS"  # one result is no rate
        return f"{rate} · {stages} ms · dropped {self.dropped}"


class LiveController(QObject):
    """Owns the inference worker; connects the state's frames to it and its results to the state."""

    enabledChanged = Signal(bool)
    settingsChanged = Signal(object)  # LiveSettings
    statusChanged = Signal(object)  # ModelStatus, or None while loading / after a failure
    statsChanged = Signal(object)  # LiveStats
    busyChanged = Signal(str)  # what the worker is doing ("" when idle)
    errorOccurred = Signal(str, str)  # title, text

    def __init__(self, state: AppState, loader: ModelLoader = default_loader, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self._loader = loader
        self.worker: InferenceWorker | None = None
        self.enabled = False
        self.settings = LiveSettings()
        self.status: ModelStatus | None = None
        self.stats = LiveStats()
        self._job_id = 0
        self._job_media: dict[int, int] = {}  # job id -> media generation it was taken from
        self._media = 0
        self._request_id = 0
        self._frame_pending = False
        self._settings_pending = False
        self._result_times: deque[float] = deque()
        self._stage_history: deque[dict[str, float]] = deque(maxlen=STAGE_WINDOW)
        state.frameChanged.connect(self._on_frame_changed)
        state.mediaChanged.connect(self._on_media_changed)
        state.userBoxesChanged.connect(self._on_user_boxes_changed)

    # ---------------------------------------------------------------- control
    def set_enabled(self, on: bool) -> None:
        """Start or stop live inference; starting loads the model (off the GUI thread) and runs the shown frame."""
        on = bool(on)
        if on == self.enabled:
            return
        self.enabled = on
        if on:
            self._ensure_worker()
            self._send_settings()
            self._submit_current()
        else:
            self._end_frame_pending()
            self.state.set_prediction(None)
        self.enabledChanged.emit(on)

    def update_settings(self, **changes: object) -> None:
        """Change settings (model, runtime, flip, teacher, detector, ...); applied before the next frame."""
        new = replace(self.settings, **changes)
        if new == self.settings:
            return
        self.settings = new
        self.settingsChanged.emit(new)
        if self.enabled:
            self._send_settings()
            self._submit_current()

    def rerun(self) -> None:
        """Run the shown frame again (after a setting that changes predictions)."""
        if self.enabled:
            self._submit_current()

    def shutdown(self) -> None:
        """Stop the worker thread (window closing); pending work is released."""
        self._end_frame_pending()
        self._end_settings_pending()
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.enabled = False

    # ---------------------------------------------------------------- worker
    def _ensure_worker(self) -> None:
        if self.worker is not None:
            return
        worker = InferenceWorker(self._loader)
        worker.resultReady.connect(self._on_result)
        worker.jobFailed.connect(self._on_job_failed)
        worker.settingsApplied.connect(self._on_settings_applied)
        worker.settingsFailed.connect(self._on_settings_failed)
        worker.status.connect(self._on_worker_status)
        worker.start()
        self.worker = worker

    def _send_settings(self) -> None:
        assert self.worker is not None
        self._request_id += 1
        settings = replace(self.settings, user_boxes=tuple(self.state.user_boxes))
        self.worker.configure(self._request_id, settings)
        self.status = None
        self.statusChanged.emit(None)
        if not self._settings_pending:
            self._settings_pending = True
            self.state.pending.begin("loading model")

    def _submit_current(self) -> None:
        state = self.state
        if not self.enabled or self.worker is None or state.image is None:
            return
        self._job_id += 1
        self._job_media[self._job_id] = self._media
        index = state.frame_index if state.frame_index >= 0 else None
        self.worker.submit(FrameJob(self._job_id, state.image, index, state.frame_time()))
        self.stats.dropped = self.worker.counters.dropped
        if not self._frame_pending:
            self._frame_pending = True
            state.pending.begin("inference")

    def _end_frame_pending(self) -> None:
        if self._frame_pending:
            self._frame_pending = False
            self.state.pending.end("inference")

    def _end_settings_pending(self) -> None:
        if self._settings_pending:
            self._settings_pending = False
            self.state.pending.end("loading model")

    # ---------------------------------------------------------------- state slots
    def _on_frame_changed(self) -> None:
        self._submit_current()

    def _on_media_changed(self) -> None:
        if self.state.source is None:
            return  # a camera stopped: its last frame stays, and so may the results for it
        self._media += 1  # results for frames of the previous media are dropped on arrival
        self._result_times.clear()

    def _on_user_boxes_changed(self) -> None:
        if self.enabled and self.settings.detector == "user-boxes":
            self._send_settings()
            self._submit_current()

    # ---------------------------------------------------------------- worker slots (queued: GUI thread)
    def _on_result(self, job_id: int, result: FrameResult) -> None:
        media = self._job_media.pop(job_id, None)
        for old in [j for j in self._job_media if j < job_id]:
            del self._job_media[old]  # replaced in the slot: never coming back
        if self.enabled and media == self._media:
            start = time.perf_counter()
            self.state.set_prediction(result)
            draw_ms = (time.perf_counter() - start) * 1000.0
            self._record(result, draw_ms)
        if job_id == self._job_id:
            self._end_frame_pending()

    def _on_job_failed(self, job_id: int, message: str) -> None:
        self._job_media.pop(job_id, None)
        if job_id == self._job_id:
            self._end_frame_pending()
            self.errorOccurred.emit("Live inference failed", message)

    def _on_settings_applied(self, request_id: int, status: ModelStatus) -> None:
        if request_id != self._request_id:
            return
        self.status = status
        self.statusChanged.emit(status)
        self.busyChanged.emit("")
        self._end_settings_pending()
        if status.warning:
            self.errorOccurred.emit("Live inference", status.warning)

    def _on_settings_failed(self, request_id: int, message: str) -> None:
        if request_id != self._request_id:
            return
        self.busyChanged.emit("")
        self._end_settings_pending()
        self.errorOccurred.emit("Cannot load the model", message)

    def _on_worker_status(self, text: str) -> None:
        self.busyChanged.emit(text)

    # ---------------------------------------------------------------- statistics
    def _record(self, result: FrameResult, draw_ms: float) -> None:
        now = time.monotonic()
        self._result_times.append(now)
        while self._result_times and now - self._result_times[0] > FPS_WINDOW_S:
            self._result_times.popleft()
        times = {"decode": self.state.decode_ms, **result.times_ms, "draw": draw_ms}
        self._stage_history.append(times)
        keys = [k for k in ("decode", "detect", "pose", "teacher", "draw") if k in times]
        stats = self.stats
        stats.stage_ms = {k: statistics.median(h.get(k, 0.0) for h in self._stage_history) for k in keys}
        n = len(self._result_times)
        span = self._result_times[-1] - self._result_times[0] if n > 1 else 0.0
        stats.fps = (n - 1) / span if span > 0 else 0.0
        stats.processed += 1
        stats.persons = len(result.instances)
        if self.worker is not None:
            stats.dropped = self.worker.counters.dropped
        self.statsChanged.emit(stats)
