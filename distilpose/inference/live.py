"""The live pipeline without Qt: frame -> person boxes -> pose (-> teacher) -> smoothing, timed per stage.

The app's inference worker, ``distilpose bench --pipeline`` and batch export all run :class:`LivePipeline`,
so what the bench measures is what the app does, and an export from a script gives the same predictions.
The detection schedule (when the detector runs, how its boxes merge with tracked ones) lives in
:class:`~distilpose.detection.TrackFromKeypoints`, counted in processed frames.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from distilpose.detection import PersonDetector, TrackFromKeypoints
from distilpose.inference.crowd import REUSE_STATIC_DEFAULT, StaticReuse
from distilpose.inference.predictor import Predictor
from distilpose.keypoints import NUM_KEYPOINTS
from distilpose.render import TEACHER_COLOR, draw_instances
from distilpose.smoothing import KeypointSmoother
from distilpose.types import Instance

STAGES = ("decode", "detect", "pose", "teacher", "draw")


class IdentityTracker(Protocol):
    """Gives each person of a stream a ``track_id`` (e.g. :class:`distilpose.tracking.PoseTracker`)."""

    def update(self, index: int, instances: list[Instance]) -> object: ...

    def reset(self) -> None: ...
#: A forward jump of at most this many frames continues the stream (frames dropped while playing keep their
#: tracks); a longer jump or any step back is a seek, which starts tracking and smoothing afresh.
MAX_STREAM_GAP = 15


def keypoint_disagreement(a: Instance, b: Instance) -> np.ndarray:
    """Per-keypoint distance between two predictions of one person, divided by the box size sqrt(w*h).

    Normalising by the box makes the number comparable across people near and far (like OKS does).
    """
    box = a.bbox if a.bbox is not None else b.bbox
    if box is None:
        box = a.bbox_from_keypoints(0.0) or (0.0, 0.0, 1.0, 1.0)
    size = float(np.sqrt(max(box[2] * box[3], 1e-12)))
    return np.linalg.norm(a.keypoints[:, :2] - b.keypoints[:, :2], axis=1) / size


@dataclass
class FrameResult:
    """What one pass of the pipeline produced for one frame (new fields go at the end, with defaults)."""

    index: int | None
    image_size: tuple[int, int]  # (w, h)
    boxes: np.ndarray  # (M, 4) xywh the pose model ran on
    box_scores: np.ndarray
    instances: list[Instance]
    teacher: list[Instance] | None = None
    disagreement: np.ndarray | None = None  # (M, K), see keypoint_disagreement
    times_ms: dict[str, float] = field(default_factory=dict)
    detected: bool = True  # False when every box came from tracking
    source_name: str = ""
    #: The frame the result was computed on (the app shows exactly this picture under the result while
    #: playing); None where nobody needs it.
    image: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: ``time.perf_counter()`` when a worker thread handed the result on (the app times the hop to its GUI).
    handed_at: float | None = field(default=None, repr=False, compare=False)


class LivePipeline:
    """Boxes -> pose -> optional teacher -> optional smoothing for a stream of frames.

    Frames given with increasing ``index`` values no more than :data:`MAX_STREAM_GAP` apart are a stream:
    tracking and smoothing carry over, so frames dropped by a slow consumer never force a re-detection. Any
    other index (a seek) starts both afresh.
    """

    def __init__(
        self,
        predictor: Predictor,
        detector: PersonDetector,
        *,
        teacher: Predictor | None = None,
        smoother: KeypointSmoother | None = None,
        heatmaps: bool = False,
        tracker: IdentityTracker | None = None,
        reuse: StaticReuse | None = None,
        idle_threads: int | None = None,
    ) -> None:
        self.predictor = predictor
        self.reuse = reuse  # still people re-estimated every other frame (crowd policy, ADR 0024)
        #: Intra-op threads of the pose model on frames when the background detector is idle (ONNX only).
        self.idle_threads = idle_threads
        if idle_threads is not None and hasattr(getattr(predictor, "runtime", None), "widen"):
            predictor.runtime.widen(idle_threads)
        self.tracker = tracker  # person ids across frames; keeps its tracks over dropped frames
        self.detector = detector
        self.teacher = teacher
        self.smoother = smoother
        self.heatmaps = heatmaps
        self._last_index: int | None = None

    def reset(self) -> None:
        self._last_index = None
        if isinstance(self.detector, TrackFromKeypoints):
            self.detector.reset()
        if self.smoother is not None:
            self.smoother.reset()
        if self.reuse is not None:
            self.reuse.reset()

    def close(self) -> None:
        """Stop the detector's background thread, if it has one."""
        if isinstance(self.detector, TrackFromKeypoints):
            self.detector.close()

    def continues_stream(self, index: int | None) -> bool:
        last = self._last_index
        return index is not None and last is not None and 0 < index - last <= MAX_STREAM_GAP

    def process(
        self,
        image_rgb: np.ndarray,
        index: int | None = None,
        t: float | None = None,
        boxes: np.ndarray | None = None,
    ) -> FrameResult:
        """Run every stage on one frame. ``t`` (seconds) drives smoothing; ``boxes`` overrides the detector."""
        if not self.continues_stream(index):
            self.reset()
        self._last_index = index
        times: dict[str, float] = {}
        h, w = image_rgb.shape[:2]

        start = time.perf_counter()
        if boxes is not None:
            box_arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
            box_scores = np.ones(len(box_arr))
            detected = True
        else:
            box_arr, box_scores = self.detector.detect(image_rgb)
            detected = getattr(self.detector, "last_detected", True)
        times["detect"] = _ms(start)

        runtime = getattr(self.predictor, "runtime", None)
        if getattr(runtime, "wide", None) is not None:
            runtime.wide = not self._detector_busy()  # the other core is free: the pose model takes it
        start = time.perf_counter()
        if self.reuse is not None and boxes is None:
            run = self.reuse.plan(box_arr)
            posed = self.predictor.predict(image_rgb, box_arr[run], box_scores[run], return_heatmaps=self.heatmaps)
            raw = self.reuse.combine(box_arr, posed)
        else:
            raw = self.predictor.predict(image_rgb, box_arr, box_scores, return_heatmaps=self.heatmaps)
        times["pose"] = _ms(start)
        if isinstance(self.detector, TrackFromKeypoints) and boxes is None:
            self.detector.update(raw)

        teacher = disagreement = None
        if self.teacher is not None:
            start = time.perf_counter()
            teacher = self.teacher.predict(image_rgb, box_arr, box_scores, return_heatmaps=self.heatmaps)
            for inst in teacher:
                inst.source = "teacher"
            disagreement = np.array(
                [keypoint_disagreement(s, tch) for s, tch in zip(raw, teacher, strict=True)]
            )
            disagreement = disagreement.reshape(len(raw), NUM_KEYPOINTS)  # also when no one is there
            times["teacher"] = _ms(start)

        instances = raw
        if self.smoother is not None:
            t_s = t if t is not None else float(index or 0) / 30.0
            instances = self.smoother(raw, t_s)
        if self.tracker is not None and index is not None:
            self.tracker.update(index, instances)  # sets each person's track_id
        return FrameResult(
            index, (w, h), box_arr, box_scores, instances, teacher, disagreement, times, detected
        )


    def _detector_busy(self) -> bool:
        worker = self.detector.worker if isinstance(self.detector, TrackFromKeypoints) else None
        return worker is not None and worker.busy

def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def render_result(image_rgb: np.ndarray, result: FrameResult, threshold: float = 0.0) -> np.ndarray:
    """The frame with the result drawn: teacher (light grey, below) then the model's skeletons."""
    out = image_rgb
    if result.teacher:
        out = draw_instances(out, result.teacher, threshold, color=TEACHER_COLOR)
    return draw_instances(out, result.instances, threshold)


#: Intra-op threads of the live pose model: on a 2-core machine the other core decodes, draws and detects.
LIVE_THREADS = 1
#: Intra-op threads of the live pose model on frames when the background detector is idle (ONNX Runtime:
#: a second session on the same file); None keeps LIVE_THREADS always.
LIVE_IDLE_THREADS: int | None = None
#: Crops per pose-model call in the live view (see ``Predictor.max_batch``).
LIVE_MAX_BATCH = 4
#: Processed frames between two detections while people are tracked.
REDETECT_EVERY = 10


def make_live_pipeline(
    predictor: Predictor,
    detector: str = "auto",
    *,
    tracking: bool = True,
    redetect_every: int = REDETECT_EVERY,
    user_boxes: Sequence[Sequence[float]] | np.ndarray = (),
    teacher: Predictor | None = None,
    smoothing: bool = False,
    heatmaps: bool = False,
    background: bool = True,
    tracker: IdentityTracker | None = None,
    reuse_static: bool = REUSE_STATIC_DEFAULT,
    idle_threads: int | None = LIVE_IDLE_THREADS,
    max_batch: int = LIVE_MAX_BATCH,
) -> LivePipeline:
    """The pipeline the app's live view and ``bench --pipeline`` both run: the same detector, the same
    schedule (tracking, re-detection every ``redetect_every`` processed frames, in the background), and the
    crowd policies of ADR 0024 (``reuse_static``, ``idle_threads``, crops in batches of ``max_batch``)."""
    from distilpose.detection import make_detector

    if getattr(predictor, "single_stage", False):  # MultiPose: the whole frame, no detector, no schedule
        detector, tracking = "full-frame", False
    elif predictor.max_batch is None:
        predictor.max_batch = max_batch or None  # 0: every crop in one call
    boxes = make_detector(
        detector,
        user_boxes=user_boxes,
        tracking=tracking and detector != "user-boxes",
        redetect_every=max(1, redetect_every),
        background=background,
    )
    return LivePipeline(
        predictor,
        boxes,
        teacher=teacher,
        smoother=KeypointSmoother() if smoothing else None,
        heatmaps=heatmaps,
        tracker=tracker,
        reuse=StaticReuse() if reuse_static and tracking else None,
        idle_threads=idle_threads,
    )
