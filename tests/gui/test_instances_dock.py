"""The Instances dock: people of the frame with status, score and 17 keypoints; rows and canvas select each
other; visibility edits are undoable commands; hide and lock keep the mouse and the keys off a person; Tab
cycles people and J jumps to the next frame to check."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from distilpose.app.annotate.instance_rows import person_rows
from distilpose.app.annotate.instances_dock import HIDE_COL, LOCK_COL, NAME_COL, SCORE_COL, STATUS_COL
from distilpose.keypoints import NAMES
from distilpose.types import Instance

from .conftest import PERSON_A, add_grey_images, mouse_drag, scene_to_view

JOINT = 10  # right_wrist: labelled (v=2) in PERSON_A


def _prediction(offset: float = 0.0, score: float = 0.8) -> Instance:
    kp = PERSON_A.copy()
    kp[:, 0] += offset
    kp[:, 2] = 2
    return Instance(
        keypoints=kp, scores=np.linspace(0.3, 0.9, 17), score=score, source="student", extras={"model": "m"}
    )


def _people(win, *instances: Instance) -> list[int]:
    """Store people on the shown frame (as a worker would) and show them."""
    store, frame = win.state.project, win.state.frame_id
    ids = [store.add_instance(frame, inst) for inst in instances]
    win.state.reload_instances()
    win.state.refresh_frames()
    return ids


def test_rows_show_status_score_and_keypoints(project_window) -> None:
    win = project_window
    user, pred = _people(win, Instance(keypoints=PERSON_A.copy()), _prediction(30.0))
    dock = win.instances_dock
    assert dock.isVisibleTo(win)
    tree = dock.tree
    assert tree.topLevelItemCount() == 2
    first, second = tree.topLevelItem(0), tree.topLevelItem(1)
    assert first.text(NAME_COL).startswith("person 0") and first.text(STATUS_COL) == "labelled"
    assert second.text(STATUS_COL) == "to check" and second.text(SCORE_COL) == "0.80"
    assert second.childCount() == 17
    wrist = second.child(JOINT)
    assert NAMES[JOINT] in wrist.text(NAME_COL)
    assert wrist.text(STATUS_COL) == "2 visible"
    assert wrist.text(SCORE_COL) == f"{np.linspace(0.3, 0.9, 17)[JOINT]:.2f}"
    assert "1 labelled, 1 to check" in dock.summary_label.text()
    # Accepting changes the row's status (the dock follows the store): an accepted person is verified.
    assert win.editor.accept(pred)
    assert tree.topLevelItem(1).text(STATUS_COL) == "verified"
    assert "accepted student prediction" in tree.topLevelItem(1).toolTip(NAME_COL)
    assert [r.status for r in person_rows(win.state.instances)] == ["labelled", "verified"]
    assert user in (r.instance_id for r in dock.rows)


def test_selecting_a_row_selects_on_the_canvas_and_back(qtbot, project_window) -> None:
    win = project_window
    a, b = _people(win, Instance(keypoints=PERSON_A.copy()), _prediction(30.0))
    tree = win.instances_dock.tree
    tree.setCurrentItem(tree.topLevelItem(1).child(JOINT))
    assert win.state.joint == (b, JOINT)
    assert win.canvas.instance_items[1].selected and not win.canvas.instance_items[0].selected
    # A click on the canvas selects the joint's row.
    canvas = win.canvas
    x, y = win.state.instance_by_id(a).keypoints[0, :2]
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=scene_to_view(canvas, x, y))
    assert win.state.joint[0] == a
    current = tree.currentItem()
    assert current.parent() is tree.topLevelItem(0)
    assert current.parent().indexOfChild(current) == win.state.joint[1]


def test_visibility_is_edited_in_the_dock_as_an_undoable_command(qtbot, project_window) -> None:
    win = project_window
    [iid] = _people(win, Instance(keypoints=PERSON_A.copy()))
    dock = win.instances_dock
    item = dock.tree.topLevelItem(0).child(JOINT)
    dock.tree.setCurrentItem(item)
    dock.tree.editItem(item, STATUS_COL)
    combo = dock.tree.findChild(QComboBox)
    assert combo is not None and combo.currentData() == 2
    combo.setCurrentIndex(combo.findData(1))
    combo.activated.emit(combo.currentIndex())
    store = win.state.project
    qtbot.waitUntil(lambda: store.instance(iid).keypoints[JOINT, 2] == 1)
    assert win.state.undo_stack.undoText() == f"Mark occluded {NAMES[JOINT]}"
    assert dock.tree.topLevelItem(0).child(JOINT).text(STATUS_COL) == "1 occluded"
    assert win.state.undo()
    assert store.instance(iid).keypoints[JOINT, 2] == 2
    assert dock.tree.topLevelItem(0).child(JOINT).text(STATUS_COL) == "2 visible"


def test_hide_and_lock_keep_the_mouse_and_keys_off_a_person(qtbot, project_window) -> None:
    win, canvas, state = project_window, project_window.canvas, project_window.state
    [iid] = _people(win, Instance(keypoints=PERSON_A.copy()))
    store = state.project
    person = win.instances_dock.tree.topLevelItem(0)
    before = store.instance(iid).keypoints.copy()
    steps = state.undo_stack.count()
    x, y = before[JOINT, :2]
    person.setCheckState(LOCK_COL, Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: iid in state.locked_ids)
    mouse_drag(qtbot, canvas, scene_to_view(canvas, x, y), scene_to_view(canvas, x + 25, y + 10))
    assert np.array_equal(store.instance(iid).keypoints, before)  # the drag panned instead
    state.select_joint(iid, JOINT)
    assert not win.editor.set_visibility(0)
    assert "locked" in win.errors[-1][1]
    assert state.undo_stack.count() == steps
    # Unlocked, the same drag moves the joint.
    win.instances_dock.tree.topLevelItem(0).setCheckState(LOCK_COL, Qt.CheckState.Unchecked)
    qtbot.waitUntil(lambda: iid not in state.locked_ids)
    mouse_drag(qtbot, canvas, scene_to_view(canvas, x, y), scene_to_view(canvas, x + 25, y + 10))
    assert store.instance(iid).keypoints[JOINT, 0] > x + 20
    # Hidden: not drawn, deselected, not selectable by Tab.
    win.instances_dock.tree.topLevelItem(0).setCheckState(HIDE_COL, Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: iid in state.hidden_ids)
    assert not canvas.instance_items[0].isVisible()
    assert state.selected_instance_id() is None
    assert state.select_person_step(1) is None
    # The flags are a view choice: the next project starts clean.
    state.close_project()
    assert not state.hidden_ids and not state.locked_ids


def test_tab_and_shift_tab_cycle_people(qtbot, project_window) -> None:
    win = project_window
    ids = _people(win, Instance(keypoints=PERSON_A.copy()), _prediction(30.0), _prediction(60.0))
    win.activateWindow()
    win.canvas.setFocus()
    seen = []
    for _ in range(4):
        qtbot.keyClick(win.canvas, Qt.Key.Key_Tab)
        seen.append(win.state.selected_instance_id())
    assert seen == [ids[0], ids[1], ids[2], ids[0]]
    qtbot.keyClick(win.canvas, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert win.state.selected_instance_id() == ids[2]
    assert win.instances_dock.tree.currentItem() is win.instances_dock.tree.topLevelItem(2)


def test_j_jumps_to_the_next_frame_to_check(qtbot, project_window, tmp_path) -> None:
    win, state = project_window, project_window.state
    add_grey_images(win, tmp_path, 3, size=60, step=40)
    store = state.project
    rows = state.frames
    assert len(rows) == 4
    store.add_instance(rows[2].frame_id, _prediction())  # a prediction to check on row 2
    store.set_suggested(rows[3].frame_id, True, "uniform")  # suggested, nothing verified on row 3
    state.refresh_frames()
    win.project.show_position(0)
    win.activateWindow()
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_J)
    assert state.frame_position() == 2
    qtbot.keyClick(win.canvas, Qt.Key.Key_J)
    assert state.frame_position() == 3
    qtbot.keyClick(win.canvas, Qt.Key.Key_J)
    assert state.frame_position() == 2  # wraps around
    assert win.editor.accept()
    store.set_suggested(rows[3].frame_id, False)
    state.refresh_frames()
    assert not win.project.next_to_check()
    assert "No other frame to check" in win.statusBar().currentMessage()
