"""Issue 25, item 6: docks keep the window within the screen and it keeps its size; the Frames list keeps a
sensible height on reopening a project; the keys belong to the canvas again after every modal dialog; the
heatmap dock follows the keypoint chosen in the Instances dock."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QInputDialog

from distilpose.keypoints import NAMES
from distilpose.types import Instance

from .conftest import PERSON_A, add_grey_images, wait_idle


def _settle(qtbot, win) -> None:
    """Until the layout has made room for the docks and the window has settled (no size change for a while)."""
    sizes = []

    def steady() -> bool:
        QApplication.processEvents()
        sizes.append(win.size())
        return len(sizes) > 3 and sizes[-1] == sizes[-2] == sizes[-3]

    qtbot.waitUntil(steady, timeout=5_000)


def test_docks_keep_the_window_within_the_screen_and_its_size(qtbot, project_window) -> None:
    win = project_window
    room = win.screen().availableGeometry()  # 800 x 800 offscreen: the height is what a dock took
    win.resize(win.width(), room.height() - 100)
    _settle(qtbot, win)
    before = win.size()
    win.training.monitor.show()  # what a started (or reattached) training job does
    win.heatmap_dock.show()
    _settle(qtbot, win)
    assert win.frameGeometry().height() <= room.height(), (win.frameGeometry(), room)
    assert win.size() == before  # the status bar and the playback stay on screen
    assert win.statusBar().isVisible() and win.statusBar().geometry().bottom() < win.height()
    win.training.monitor.hide()
    win.heatmap_dock.hide()
    _settle(qtbot, win)
    assert win.size() == before


def test_the_frames_list_keeps_its_rows_on_reopening(qtbot, project_window, tmp_path) -> None:
    win = project_window
    add_grey_images(win, tmp_path, 30, step=8)
    win.training.monitor.show()
    path = win.state.project_path
    win.state.close_project()
    assert win.project.open_project(path)
    _settle(qtbot, win)
    table = win.frame_list.table
    rows = table.viewport().height() / table.verticalHeader().defaultSectionSize()
    assert rows >= 12, f"the Frames list shows {rows:.1f} rows"  # 4 before: the monitor and the review took them


def _close_dialog_soon() -> None:
    dialog = QApplication.activeModalWidget()
    if not isinstance(dialog, QInputDialog):
        QTimer.singleShot(20, _close_dialog_soon)
        return
    dialog.reject()


def _type(qtbot, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """As a user types: to whatever has the focus."""
    qtbot.keyClick(QApplication.focusWidget(), key, modifier)


def test_keys_work_right_after_a_modal_dialog(qtbot, project_window, tmp_path) -> None:
    win, state = project_window, project_window.state
    add_grey_images(win, tmp_path, 3)
    last = state.frames[-1].frame_id
    kp = PERSON_A.copy()
    kp[:, 2] = 2
    state.project.add_instance(last, Instance(keypoints=kp, score=0.8, source="student"))
    state.refresh_frames()
    win.activateWindow()
    win.dataset_panel.raise_()
    spin = win.dataset_panel.val_spin  # a number box had the focus when the dialog opened (it eats letters)
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    QTimer.singleShot(0, _close_dialog_soon)
    assert win.dialogs.integer(win, "A question", "Any number:", 1, 0) is None  # a real modal dialog
    qtbot.waitUntil(lambda: QApplication.focusWidget() is win.canvas, timeout=5_000)
    _type(qtbot, Qt.Key.Key_J)  # Next Frame to Check
    assert state.frame_id == last
    asked = []
    win.dialogs.open_file = lambda *args: asked.append(args[1]) or ""
    _type(qtbot, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert asked == ["Open Video"]


def test_the_heatmap_dock_follows_the_instances_selection(qtbot, project_window) -> None:
    win, state = project_window, project_window.state
    kp = PERSON_A.copy()
    kp[:, 2] = 2
    [iid] = [state.project.add_instance(state.frame_id, Instance(keypoints=kp, source="user"))]
    state.reload_instances()
    win.heatmap_dock.show()
    win.live.set_enabled(True)
    qtbot.waitUntil(lambda: state.prediction is not None, timeout=20_000)
    wait_idle(qtbot, state)
    dock = win.instances_dock
    k = 9  # left_wrist
    dock.tree.setCurrentItem(dock.keypoint_item(0, k))  # a click on the keypoint's row
    assert state.joint == (iid, k)
    heatmaps = win.heatmap_dock
    assert heatmaps.keypoint_combo.currentIndex() == k
    assert state.selected_keypoint == (0, k)
    assert f"{NAMES[k]}: score" in heatmaps.info_label.text()
    dock.tree.setCurrentItem(dock.keypoint_item(0, 15))
    assert heatmaps.keypoint_combo.currentIndex() == 15
