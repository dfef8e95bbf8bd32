"""Pre-labelling asks which model runs (the most accurate trained one preselected, flip on), refuses a model
without trained weights with the reason, is one undo step, and a cancel says how many finished frames it
kept (issue 25, defect 1)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from distilpose.app.project.prelabel_dialog import PrelabelDialog
from distilpose.models.bundled import recorded_stills_ap

from .conftest import FakeLoader, add_grey_images


@pytest.fixture
def zoo_fetched(monkeypatch):
    """MoveNet Thunder and Lightning are in the model cache (the test cache is empty otherwise)."""
    from distilpose import zoo

    monkeypatch.setattr(zoo, "is_cached", lambda name: name in ("movenet-thunder", "movenet-lightning"))


def test_prelabel_asks_for_a_trained_model_and_is_one_undo_step(
    qtbot, project_window, fake_loader, zoo_fetched
):
    win, state = project_window, project_window.state
    assert win.live.settings.model == "distilpose-t"  # the model panel's model has random weights
    asked = []

    def answer(parent, options, frames, preselect):
        dialog = PrelabelDialog(options, frames, preselect, parent)
        qtbot.addWidget(dialog)
        asked.append(dialog)
        ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
        names = [dialog.model_combo.itemData(i) for i in range(dialog.model_combo.count())]
        # trained models first, most accurate first (the stills AP recorded beside the shipped student)
        assert names[0] == "movenet-thunder"
        trained = {"movenet-thunder", "distilpose-mnv2-lt", "movenet-lightning", "movenet-lightning-256x192"}
        assert set(names[:4]) == trained
        recorded = recorded_stills_ap()
        aps = [recorded.get(n, -1.0) for n in names[:4]]  # unmeasured models go last
        assert aps == sorted(aps, reverse=True)
        assert names[4] is None  # a separator, then the models that cannot pre-label
        assert dialog.model_combo.currentData() == "movenet-thunder" and dialog.flip_box.isChecked()
        assert ok.isEnabled()
        # an untrained model is listed apart, with the reason, and cannot be chosen
        dialog.model_combo.setCurrentIndex(names.index("distilpose-t"))
        assert "not trained" in dialog.model_combo.currentText()
        assert "No trained weights" in dialog.detail_label.text() and not ok.isEnabled()
        dialog.accept()
        assert dialog.result() != dialog.DialogCode.Accepted and dialog.choice() is None
        dialog.model_combo.setCurrentIndex(0)
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
        return dialog.choice()

    win.dialogs.prelabel = answer
    add_grey_images(win, win.state.project_path.parent, 2, size=64)
    before = state.undo_stack.count()
    with qtbot.waitSignal(win.project.prelabelFinished, timeout=30_000) as finished:
        win.project.prelabel_all_action.trigger()
    assert len(asked) == 1 and finished.args == [3]
    assert fake_loader.loaded[-1][0] == "movenet-thunder" and fake_loader.loaded[-1][2] is True  # flip on
    store = state.project
    people = [p for row in state.frames for p in store.instances(row.frame_id)]
    assert len(people) == 3 and {p.extras["model"] for p in people} == {"movenet-thunder"}
    assert state.undo_stack.count() == before + 1  # the whole batch is one step
    win.project.undo_action.trigger()
    assert store.counts()["instances"] == 0


def test_an_untrained_model_is_refused_with_the_reason_and_nothing_runs(qtbot, project_window, fake_loader):
    win, state = project_window, project_window.state
    assert not win.project.prelabel(True)  # the model panel's distilpose-t: random weights
    title, text = win.errors[-1]
    assert title == "Cannot pre-label with distilpose-t"
    assert "No trained weights" in text and "Choose a trained model" in text
    assert win.project.prelabel_thread is None and fake_loader.loaded == []
    assert state.project.counts()["instances"] == 0
    # Thunder is not fetched in this cache: refused too, saying how to fetch it
    from distilpose.app.project.prelabel_dialog import PrelabelChoice

    assert not win.project.prelabel(False, choice=PrelabelChoice("movenet-thunder"))
    assert "distilpose models fetch movenet-thunder" in win.errors[-1][1]
    # the dialog offers what is ready here: the shipped student, preselected
    from distilpose.app.project.prelabel_dialog import model_options

    dialog = PrelabelDialog(model_options(), 1)
    qtbot.addWidget(dialog)
    assert dialog.model_combo.currentData() == "distilpose-mnv2-lt"


def test_cancel_keeps_the_finished_frames_and_says_how_many(qtbot, tmp_path, figure_files):
    from distilpose.app.main_window import MainWindow
    from distilpose.app.project.prelabel_dialog import PrelabelChoice
    from distilpose.app.state import AppState

    loader = FakeLoader(delay_s=0.05)
    win = MainWindow(AppState(), model_loader=loader, error_sink=lambda *_: None)
    qtbot.addWidget(win)
    win.show()
    assert win.project.new_project(tmp_path / "cancel.dpproj")
    add_grey_images(win, tmp_path, 8, size=40)
    win.live.update_settings(detector="full-frame", tracking=False)
    win.dialogs.prelabel = lambda *_: PrelabelChoice("distilpose-mnv2-lt", flip=False)
    with qtbot.waitSignal(win.project.prelabelFinished, timeout=30_000) as finished:
        win.project.prelabel_all_action.trigger()
        qtbot.waitUntil(lambda: bool(loader.runtimes) and loader.runtimes[0].calls >= 2, timeout=20_000)
        win.project.prelabel_dialog.canceled.emit()  # what its Cancel button sends
    done = finished.args[0]
    assert 2 <= done < 8
    assert sum(r.instances for r in win.state.frames) == done  # every finished frame kept
    message = win.statusBar().currentMessage()
    assert message.startswith(f"Pre-labelling cancelled: kept the {done} finished frame(s) of 8"), message
    win.project.undo_action.trigger()  # one step takes the kept frames' predictions away
    assert win.state.project.counts()["instances"] == 0
