"""Media in a project: images, folders and video frames added through the menus, navigation over the frame
list, recent projects, live predictions accepted into the project, and cancelling a pre-label batch."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtWidgets import QApplication

from distilpose.app.main_window import MainWindow
from distilpose.app.state import AppState

from .conftest import PRELABEL_MODEL, FakeLoader, prelabel_choice, wait_idle


def _grey(win) -> float:
    return float(win.state.image[60, 80].mean())


def test_folder_and_video_frames_in_the_frame_list(qtbot, project_window, tmp_path, small_video) -> None:
    win, state = project_window, project_window.state
    folder = tmp_path / "shots"
    folder.mkdir()
    for name in ("img10.png", "img2.png"):  # natural order: img2 before img10
        assert cv2.imwrite(str(folder / name), np.full((30, 40, 3), 50, np.uint8))
    win.dialogs.folder = lambda *_: str(folder)
    win.project.add_folder_action.trigger()
    win.dialogs.open_file = lambda *_: str(small_video)
    win.dialogs.integer = lambda *_: 5  # every 5th frame of 12: 0, 5, 10
    win.project.add_video_action.trigger()
    names = [r.name for r in state.frames]
    assert names == ["figure.png", "img2.png", "img10.png", "clip.mp4 #0", "clip.mp4 #5", "clip.mp4 #10"]
    assert win.frame_list.model.rowCount() == 6
    assert state.frame_position() == 3 and state.frame_index == 0  # the first added video frame is shown
    win.project.next_frame_action.trigger()  # Page Down
    assert (state.frame_position(), state.frame_index) == (4, 5) and abs(_grey(win) - 50) <= 4
    assert win.frame_list.show_row(2)  # a click in the list
    assert state.image_path.name == "img10.png" and win.frame_list.table.currentIndex().row() == 2
    # Adding the same frames again adds nothing; the undo stack names what each step did.
    win.project.add_video_action.trigger()
    assert len(state.frames) == 6
    texts = [state.undo_stack.text(i) for i in range(state.undo_stack.count())]
    assert texts == ["Add 1 image(s)", "Add 2 image(s)", "Add 3 video frame(s)"]


def test_people_on_a_video_frame_not_yet_in_the_project(qtbot, project_window, small_video) -> None:
    win, state = project_window, project_window.state
    assert win.editor.add_video_frames(small_video, 100)  # only frame 0
    assert win.editor.add_template((10, 10, 40, 80))
    win.go_to_frame(3)  # a frame the project does not have yet
    assert state.frame_id is None and state.instances == []
    win.project.copy_previous_action.trigger()  # adds frame 3 and the copy in one step
    assert state.frame_id is not None and state.project.frame(state.frame_id).index == 3
    assert len(state.instances) == 1 and [r.name for r in state.frames][-2:] == ["clip.mp4 #0", "clip.mp4 #3"]
    win.project.undo_action.trigger()
    assert [r.name for r in state.frames][-1] == "clip.mp4 #0" and state.frame_id is None


def test_recent_projects(qtbot, project_window, tmp_path) -> None:
    path = project_window.state.project_path
    project_window.close()
    win = MainWindow(AppState())
    qtbot.addWidget(win)
    win.project.fill_recent_projects()
    actions = [a for a in win.project.recent_projects_menu.actions() if a.data()]
    assert [a.data() for a in actions] == [str(path.resolve())]
    actions[0].trigger()
    assert win.state.project_path == path.resolve() and win.state.frame_id is not None


def test_accept_live_predictions(qtbot, project_window) -> None:
    win, state = project_window, project_window.state
    win.live.set_enabled(True)
    qtbot.waitUntil(lambda: state.prediction is not None, timeout=20_000)
    wait_idle(qtbot, state)
    win.project.accept_live_action.trigger()
    [person] = state.instances
    assert (person.source, person.extras["verified"], person.extras["accepted_from"]) == (
        "user",
        True,
        "student",
    )
    np.testing.assert_allclose(person.keypoints[3:, :2], state.prediction.instances[0].keypoints[3:, :2])
    assert state.frames[0].status == "verified"


def test_cancelling_a_prelabel_batch_keeps_the_finished_frames(qtbot, tmp_path, figure_files) -> None:
    loader = FakeLoader(delay_s=0.15)
    state = AppState()
    win = MainWindow(state, model_loader=loader, error_sink=lambda *_: None)
    qtbot.addWidget(win)
    win.show()
    assert win.project.new_project(tmp_path / "cancel.dpproj")
    paths = []
    for i in range(6):
        p = tmp_path / f"f{i}.png"
        assert cv2.imwrite(str(p), np.full((40, 40, 3), 20 * i, np.uint8))
        paths.append(p)
    assert win.editor.add_images(paths)
    win.live.update_settings(model="distilpose-t", detector="full-frame", tracking=False)
    with qtbot.waitSignal(win.project.prelabelFinished, timeout=30_000) as finished:
        assert win.project.prelabel(True, choice=prelabel_choice())
        qtbot.waitUntil(lambda: bool(loader.runtimes) and loader.runtimes[0].calls >= 1, timeout=20_000)
        win.project.prelabel_dialog.canceled.emit()  # what its Cancel button sends
    done = finished.args[0]
    assert 1 <= done < 6
    assert sum(r.instances for r in state.frames) == done  # every finished frame kept, nothing half-written
    assert (
        state.undo_stack.text(state.undo_stack.count() - 1) == f"Pre-label {done} frame(s) with {PRELABEL_MODEL}"
    )
    win.project.undo_action.trigger()
    assert state.project.counts()["instances"] == 0


def test_closing_the_window_during_a_prelabel_batch(qtbot, tmp_path, figure_files) -> None:
    loader = FakeLoader(delay_s=0.1)
    state = AppState()
    win = MainWindow(state, model_loader=loader, error_sink=lambda *_: None)
    qtbot.addWidget(win)
    win.show()
    assert win.project.new_project(tmp_path / "closing.dpproj")
    assert win.editor.add_images([figure_files.image])
    win.live.update_settings(model="distilpose-t", detector="full-frame", tracking=False)
    assert win.project.prelabel(True, choice=prelabel_choice())
    win.close()  # waits for the worker, records nothing half-way, releases the file
    QApplication.sendPostedEvents()  # the worker's queued 'finished' arrives after the window is gone: nothing to do
    assert win.project.prelabel_thread is None and state.pending.is_idle() and state.project is None
