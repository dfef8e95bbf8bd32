"""The stages of the pipeline: each takes one frame's :class:`~distilpose.pipeline.frame.FrameResult`, adds its
part and hands it on.

One interface for all of them (:class:`Stage`): ``reset()`` when a new stream starts (a seek, another
video), ``observe(frame) -> frame`` for each frame, ``close()`` when the pipeline is done (a background
thread stops). :class:`~distilpose.pipeline.live.LivePipeline` runs a tuple of stages in order and knows
nothing about what each does, so a new step (another model, a filter) is one class here and one place in
:func:`stages_for`. A stage names the ``times_ms`` key it is timed under (``timer``), or None when it is too
cheap to report: the keys are what the app's status bar and ``--stats-json`` show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from distilpose.keypoints import NUM_KEYPOINTS
from distilpose.pipeline.frame import FrameResult
from distilpose.types import Instance

if TYPE_CHECKING:
    from distilpose.detection import PersonDetector
    from distilpose.inference.crowd import StaticReuse
    from distilpose.inference.predictor import Predictor
    from distilpose.smoothing import KeypointSmoother


class Stage(Protocol):
    """One step of the pipeline (see the module docs)."""

    timer: str | None

    def reset(self) -> None: ...

    def observe(self, frame: FrameResult) -> FrameResult: ...

    def close(self) -> None: ...


class IdentityTracker(Protocol):
    """Gives each person of a stream a ``track_id`` (e.g. :class:`distilpose.tracking.PoseTracker`)."""

    def update(self, index: int, instances: list[Instance]) -> object: ...

    def reset(self) -> None: ...


class _Stateless:
    """Nothing to reset or close."""

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


class Detect:
    """Person boxes for the frame: the detector's, or the boxes the caller gave for this frame."""

    timer = "detect"

    def __init__(self, detector: PersonDetector) -> None:
        self.detector = detector

    def reset(self) -> None:
        reset = getattr(self.detector, "reset", None)  # a schedule with a memory (tracked boxes)
        if reset is not None:
            reset()

    def observe(self, frame: FrameResult) -> FrameResult:
        if frame.boxes_given:
            frame.box_scores = np.ones(len(frame.boxes))
            frame.detected = True
        else:
            frame.boxes, frame.box_scores = self.detector.detect(frame.image)
            frame.detected = getattr(self.detector, "last_detected", True)
        return frame

    def close(self) -> None:
        close = getattr(self.detector, "close", None)  # a background detection thread
        if close is not None:
            close()


class FollowKeypoints(_Stateless):
    """Hands the frame's poses to a detector that makes the next frame's boxes from them
    (:class:`~distilpose.detection.TrackFromKeypoints`); boxes the caller gave are not followed. Resetting
    and closing that detector is :class:`Detect`'s job."""

    timer = None

    def __init__(self, detector: PersonDetector) -> None:
        self.detector = detector

    def observe(self, frame: FrameResult) -> FrameResult:
        if not frame.boxes_given:
            self.detector.update(frame.instances)  # type: ignore[attr-defined]
        return frame


class Pose(_Stateless):
    """The pose model on every box: the frame's people.

    Crowd policies (ADR 0024): ``reuse`` re-estimates people whose box barely moved every other frame;
    a runtime widened for idle frames (``OnnxRuntime.widen``) takes the second core while ``detector``'s
    background detection is idle."""

    timer = "pose"

    def __init__(
        self,
        predictor: Predictor,
        heatmaps: bool = False,
        reuse: StaticReuse | None = None,
        detector: PersonDetector | None = None,
    ) -> None:
        self.predictor = predictor
        self.heatmaps = heatmaps
        self.reuse = reuse
        self.detector = detector

    def reset(self) -> None:
        if self.reuse is not None:
            self.reuse.reset()

    def _detector_busy(self) -> bool:
        worker = getattr(self.detector, "worker", None)  # a background detection thread, when there is one
        return worker is not None and worker.busy

    def observe(self, frame: FrameResult) -> FrameResult:
        runtime = getattr(self.predictor, "runtime", None)
        if getattr(runtime, "wide", None) is not None:
            runtime.wide = not self._detector_busy()  # the other core is free: the pose model takes it
        if self.reuse is not None and not frame.boxes_given:
            run = self.reuse.plan(frame.boxes)
            posed = self.predictor.predict(
                frame.image, frame.boxes[run], frame.box_scores[run], return_heatmaps=self.heatmaps
            )
            frame.instances = self.reuse.combine(frame.boxes, posed)
        else:
            frame.instances = self.predictor.predict(
                frame.image, frame.boxes, frame.box_scores, return_heatmaps=self.heatmaps
            )
        return frame


def keypoint_disagreement(a: Instance, b: Instance) -> np.ndarray:
    """Per-keypoint distance between two predictions of one person, divided by the box size sqrt(w*h).

    Normalising by the box makes the number comparable across people near and far (like OKS does).
    """
    box = a.bbox if a.bbox is not None else b.bbox
    if box is None:
        box = a.bbox_from_keypoints(0.0) or (0.0, 0.0, 1.0, 1.0)
    size = float(np.sqrt(max(box[2] * box[3], 1e-12)))
    return np.linalg.norm(a.keypoints[:, :2] - b.keypoints[:, :2], axis=1) / size


class Teacher(_Stateless):
    """A second model on the same boxes, and how far the student's keypoints are from it (right after
    :class:`Pose`, so it compares the model's own output, before tracking and smoothing)."""

    timer = "teacher"

    def __init__(self, predictor: Predictor, heatmaps: bool = False) -> None:
        self.predictor = predictor
        self.heatmaps = heatmaps

    def observe(self, frame: FrameResult) -> FrameResult:
        teacher = self.predictor.predict(frame.image, frame.boxes, frame.box_scores, return_heatmaps=self.heatmaps)
        for inst in teacher:
            inst.source = "teacher"
        raw = frame.instances
        disagreement = np.array([keypoint_disagreement(s, t) for s, t in zip(raw, teacher, strict=True)])
        frame.teacher = teacher
        frame.disagreement = disagreement.reshape(len(raw), NUM_KEYPOINTS)  # also when no one is there
        return frame


class Track(_Stateless):
    """Person ids across the frames of a stream, from the one identity tracker. Frames without an index
    are not a stream and get none. The tracker judges a new stream from the frame indices itself (it
    restarts when they go back and ends tracks unseen too long), so ids survive a pipeline reset, e.g. a
    changed setting in the app."""

    timer = None

    def __init__(self, tracker: IdentityTracker) -> None:
        self.tracker = tracker

    def observe(self, frame: FrameResult) -> FrameResult:
        if frame.index is not None:
            self.tracker.update(frame.index, frame.instances)  # sets each person's track_id
        return frame


class Smooth:
    """One-Euro smoothing of each person's keypoints, keyed by the ids :class:`Track` gave (after it).
    ``t`` (seconds) is the frame's time, else its index at 30 frames a second."""

    timer = None

    def __init__(self, smoother: KeypointSmoother) -> None:
        self.smoother = smoother

    def reset(self) -> None:
        self.smoother.reset()

    def observe(self, frame: FrameResult) -> FrameResult:
        t = frame.t if frame.t is not None else float(frame.index or 0) / 30.0
        frame.instances = self.smoother(frame.instances, t)
        return frame

    def close(self) -> None:
        pass


def stages_for(
    detector: PersonDetector,
    predictor: Predictor,
    *,
    teacher: Predictor | None = None,
    tracker: IdentityTracker | None = None,
    smoother: KeypointSmoother | None = None,
    heatmaps: bool = False,
    reuse: StaticReuse | None = None,
) -> tuple[Stage, ...]:
    """The stages in their one order: boxes, pose, boxes for the next frame, teacher, ids, smoothing."""
    stages: list[Stage] = [Detect(detector), Pose(predictor, heatmaps, reuse=reuse, detector=detector)]
    if callable(getattr(detector, "update", None)):  # a schedule that makes boxes from keypoints
        stages.append(FollowKeypoints(detector))
    if teacher is not None:
        stages.append(Teacher(teacher, heatmaps))
    if tracker is not None:
        stages.append(Track(tracker))
    if smoother is not None:
        stages.append(Smooth(smoother))
    return tuple(stages)

