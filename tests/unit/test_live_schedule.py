"""The live detection schedule: detections merge with tracked people (a person entering is picked up, one the
detector misses stays tracked), periodic detections run in the background and never hold a frame up, frames
dropped by a slow consumer never force a re-detection, and tiled detection keeps boxes cut by a tile edge out."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from distilpose.detection import CenterNetDetector, TrackFromKeypoints, merge_detections, square_tiles
from distilpose.inference.predictor import Predictor
from distilpose.models import model_spec
from distilpose.pipeline import MAX_STREAM_GAP, LivePipeline
from distilpose.types import Instance
from tests.unit.test_detection import _instance
from tests.unit.test_pipeline import fake_predictor

IMAGE = np.zeros((360, 640, 3), np.uint8)


def _person(x0: float, y0: float, x1: float, y1: float) -> Instance:
    return _instance([(x0, y0), (x1, y0), (x0, y1), (x1, y1)], [0.9] * 4)


def test_merge_keeps_missed_tracks_adds_newcomers_and_refreshes_matches() -> None:
    tracked = (np.array([[100.0, 50, 60, 150], [400, 40, 50, 150]]), np.array([0.8, 0.7]))
    detected = (np.array([[98.0, 48, 64, 156], [250, 60, 40, 120]]), np.array([0.9, 0.6]))
    (boxes, scores), origin = merge_detections(tracked, detected)
    # detection 0 continues track 0 (its box replaces the tracked one); detection 1 is new; track 1 was missed
    np.testing.assert_allclose(boxes, [[98, 48, 64, 156], [250, 60, 40, 120], [400, 40, 50, 150]])
    np.testing.assert_allclose(scores, [0.9, 0.6, 0.7])
    assert origin.tolist() == [0, -1, 1]
    (none, _), origin = merge_detections((np.zeros((0, 4)), np.zeros(0)), detected)
    assert len(none) == 2 and origin.tolist() == [-1, -1]


class _Gated:
    """A detector that blocks until released, so a test controls when a background detection finishes."""

    name = "gated"

    def __init__(self, boxes) -> None:
        self.boxes = np.asarray(boxes, float).reshape(-1, 4)
        self.release = threading.Event()
        self.calls = 0

    def detect(self, image):
        self.calls += 1
        if self.calls > 1:  # the first (in-line) detection of a stream never waits
            assert self.release.wait(10)
            self.release.clear()
        return self.boxes.copy(), np.full(len(self.boxes), 0.9)


def test_background_detection_never_holds_a_frame_and_picks_up_a_newcomer() -> None:
    walker = [20.0, 30, 60, 150]
    gated = _Gated([walker])
    tracker = TrackFromKeypoints(gated, redetect_every=3, pad=0.0, background=True)
    try:
        boxes, _ = tracker.detect(IMAGE)  # frame 0 of a stream: detected in line
        assert gated.calls == 1 and tracker.last_detected and boxes.tolist() == [walker]
        tracker.update([_person(20, 30, 80, 180)])
        for _ in range(2):  # frames 1, 2: tracked
            tracker.detect(IMAGE)
            assert not tracker.last_detected
            tracker.update([_person(20, 30, 80, 180)])
        gated.boxes = np.array([walker, [300.0, 40, 50, 160]])  # someone walks in
        boxes, _ = tracker.detect(IMAGE)  # frame 3: due, handed to the worker; this frame does not wait
        assert len(boxes) == 1 and not tracker.last_detected
        tracker.update([_person(20, 30, 80, 180)])
        gated.release.set()
        tracker._worker.wait(10)
        boxes, _ = tracker.detect(IMAGE)  # frame 4: the finished detection is merged
        assert tracker.last_detected and len(boxes) == 2 and tracker.detections == 2
        assert [300.0, 40, 50, 160] in boxes.tolist()  # the newcomer, within the re-detection interval
        assert tracker.last_origin.tolist() == [0, -1]
    finally:
        gated.release.set()
        tracker.close()


def test_dropped_frames_continue_the_stream_and_a_seek_starts_afresh() -> None:
    class Counting:
        name = "counting"
        calls = 0

        def detect(self, image):
            Counting.calls += 1
            return np.array([[100.0, 50.0, 150.0, 200.0]]), np.ones(1)

    pipe = LivePipeline(fake_predictor(), TrackFromKeypoints(Counting(), redetect_every=100))
    for index in (0, 3, 5, 9):  # a consumer that drops frames in between
        pipe.process(IMAGE, index=index)
    assert Counting.calls == 1
    pipe.process(IMAGE, index=9 + MAX_STREAM_GAP + 1)  # too far: a seek
    pipe.process(IMAGE, index=2)  # backwards: a seek
    assert Counting.calls == 3


def test_square_tiles_and_tiled_detection_drop_boxes_cut_by_an_inner_edge() -> None:
    assert square_tiles(640, 360) == [(0, 0, 360), (280, 0, 360)]
    assert square_tiles(360, 640) == [(0, 0, 360), (0, 280, 360)]
    assert square_tiles(400, 360) == []

    class Model:
        def detect_people(self, image, min_score):
            h, w = image.shape[:2]
            if w == 640:  # the whole frame: nobody confident
                return np.zeros((0, 5))
            # in each tile: one person well inside, one cut by the tile's right edge at x = 360
            return np.array([[50.0, 20, 90, 160, 0.4], [330, 20, 360, 160, 0.5]])

    boxes, scores = CenterNetDetector(Model(), tiles=True).detect(IMAGE)
    # Left tile: the person at 50..90 stays, the one cut at 360 (an inner edge) goes. Right tile (x0 = 280):
    # 330..360 ends at the image's right border (640), not an inner edge, so it stays, shifted by 280.
    assert sorted(boxes[:, 0].tolist()) == [50.0, 330.0, 610.0]
    assert len(scores) == 3

    class Large(Model):
        def detect_people(self, image, min_score):
            if image.shape[1] == 640:  # the whole frame sees one large person around the left tile's one
                return np.array([[40.0, 10, 100, 170, 0.9]])
            return super().detect_people(image, min_score)

    boxes, _ = CenterNetDetector(Large(), tiles=True).detect(IMAGE)
    # The left tile's 50..90 person lies inside the whole-frame box: a part of that person, dropped.
    assert sorted(boxes[:, 0].tolist()) == [40.0, 330.0, 610.0]


@pytest.mark.parametrize("background", [False, True])
def test_pose_runs_every_person_as_one_batch(background: bool) -> None:
    class Two:
        name = "two"

        def detect(self, image):
            return np.array([[10.0, 10, 80, 160], [300, 10, 80, 160]]), np.array([0.9, 0.8])

    runtime = fake_predictor().runtime
    pipe = LivePipeline(
        Predictor(runtime, model_spec("distilpose-t")), TrackFromKeypoints(Two(), background=background)
    )
    try:
        result = pipe.process(IMAGE, index=0)
        assert len(result.instances) == 2 and runtime.calls == 1
    finally:
        pipe.close()


def test_the_man_on_the_box_gets_a_skeleton() -> None:
    """Frame 99 of the sample: a backlit man standing on a box, which the whole-frame CenterNet pass scores
    0.13 (split in two boxes); the tiled pass sees him at 512 px and finds him whole."""
    from distilpose.detection import make_detector
    from distilpose.inference.loading import load_predictor
    from distilpose.pipeline import make_live_pipeline
    from distilpose.similarity import box_iou
    from distilpose.video import VideoReader
    from tests.unit.test_detection import SAMPLE

    if not CenterNetDetector.available():
        pytest.skip("centernet not fetched (distilpose models fetch centernet)")
    image = VideoReader(SAMPLE, index_cache=None).frame(99)
    man = np.array([[216.0, 28.0, 43.0, 133.0]])  # his box, by eye
    default = make_detector("auto")
    assert default.name == "centernet-tiles"  # the default live detector is the one that finds him
    pipe = make_live_pipeline(load_predictor("distilpose-mnv2", threads=1).predictor, "auto", background=False)
    result = pipe.process(image, index=99)
    overlaps = box_iou(man, result.boxes)[0]
    assert overlaps.max() > 0.5
    inst = result.instances[int(np.argmax(overlaps))]
    assert (inst.scores > 0.3).sum() >= 8  # a skeleton, not noise


def test_centernet_on_onnx_runtime_agrees_or_falls_back(tmp_path, monkeypatch) -> None:
    """The detector runs on ONNX Runtime (no GIL held during a background pass) only when its export agrees
    with the PyTorch import; otherwise the PyTorch model is used and no file is left in the cache."""
    from distilpose.detection import OnnxCenterNet
    from distilpose.video import VideoReader
    from distilpose.zoo.centernet import load_centernet
    from tests.unit.test_detection import SAMPLE

    if not CenterNetDetector.available():
        pytest.skip("centernet not fetched (distilpose models fetch centernet)")
    model = load_centernet()
    monkeypatch.setenv("DISTILPOSE_HOME", str(tmp_path / "cache"))  # the zoo files were found above
    onnx = OnnxCenterNet.from_model(model)
    assert isinstance(onnx, OnnxCenterNet)
    image = VideoReader(SAMPLE, index_cache=None).frame(60)
    ours, reference = onnx.detect_people(image, 0.3), model.detect_people(image, 0.3)
    assert len(ours) == len(reference) == 2
    np.testing.assert_allclose(ours, reference, atol=0.5)
    monkeypatch.setenv("DISTILPOSE_HOME", str(tmp_path / "other"))
    monkeypatch.setattr(OnnxCenterNet, "PIXEL_TOLERANCE", -1.0)  # nothing can agree this well
    assert OnnxCenterNet.from_model(model) is model
    assert not list((tmp_path / "other").rglob("*.onnx"))
