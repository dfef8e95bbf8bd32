"""Jobs outlive the window: a new window on the same project reattaches to a running job (events keep
arriving, Cancel still works); a job that fails shows its exit code, error and log tail."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from distilpose.app.jobs.process import is_job_process
from distilpose.training.synthetic import smoke_config, write_random_teacher

from .jobs_support import (
    open_window,
    reap_jobs,  # noqa: F401 - the fixture
)


def _config(tmp_path, **run) -> str:
    teacher = write_random_teacher(tmp_path / "teacher.safetensors")
    cfg = smoke_config(tmp_path / "smoke", teacher_weights=teacher, **run)
    path = tmp_path / "smoke.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    return str(path)


@pytest.mark.slow
@pytest.mark.usefixtures("reap_jobs")
def test_new_window_reattaches_to_a_running_job(qtbot, tmp_path, fake_loader) -> None:
    project = tmp_path / "poses.dpproj"
    win = open_window(qtbot, fake_loader, project)
    job_id = win.training.run_config(_config(tmp_path, max_steps=40), "cpu")
    job = win.training.manager.jobs[job_id]
    qtbot.waitUntil(lambda: job.progress.step >= 1, timeout=90_000)
    pid, seen = job.pid, job.progress.step
    win.close()  # the app goes away mid-job: the process must go on
    assert is_job_process(pid, job.config_path)

    win2 = open_window(qtbot, fake_loader, project)
    manager2 = win2.training.manager
    job2 = manager2.jobs[job_id]
    assert job2.status == "running" and job2.pid == pid and job2.popen is None
    assert job2.progress.step >= seen  # the history was read back from the event file
    assert win2.training.monitor.isVisible() and win2.training.monitor.selected_id() == job_id
    arrived: list[int] = []
    manager2.eventsArrived.connect(lambda jid, events: arrived.extend(e["step"] for e in events))
    qtbot.waitUntil(lambda: any(step > job2.progress.steps[0] for step in arrived), timeout=90_000)
    assert len(win2.training.monitor.loss_curves["reg"].getData()[0]) == len(job2.progress.steps)

    assert manager2.cancel(job_id)
    qtbot.waitUntil(lambda: job2.status == "cancelled", timeout=60_000)
    assert not is_job_process(pid, job2.config_path)
    assert win2.state.project.job_records.get(job_id).status == "cancelled"


@pytest.mark.usefixtures("reap_jobs")
def test_bad_config_key_fails_with_exit_code_and_log_tail(qtbot, tmp_path, fake_loader) -> None:
    win = open_window(qtbot, fake_loader, tmp_path / "poses.dpproj")
    raw = json.loads(Path(_config(tmp_path)).read_text())
    raw["run"]["bogus_key"] = 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw), encoding="utf-8")
    job_id = win.training.run_config(bad, "cpu")
    job = win.training.manager.jobs[job_id]
    qtbot.waitUntil(lambda: job.status != "running", timeout=60_000)
    assert job.status == "failed"
    row = win.state.project.job_records.get(job_id)
    assert row.metrics["exit_code"] == 2
    assert "run.bogus_key: unknown key" in row.metrics["error"] and "exit code 2" in row.metrics["error"]
    assert "run.bogus_key: unknown key" in row.metrics["log_tail"]  # the CLI's stderr, from log.txt
    title, text = win.errors[-1]
    assert title == "Training job failed" and f"Job {job_id} failed" in text and "log" not in title
    monitor = win.training.monitor
    assert monitor.error_view.isVisible()
    assert "exit code 2" in monitor.error_view.toPlainText()
    assert "distilpose train: error:" in monitor.error_view.toPlainText()
    assert not monitor.resume_button.isEnabled() and monitor.rerun_button.isEnabled()


@pytest.mark.slow
@pytest.mark.usefixtures("reap_jobs")
def test_killed_process_is_a_failed_job_that_can_resume(qtbot, tmp_path, fake_loader) -> None:
    win = open_window(qtbot, fake_loader, tmp_path / "poses.dpproj")
    job_id = win.training.run_config(_config(tmp_path, max_steps=40, checkpoint_every_steps=1), "cpu")
    job = win.training.manager.jobs[job_id]
    qtbot.waitUntil(lambda: job.last_checkpoint.exists() and job.progress.step >= 1, timeout=90_000)
    os.killpg(job.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: job.status != "running", timeout=30_000)
    assert job.status == "failed"
    assert job.metrics["exit_code"] == -signal.SIGKILL
    assert "killed by SIGKILL (exit code -9)" in job.metrics["error"]
    monitor = win.training.monitor
    assert "killed by SIGKILL" in monitor.error_view.toPlainText()
    assert monitor.resume_button.isEnabled()  # SIGKILL leaves the last periodic checkpoint
    title, _text = win.errors[-1]
    assert title == "Training job failed"


def _recorded_job(store, tmp_path, events: list[dict]) -> int:
    """A job row left 'running' by an app that is gone, whose process (a finished child) is gone too."""
    out = tmp_path / "jobs" / "9" / "run"
    out.mkdir(parents=True)
    (out / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (out / "log.txt").write_text("last words of the trainer\n")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    paths = {"dir": str(out.parent), "config": str(tmp_path / "c.json"), "out": str(out)}
    paths.update(events=str(out / "events.jsonl"), log=str(out / "log.txt"))
    job_id = store.job_records.add("train", {"device": "cpu"}, paths=paths, status="running")
    store.job_records.update(job_id, pid=dead.pid)
    return job_id


def test_jobs_that_ended_while_no_window_watched(qtbot, tmp_path, fake_loader) -> None:
    from distilpose.models import create_model
    from distilpose.models.checkpoint import save_weights

    project = tmp_path / "poses.dpproj"
    win = open_window(qtbot, fake_loader, project)
    start = {"type": "start", "step": 0, "epoch": 0, "total_steps": 3}
    steps = [
        {"type": "step", "step": s, "epoch": 0, "losses": {"reg": 1.0 / s}, "lr": 0.1} for s in (1, 2, 3)
    ]
    done = {"type": "done", "step": 3, "epoch": 1, "status": "completed"}
    finished = _recorded_job(win.state.project, tmp_path / "a", [start, *steps, done])
    torn = _recorded_job(win.state.project, tmp_path / "b", [start, steps[0]])
    weights = tmp_path / "a" / "jobs" / "9" / "run" / "final" / "model.safetensors"
    weights.parent.mkdir()
    save_weights(create_model("distilpose-t"), weights)
    win.close()

    win2 = open_window(qtbot, fake_loader, project)
    manager = win2.training.manager
    assert manager.jobs[finished].status == "done"
    assert manager.jobs[finished].progress.steps == [1, 2, 3]
    row = win2.state.project.job_records.get(torn)
    assert row.status == "failed" and row.pid is None
    assert row.metrics["error"].startswith("the training process ended without a result (exit code unknown")
    assert row.metrics["log_tail"] == "last words of the trainer"
    qtbot.waitUntil(lambda: manager.jobs[finished].metrics.get("onnx") is not None, timeout=120_000)
    assert (weights.parent / "model.onnx").stat().st_size > 0
    assert win2.training.use_as_live_model(finished)
    assert win2.live.settings.model == str(weights)
