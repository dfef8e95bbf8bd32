"""The app's pre-label, run again after accepting, keeps the accepted person once and says what it did
(issue 23, defect 3)."""

from __future__ import annotations

from tests.gui.conftest import prelabel_choice


def test_prelabel_again_after_accepting_keeps_one_copy_and_reports_counts(qtbot, project_window) -> None:
    win, state = project_window, project_window.state
    with qtbot.waitSignal(win.project.prelabelFinished, timeout=20_000):
        assert win.project.prelabel(False, choice=prelabel_choice())
    assert "1 person(s) added, 0 prediction(s) replaced, 0 already there kept" in win.statusBar().currentMessage()
    win.project.accept_action.trigger()
    [accepted] = state.project.instances(state.frame_id)
    assert accepted.source == "user"
    with qtbot.waitSignal(win.project.prelabelFinished, timeout=20_000):
        assert win.project.prelabel(False, choice=prelabel_choice())
    people = state.project.instances(state.frame_id)
    assert [p.extras["id"] for p in people] == [accepted.extras["id"]], "the accepted person came back twice"
    assert "0 person(s) added, 0 prediction(s) replaced, 1 already there kept" in win.statusBar().currentMessage()
    assert win.errors == []
