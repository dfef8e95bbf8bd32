"""The live pipeline without Qt: frame -> person boxes -> pose (-> teacher) -> ids -> smoothing, timed per stage.

The app's inference worker, ``distilpose bench --pipeline``, batch export, pre-labelling and pseudo-labelling
all run :class:`LivePipeline`, so what the bench measures is what the app does, and an export from a script
gives the same predictions. The pipeline is a tuple of stages with one interface
(:mod:`distilpose.pipeline.stages`); it knows when a stream starts and times each stage, nothing else. The
detection schedule (when the detector runs, how its boxes merge with tracked ones) lives in
:class:`~distilpose.detection.TrackFromKeypoints`, counted in processed frames.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from distilpose.detection import PersonDetector
from distilpose.inference.crowd import REUSE_STATIC_DEFAULT, StaticReuse
from distilpose.inference.predictor import Predictor
from distilpose.pipeline.frame import FrameResult
from distilpose.pipeline.stages import IdentityTracker, Stage, stages_for
from distilpose.render import TEACHER_COLOR, draw_instances
from distilpose.smoothing import KeypointSmoother

STAGES = ("decode", "detect", "pose", "teacher", "draw")


#: A forward jump of at most this many frames continues the stream (frames dropped while playing keep their
#: tracks); a longer jump or any step back is a seek, which starts tracking and smoothing afresh.
MAX_STREAM_GAP = 15


class LivePipeline:
    """Boxes -> pose -> optional teacher -> ids -> optional smoothing for a stream of frames
    (:func:`~distilpose.pipeline.stages.stages_for` gives the stages and their order).

    Frames given with increasing ``index`` values no more than :data:`MAX_STREAM_GAP` apart are a stream:
    tracking and smoothing carry over, so frames dropped by a slow consumer never force a re-detection. Any
    other index (a seek) resets every stage.
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
        # a second session with ``idle_threads`` intra-op threads, used while the background detector is idle
        if idle_threads is not None and hasattr(getattr(predictor, "runtime", None), "widen"):
            predictor.runtime.widen(idle_threads)
        if smoother is not None and tracker is None:
            from distilpose.tracking import PoseTracker

            tracker = PoseTracker()  # smoothing keys its filters on the ids the one tracker gives
        # the parts, for callers that rebuild a pipeline around them (the app keeps detector and tracker)
        self.predictor = predictor
        self.detector = detector
        self.teacher = teacher
        self.smoother = smoother
        self.tracker = tracker  # person ids across frames; keeps its tracks over dropped frames
        self.heatmaps = heatmaps
        self.reuse = reuse  # still people re-estimated every other frame (crowd policy, ADR 0024)
        self.stages: tuple[Stage, ...] = stages_for(
            detector, predictor, teacher=teacher, tracker=tracker, smoother=smoother, heatmaps=heatmaps, reuse=reuse
        )
        self._last_index: int | None = None

    def reset(self) -> None:
        self._last_index = None
        for stage in self.stages:
            stage.reset()

    def close(self) -> None:
        """Let every stage release what it holds (the detector's background thread)."""
        for stage in self.stages:
            stage.close()

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
        h, w = image_rgb.shape[:2]
        given = boxes is not None
        frame = FrameResult(
            index,
            (w, h),
            np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if given else np.zeros((0, 4)),
            np.zeros(0),
            [],
            image=image_rgb,
            t=t,
            boxes_given=given,
        )
        for stage in self.stages:
            start = time.perf_counter()
            frame = stage.observe(frame)
            if stage.timer is not None:
                frame.times_ms[stage.timer] = _ms(start)
        frame.image = None  # the caller decides whether the result keeps its picture (the app's worker does)
        return frame


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
#: Periodic detections run the tiled detector's tiles every this many times (ADR 0033).
TILES_EVERY = 3


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
    pass_frames: float | None = None,
    tiles_every: int = TILES_EVERY,
) -> LivePipeline:
    """The pipeline the app's live view and ``bench --pipeline`` both run: the same detector, the same
    schedule (tracking, re-detection every ``redetect_every`` processed frames, in the background), and the
    crowd policies of ADR 0024 (``reuse_static``, ``idle_threads``, crops in batches of ``max_batch``); with
    ``pass_frames``, detection runs on a clock of processed frames instead of a thread (measurements, tests)."""
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
        pass_frames=pass_frames,
        tiles_every=tiles_every,
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
