"""The training side of the annotator's desk: a steady ETA that clears on cancel, a monitor readable at the
window's default size, and Distil dialog defaults and checks chosen from the machine and the project."""

from __future__ import annotations

import json

import pytest

from distilpose.app.jobs.budget import (
    CPU_TARGET_S,
    MIN_STEPS,
    format_duration,
    forward_gmacs,
    machine_defaults,
    step_seconds,
)
from distilpose.app.jobs.manager import Job, JobManager
from distilpose.app.jobs.progress import JobProgress
from distilpose.app.jobs.spec import data_counts, verified_per_split
from distilpose.app.jobs.training_monitor import NO_VALIDATION, TrainingMonitor, format_eta
from distilpose.app.state import AppState
from distilpose.training.events import StepClock

from .conftest import PERSON_A

# Written here, not imported from the module under test: a changed default must change this test too.
DEFAULT_STUDENT = "distilpose-mnv2-lt"

# --------------------------------------------------------------------------------------------- ETA


def test_step_clock_ignores_one_slow_step_and_follows_a_real_change() -> None:
    clock = StepClock(alpha=0.05)
    for _ in range(20):
        clock.update(1.0, 1)
    steady = clock.eta(100)
    assert steady == pytest.approx(100.0)
    clock.update(30.0, 1)  # a checkpoint, an evaluation: one step looks 30x slower
    assert clock.eta(100) < 2.6 * steady  # the raw step time would have said 30x
    for _ in range(100):
        clock.update(2.0, 1)  # the machine really got slower
    assert clock.eta(100) == pytest.approx(200.0, rel=0.02)
    # A window of n steps counts as n updates: the logging interval does not change the smoothing.
    a, b = StepClock(0.1), StepClock(0.1)
    a.update(1.0, 1)
    b.update(1.0, 1)
    for _ in range(10):
        a.update(3.0, 1)
    b.update(30.0, 10)
    assert a.seconds_per_step == pytest.approx(b.seconds_per_step)
    assert StepClock().eta(10) is None
    with pytest.raises(ValueError):
        StepClock(alpha=0.0)


def test_the_eta_clears_when_a_run_is_cancelled_or_fails() -> None:
    p = JobProgress()
    p.add({"type": "start", "step": 0, "total_steps": 100})
    p.add({"type": "step", "step": 10, "losses": {"reg": 1.0}, "eta_s": 62.0})
    assert p.eta_s == 62.0
    p.add({"type": "done", "step": 10, "status": "interrupted"})
    assert p.eta_s is None
    p.add({"type": "step", "step": 11, "eta_s": 5.0})
    p.add({"type": "error", "step": 11, "message": "boom"})
    assert p.eta_s is None
    p.add({"type": "done", "step": 100, "status": "completed"})
    assert p.eta_s == 0.0


# --------------------------------------------------------------------------------------------- monitor


def _job(manager: JobManager, tmp_path, status: str, val: bool) -> Job:
    out = tmp_path / f"run-{status}"
    out.mkdir()
    config = tmp_path / f"config-{status}.json"
    data = {"train_ann": "a.json", **({"val_ann": "v.json", "val_images": "v"} if val else {})}
    config.write_text(json.dumps({"data": data}), encoding="utf-8")
    job = Job(
        len(manager.jobs) + 1,
        status,
        {"out": str(out), "events": str(out / "e.jsonl"), "log": str(out / "log"), "config": str(config)},
        {"spec": {"student": DEFAULT_STUDENT, "teacher": "movenet-thunder"}},
        {},
    )
    for event in (
        {"type": "start", "step": 0, "total_steps": 200},
        *(
            {"type": "step", "step": s, "losses": {"reg": 1.0 / s, "score": 0.02 / s}, "loss": 1.1 / s,
             "lr": 1e-3, "images_per_s": 9.0, "eta_s": 300.0 - s}
            for s in range(10, 130, 10)
        ),
        {"type": "eval", "step": 120, "epoch": 3, "metrics": {"AP": 0.31}},
    ):  # fmt: skip
        job.progress.add(event)
    manager.jobs[job.id] = job
    return job


def test_the_monitor_is_readable_at_the_default_window_size(qtbot, tmp_path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMainWindow, QWidget

    state = AppState()
    manager = JobManager(state)
    window = QMainWindow()
    qtbot.addWidget(window)
    window.setCentralWidget(QWidget())
    monitor = TrainingMonitor(manager, window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, monitor)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    running = _job(manager, tmp_path, "running", val=True)
    monitor.refresh()
    monitor.select(running.id)
    for plot in (monitor.loss_plot, monitor.lr_plot, monitor.ips_plot, monitor.val_plot):
        assert plot.vb.height() >= 120, plot.titleLabel.text  # four 15 px plots were unreadable
        assert plot.vb.width() >= 100, plot.titleLabel.text
        assert plot.getAxis("bottom").labelText == "step"
        assert plot.vb.viewRange()[0][1] >= 200  # the whole run on the x axis
    legend = [label.text for _sample, label in monitor.loss_legend.items]
    assert sorted(legend) == ["reg", "score", "total"]
    assert "epoch" in monitor.val_plot.titleLabel.text
    assert [label.toPlainText() for label in monitor.val_labels] == ["ep 3"]
    monitor.log_box.setChecked(True)
    assert monitor.loss_plot.ctrl.logYCheck.isChecked()
    assert monitor.eta_label.text() == format_eta(180.0)
    # Cancelled: the last estimate is not shown any more.
    running.status = "cancelled"
    monitor.refresh()
    assert monitor.eta_label.text() == "ETA —"


def test_compare_on_validation_needs_a_job_with_a_val_split(qtbot, tmp_path) -> None:
    manager = JobManager(AppState())
    monitor = TrainingMonitor(manager)
    qtbot.addWidget(monitor)
    without = _job(manager, tmp_path, "done", val=False)
    (without.out / "final").mkdir()
    without.final_weights.write_bytes(b"x")
    monitor.refresh()
    monitor.select(without.id)
    assert not monitor.compare_button.isEnabled()
    assert monitor.compare_button.toolTip() == NO_VALIDATION
    assert monitor.comparison_label.text() == NO_VALIDATION
    with_val = tmp_path / "second"
    with_val.mkdir()
    job = _job(manager, with_val, "done", val=True)
    (job.out / "final").mkdir()
    job.final_weights.write_bytes(b"x")
    monitor.refresh()
    monitor.select(job.id)
    assert monitor.compare_button.isEnabled()


# --------------------------------------------------------------------------------------------- dialog


def test_cpu_defaults_are_the_shipped_student_and_finish_in_minutes() -> None:
    for rate in (2.0, 20.0, 200.0):  # a slow, a normal and a fast CPU (GMAC/s)
        d = machine_defaults("movenet-thunder", cuda=False, rate=rate)
        assert (d.student, d.device) == (DEFAULT_STUDENT, "cpu")
        took = d.steps * step_seconds(d.student, "movenet-thunder", d.batch, rate)
        assert d.steps == MIN_STEPS or took <= CPU_TARGET_S
        assert d.steps >= MIN_STEPS and d.batch <= 16
    # The larger students cost more for the same budget, in the order of their size.
    costs = [step_seconds(s, "movenet-thunder", 8, 20.0) for s in ("distilpose-mnv2", "distilpose-s", "distilpose-l")]
    assert costs == sorted(costs) and costs[-1] > 5 * costs[0]
    assert machine_defaults("movenet-thunder", cuda=True).device == "cuda"
    assert [format_duration(s) for s in (40, 360, 9000)] == ["about 40 s", "about 6 min", "about 2.5 h"]


def test_step_cost_comes_from_the_specs_measured_gmacs() -> None:
    # distilpose-s: 2.70 GMACs per forward, Thunder 1.22 (`distilpose info`); at 4.6 GMAC/s one image of a step
    # costs 3 x 2.70 + 1.22 = 9.32 GMAC, 2.026 s
    assert forward_gmacs("distilpose-s") == pytest.approx(2.70)
    assert step_seconds("distilpose-s", "movenet-thunder", 1, rate=4.6) == pytest.approx(9.32 / 4.6)
    assert forward_gmacs("not-a-model.safetensors") == 2.0  # a checkpoint file: an unknown cost


def test_dialog_starts_from_the_machine_defaults_with_estimates(qtbot) -> None:
    from distilpose.app.jobs.distil_dialog import DistilDialog

    dialog = DistilDialog(lambda *_: "", data=(12, 4), cuda=False)
    qtbot.addWidget(dialog)
    assert dialog.student_combo.currentData() == DEFAULT_STUDENT
    assert dialog.device_combo.currentData() == "cpu"
    assert dialog.batch_spin.value() <= 16 and dialog.steps_spin.value() <= 2000
    text = dialog.estimate_label.text()
    assert "on this CPU" in text and "distilpose-l about" in text
    tips = [dialog.student_combo.itemData(i, 3) for i in range(dialog.student_combo.count())]  # ToolTipRole
    assert all(t and t.startswith("about") for t in tips)
    assert dialog.validate_box.isChecked() and dialog.validate_box.isEnabled()
    assert "4 labelled people in the val split" in dialog.validate_note.text()
    assert dialog.spec().validate


def test_dialog_without_a_val_split_says_so_before_the_job(qtbot) -> None:
    from distilpose.app.jobs.distil_dialog import DistilDialog

    dialog = DistilDialog(lambda *_: "", data=(12, 0), cuda=False)
    qtbot.addWidget(dialog)
    assert not dialog.validate_box.isChecked() and not dialog.validate_box.isEnabled()
    assert "No labelled people in the val split" in dialog.validate_note.text()
    assert not dialog.spec().validate
    empty = DistilDialog(lambda *_: "", data=(0, 0), cuda=False)
    qtbot.addWidget(empty)
    assert "No verified people and no teacher pre-labels in the train split" in empty.problem()


def test_the_dialog_reads_the_projects_splits(project_window) -> None:
    from distilpose.types import Instance

    store = project_window.state.project
    frame = project_window.state.frame_id
    store.add_instance(frame, Instance(keypoints=PERSON_A.copy()), verified=True)
    store.add_instance(frame, Instance(keypoints=PERSON_A.copy()))  # not verified: not data
    assert verified_per_split(store) == {"none": 1}
    assert data_counts(store) == (0, 0)  # unsplit frames are not training data: the project needs a split
    dialog = project_window.training.ask_distil()
    assert dialog is not None
    assert not dialog.validate_box.isEnabled()
    assert "the project has no train split" in dialog.problem()
    dialog.reject()
    store.set_splits({frame: "train"})
    dialog = project_window.training.ask_distil()
    assert "learns from 1 verified people (1 corrected" in dialog.learns_label.text()  # placed by hand
    assert "Only 1 people to learn from" in dialog.warning_label.text()
    dialog.reject()
