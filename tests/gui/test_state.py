"""AppState: what it holds after each load, which signals it emits, and that failures change nothing."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from distilpose.app.state import AppState
from distilpose.errors import CocoFormatError, MediaError

from .conftest import PERSON_A, PERSON_B


def test_annotations_before_or_after_the_image_give_the_same_instances(qtbot, figure_files) -> None:
    first = AppState()
    first.open_annotations(figure_files.ann)
    assert first.instances == [] and first.coco_image is None
    with qtbot.waitSignals([first.imageChanged, first.instancesChanged]):
        first.open_image(figure_files.image)
    second = AppState()
    second.open_image(figure_files.image)
    with qtbot.waitSignals([second.annotationsChanged, second.instancesChanged]):
        second.open_annotations(figure_files.ann)
    for state in (first, second):
        assert state.coco_image is not None and state.coco_image.id == 7  # matched by base name
        assert len(state.instances) == 2
        np.testing.assert_array_equal(
            state.instances[0].keypoints[PERSON_A[:, 2] > 0], PERSON_A[PERSON_A[:, 2] > 0]
        )
        np.testing.assert_array_equal(state.instances[1].keypoints, PERSON_B)
        assert state.pending.is_idle()


def test_failed_loads_keep_the_state_and_emit_nothing(qtbot, figure_files, tmp_path) -> None:
    state = AppState()
    state.open_image(figure_files.image)
    state.open_annotations(figure_files.ann)
    state.set_selection([0])
    corrupt = tmp_path / "c.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff garbage")
    bad_json = tmp_path / "b.json"
    bad_json.write_text("[]", encoding="utf-8")
    quiet = contextlib.ExitStack()
    for signal in (
        state.imageChanged,
        state.instancesChanged,
        state.selectionChanged,
        state.annotationsChanged,
    ):
        quiet.enter_context(qtbot.assertNotEmitted(signal))
    with quiet:
        with pytest.raises(MediaError):
            state.open_image(corrupt)
        with pytest.raises(CocoFormatError, match="results file"):
            state.open_path(bad_json)
    assert state.image_path == figure_files.image
    assert state.annotations_path == figure_files.ann
    assert len(state.instances) == 2 and state.selection == (0,)
    assert state.pending.is_idle()  # a failed load does not leave work "pending" forever


def test_selection_is_cleared_by_a_new_image(qtbot, figure_files) -> None:
    state = AppState()
    state.open_annotations(figure_files.ann)
    state.open_image(figure_files.image)
    with qtbot.waitSignal(state.selectionChanged):
        state.set_selection([1, 0, 1])
    assert state.selection == (0, 1)
    with qtbot.waitSignal(state.selectionChanged):
        state.open_image(figure_files.image)
    assert state.selection == ()


def test_video_frames_change_the_picture_but_not_the_media(qtbot, small_video) -> None:
    state = AppState()
    with qtbot.waitSignals([state.mediaChanged, state.imageChanged, state.frameChanged]):
        state.open_video(small_video)
    assert (state.media_kind, state.frame_count, state.frame_index) == ("video", 12, 0)
    with (
        qtbot.assertNotEmitted(state.imageChanged),
        qtbot.assertNotEmitted(state.mediaChanged),
        qtbot.waitSignal(state.frameChanged),
    ):
        state.set_frame(5)  # same size: no refit of the view
    assert state.frame_index == 5 and state.current_name() == "clip.mp4#frame=5"
    assert state.frame_time() == pytest.approx(0.5)  # 10 fps clip
    before = state.image
    quiet = contextlib.ExitStack()
    for signal in (state.frameChanged, state.imageChanged, state.mediaChanged):
        quiet.enter_context(qtbot.assertNotEmitted(signal))
    with quiet, pytest.raises(MediaError, match=r"frame 12 out of range \(0..11\)"):
        state.set_frame(12)
    assert state.frame_index == 5 and state.image is before
    assert state.pending.is_idle()


def test_a_failed_video_keeps_the_current_media(qtbot, small_video, tmp_path) -> None:
    state = AppState()
    state.open_video(small_video)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with qtbot.assertNotEmitted(state.mediaChanged), pytest.raises(MediaError, match="not a readable video"):
        state.open_path(bad)
    assert state.source.path == small_video and state.pending.is_idle()
