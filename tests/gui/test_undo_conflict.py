"""Undo in a window never reverts another window's edit (issue 23, defect 1): the undo of a keypoint move
sets back the keypoint only; an undo that would revert the other window is refused with its message, and the
step leaves the undo history so the steps before it can still be undone."""

from __future__ import annotations

import numpy as np

from distilpose.app.annotate import commands
from distilpose.project import ProjectStore

LEFT_WRIST = 9


def _person_and_steps(win) -> tuple[int, int, np.ndarray]:
    """A person (added with the template), then a split and a keypoint move; returns the person, the frame and
    the keypoint before the move."""
    state = win.state
    assert win.editor.add_template((40.0, 20.0, 100.0, 200.0)), win.errors
    iid, frame = state.selected_instance_id(), state.frame_id
    before = state.project.instance(iid).keypoints[LEFT_WRIST].copy()
    assert state.push(commands.set_splits({frame: "train"}))
    assert state.push(commands.move_keypoint(frame, iid, LEFT_WRIST, 77.0, 88.0))
    return iid, frame, before


def test_undo_sets_back_only_the_keypoint_when_another_window_changed_the_person(project_window):
    win, state = project_window, project_window.state
    iid, _frame, before = _person_and_steps(win)
    steps = state.undo_stack.count()
    with ProjectStore.open(state.project_path) as other:  # the second window
        other.set_verified(iid, False)
        other.set_track(iid, 5)
    win.project.undo_action.trigger()
    person = state.project.instance(iid)
    assert win.errors == []
    assert person.extras["verified"] is False and person.track_id == 5, "undo reverted the other window"
    np.testing.assert_array_equal(person.keypoints[LEFT_WRIST], before)
    assert state.undo_stack.index() == steps - 1 and state.undo_stack.count() == steps
    assert win.project.redo_action.text() == "&Redo Move keypoint left_wrist"


def test_a_refused_undo_is_reported_and_leaves_the_history(project_window):
    win, state = project_window, project_window.state
    iid, frame, _before = _person_and_steps(win)
    steps = state.undo_stack.count()
    with ProjectStore.open(state.project_path) as other:
        other.move_keypoint(iid, LEFT_WRIST, 10.0, 11.0)  # the other window moves the same keypoint
    win.project.undo_action.trigger()
    assert len(win.errors) == 1
    title, text = win.errors[0]
    assert title == "Cannot undo move keypoint left_wrist"
    assert "another window changed this person" in text and "left_wrist" in text
    assert "removed from the undo history" in text
    assert tuple(state.project.instance(iid).keypoints[LEFT_WRIST]) == (10.0, 11.0, 2.0)  # theirs stays
    # the refused step is gone; the split before it is next, and undoes
    assert state.undo_stack.count() == steps - 1 and state.undo_stack.index() == steps - 1
    assert win.project.undo_action.text() == "&Undo Split 1 frames"
    shown = state.instance_by_id(iid)
    assert shown is not None and tuple(shown.keypoints[LEFT_WRIST]) == (10.0, 11.0, 2.0)  # the view re-read
    win.project.undo_action.trigger()
    assert state.project.frame(frame).split == "none" and len(win.errors) == 1
    assert state.undo_stack.index() == steps - 2


def test_a_refused_redo_is_reported_and_leaves_the_history(project_window):
    win, state = project_window, project_window.state
    iid, _frame, _before = _person_and_steps(win)
    win.project.undo_action.trigger()  # the move is undone: the keypoint is back
    steps, index = state.undo_stack.count(), state.undo_stack.index()
    with ProjectStore.open(state.project_path) as other:
        other.move_keypoint(iid, LEFT_WRIST, 10.0, 11.0)
    win.project.redo_action.trigger()
    assert [t for t, _ in win.errors] == ["Cannot redo move keypoint left_wrist"]
    assert "another window changed this person" in win.errors[0][1]
    assert tuple(state.project.instance(iid).keypoints[LEFT_WRIST]) == (10.0, 11.0, 2.0)
    assert state.undo_stack.count() == steps - 1 and state.undo_stack.index() == index
    assert not state.undo_stack.canRedo() and win.project.undo_action.text() == "&Undo Split 1 frames"
