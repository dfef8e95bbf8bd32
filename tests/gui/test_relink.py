"""Opening a project whose media moved: a bar above the image names the missing files (no modal question), its
button searches a folder the user picks, relinks them as one undoable step and shows the frame
(distilpose.project.relink in the app, ADR 0032)."""

from __future__ import annotations

import argparse
import shutil

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from distilpose.app.dialogs import Dialogs
from distilpose.app.main_window import MainWindow
from distilpose.app.state import AppState
from distilpose.project import ProjectStore
from tests.unit.test_project_tracks import write_avi


def test_a_project_whose_video_moved_is_relinked_on_opening_and_the_relink_undoes(qtbot, tmp_path, fake_loader):
    (tmp_path / "clips").mkdir()
    video = write_avi(tmp_path / "clips" / "walk.avi", 6)
    project = tmp_path / "p.dpproj"
    with ProjectStore.create(project) as store:
        media = store.add_media(video)
        for i in range(3):
            store.add_frame(media, i)
    moved = tmp_path / "archive" / "2026"
    moved.mkdir(parents=True)
    shutil.move(video, moved / "walk.avi")

    errors: list[tuple[str, str]] = []
    dialogs = Dialogs(folder=lambda *_: str(tmp_path / "archive"))
    win = MainWindow(AppState(), dialogs=dialogs, model_loader=fake_loader,
                     error_sink=lambda _p, title, text: errors.append((title, text)))  # fmt: skip
    qtbot.addWidget(win)
    win.show()
    assert win.project.open_project(tmp_path / "p.dpproj")  # opens without asking anything
    banner = win.missing_media_banner
    assert banner.isVisible() and banner.label.text().startswith("1 media file(s) of this project are not where")
    assert "clips/walk.avi" in banner.label.text()
    store = win.state.project
    with qtbot.waitSignal(win.project.relinkFinished, timeout=20_000) as done:
        banner.search_button.click()  # the search runs off the GUI thread
    assert done.args == [1]
    assert store.media(media).path == "archive/2026/walk.avi" and not banner.isVisible()
    assert win.state.frame_id is not None and win.state.image is not None  # the frame shows, from the moved file
    assert win.state.undo_stack.undoText() == "Relink 1 media"
    assert win.state.undo()
    assert store.media(media).path == "clips/walk.avi" and banner.isVisible()  # missing again: the bar is back
    assert win.state.redo() and store.media(media).path == "archive/2026/walk.avi" and not banner.isVisible()
    # Nothing missing now: the menu action says so and asks nothing.
    assert win.project.relink_action.isEnabled()
    assert win.project.ask_relink() is False and errors == []


def _project_whose_video_is_gone(tmp_path):
    """``p.dpproj`` with one frame of ``clips/walk.avi``, then the video deleted."""
    (tmp_path / "clips").mkdir()
    video = write_avi(tmp_path / "clips" / "walk.avi", 4)
    project = tmp_path / "p.dpproj"
    with ProjectStore.create(project) as store:
        store.add_frame(store.add_media(video), 0)
    video.unlink()
    return project


def test_a_search_that_finds_nothing_changes_nothing_and_says_what_is_still_missing(qtbot, tmp_path, fake_loader):
    project = _project_whose_video_is_gone(tmp_path)
    errors: list[tuple[str, str]] = []
    win = MainWindow(AppState(), dialogs=Dialogs(folder=lambda *_: str(tmp_path)),
                     model_loader=fake_loader, error_sink=lambda _p, t, x: errors.append((t, x)))  # fmt: skip
    qtbot.addWidget(win)
    win.show()
    assert win.project.open_project(project)
    assert win.missing_media_banner.label.text().startswith("1 media file(s)")
    with qtbot.waitSignal(win.project.relinkFinished, timeout=20_000) as done:
        assert win.project.ask_relink()  # searched, nothing of that name and content anywhere
    assert done.args == [0]
    title, text = errors[-1]
    assert title == "Some media files are still missing" and "Found 0 of 1 under" in text and "walk.avi" in text
    assert win.state.undo_stack.count() == 0 and win.missing_media_banner.isVisible()


def test_a_read_only_project_names_its_missing_media_but_does_not_offer_to_relink(qtbot, tmp_path, fake_loader):
    project = _project_whose_video_is_gone(tmp_path)
    asked: list[str] = []
    errors: list[tuple[str, str]] = []
    win = MainWindow(AppState(), dialogs=Dialogs(folder=lambda *a: asked.append(a[1]) or str(tmp_path)),
                     model_loader=fake_loader, error_sink=lambda _p, t, x: errors.append((t, x)))  # fmt: skip
    qtbot.addWidget(win)
    win.show()
    assert win.project.open_project(project)
    win.state.project.read_only = "the disk is full"  # as ProjectStore.open(or_read_only=True) sets it
    win.project.update_missing_media()
    banner = win.missing_media_banner
    assert banner.isVisible() and not banner.search_button.isEnabled()
    assert "read-only (the disk is full)" in banner.search_button.toolTip()
    assert win.project.ask_relink() is False and asked == []  # no folder asked for: the edit would be refused
    assert errors[-1] == ("Cannot relink the media", "The project is open read-only: the disk is full")


def test_opening_starts_on_the_first_frame_whose_file_is_there(qtbot, tmp_path, fake_loader):
    from distilpose.app.main import open_project_args

    (tmp_path / "clips").mkdir()
    gone, kept = (write_avi(tmp_path / "clips" / name, 4) for name in ("gone.avi", "kept.avi"))
    project = tmp_path / "p.dpproj"
    with ProjectStore.create(project) as store:
        for video in (gone, kept):
            media = store.add_media(video)
            for i in range(2):
                store.add_frame(media, i)
    gone.unlink()
    errors: list[tuple[str, str]] = []
    win = MainWindow(AppState(), model_loader=fake_loader, error_sink=lambda _p, t, x: errors.append((t, x)))
    qtbot.addWidget(win)
    assert win.project.open_project(project)  # position 0 is gone.avi #0: it starts on kept.avi #0
    shown = win.state.project.frame(win.state.frame_id)
    assert win.state.project.media_path(shown.media_id).name == "kept.avi" and shown.index == 0
    assert errors == [] and win.project.showable_position(3) == 3 and win.project.showable_position(1) == 2
    model = win.frame_list.model  # the frames of the missing file are greyed and say why
    tips = [model.data(model.index(r, 1), Qt.ItemDataRole.ToolTipRole) for r in range(4)]
    assert ["file is missing" in t for t in tips] == [True, True, False, False]
    greys = [model.data(model.index(r, 4), Qt.ItemDataRole.ForegroundRole).color().name() for r in range(4)]
    assert greys[:2] == ["#808080"] * 2 and "#808080" not in greys[2:]

    # `distilpose-studio --project P --frame 1` (frame 1 of the list is gone.avi #1)
    assert open_project_args(win, argparse.Namespace(project=str(project), path=None, frame=1))
    assert win.state.frame_id == win.state.frames[2].frame_id and errors == []


def _held_search(monkeypatch, tmp_path):
    """Hold the library's search after its first folder (reported first), until ``release`` is set; the
    archive it searches holds the missing video. Returns (entered, release)."""
    import threading

    from distilpose.app.project import relink_search

    for i in range(8):
        (tmp_path / "archive" / f"day{i:02d}").mkdir(parents=True)
    write_avi(tmp_path / "archive" / "day07" / "walk.avi", 4)  # there: only a cancel or a close keeps it unlinked
    real_search = relink_search.search
    entered, release = threading.Event(), threading.Event()

    def held(missing, folders, taken, progress):
        def hook(seen, where):
            progress(seen, where)  # says where it is, and stops here once cancelled
            entered.set()
            release.wait(5)

        return real_search(missing, folders, taken, hook)

    monkeypatch.setattr(relink_search, "search", held)
    return entered, release


def _searching(qtbot, tmp_path, fake_loader, monkeypatch):
    """A window on a project whose video is gone, its relink search started and held after its first folder.
    Returns (project path, window, entered, release) (see :func:`_held_search`)."""
    project = _project_whose_video_is_gone(tmp_path)
    entered, release = _held_search(monkeypatch, tmp_path)
    win = MainWindow(AppState(), dialogs=Dialogs(folder=lambda *_: str(tmp_path / "archive")),
                     model_loader=fake_loader, error_sink=lambda *_: None)  # fmt: skip
    qtbot.addWidget(win)
    win.show()
    assert win.project.open_project(project)
    assert win.project.ask_relink()
    assert entered.wait(10)
    return project, win, entered, release


def test_the_search_runs_off_the_gui_thread_shows_where_it_is_and_cancel_relinks_nothing(
    qtbot, tmp_path, fake_loader, monkeypatch
):
    """Walking a big folder froze the window; now the window keeps painting, a dialog says how far the search
    got, a second search is refused while one runs, and Cancel ends it with nothing relinked. The search is
    the library's own; the test only holds it after its first folder."""
    _project, win, _entered, release = _searching(qtbot, tmp_path, fake_loader, monkeypatch)
    actions = win.project
    dialog = actions.relink_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=2_500)  # the event loop runs while the search is held
    qtbot.waitUntil(lambda: "Looked through 8 files and folders, now in" in dialog.labelText(), timeout=2_500)
    lines = dialog.labelText().split("\n")
    assert lines[0].startswith("Searching /") and lines[0].endswith("/archive for 1 missing media file(s)…")
    from distilpose.app.project.relink_search import LABEL_WIDTH_PX

    assert all(dialog.fontMetrics().horizontalAdvance(line) <= LABEL_WIDTH_PX for line in lines)  # long: elided
    assert actions.ask_relink() is False  # one search at a time
    assert win.statusBar().currentMessage() == "A search for the missing media is running"
    with qtbot.waitSignal(actions.relinkFinished, timeout=20_000) as done:
        dialog.findChild(QPushButton).click()  # the dialog's Cancel button
        release.set()
    assert done.args == [0] and actions.relink_task is None and actions.relink_dialog is None
    assert win.state.undo_stack.count() == 0 and win.missing_media_banner.isVisible()
    assert win.state.project.media(1).path == "clips/walk.avi"
    assert "cancelled: nothing relinked" in win.statusBar().currentMessage()
    assert win.state.pending.is_idle()


def test_a_project_closed_during_the_search_is_not_relinked_and_closing_the_window_stops_a_search(
    qtbot, tmp_path, fake_loader, monkeypatch
):
    project, win, entered, release = _searching(qtbot, tmp_path, fake_loader, monkeypatch)
    actions = win.project
    actions.close_project()
    with qtbot.waitSignal(actions.relinkFinished, timeout=20_000) as done:
        release.set()  # the walk goes on and finds the video: the result meets a closed project
    assert done.args == [0] and "closed while" in win.statusBar().currentMessage()
    with ProjectStore.open(project) as store:
        assert store.media(1).path == "clips/walk.avi"
    # Again, and the window closes mid-search: the search is cancelled and waited for, nothing is written.
    entered.clear()
    release.clear()
    assert actions.open_project(project) and actions.ask_relink() and entered.wait(10)
    release.set()
    win.close()
    assert actions.relink_task is None and win.state.pending.is_idle()
    with ProjectStore.open(project) as store:
        assert store.media(1).path == "clips/walk.avi"


def test_cancel_after_the_walk_ended_but_before_its_result_arrived_relinks_nothing(
    qtbot, tmp_path, fake_loader, monkeypatch
):
    """The user's Cancel can land between the worker's end and the GUI thread reading its result: the result
    is queued then, and must not be applied."""
    _project, win, _entered, release = _searching(qtbot, tmp_path, fake_loader, monkeypatch)
    actions = win.project
    task = actions.relink_task
    release.set()
    assert task.wait(20_000)  # the walk found the video; its result waits in the GUI thread's queue
    with qtbot.waitSignal(actions.relinkFinished, timeout=20_000) as done:
        actions.relink_dialog.findChild(QPushButton).click()  # before the queue is read
    assert done.args == [0] and win.state.undo_stack.count() == 0
    assert win.state.project.media(1).path == "clips/walk.avi"


def test_a_search_stuck_past_the_window_is_left_to_end_on_its_own(qtbot, tmp_path, fake_loader, monkeypatch):
    """A walk stuck on a hung mount outlives the window's wait: the window closes anyway, the running thread is
    kept (deleting a running QThread aborts the process) and let go once it ends; nothing is relinked."""
    from distilpose.app.project import actions as actions_module

    monkeypatch.setattr(actions_module, "SEARCH_SHUTDOWN_WAIT_MS", 100)
    project, win, _entered, release = _searching(qtbot, tmp_path, fake_loader, monkeypatch)
    actions = win.project
    task = actions.relink_task
    win.close()  # the search is held: the 100 ms wait runs out
    assert actions.relink_task is None and win.state.pending.is_idle()
    assert task.isRunning() and task in actions_module._STILL_RUNNING
    release.set()
    qtbot.waitUntil(lambda: task not in actions_module._STILL_RUNNING, timeout=20_000)
    with ProjectStore.open(project) as store:
        assert store.media(1).path == "clips/walk.avi"
