"""Editing a project in the window: mouse drags commit one undoable edit, keys set visibility, people are
added, deleted, moved, scaled and copied, failed writes leave no phantom undo step, and everything is on disk
when the window is gone."""

from __future__ import annotations

import sqlite3

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from distilpose.app.annotate.template import TEMPLATE_POSE, template_instance
from distilpose.app.main_window import MainWindow
from distilpose.app.state import AppState
from distilpose.project import ProjectStore

from .conftest import mouse_drag, scene_to_view

LEFT_WRIST = 9


def _add_person(win, box=(40.0, 20.0, 100.0, 200.0)) -> int:
    assert win.editor.add_template(box), win.errors
    return win.state.selected_instance_id()


def _marker_pos(win, k: int) -> tuple[float, float]:
    marker = win.canvas.instance_items[0].marker_of[k]
    return marker.scenePos().x(), marker.scenePos().y()


def test_template_drag_undo_redo_and_reopen(qtbot, project_window, tmp_path) -> None:
    win, state, canvas = project_window, project_window.state, project_window.canvas
    store = state.project
    # A new person from the template: draw its box with the mouse.
    detector = win.live.settings.detector
    win.project.template_action.trigger()
    assert canvas.template_mode and not win.draw_boxes_action.isChecked()
    a, b = scene_to_view(canvas, 40, 20), scene_to_view(canvas, 140, 220)
    mouse_drag(qtbot, canvas, a, b)
    assert len(state.instances) == 1 and win.errors == []
    assert not canvas.box_mode and win.live.settings.detector == detector  # the live boxes are untouched
    assert state.user_boxes == []
    iid = state.instances[0].extras["id"]
    person = store.instance(iid)
    x0, y0 = canvas.mapToScene(a).x(), canvas.mapToScene(a).y()
    w, h = canvas.mapToScene(b).x() - x0, canvas.mapToScene(b).y() - y0
    np.testing.assert_allclose(person.keypoints[:, 0], x0 + TEMPLATE_POSE[:, 0] * w)
    np.testing.assert_allclose(person.keypoints[:, 1], y0 + TEMPLATE_POSE[:, 1] * h)
    assert (person.keypoints[:, 2] == 2).all() and person.source == "user"

    # Drag the left wrist: many mouse moves, ONE edit on release.
    before = person.keypoints.copy()
    commands_before = state.undo_stack.count()
    start = scene_to_view(canvas, *before[LEFT_WRIST, :2])
    end = start + QPoint(30, -25)
    mouse_drag(qtbot, canvas, start, end, steps=6)
    target = canvas.mapToScene(end)
    after = store.instance(iid).keypoints
    assert tuple(after[LEFT_WRIST]) == pytest.approx((target.x(), target.y(), 2))
    others = np.arange(17) != LEFT_WRIST
    np.testing.assert_array_equal(after[others], before[others])  # a keypoint drag never moves the person
    assert state.undo_stack.count() == commands_before + 1
    assert [e.op for e in store.history()].count("move_keypoint") == 1
    assert _marker_pos(win, LEFT_WRIST) == pytest.approx((target.x(), target.y()))
    assert win.project.undo_action.text() == "&Undo Move keypoint left_wrist"

    win.project.undo_action.trigger()  # Ctrl+Z
    np.testing.assert_array_equal(store.instance(iid).keypoints, before)
    assert _marker_pos(win, LEFT_WRIST) == pytest.approx(tuple(before[LEFT_WRIST, :2]))
    assert win.project.redo_action.text() == "&Redo Move keypoint left_wrist"
    win.project.redo_action.trigger()
    np.testing.assert_array_equal(store.instance(iid).keypoints, after)
    assert _marker_pos(win, LEFT_WRIST) == pytest.approx((target.x(), target.y()))

    # Nothing to save: close the window, open the project in a new one, the same data is there.
    path, frame_id = state.project_path, state.frame_id
    expected = store.instances(frame_id)
    win.close()
    assert state.project is None
    again = MainWindow(AppState())
    qtbot.addWidget(again)
    assert again.project.open_project(path)
    assert again.state.frame_id == frame_id
    [back] = again.state.instances
    np.testing.assert_array_equal(back.keypoints, expected[0].keypoints)
    assert (back.bbox, back.source, back.extras["id"]) == (expected[0].bbox, "user", iid)
    assert again.canvas.instance_items[0].marker_of[LEFT_WRIST].scenePos() == QPointF(target.x(), target.y())
    assert again.windowTitle() == "figure.png — poses.dpproj — DistilPose Studio"


def test_visibility_keys_and_context_menu(qtbot, project_window) -> None:
    win, state, canvas = project_window, project_window.state, project_window.canvas
    iid = _add_person(win)
    store = state.project
    x, y = store.instance(iid).keypoints[LEFT_WRIST, :2]
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=scene_to_view(canvas, x, y))
    assert state.joint == (iid, LEFT_WRIST)
    assert store.instance(iid).keypoints[LEFT_WRIST, :2].tolist() == [x, y]  # a click is not a drag
    win.activateWindow()
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_1)
    assert store.instance(iid).keypoints[LEFT_WRIST].tolist() == [x, y, 1]
    assert canvas.instance_items[0].marker_of[LEFT_WRIST].brush().style() == Qt.BrushStyle.NoBrush  # hollow
    qtbot.keyClick(canvas, Qt.Key.Key_0)
    assert store.instance(iid).keypoints[LEFT_WRIST].tolist() == [x, y, 0]  # position kept for undo
    assert LEFT_WRIST not in canvas.instance_items[0].marker_of
    # The context menu offers to place the missing joint; the next click puts it there.
    menu = win.project.build_context_menu(QPointF(x, y))
    place = next(a.menu() for a in menu.actions() if a.text() == "Place Missing Keypoint")
    assert [a.text() for a in place.actions()] == ["left_wrist"]
    place.actions()[0].trigger()
    spot = scene_to_view(canvas, 20, 150)
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=spot)
    placed = canvas.mapToScene(spot)
    assert store.instance(iid).keypoints[LEFT_WRIST].tolist() == [placed.x(), placed.y(), 2]
    qtbot.keyClick(canvas, Qt.Key.Key_2)  # already visible: nothing to do, no undo step
    labels = [state.undo_stack.text(i) for i in range(state.undo_stack.count())]
    assert labels[-3:] == [
        "Mark occluded left_wrist",
        "Delete keypoint left_wrist",
        "Place keypoint left_wrist",
    ]
    for _ in range(3):
        qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert store.instance(iid).keypoints[LEFT_WRIST].tolist() == [x, y, 2]
    qtbot.keyClick(
        canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert store.instance(iid).keypoints[LEFT_WRIST].tolist() == [x, y, 1]


def test_delete_and_restore_a_person(project_window) -> None:
    win, state = project_window, project_window.state
    iid = _add_person(win)
    kept = state.project.instance(iid)
    win.project.delete_person_action.trigger()
    assert state.instances == [] and win.canvas.instance_items == []
    assert state.frames[0].instances == 0
    win.project.undo_action.trigger()
    back = state.project.instance(iid)  # the same id: later commands that refer to it stay valid
    np.testing.assert_array_equal(back.keypoints, kept.keypoints)
    assert back.extras["created"] == kept.extras["created"]
    assert len(win.canvas.instance_items) == 1 and state.frames[0].instances == 1


def test_shift_drag_moves_and_the_handle_scales_the_person(qtbot, project_window) -> None:
    win, state, canvas = project_window, project_window.state, project_window.canvas
    iid = _add_person(win, (40.0, 20.0, 100.0, 200.0))
    store = state.project
    before = store.instance(iid)
    nose = scene_to_view(canvas, *before.keypoints[0, :2])
    end = nose + QPoint(20, 10)
    mouse_drag(qtbot, canvas, nose, end, modifier=Qt.KeyboardModifier.ShiftModifier)
    delta = canvas.mapToScene(end) - canvas.mapToScene(nose)
    moved = store.instance(iid)
    np.testing.assert_allclose(moved.keypoints[:, :2], before.keypoints[:, :2] + [delta.x(), delta.y()])
    assert moved.bbox == pytest.approx((40 + delta.x(), 20 + delta.y(), 100, 200))
    assert state.undo_stack.text(state.undo_stack.count() - 1) == "Move person"

    # The handle at the box's bottom-right corner scales about the top-left corner.
    x, y, w, h = moved.bbox
    handle = scene_to_view(canvas, x + w, y + h)
    assert canvas.handle_at(handle) is not None
    target = scene_to_view(canvas, x + 1.5 * w, y + 1.5 * h)
    mouse_drag(qtbot, canvas, handle, target)
    v0 = np.array([w, h])
    v = np.array([canvas.mapToScene(target).x() - x, canvas.mapToScene(target).y() - y])
    s = float(v @ v0 / (v0 @ v0))  # the drag projected on the box diagonal
    assert s == pytest.approx(1.5, abs=0.02)
    scaled = store.instance(iid)
    np.testing.assert_allclose(scaled.keypoints[:, :2], [x, y] + s * (moved.keypoints[:, :2] - [x, y]))
    assert scaled.bbox == pytest.approx((x, y, s * w, s * h))
    win.project.undo_action.trigger()
    win.project.undo_action.trigger()
    np.testing.assert_array_equal(store.instance(iid).keypoints, before.keypoints)


def test_copy_people_from_the_previous_frame(project_window, tmp_path) -> None:
    win, state = project_window, project_window.state
    iid = _add_person(win)
    first = state.project.instance(iid)
    state.project.set_track(iid, 4)
    second = tmp_path / "second.png"
    assert cv2.imwrite(str(second), np.full((240, 240, 3), 90, np.uint8))
    assert win.editor.add_images([second])
    assert [r.name for r in state.frames] == ["figure.png", "second.png"]
    assert state.frame_id == state.frames[1].frame_id and state.instances == []
    win.project.copy_previous_action.trigger()
    [copy] = state.instances
    np.testing.assert_array_equal(copy.keypoints, first.keypoints)
    assert (copy.source, copy.extras["verified"], copy.track_id) == ("user", False, 4)
    assert copy.extras["id"] != iid
    win.project.undo_action.trigger()
    assert state.instances == [] and len(state.project.instances(state.frames[0].frame_id)) == 1


def test_a_locked_project_reports_and_records_nothing(qtbot, project_window) -> None:
    win, state = project_window, project_window.state
    iid = _add_person(win)
    state.select_joint(iid, LEFT_WRIST)
    count = state.undo_stack.count()
    other = sqlite3.connect(str(state.project_path), isolation_level=None, timeout=0.1)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        win.project.occluded_action.trigger()
        title, text = win.errors[-1]
        assert title == "Cannot mark occluded left_wrist"
        assert "locked by another program" in text and "poses.dpproj" in text
        assert state.undo_stack.count() == count  # no phantom command
        assert win.project.undo_action.text() == "&Undo Add person (template)"
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert state.project.instance(iid).keypoints[LEFT_WRIST, 2] == 2
    win.project.occluded_action.trigger()
    assert state.project.instance(iid).keypoints[LEFT_WRIST, 2] == 1
    assert state.undo_stack.count() == count + 1


def test_a_failed_undo_keeps_the_stack_where_it_was(project_window) -> None:
    win, state = project_window, project_window.state
    _add_person(win)
    index = state.undo_stack.index()
    other = sqlite3.connect(str(state.project_path), isolation_level=None, timeout=0.1)
    other.execute("BEGIN IMMEDIATE")
    try:
        assert not state.undo()
        assert state.undo_stack.index() == index and len(state.instances) == 1
        assert win.errors[-1][0] == "Cannot undo add person (template)"
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert state.undo() and state.instances == []


def test_edits_need_a_project_frame_and_a_selection(project_window, tmp_path) -> None:
    win, state = project_window, project_window.state
    assert not win.editor.set_visibility(1)
    assert win.errors[-1] == ("Cannot set the visibility", "Select a keypoint first (click it on the image).")
    outside = tmp_path / "outside.png"
    assert cv2.imwrite(str(outside), np.zeros((50, 60, 3), np.uint8))
    assert win.open_image(outside)
    assert state.frame_id is None and win.instances_label.text() == "not in the project"
    assert not win.editor.add_template((1, 1, 20, 40))
    assert "not in the project" in win.errors[-1][1]
    assert state.project.counts()["instances"] == 0


def test_template_pose_fills_its_box() -> None:
    inst = template_instance((10, 20, 100, 200))
    assert inst.keypoints[0].tolist() == [60.0, 40.0, 2.0]  # nose at (0.5, 0.1) of the box
    assert inst.keypoints[15].tolist() == [73.0, 210.0, 2.0]  # left ankle at (0.63, 0.95)
    assert inst.bbox == (10, 20, 100, 200)
    with pytest.raises(ValueError, match="positive size"):
        template_instance((0, 0, 0, 10))


def test_reopened_store_has_what_the_window_wrote(project_window) -> None:
    win, state = project_window, project_window.state
    iid = _add_person(win)
    state.select_joint(iid, 3)
    win.project.unlabel_action.trigger()
    with ProjectStore.open(state.project_path) as other:  # a second connection sees the committed edit
        assert other.instance(iid).keypoints[3, 2] == 0
