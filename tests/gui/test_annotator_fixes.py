"""What a new user tripped over (issue 17, items 4-8): A then V keeps a person verified, shortcuts keep working
after the frame box, Snap says what it needs, hints do not outlive their step, the Review dock names the
person by its index in the frame, and the Frames list shows full names and the row --frame opens."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetricsF

from distilpose.app.main import build_parser, open_project_args
from distilpose.app.project.review import person_positions
from distilpose.types import Instance

from .conftest import PERSON_A, scene_to_view, write_video


def _prediction(offset: float = 0.0) -> Instance:
    kp = PERSON_A.copy()
    kp[:, 0] += offset
    kp[:, 2] = 2
    return Instance(keypoints=kp, scores=np.linspace(0.1, 0.9, 17), score=0.7, source="student")


def _store_people(win, *people: Instance) -> list[int]:
    ids = [win.state.project.add_instance(win.state.frame_id, p) for p in people]
    win.state.reload_instances()
    win.state.refresh_frames()
    return ids


def _keys(qtbot, win, *keys) -> None:
    win.activateWindow()
    win.canvas.setFocus()
    for key in keys:
        key, mod = key if isinstance(key, tuple) else (key, Qt.KeyboardModifier.NoModifier)
        qtbot.keyClick(win.canvas, key, mod)


def test_a_then_v_keeps_the_person_verified(qtbot, project_window) -> None:
    win, state = project_window, project_window.state
    [iid] = _store_people(win, _prediction())
    state.select_joint(iid, None)
    _keys(qtbot, win, Qt.Key.Key_A)
    store = state.project
    assert store.instance(iid).extras["verified"]  # A accepts, and an accepted person is verified
    steps = state.undo_stack.count()
    _keys(qtbot, win, Qt.Key.Key_V)
    assert store.instance(iid).extras["verified"]  # V does not take it back
    assert state.undo_stack.count() == steps
    assert win.statusBar().currentMessage() == "The person is already verified"
    _keys(qtbot, win, (Qt.Key.Key_V, Qt.KeyboardModifier.ShiftModifier))  # the explicit way back
    assert not store.instance(iid).extras["verified"]
    assert state.undo_stack.undoText() == "Unverify person"
    _keys(qtbot, win, Qt.Key.Key_V)
    assert store.instance(iid).extras["verified"]
    assert state.undo_stack.undoText() == "Verify person"


def test_shortcuts_work_after_typing_in_the_frame_box(qtbot, live_window, tmp_path) -> None:
    win = live_window
    assert win.open_video(write_video(tmp_path / "clip.mp4", 12))
    win.activateWindow()
    box = win.transport.frame_box
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, "5")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert win.state.frame_index == 5
    qtbot.waitUntil(lambda: win.canvas.hasFocus())
    qtbot.keyClick(win.canvas, Qt.Key.Key_K)  # as a user types: to whatever has the focus
    assert win.player.playing
    qtbot.keyClick(win.canvas, Qt.Key.Key_K)
    assert not win.player.playing
    asked = []
    win.dialogs.save_file = lambda *args: asked.append(args[1]) or ""
    qtbot.keyClick(win.canvas, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert asked == ["Export Predictions (COCO results JSON)"]


def test_snap_says_what_it_needs(qtbot, project_window) -> None:
    win = project_window
    [iid] = _store_people(win, Instance(keypoints=PERSON_A.copy()))
    win.state.select_joint(iid, 0)
    _keys(qtbot, win, Qt.Key.Key_S)
    message = win.statusBar().currentMessage()
    assert "Heatmap Assist" in message and "Compare with" in message, message


def test_the_template_hint_goes_once_the_person_is_placed(qtbot, project_window) -> None:
    win, canvas = project_window, project_window.canvas
    win.project.template_action.trigger()
    assert win.statusBar().currentMessage().startswith("Drag a box for the new person")
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=scene_to_view(canvas, 120, 120))
    assert len(win.state.instances) == 1
    assert "Drag a box" not in win.statusBar().currentMessage()


def test_the_heatmap_note_fits_its_pane(qtbot, live_window, figure_files) -> None:
    win = live_window
    assert win.open_image(figure_files.image)
    win.heatmap_dock.show()
    win.heatmap_dock.refresh()
    pane = win.heatmap_dock.model_pane
    text = pane.empty.textItem.toPlainText()
    assert "turn on live inference" in text.replace("\n", " ")
    metrics = QFontMetricsF(pane.empty.textItem.font())
    widest = max(metrics.horizontalAdvance(line) for line in text.splitlines())
    assert widest <= pane.plot.vb.width(), (widest, pane.plot.vb.width())


def test_review_person_column_is_the_index_in_the_frame(project_window, tmp_path) -> None:
    win, state = project_window, project_window.state
    first = _store_people(win, Instance(keypoints=PERSON_A.copy()))  # id 1 on the first frame
    write = tmp_path / "second.png"
    assert cv2.imwrite(str(write), np.zeros((50, 50, 3), np.uint8))
    assert win.editor.add_images([write])
    a, b = _store_people(win, _prediction(), _prediction(20.0))
    assert (a, b) != (0, 1) and first
    assert person_positions(state.project, [state.frame_id]) == {a: 0, b: 1}
    dock = win.review_queue
    dock.set_queue("confidence")
    dock.refresh()
    people = {dock.table.item(r, 1).text() for r in range(dock.table.rowCount())}
    assert people == {"person 0", "person 1"}  # as the Instances dock names them (issue 25)


def test_frames_list_names_and_the_frame_option_agree(qtbot, project_window, tmp_path) -> None:
    win, state = project_window, project_window.state
    video = write_video(tmp_path / "a-rather-long-video-file-name-from-a-phone-camera.mp4", 12)
    for index in (3, 7):
        assert win.editor.add_video_frame(video, index)
    table, model = win.frame_list.table, win.frame_list.model
    names = [model.index(r, 1).data() for r in range(model.rowCount())]
    assert names[1:] == [f"{video.name} #3", f"{video.name} #7"]
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == ["0", "1", "2"]
    assert table.textElideMode() == Qt.TextElideMode.ElideMiddle  # the "#7" end stays in sight
    path = state.project_path
    state.close_project()
    assert open_project_args(win, build_parser().parse_args(["--project", str(path), "--frame", "2"]))
    assert table.currentIndex().row() == 2
    assert model.index(table.currentIndex().row(), 0).data() == "2"
    assert state.frame_index == 7


def test_new_and_open_project_are_in_the_project_menu(project_window) -> None:
    menus = {a.text(): a.menu() for a in project_window.menuBar().actions()}
    project = [a.text() for a in menus["&Project"].actions()]
    assert project[:2] == ["&New Project…", "Open &Project…"]
    assert "&New Project…" not in [a.text() for a in menus["&File"].actions()]


def test_what_the_user_opens_runs_the_model_and_the_choice_is_remembered(
    qtbot, fake_loader, figure_files, tmp_path
) -> None:
    from distilpose.app.main_window import MainWindow
    from distilpose.app.preferences import run_on_open, set_run_on_open
    from distilpose.app.state import AppState

    set_run_on_open(True)  # the users' default (the test suite turns it off)
    win = MainWindow(AppState(), model_loader=fake_loader, error_sink=lambda *_: None)
    qtbot.addWidget(win)
    assert win.run_on_open_action.isChecked()
    assert win.open_image(figure_files.image)
    assert win.live.enabled and win.live_action.isChecked()
    qtbot.waitUntil(lambda: win.state.prediction is not None, timeout=10_000)
    win.live.set_enabled(False)
    win.run_on_open_action.trigger()  # off: remembered for the next session
    assert not run_on_open()
    assert win.open_video(write_video(tmp_path / "clip.mp4", 3))
    assert not win.live.enabled
    again = MainWindow(AppState(), model_loader=fake_loader, error_sink=lambda *_: None)
    qtbot.addWidget(again)
    assert not again.run_on_open_action.isChecked()
    win.live.shutdown()
    again.live.shutdown()


def test_the_comparison_time_is_not_diluted_by_frames_without_it(qtbot) -> None:
    from distilpose.app.live.controller import LiveController
    from distilpose.app.state import AppState
    from distilpose.pipeline import FrameResult

    live = LiveController(AppState())
    empty = np.zeros((0, 4))
    for i in range(6):  # before "Compare with" was chosen: no teacher stage
        live._record(FrameResult(i, (8, 8), empty, empty[:, 0], [], times_ms={"pose": 20.0}), 1.0, play=False)
    for i in range(3):
        live._record(FrameResult(i, (8, 8), empty, empty[:, 0], [], times_ms={"pose": 20.0, "teacher": 45.0}), 1.0, play=False)
    assert live.stats.stage_ms["teacher"] == 45.0
    assert "teacher 45" in live.stats.text()
    live.shutdown()


def test_the_model_panel_says_what_runs_in_words(qtbot, live_window, figure_files) -> None:
    from .conftest import wait_idle

    win = live_window
    assert win.open_image(figure_files.image)
    win.live.set_enabled(True)
    wait_idle(qtbot, win.state)
    text = win.model_panel.status_label.text()
    assert text.startswith(f"Running {win.live.settings.model} on torch (loaded in ")
    assert "(regression)" not in text and "(heatmap)" not in text  # the model kind read as an error
