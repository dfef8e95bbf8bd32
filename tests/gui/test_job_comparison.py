"""After a distillation job: its report (the new student beside the student it started from, MoveNet
Lightning and the teacher on the validation split) is computed in a background thread, the monitor shows the
table and the verdict (a status line meanwhile), report.json is saved in the job folder, and a reopened
project shows it again without recomputing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from distilpose.app.jobs import compare_thread
from distilpose.app.jobs.training_monitor import NO_VALIDATION
from distilpose.training.project_job import REPORT_FILE
from distilpose.training.project_report import load_report
from distilpose.training.synthetic import smoke_config, write_random_teacher

from .jobs_support import open_window

torch.set_num_threads(1)


def _save_student(path: Path, seed: int) -> Path:
    from distilpose.models import create_model
    from distilpose.models.checkpoint import save_weights

    torch.manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_weights(create_model("distilpose-t"), path)
    return path


def _finished_job(store, folder: Path, config: dict, status: str = "running") -> tuple[int, Path]:
    """A job row whose trainer completed while no window watched (``running`` with a dead pid: the next
    window settles it as done and exports it), or one already settled (``done``). Returns (id, run dir)."""
    out = folder / "run"
    out.mkdir(parents=True)
    events = [
        {"type": "start", "step": 0, "epoch": 0, "total_steps": 1},
        {"type": "step", "step": 1, "epoch": 0, "losses": {"reg": 1.0}, "lr": 0.1},
        {"type": "done", "step": 1, "epoch": 1, "status": "completed"},
    ]
    (out / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (out / "log.txt").write_text("")
    _save_student(out / "final" / "model.safetensors", seed=1)
    config_path = folder / "config.json"
    config_path.write_text(json.dumps(config))
    paths = {"dir": str(folder), "config": str(config_path), "out": str(out)}
    paths.update(events=str(out / "events.jsonl"), log=str(out / "log.txt"))
    job_id = store.job_records.add("train", {"device": "cpu"}, paths=paths, status=status)
    if status == "running":
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        store.job_records.update(job_id, pid=dead.pid)
    return job_id, out


def _window_with_live_model(qtbot, fake_loader, project: Path, live_model: str):
    """A window whose live model is ``live_model`` before the project (and so its jobs) is opened."""
    from distilpose.app.main_window import MainWindow
    from distilpose.app.state import AppState

    errors: list[tuple[str, str]] = []
    win = MainWindow(
        AppState(), error_sink=lambda _p, title, text: errors.append((title, text)), model_loader=fake_loader
    )
    win.errors = errors
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.live.update_settings(model=live_model, detector="full-frame", tracking=False)
    assert win.project.open_project(project), errors
    return win


def _column(table, j: int) -> list[str]:
    return [table.item(i, j).text() for i in range(table.rowCount())]


@pytest.mark.slow
def test_finished_job_is_compared_shown_saved_and_reloaded(qtbot, tmp_path, fake_loader, monkeypatch) -> None:
    project = tmp_path / "poses.dpproj"
    teacher = write_random_teacher(tmp_path / "teacher.safetensors")
    previous = _save_student(tmp_path / "previous" / "model.safetensors", seed=2)
    config = smoke_config(tmp_path / "data", teacher_weights=teacher, val=True, num_images=2)
    win = open_window(qtbot, fake_loader, project)
    job_id, _out = _finished_job(win.state.project, tmp_path / "job", config)
    win.close()

    win2 = _window_with_live_model(qtbot, fake_loader, project, str(previous))
    training, monitor = win2.training, win2.training.monitor
    statuses: list[str] = []
    real_set = monitor.set_comparison_status
    monkeypatch.setattr(
        monitor,
        "set_comparison_status",
        lambda jid, text, **kw: (statuses.append(text), real_set(jid, text, **kw)),
    )
    job = training.manager.jobs[job_id]
    assert job.status == "done" and monitor.selected_id() == job_id
    saved = tmp_path / "job" / REPORT_FILE
    assert job.report_path == saved
    # ONNX export first, then the report thread; the table replaces the status line when it is saved.
    qtbot.waitUntil(lambda: saved.exists() and monitor.comparison_table.rowCount() == 4, timeout=150_000)
    assert job.metrics.get("onnx") == str(job.onnx_path)
    assert any("teacher, image 2/2" in s for s in statuses), statuses
    table = monitor.comparison_table
    assert table.isVisibleTo(monitor)
    assert _column(table, 0) == ["new student", "started from", "movenet-lightning", "teacher"]
    assert _column(table, 4)[:2] == [str(job.final_weights), "distilpose-t"]
    assert _column(table, 4)[3] == str(teacher.resolve())
    for ap, pck in zip(_column(table, 1)[:2], _column(table, 2)[:2], strict=True):
        assert 0.0 <= float(ap) <= 1.0 and 0.0 <= float(pck.rstrip("%")) <= 100.0
    report = load_report(saved)
    assert report["verdict"] in monitor.comparison_label.text()
    assert "no live FPS (the project has no video" in monitor.comparison_label.text()
    assert [r["label"] for r in report["rows"]] == ["new student", "started from", "movenet-lightning", "teacher"]
    assert f"{report['ap']['new student']:.3f}" == _column(table, 1)[0]
    shown = [_column(table, j) for j in range(table.columnCount())]
    qtbot.waitUntil(lambda: not training.comparisons, timeout=10_000)
    assert monitor.compare_button.isEnabled()
    # Use as Live Model names the student after the project and the job, and says it took effect.
    assert training.use_as_live_model(job_id)
    name = f"poses job {job_id}"
    assert win2.model_panel.model_combo.currentText() == f"{name} (student)"
    assert win2.live.settings.model == str(job.final_weights)
    assert f"Live model now: {name} (student)" in monitor.comparison_label.text()
    win2.close()

    def no_recompute(*_a, **_k):
        raise AssertionError("a saved report must not be recomputed")

    monkeypatch.setattr(compare_thread, "make_report", no_recompute)
    win3 = open_window(qtbot, fake_loader, project)
    monitor3 = win3.training.monitor
    assert win3.training.comparisons == {}
    assert monitor3.selected_id() == job_id
    assert [_column(monitor3.comparison_table, j) for j in range(len(shown))] == shown


def test_job_without_validation_split_says_so(qtbot, tmp_path, fake_loader) -> None:
    config = smoke_config(tmp_path / "data", teacher_weights=write_random_teacher(tmp_path / "t.safetensors"))
    project = tmp_path / "poses.dpproj"
    win = open_window(qtbot, fake_loader, project)
    job_id, _out = _finished_job(win.state.project, tmp_path / "job", config, status="done")
    win.close()
    win = open_window(qtbot, fake_loader, project)  # a settled job: no ONNX export, no comparison by itself
    monitor = win.training.monitor
    monitor.select(job_id)
    # Said before anything runs, from the job's own config (issue 17): no button to press in vain.
    assert not monitor.compare_button.isEnabled()
    assert monitor.comparison_label.text() == NO_VALIDATION
    assert not monitor.comparison_table.isVisibleTo(monitor) and monitor.comparison_table.rowCount() == 0
    # Asked anyway (the manager's API, as a script would), the comparison says why it has no rows.
    win.training.start_comparison(job_id)
    qtbot.waitUntil(lambda: not win.training.comparisons, timeout=60_000)
    assert load_report(tmp_path / "job" / REPORT_FILE)["note"].startswith("no validation split")
    assert monitor.comparison_label.text() == NO_VALIDATION
