"""Drawing poses onto frames with cv2, and the atomic H.264 writer."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from distilpose.errors import DistilPoseError
from distilpose.keypoints import KEYPOINT_COLORS, LIMB_COLORS, SKELETON
from distilpose.render import TEACHER_COLOR, H264Writer, draw_instances, fit_frame
from distilpose.types import Instance
from distilpose.video import VideoReader


def _person(scores: np.ndarray | None = None) -> Instance:
    kp = np.zeros((17, 3))
    rng = np.random.default_rng(3)
    kp[:, 0] = 20 + np.arange(17) * 11  # one column per keypoint, far apart
    kp[:, 1] = 40 + rng.integers(0, 100, 17)
    kp[:, 2] = 2
    return Instance(kp, scores=scores if scores is not None else np.full(17, 0.9), source="student")


def test_keypoints_are_drawn_in_their_colours_and_low_scores_are_left_out() -> None:
    image = np.full((200, 220, 3), 128, np.uint8)
    scores = np.full(17, 0.9)
    scores[[3, 9]] = 0.1
    person = _person(scores)
    out = draw_instances(image, [person], threshold=0.5, radius=4)
    assert (image == 128).all()  # the input is not modified
    for k in range(17):
        x, y = (round(v) for v in person.keypoints[k, :2])
        if k in (3, 9):
            continue
        assert tuple(out[y, x]) == KEYPOINT_COLORS[k], k
    # Keypoint 9 (left wrist) is below the threshold: neither its marker nor its limbs are drawn.
    x9, y9 = (round(v) for v in person.keypoints[9, :2])
    assert tuple(out[y9, x9]) == (128, 128, 128)
    limb = SKELETON.index((7, 9))
    mid = ((person.keypoints[7, :2] + person.keypoints[9, :2]) / 2).round().astype(int)
    assert tuple(out[mid[1], mid[0]]) == (128, 128, 128)
    # A limb between two confident keypoints has the limb's colour at its midpoint.
    limb = SKELETON.index((5, 7))
    mid = ((person.keypoints[5, :2] + person.keypoints[7, :2]) / 2).round().astype(int)
    assert np.abs(out[mid[1], mid[0]].astype(int) - LIMB_COLORS[limb]).max() <= 40


def test_single_colour_for_teacher_and_unlabelled_user_points() -> None:
    image = np.zeros((200, 220, 3), np.uint8)
    person = _person()
    out = draw_instances(image, [person], color=TEACHER_COLOR, radius=4)
    x, y = (round(v) for v in person.keypoints[0, :2])
    assert tuple(out[y, x]) == TEACHER_COLOR
    user = Instance(person.keypoints.copy())
    user.keypoints[0, 2] = 0  # not labelled: not drawn, whatever the threshold
    out = draw_instances(image, [user], radius=4)
    assert tuple(out[y, x]) == (0, 0, 0)


def test_fit_frame_letterboxes() -> None:
    tall = np.full((100, 50, 3), 255, np.uint8)
    out = fit_frame(tall, (200, 100))
    assert out.shape == (100, 200, 3)
    assert (out[:, :75] == 0).all() and (out[:, 75:125] == 255).all() and (out[:, 125:] == 0).all()


def test_h264_writer_round_trip_with_odd_size(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    with H264Writer(path, fps=12.5, size_wh=(65, 49)) as writer:
        for i in range(9):
            writer.write(np.full((49, 65, 3), colours[i % 3], np.uint8))
    assert list(tmp_path.iterdir()) == [path]  # no temp file left
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
    video = VideoReader(path, index_cache=None)
    assert len(video) == 9 and (video.width, video.height) == (66, 50)
    assert video.fps == pytest.approx(12.5)
    for i in range(9):
        centre = video.frame(i)[24, 32].astype(int)
        assert np.abs(centre - colours[i % 3]).max() <= 12


def test_h264_writer_leaves_nothing_when_aborted(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="boom"), H264Writer(path, 30, (32, 32)) as writer:
        writer.write(np.zeros((32, 32, 3), np.uint8))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    writer = H264Writer(path, 30, (32, 32))
    with pytest.raises(DistilPoseError, match="frame 0 is 16x32, the video is 32x32"):
        writer.write(np.zeros((32, 16, 3), np.uint8))
    writer.abort()
    assert list(tmp_path.iterdir()) == []
