"""Threads off the GUI thread: the live inference worker (latest frame wins), batch export, camera capture.

Each thread talks to the GUI only through signals. Receivers must be slots (bound methods) of QObjects that
live in the GUI thread, so Qt queues the call into the GUI thread; a plain function or lambda would run in
the worker thread (`../shared/docs/platform.md` §2.3).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

# Load ONNX's and ONNX Runtime's native extensions here, on the GUI thread, before any worker exists: a first
# import of them inside a worker QThread (ONNX export of a finished job) hung once in the extension's dlopen.
import onnx  # noqa: F401
import onnxruntime  # noqa: F401
from PySide6.QtCore import QMutex, QMutexLocker, QThread, QWaitCondition, Signal

from distilpose.app.tasks import BackgroundTask, error_message
from distilpose.errors import DistilPoseError
from distilpose.inference.loading import LoadedModel, load_predictor
from distilpose.inference.options import DETECTOR, RUNTIME
from distilpose.inference.pipeline_bench import warm_up
from distilpose.inference.prediction_export import export_predictions
from distilpose.models.bundled import default_live_model
from distilpose.pipeline import LIVE_THREADS, REDETECT_EVERY, LivePipeline, make_live_pipeline
from distilpose.smoothing import KeypointSmoother
from distilpose.tracking import PoseTracker
from distilpose.video import Camera, open_source

#: ``(name_or_path, runtime, flip) -> LoadedModel``; tests inject slow or failing loaders.
ModelLoader = Callable[[str, str, bool], LoadedModel]


def default_loader(name: str, runtime: str, flip: bool) -> LoadedModel:
    # One intra-op thread: the GUI, the decoder and the detector need the other core of a 2-core machine.
    # The detector runs in PyTorch whatever the pose runtime, so PyTorch's own pool is sized here too.
    import torch

    torch.set_num_threads(LIVE_THREADS)
    return load_predictor(name, runtime, flip=flip, threads=LIVE_THREADS)


@dataclass(frozen=True)
class LiveSettings:
    """Everything the worker needs to build its pipeline; the model panel edits a copy and sends it."""

    model: str = field(default_factory=default_live_model)  # the video default (bundled.default_choice)
    runtime: str = RUNTIME.default  # the fastest runtime checked against PyTorch on this machine
    flip: bool = False
    teacher: str | None = None  # comparison mode: a second model on the same boxes
    detector: str = DETECTOR.default  # any of DETECTOR.offered("live", "app")
    tracking: bool = True  # boxes from the previous frame's keypoints between detections
    redetect_every: int = REDETECT_EVERY  # processed frames between detections, which run in the background
    smoothing: bool = False  # One-Euro on video and camera streams
    heatmaps: bool = False  # ask for heatmaps (the heatmap dock is open)
    user_boxes: tuple[tuple[float, float, float, float], ...] = ()
    #: Background detections on a clock of processed frames (frames a detector pass takes), not a thread:
    #: the live schedule tested in the window without the machine's load deciding (None: the real thread).
    detection_pass_frames: float | None = None

    def model_key(self) -> tuple:
        return (self.model, self.runtime, self.flip)

    def teacher_key(self) -> tuple:
        return (self.teacher, self.runtime, self.flip)

    def detector_key(self) -> tuple:
        return (self.detector, self.tracking, self.redetect_every, self.user_boxes, self.detection_pass_frames)


@dataclass
class ModelStatus:
    """What loaded, for the model panel and the status bar."""

    model: str
    kind: str
    runtime: str
    trained: bool
    weights: str
    load_s: float
    teacher: str | None = None
    teacher_trained: bool | None = None
    detector: str = ""
    warning: str | None = None  # a part that failed while the rest works (the teacher, say)


@dataclass
class FrameJob:
    job_id: int
    image: np.ndarray
    index: int | None
    t: float | None
    media: int = 0  # which opened media the frame is of: person ids (tracks) never carry over to another
    decode_ms: float = 0.0


@dataclass
class WorkerCounters:
    submitted: int = 0
    processed: int = 0
    dropped: int = 0  # jobs replaced in the slot before the worker took them
    loads: int = 0
    detector_runs: int = 0  # passes of the person detector (tracked frames need none)
    processed_ids: list[int] = field(default_factory=list)


class InferenceWorker(QThread):
    """Runs the live pipeline on the latest submitted frame.

    One slot holds the next job; :meth:`submit` replaces whatever waits there (counted as dropped), so a
    slow model never builds a backlog: it always works on the newest frame. Settings changes are applied
    before the next job, loading models here, off the GUI thread.
    """

    resultReady = Signal(int, object)  # job id, FrameResult
    #: The worker took the waiting frame: the slot is free for the next one (unpaced play refills it now
    #: instead of polling for it).
    jobTaken = Signal()
    jobFailed = Signal(int, str)  # job id, message
    settingsApplied = Signal(int, object)  # request id, ModelStatus
    settingsFailed = Signal(int, str)  # request id, message
    status = Signal(str)  # progress text (exporting to ONNX, ...)

    def __init__(self, loader: ModelLoader = default_loader, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("inference-worker")
        self._loader = loader
        self._mutex = QMutex()
        self._wake = QWaitCondition()
        self._job: FrameJob | None = None
        self._settings: tuple[int, LiveSettings] | None = None
        self._stop = False
        self.counters = WorkerCounters()
        # Only touched in the worker thread:
        self._applied: LiveSettings | None = None
        self._model: LoadedModel | None = None
        self._teacher: LoadedModel | None = None
        self._pipeline: LivePipeline | None = None
        self._tracked_media = 0
        self._idle_since: float | None = None  # when the last frame's result was handed on

    # -------------------------------------------------------------- GUI thread
    def submit(self, job: FrameJob) -> bool:
        """Queue ``job`` as the next frame; returns True when it replaced (dropped) a waiting one."""
        with QMutexLocker(self._mutex):
            dropped = self._job is not None
            if dropped:
                self.counters.dropped += 1
            self._job = job
            self.counters.submitted += 1
            self._wake.wakeOne()
        return dropped

    def configure(self, request_id: int, settings: LiveSettings) -> None:
        """Apply ``settings`` before the next frame (the newest request wins)."""
        with QMutexLocker(self._mutex):
            self._settings = (request_id, settings)
            self._wake.wakeOne()

    def stop(self, timeout_ms: int = 60_000) -> bool:
        """Ask the loop to end after the current step and wait for it; True when the thread finished."""
        with QMutexLocker(self._mutex):
            self._stop = True
            self._job = None
            self._wake.wakeOne()
        return self.wait(timeout_ms)

    def pending_job(self) -> bool:
        with QMutexLocker(self._mutex):
            return self._job is not None

    # -------------------------------------------------------------- worker thread
    def run(self) -> None:
        while True:
            self._mutex.lock()
            try:
                while not self._stop and self._job is None and self._settings is None:
                    self._wake.wait(self._mutex)
                if self._stop:
                    self._close_pipeline()
                    return
                settings, job = self._settings, None
                self._settings = None
                if settings is None:
                    job, self._job = self._job, None
            finally:
                self._mutex.unlock()
            if settings is not None:
                self._apply(*settings)
                self._idle_since = None  # a new model: no stream to have waited in
            elif job is not None:
                self.jobTaken.emit()
                self._process(job)

    def _apply(self, request_id: int, settings: LiveSettings) -> None:
        start = time.perf_counter()
        old = self._applied
        try:
            if self._model is None or old is None or old.model_key() != settings.model_key():
                self._model = None
                self._close_pipeline()
                self.status.emit(f"loading {settings.model} ({settings.runtime})…")
                self._model = self._loader(settings.model, settings.runtime, settings.flip)
                self.counters.loads += 1
            warning = None
            if settings.teacher is None:
                self._teacher = None
            elif self._teacher is None or old is None or old.teacher_key() != settings.teacher_key():
                self._teacher = None
                self.status.emit(f"loading teacher {settings.teacher}…")
                try:
                    self._teacher = self._loader(settings.teacher, settings.runtime, settings.flip)
                except Exception as exc:  # the student still runs; the user is told
                    warning = f"teacher {settings.teacher}: {error_message(exc)}"
            teacher = self._teacher.predictor if self._teacher is not None else None
            # ids survive a setting change that keeps the model; a fresh pipeline gets a fresh tracker
            identity = (self._pipeline.tracker if self._pipeline is not None else None) or PoseTracker()
            if self._pipeline is None or old is None or old.detector_key() != settings.detector_key():
                self._close_pipeline()
                self._pipeline = make_live_pipeline(
                    self._model.predictor,
                    settings.detector,
                    tracking=settings.tracking,
                    redetect_every=settings.redetect_every,
                    user_boxes=settings.user_boxes,
                    teacher=teacher,
                    smoothing=settings.smoothing,
                    heatmaps=settings.heatmaps,
                    tracker=identity,
                    pass_frames=settings.detection_pass_frames,
                )
                _warm_up(self._pipeline.detector, self._model)
            else:
                self._pipeline = LivePipeline(
                    self._model.predictor,
                    self._pipeline.detector,
                    teacher=teacher,
                    smoother=KeypointSmoother() if settings.smoothing else None,
                    heatmaps=settings.heatmaps,
                    tracker=identity,
                )
            self._applied = settings
        except Exception as exc:  # a bad checkpoint or a missing model must not kill the worker
            if self._model is None:
                self._close_pipeline()
                self._applied = replace(settings, model="")  # the same choice is retried next time
            self.settingsFailed.emit(request_id, error_message(exc))
            return
        status = ModelStatus(
            model=self._model.name,
            kind=self._model.kind,
            runtime=self._model.runtime,
            trained=self._model.trained,
            weights=self._model.weights,
            load_s=time.perf_counter() - start,
            teacher=self._teacher.name if self._teacher is not None else None,
            teacher_trained=self._teacher.trained if self._teacher is not None else None,
            detector=self._pipeline.detector.name,
            warning=warning,
        )
        self.settingsApplied.emit(request_id, status)

    def _close_pipeline(self) -> None:
        if self._pipeline is not None:
            self._pipeline.close()  # its background detector thread
        self._pipeline = None

    def _process(self, job: FrameJob) -> None:
        if self._pipeline is None:
            self.jobFailed.emit(
                job.job_id, "the live pipeline is not ready: no model loaded (see the last error)"
            )
            return
        try:
            start = time.perf_counter()
            idle_since, self._idle_since = self._idle_since, None
            if self._pipeline.tracker is not None and job.media != self._tracked_media:
                self._pipeline.tracker.reset()  # another video: new people
                self._tracked_media = job.media
            result = self._pipeline.process(job.image, index=job.index, t=job.t)
            result.times_ms["worker"] = (time.perf_counter() - start) * 1000.0
            result.times_ms["decode"] = job.decode_ms
            if idle_since is not None:  # waiting for this frame since the last result: the GUI thread was late
                result.times_ms["starved"] = (start - idle_since) * 1000.0
            result.image = job.image  # shown under the result while playing
            self.counters.detector_runs = getattr(self._pipeline.detector, "detections", self.counters.processed + 1)
        except Exception as exc:
            self.jobFailed.emit(job.job_id, error_message(exc))
            return
        self.counters.processed += 1
        self.counters.processed_ids.append(job.job_id)
        result.handed_at = self._idle_since = time.perf_counter()
        self.resultReady.emit(job.job_id, result)


def _warm_up(detector, model: LoadedModel) -> None:
    """First-call set-up shows in "loaded in", not on the first real frame."""
    warm_up(detector, [model.predictor], np.zeros((360, 640, 3), np.uint8))


def export_task(
    source_path: Path,
    settings: LiveSettings,
    results_path: Path,
    video_path: Path | None,
    threshold: float,
    loader: ModelLoader = default_loader,
    parent=None,
) -> BackgroundTask:
    """Batch export of a video's or folder's predictions as a task
    (:func:`distilpose.inference.prediction_export.export_predictions`): ``progress`` per frame,
    ``succeeded`` with the ExportResult, ``cancelled`` when :meth:`BackgroundTask.cancel` stopped it.

    It opens its own reader and models (never shares the GUI's or the live worker's)."""
    from distilpose.inference.prediction_export import ExportCancelled

    def work(task: BackgroundTask):
        with closing(open_source(source_path)) as source:
            s = settings
            model = loader(s.model, s.runtime, s.flip)
            teacher = loader(s.teacher, s.runtime, s.flip) if s.teacher else None
            pipeline = make_live_pipeline(  # the live view's pipeline, detecting in line: every frame counts
                model.predictor,
                s.detector,
                tracking=s.tracking,
                redetect_every=s.redetect_every,
                user_boxes=s.user_boxes,
                teacher=teacher.predictor if teacher else None,
                smoothing=s.smoothing,
                background=False,
            )
            return export_predictions(
                source,
                pipeline,
                results_path,
                video_path=video_path,
                threshold=threshold,
                progress=task.report,
                should_stop=task.is_cancelled,
            )

    return BackgroundTask("export-worker", work, parent, cancel_types=(ExportCancelled,))


class CameraThread(QThread):
    """Reads a camera as fast as it delivers; the GUI takes the latest frame (older ones are skipped)."""

    frameReady = Signal()
    failed = Signal(str)

    def __init__(self, camera: Camera, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("camera")
        self.camera = camera
        self._mutex = QMutex()
        self._latest: np.ndarray | None = None
        self._stop = False
        self.frames_read = 0

    def take(self) -> np.ndarray | None:
        """The newest frame not taken yet, or None."""
        with QMutexLocker(self._mutex):
            frame, self._latest = self._latest, None
            return frame

    def stop(self, timeout_ms: int = 5000) -> bool:
        self._stop = True
        return self.wait(timeout_ms)

    def run(self) -> None:
        while not self._stop:
            try:
                frame = self.camera.read()
            except DistilPoseError as exc:
                if not self._stop:
                    self.failed.emit(str(exc))
                return
            self.frames_read += 1
            with QMutexLocker(self._mutex):
                announce = self._latest is None
                self._latest = frame
            if announce:
                self.frameReady.emit()
