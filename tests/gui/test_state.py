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
