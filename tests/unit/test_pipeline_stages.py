"""The pipeline as stages of one interface: their order, what each sees, reset on a seek, close, and a
pipeline that knows no stage's type."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from distilpose.detection import FixedBoxes, FullFrame, TrackFromKeypoints
from distilpose.pipeline import FrameResult, LivePipeline
from distilpose.smoothing import KeypointSmoother
from distilpose.tracking import PoseTracker
from tests.unit.test_pipeline import fake_predictor

ROOT = Path(__file__).resolve().parents[2]
IMAGE = np.zeros((360, 640, 3), np.uint8)


def _names(pipe: LivePipeline) -> list[str]:
    return [type(stage).__name__ for stage in pipe.stages]


def test_stages_in_their_one_order() -> None:
    assert _names(LivePipeline(fake_predictor(), FullFrame())) == ["Detect", "Pose"]
    full = LivePipeline(
        fake_predictor(),
        TrackFromKeypoints(FullFrame(), redetect_every=5),
        teacher=fake_predictor(offset=0.05),
        smoother=KeypointSmoother(),
        tracker=PoseTracker(),
    )
    # boxes, pose, the next frame's boxes from this frame's keypoints, teacher, ids, smoothing keyed on them
    assert _names(full) == ["Detect", "Pose", "FollowKeypoints", "Teacher", "Track", "Smooth"]
    # smoothing needs ids: a smoothing pipeline without a tracker gets the one tracker
    assert _names(LivePipeline(fake_predictor(), FullFrame(), smoother=KeypointSmoother())) == [
        "Detect",
        "Pose",
        "Track",
        "Smooth",
    ]


class Recorder:
    """A stage that writes what it is asked into a shared log."""

    timer = None

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def reset(self) -> None:
        self.log.append(f"reset {self.name}")

    def observe(self, frame: FrameResult) -> FrameResult:
        self.log.append(f"{self.name} {frame.index}")
        frame.instances = [*frame.instances]  # a stage may hand on a new list
        return frame

    def close(self) -> None:
        self.log.append(f"close {self.name}")


def test_the_pipeline_runs_any_stages_in_order_resets_on_a_seek_and_closes() -> None:
    log: list[str] = []
    pipe = LivePipeline(fake_predictor(), FullFrame())
    pipe.stages = (Recorder("a", log), Recorder("b", log))
    pipe.process(IMAGE, index=0)
    pipe.process(IMAGE, index=1)  # the same stream: no reset
    pipe.process(IMAGE, index=0)  # back: a seek
    pipe.close()
    assert log == [
        "reset a", "reset b", "a 0", "b 0",
        "a 1", "b 1",
        "reset a", "reset b", "a 0", "b 0",
        "close a", "close b",
    ]  # fmt: skip


def test_stage_times_keep_their_keys_and_the_result_no_picture() -> None:
    pipe = LivePipeline(
        fake_predictor(),
        FixedBoxes([[0, 0, 100, 200]]),
        teacher=fake_predictor(offset=0.05),
        smoother=KeypointSmoother(),
    )
    result = pipe.process(IMAGE, index=3, t=0.1)
    # only the stages the app's status bar and --stats-json have always shown are timed
    assert set(result.times_ms) == {"detect", "pose", "teacher"}
    assert result.image is None and result.detected
    assert result.instances[0].track_id == 1 and result.teacher is not None
    # boxes given by the caller replace the detector's, score 1
    given = pipe.process(IMAGE, index=4, boxes=np.array([[10, 10, 50, 80]]))
    np.testing.assert_array_equal(given.boxes, [[10, 10, 50, 80]])
    np.testing.assert_array_equal(given.box_scores, [1.0])


def test_user_boxes_are_not_followed() -> None:
    """Boxes the caller gave are not handed to the keypoint tracker as the next frame's boxes."""
    detector = TrackFromKeypoints(FixedBoxes([[100.0, 50.0, 150.0, 200.0]]), redetect_every=100)
    pipe = LivePipeline(fake_predictor(), detector)
    pipe.process(IMAGE, index=0, boxes=np.array([[0.0, 0.0, 40.0, 40.0]]))
    second = pipe.process(IMAGE, index=1)
    assert second.detected  # nothing was followed, so the detector ran


def test_live_pipeline_knows_no_stage_type() -> None:
    """The pipeline composes stages through their interface only: no isinstance (nor type()) in it."""
    offenders = []
    for name in ("live.py", "stages.py", "frame.py", "__init__.py"):
        path = ROOT / "distilpose" / "pipeline" / name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("isinstance", "type"):
                offenders.append(f"{name}:{node.lineno}")
    assert offenders == []


class Walking:
    """A detector whose one person walks 40 px right per frame."""

    name = "walking"

    def __init__(self) -> None:
        self.x = 0.0

    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.x += 40.0
        return np.array([[self.x, 50.0, 100.0, 200.0]]), np.ones(1)


class RecordingTracker:
    """An identity tracker that writes down the keypoints it is given and calls everyone 7."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def update(self, index: int, instances: list) -> None:
        self.seen.append(np.array([inst.keypoints[:, :2] for inst in instances]))
        for inst in instances:
            inst.track_id = 7

    def reset(self) -> None:
        pass


def test_the_tracker_sees_the_models_keypoints_not_the_smoothed_ones() -> None:
    """Regression: ids were given to smoothed keypoints, so turning smoothing on changed who was who (on the
    sample a person lost his id for 7 of 40 frames). The tracker now runs before smoothing, on the model's own
    output, and smoothing keys on its ids."""
    raw = LivePipeline(fake_predictor(), Walking())
    expected = [raw.process(IMAGE, index=i).instances[0].keypoints[:, :2].copy() for i in range(5)]
    tracker = RecordingTracker()
    smoothed = LivePipeline(fake_predictor(), Walking(), smoother=KeypointSmoother(), tracker=tracker)
    shown = [smoothed.process(IMAGE, index=i, t=i / 30) for i in range(5)]
    for seen, own in zip(tracker.seen, expected, strict=True):
        np.testing.assert_allclose(seen[0], own)
    assert [r.instances[0].track_id for r in shown] == [7] * 5
    # smoothing did happen (the shown keypoints lag the walking person), keyed on the tracker's id
    assert shown[4].instances[0].keypoints[0, 0] < expected[4][0, 0] - 1.0
