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
    """A confident person: all 17 keypoints on the box's corners (a track in no trouble, so no alarm asks for
    a detection and the schedule is the interval's alone)."""
    corners = [(x0, y0), (x1, y0), (x0, y1), (x1, y1)]
    return _instance([corners[k % 4] for k in range(17)], [0.9] * 17)


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
            assert not tracker.last_detected and not tracker.worker.busy
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


class _TwoPasses:
    """A detector of two passes: the whole frame finds ``first``, the second pass (blocked until released, as a
    tiled detection's tiles still run) adds ``second``; the first (in-line) detection of a stream never waits."""

    name = "two-passes"

    def __init__(self, first, second) -> None:
        self.first, self.second = (np.asarray(b, float).reshape(-1, 4) for b in (first, second))
        self.release = threading.Event()
        self.second_pass = threading.Event()  # the first pass's boxes were handed over
        self.calls = 0

    def detect_passes(self, image):
        self.calls += 1
        yield self.first.copy(), np.full(len(self.first), 0.9)
        self.second_pass.set()
        if self.calls > 1:
            assert self.release.wait(10)
            self.release.clear()
        both = np.concatenate([self.first, self.second])
        yield both, np.full(len(both), 0.9)

    def detect(self, image):
        *_, last = self.detect_passes(image)
        return last


def test_tiled_detection_hands_its_whole_frame_pass_first() -> None:
    calls: list[int] = []

    class Model:
        def detect_people(self, image, min_score):
            calls.append(image.shape[1])
            if image.shape[1] == 640:  # the whole frame: one person
                return np.array([[100.0, 20, 160, 200, 0.8]])
            return np.array([[200.0, 30, 240, 150, 0.5]])  # each tile: one more (x 200 and 480 in the frame)

    detector = CenterNetDetector(Model(), tiles=True)
    passes = list(detector.detect_passes(IMAGE))
    assert calls == [640, 360, 360]
    assert len(passes) == 2  # after the whole frame, then after the tiles
    assert passes[0][0].tolist() == [[100.0, 20, 60, 180]]
    assert sorted(passes[1][0][:, 0].tolist()) == [100.0, 200.0, 480.0]
    np.testing.assert_allclose(detector.detect(IMAGE)[0], passes[1][0])  # detect() is the last pass
    calls.clear()
    [whole_only] = detector.detect_passes(IMAGE, extra=False)  # a periodic detection without its tiles
    assert calls == [640] and whole_only[0].tolist() == [[100.0, 20, 60, 180]]
    square = np.zeros((360, 360, 3), np.uint8)  # no tiles: one pass, one result
    assert len(list(CenterNetDetector(Model(), tiles=True).detect_passes(square))) == 1


def test_a_newcomer_found_by_the_first_pass_is_tracked_while_the_tiles_run() -> None:
    walker, newcomer, small = [20.0, 30, 60, 150], [300.0, 40, 50, 160], [500.0, 200, 30, 60]
    detector = _TwoPasses([walker], [])
    tracker = TrackFromKeypoints(detector, redetect_every=2, pad=0.0, background=True)
    try:
        tracker.detect(IMAGE)  # frame 0: in line
        tracker.update([_person(20, 30, 80, 180)])
        tracker.detect(IMAGE)  # frame 1: tracked
        assert tracker.worker is not None and not tracker.worker.busy and tracker.alarm is None
        tracker.update([_person(20, 30, 80, 180)])
        detector.first = np.array([walker, newcomer])  # someone walks in, found by the whole-frame pass
        detector.second = np.array([small])  # and the tiles find a small person
        detector.second_pass.clear()  # (set by frame 0's in-line detection)
        tracker.detect(IMAGE)  # frame 2: due, submitted
        tracker.update([_person(20, 30, 80, 180)])
        worker = tracker.worker
        assert worker is not None and detector.second_pass.wait(10)  # the tiles wait for the release
        boxes, _ = tracker.detect(IMAGE)  # frame 3: the first pass's boxes, the tiles still running
        assert newcomer in boxes.tolist() and small not in boxes.tolist() and tracker.last_detected
        assert worker.busy and tracker.detections == 1  # a detection counts once, when its last pass ends
        tracker.update([_person(20, 30, 80, 180), _person(300, 40, 350, 200)])
        detector.release.set()
        assert worker.wait(10)
        boxes, _ = tracker.detect(IMAGE)  # frame 4: all passes; the newcomer's track continues
        assert small in boxes.tolist() and len(boxes) == 3 and tracker.detections == 2
        assert sorted(tracker.last_origin.tolist()) == [-1, 0, 1]
    finally:
        detector.release.set()
        tracker.close()


def test_stepped_worker_hands_each_pass_after_its_frames() -> None:
    from distilpose.detection import SteppedDetectionWorker

    detector = _TwoPasses([[20.0, 30, 60, 150]], [[300.0, 40, 50, 160]])
    detector.calls = -10  # never blocks: the clock, not a thread, decides when boxes land
    worker = SteppedDetectionWorker(detector, pass_frames=3)
    assert worker.submit(IMAGE, token=7) and worker.busy
    assert not worker.submit(IMAGE, token=8)  # one detection at a time
    got = [worker.take() for _ in range(6)]  # one take a processed frame
    assert [g is not None for g in got] == [False, False, True, False, False, True]
    assert got[2][0] == 7 and len(got[2][1][0]) == 1 and got[2][2] is False  # the first pass, after 3 frames
    assert len(got[5][1][0]) == 2 and got[5][2] is True and not worker.busy  # all of it, after 6
    assert worker.take() is None and worker.runs == 1
    with pytest.raises(ValueError):
        SteppedDetectionWorker(detector, 0)


def test_a_single_pass_taken_before_it_is_final_is_merged_once() -> None:
    """A one-pass detection is published when its pass ends and again, final, when the detector returns; the
    tracker may take it in between. The second hand-over only ends the detection: merging the same boxes again
    would hand a track in trouble a box one frame older."""
    walker = [20.0, 30, 60, 150]
    handed, released = threading.Event(), threading.Event()

    class OnePass:
        name = "one-pass"
        calls = 0

        def detect_passes(self, image):
            OnePass.calls += 1
            yield np.array([walker]), np.array([0.9])
            if OnePass.calls > 1:  # the pass's boxes were published; the detector returns when released
                handed.set()
                assert released.wait(10)

        def detect(self, image):
            *_, last = self.detect_passes(image)
            return last

    tracker = TrackFromKeypoints(OnePass(), redetect_every=1, pad=0.0, background=True)
    try:
        tracker.detect(IMAGE)  # frame 0: in line
        tracker.update([_person(20, 30, 80, 180)])
        tracker.detect(IMAGE)  # frame 1: due, submitted
        tracker.update([_person(20, 30, 80, 180)])
        worker = tracker.worker
        assert worker is not None and handed.wait(10)
        tracker.detect(IMAGE)  # frame 2: the pass's boxes, merged
        assert tracker.last_detected and worker.busy and tracker.detections == 1
        tracker.update([_person(20, 30, 80, 180)])
        released.set()
        assert worker.wait(10)
        tracker.detect(IMAGE)  # frame 3: the same boxes, final: the detection ends, nothing merged again
        assert not tracker.last_detected and tracker.detections == 2
    finally:
        released.set()
        tracker.close()


def test_periodic_detections_run_the_tiles_every_nth_time_and_trouble_always_does() -> None:
    class Recorder:
        name = "recorder"
        local_ok = False

        def __init__(self) -> None:
            self.extras: list[bool] = []

        def detect(self, image):
            return np.array([[20.0, 30, 60, 150]]), np.array([0.9])

        def detect_passes(self, image, extra=True):
            self.extras.append(extra)
            yield self.detect(image)

    detector = Recorder()
    tracker = TrackFromKeypoints(detector, redetect_every=2, pad=0.0, background=True, pass_frames=1, tiles_every=3)
    tracker.detect(IMAGE)  # frame 0: in line, every pass (detect())
    tracker.update([_person(20, 30, 80, 180)])
    for _ in range(13):  # confident people: only the interval asks (a detection of a frame: back to back)
        tracker.detect(IMAGE)
        tracker.update([_person(20, 30, 80, 180)])
    assert not tracker.alarms and detector.extras[:9] == [True, False, False] * 3
    tracker.detect(IMAGE)
    tracker.update([_person(20, 30, 80, 180)])
    tracker.detect(IMAGE)  # the one after the interval's: a person in trouble asks now, with every pass
    tracker.update([_instance([(300.0, 40.0)] * 17, [0.9] * 3 + [0.05] * 14)])  # weak: an alarm
    tracker.detect(IMAGE)
    assert tracker.alarms and detector.extras[-1] is True
    with pytest.raises(ValueError):
        TrackFromKeypoints(detector, tiles_every=0)
