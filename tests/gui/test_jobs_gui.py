"""A distillation job from the GUI: the dialog starts it on the project's verified annotations, events
reach the monitor's curves, Cancel stops the process, Resume continues from its checkpoint, the finished
student is exported to ONNX and swapped in as the live model; the GUI thread never stalls meanwhile."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from distilpose.app.jobs.process import is_job_process
from distilpose.training.events import read_events
from distilpose.training.synthetic import write_random_teacher

from .jobs_support import (
    VAL_FRAMES,
    Heartbeat,
    fill_project,
    open_window,
    reap_jobs,  # noqa: F401 - the fixture
)

STEPS = 8


@pytest.fixture
def teacher_file(tmp_path):
    return write_random_teacher(tmp_path / "teacher.safetensors")


@pytest.mark.slow
@pytest.mark.usefixtures("reap_jobs")
def test_distil_cancel_resume_finish_and_use(qtbot, tmp_path, fake_loader, teacher_file) -> None:
    win = open_window(qtbot, fake_loader, tmp_path / "poses.dpproj")
    fill_project(win, tmp_path / "src")
    training = win.training
    manager, monitor = training.manager, training.monitor

    training.distil_action.trigger()
    dialog = training.dialog
    assert dialog is not None and dialog.isVisible()
    dialog.teacher_combo.setCurrentText(str(teacher_file))
    dialog.student_combo.setCurrentText("distilpose-t")
    dialog.steps_spin.setValue(STEPS)
    dialog.batch_spin.setValue(2)
    dialog.workers_spin.setValue(0)
    dialog.validate_box.setChecked(True)
    heartbeat = Heartbeat()
    onnx: list[tuple[int, str]] = []
    manager.onnxExported.connect(lambda jid, path: onnx.append((jid, path)))
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert not dialog.isVisible()
    (job_id,) = manager.jobs
    job = manager.jobs[job_id]
    assert monitor.isVisible() and monitor.selected_id() == job_id

    qtbot.waitUntil(lambda: job.status == "running", timeout=60_000)
    heartbeat.start()
    # The config is strict JSON in <project folder>/jobs/<id>/, built from the dialog's choices.
    assert job.config_path == win.state.project.folder / "jobs" / str(job_id) / "config.json"
    config = json.loads(job.config_path.read_text())
    assert config["model"] == {"name": "distilpose-t"}
    assert config["teacher"] == {"name": "tokenpose-stemnet", "weights": str(teacher_file.resolve())}
    assert config["run"]["max_steps"] == STEPS and config["run"]["batch_size"] == 2
    train = json.loads((job.config_path.parent / config["data"]["train_ann"]).read_text())
    val = json.loads((job.config_path.parent / config["data"]["val_ann"]).read_text())
    assert (len(train["images"]), len(val["images"])) == (6 - VAL_FRAMES, VAL_FRAMES)
    assert win.state.project.job_records.get(job_id).status == "running"

    # Events reach the plot.
    qtbot.waitUntil(lambda: job.progress.step >= 2, timeout=90_000)
    xs, ys = monitor.loss_curves["reg"].getData()
    assert len(xs) >= 2 and len(ys) == len(xs)
    assert len(monitor.lr_curve.getData()[0]) >= 2 and len(monitor.ips_curve.getData()[0]) >= 2
    assert job.progress.total_steps == STEPS and monitor.progress.value() > 0
    qtbot.waitUntil(
        lambda: win.state.project.job_records.get(job_id).metrics.get("step", 0) >= 1, timeout=30_000
    )
    assert "loss/reg" in win.state.project.job_records.get(job_id).metrics  # last metrics while it runs

    # Cancel: SIGTERM, final checkpoint, process gone, status cancelled.
    pid = job.pid
    monitor.cancel_button.click()
    qtbot.waitUntil(lambda: job.status == "cancelled", timeout=60_000)
    assert not is_job_process(pid, job.config_path)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert win.state.project.job_records.get(job_id).status == "cancelled"
    assert win.state.project.job_records.get(job_id).pid is None
    before = len(job.progress.steps)
    last_before = job.progress.steps[-1]
    assert last_before < STEPS and job.last_checkpoint.exists()

    # Resume continues from the checkpoint: the next step event comes after the last one.
    assert monitor.resume_button.isEnabled()
    monitor.resume_button.click()
    assert job.status == "running"
    qtbot.waitUntil(lambda: len(job.progress.steps) > before, timeout=90_000)
    assert job.progress.steps[before] > last_before  # continued, not restarted at step 1
    starts = [e for e in read_events(job.events_path) if e["type"] == "start"]
    assert len(starts) == 2 and starts[0]["resumed_from"] is None and starts[1]["resumed_from"]
    qtbot.waitUntil(lambda: job.status in ("done", "failed"), timeout=120_000)
    heartbeat.stop()
    assert job.status == "done", job.metrics
    assert job.progress.steps[-1] == STEPS
    assert len(monitor.val_curve.getData()[0]) >= 1  # the eval at the end on the val split
    row = win.state.project.job_records.get(job_id)
    assert row.status == "done" and row.metrics["exit_code"] == 0 and row.metrics["step"] == STEPS
    assert heartbeat.ticks > 50
    assert heartbeat.max_gap < 0.2, f"the GUI thread stalled {heartbeat.max_gap:.3f} s"

    # ONNX export in a thread, then swap the student in.
    qtbot.waitUntil(lambda: bool(onnx), timeout=120_000)
    assert onnx == [(job_id, str(job.onnx_path))] and job.onnx_path.stat().st_size > 0
    assert win.state.project.job_records.get(job_id).metrics["onnx"] == str(job.onnx_path)
    assert monitor.use_button.isEnabled()
    monitor.use_button.click()
    assert win.live.settings.model == str(job.final_weights)
    assert win.model_panel.model_combo.currentData() == str(job.final_weights)

    # Export for a GPU machine: the config plus a torchrun command.
    out = tmp_path / "gpu"
    script = training.export_for_gpu(job_id, out, 4)
    command = (out / "COMMAND.txt").read_text().strip()
    assert command.startswith("torchrun --nproc_per_node 4 -m distilpose.cli train config.json --device cuda")
    assert command in script.read_text()
    exported = json.loads((out / "config.json").read_text())
    assert exported["data"]["train_ann"] == str(
        (job.config_path.parent / config["data"]["train_ann"]).resolve()
    )
    shutil.rmtree(out)
