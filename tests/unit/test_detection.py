"""Person boxes: full frame, user boxes, letterbox geometry, CenterNet post-processing (and the real model
when fetched), NMS, and tracking boxes from keypoints with periodic re-detection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from distilpose.detection import (
    CenterNetDetector,
    FixedBoxes,
    FullFrame,
    TrackFromKeypoints,
    box_from_keypoints,
    make_detector,
    nms,
)
from distilpose.errors import DistilPoseError
from distilpose.types import Instance

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "sports2d-demo-640.mp4"


def test_full_frame_and_user_boxes() -> None:
    boxes, scores = FullFrame().detect(np.zeros((360, 640, 3), np.uint8))
    np.testing.assert_array_equal(boxes, [[0, 0, 640, 360]])
    np.testing.assert_array_equal(scores, [1.0])
    user = FixedBoxes([[10, 20, 30, 40], [50, 60, 70, 80]])
    boxes, scores = user.detect(np.zeros((5, 5, 3), np.uint8))
    np.testing.assert_array_equal(boxes, [[10, 20, 30, 40], [50, 60, 70, 80]])
    assert len(scores) == 2
    with pytest.raises(DistilPoseError, match="positive width and height"):
        FixedBoxes([[0, 0, 0, 10]])


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 10, 10], [100, 100, 10, 10]], float)
    scores = np.array([0.5, 0.9, 0.7])
    # Boxes 0 and 1 overlap with IoU 90/110 = 0.82 > 0.5: only the better (1) stays; 2 is apart.
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


class _FakeCenterNet:
    """Stands in for the zoo model: returns fixed (K, 5) boxes and records the score floor it was asked for."""

    def __init__(self, dets: list[list[float]]) -> None:
        self.dets = np.array(dets, float).reshape(-1, 5)
        self.min_scores: list[float] = []

    def detect_people(self, image, min_score):
        self.min_scores.append(min_score)
        return self.dets[self.dets[:, 4] >= min_score]


IMAGE = np.zeros((360, 640, 3), np.uint8)


def test_centernet_keeps_confident_people_after_nms() -> None:
    fake = _FakeCenterNet(
        [
            [100, 25, 200, 225, 0.9],  # a person
            [105, 27, 200, 225, 0.6],  # the same person, lower score: suppressed by NMS
            [400, 150, 500, 350, 0.2],  # a person below the threshold: dropped (others are confident)
        ]
    )
    boxes, scores = CenterNetDetector(fake, score_threshold=0.3, fallback_threshold=0.1).detect(IMAGE)
    np.testing.assert_allclose(boxes, [[100, 25, 100, 200]])
    np.testing.assert_allclose(scores, [0.9])
    assert fake.min_scores == [0.1]  # asked down to the fallback floor, filtered here


def test_centernet_falls_back_to_the_best_tall_box_when_nobody_is_confident() -> None:
    fake = _FakeCenterNet(
        [
            [10, 10, 20, 30, 0.25],  # highest score but 20 px tall < 10% of 360: implausible person
            [100, 50, 160, 250, 0.15],  # 200 px tall: kept
            [300, 50, 360, 250, 0.12],  # also tall, lower score: only one fallback box
            [400, 50, 460, 250, 0.05],  # below the fallback threshold
        ]
    )
    detector = CenterNetDetector(fake, score_threshold=0.3, fallback_threshold=0.1, fallback_min_height=0.1)
    boxes, scores = detector.detect(IMAGE)
    np.testing.assert_allclose(boxes, [[100, 50, 60, 200]])
    assert detector.select(fake.dets[[0, 3]], 360)[0].shape == (0, 4)


@pytest.mark.skipif(
    not CenterNetDetector.available(), reason="CenterNet not fetched (distilpose models fetch centernet)"
)
def test_real_centernet_finds_both_people_in_the_sample() -> None:
    from distilpose.video import VideoReader

    torch.set_num_threads(1)
    frame = VideoReader(SAMPLE, index_cache=None).frame(60)
    boxes, scores = CenterNetDetector.from_cache().detect(frame)
    assert len(boxes) == 2 and (scores >= 0.3).all()
    # Frame 60: one person on the roof of the hut (upper left), one walking on the lawn (right), seen by eye.
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    order = np.argsort(centres[:, 0])
    left, right = centres[order]
    assert 150 < left[0] < 300 and left[1] < 150
    assert right[0] > 400 and right[1] > 200


def _instance(points: list[tuple[float, float]], scores: list[float]) -> Instance:
    kp = np.zeros((17, 3))
    sc = np.zeros(17)
    for k, ((x, y), s) in enumerate(zip(points, scores, strict=True)):
        kp[k] = (x, y, 2)
        sc[k] = s
    kp[len(points) :, 2] = 2  # the rest predicted at (0, 0) with score 0: ignored
    return Instance(kp, scores=sc, source="student")


def test_box_from_keypoints_by_hand() -> None:
    inst = _instance([(100, 50), (140, 50), (100, 250), (140, 250), (500, 500)], [0.9, 0.8, 0.7, 0.6, 0.1])
    box, score = box_from_keypoints(inst, min_score=0.5, min_points=4, pad=0.25, image_wh=(640, 360))
    # Confident points span x 100..140, y 50..250 -> pad 10 px in x and 50 px in y; clipped at y=0.
    np.testing.assert_allclose(box, [90, 0, 60, 300])
    assert score == pytest.approx((0.9 + 0.8 + 0.7 + 0.6) / 4)
    assert box_from_keypoints(inst, min_score=0.65, min_points=4, pad=0.25, image_wh=None) is None


class _CountingDetector:
    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image):
        self.calls += 1
        return np.array([[10.0, 10.0, 100.0, 200.0]]), np.array([0.9])


def _upright(x0: float, y0: float, x1: float, y1: float, score: float = 0.9) -> Instance:
    """A person whose 17 keypoints span the box (corners included), all scoring ``score``."""
    xs = np.linspace(x0, x1, 17)
    ys = np.linspace(y0, y1, 17)[::-1]
    xs[[0, 1]], ys[[0, 1]] = (x0, x1), (y0, y1)
    return _instance(list(zip(xs.tolist(), ys.tolist(), strict=True)), [score] * 17)


def test_tracking_redetects_every_n_frames_and_when_lost() -> None:
    inner = _CountingDetector()
    tracker = TrackFromKeypoints(inner, redetect_every=3, pad=0.0, min_score=0.5, min_points=4)
    image = np.zeros((360, 640, 3), np.uint8)
    person = _upright(20, 30, 80, 180)  # every keypoint confident: a track in no trouble
    used = []
    for _ in range(7):
        boxes, _ = tracker.detect(image)
        used.append((tracker.last_detected, boxes[0].tolist()))
        tracker.update([person])
    assert inner.calls == 3  # frames 0, 3 and 6
    assert [d for d, _ in used] == [True, False, False, True, False, False, True]
    assert used[1][1] == [20, 30, 60, 150]  # the box around the previous keypoints
    lost = _instance([(20, 30), (80, 30), (20, 180), (80, 180)], [0.9, 0.9, 0.1, 0.1])
    tracker.update([lost])  # 2 confident points < 4: lost
    tracker.detect(image)
    assert inner.calls == 4 and tracker.last_detected
    tracker.update([person])
    tracker.reset()  # a seek
    tracker.detect(image)
    assert inner.calls == 5


def test_make_detector() -> None:
    assert isinstance(make_detector("full-frame"), FullFrame)
    tracked = make_detector("user-boxes", user_boxes=[[1, 2, 3, 4]], tracking=True, redetect_every=5)
    assert isinstance(tracked, TrackFromKeypoints) and tracked.redetect_every == 5
    assert isinstance(tracked.detector, FixedBoxes)
    auto = make_detector("auto")
    assert auto.name == ("centernet-tiles" if CenterNetDetector.available() else "full-frame")
    with pytest.raises(DistilPoseError, match="unknown detector 'yolo'"):
        make_detector("yolo")
