"""`distilpose project distil` stopped with Ctrl-C mid-training keeps its last checkpoint, marks the job
cancelled and leaves a folder that `--resume JOB` finishes, with the report; nothing else is left behind.
A project that cannot be distilled is refused before anything is written."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distilpose.project import ProjectStore
from distilpose.training.events import read_events
from distilpose.training.synthetic import write_random_teacher
from tests.conftest import single_thread_env
from tests.unit.test_project_distil import footage_project

pytestmark = pytest.mark.timeout(600)


def _distil(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "distilpose.cli", "project", "distil", str(project), *args]


def _wait_for_step(events: Path, proc: subprocess.Popen, step: int, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if events.exists() and any(e["type"] == "checkpoint" and e["step"] >= step for e in read_events(events)):
            return
        if proc.poll() is not None:
            raise AssertionError(f"distil exited early with {proc.returncode}: {proc.stderr.read()}")
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint at step {step} within the timeout")


@pytest.mark.slow
def test_ctrl_c_keeps_a_resumable_job_and_resume_finishes_it(tmp_path) -> None:
    project = tmp_path / "footage.dpproj"
    footage_project(project, tmp_path)
    teacher = write_random_teacher(tmp_path / "teacher.safetensors")
    choices = ["--teacher", str(teacher), "--student", "distilpose-t", "--batch", "2", "--workers", "0"]
    proc = subprocess.Popen(
        _distil(project, *choices, "--steps", "60", "--report-frames", "2"),
        env=single_thread_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as at a terminal: a suite started in the background inherits SIGINT ignored, and Python then never
        # installs its KeyboardInterrupt handler in the child
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    job_dir = tmp_path / "jobs" / "1"
    _wait_for_step(job_dir / "run" / "events.jsonl", proc, 6)  # checkpoints every 6 steps
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "--resume 1" in err and str(job_dir) in err
    with ProjectStore.open(project) as store:
        row = store.job_records.get(1)
        assert row.status == "cancelled" and row.pid is None and row.metrics["exit_code"] in (130, 143)
    assert (job_dir / "run" / "checkpoints" / "last.pt").is_file()
    assert not (job_dir / "run" / "final").exists() and not (job_dir / "report.json").exists()
    stopped = max(e["step"] for e in read_events(job_dir / "run" / "events.jsonl") if e["type"] == "checkpoint")
    assert stopped < 60

    done = subprocess.run(
        _distil(project, "--resume", "1", "--report-frames", "2", "--json"),
        env=single_thread_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["job"] == 1 and Path(result["weights"]).is_file() and Path(result["report"]).is_file()
    starts = [e for e in read_events(job_dir / "run" / "events.jsonl") if e["type"] == "start"]
    assert len(starts) == 2 and starts[1]["resumed_from"]  # continued, not restarted
    with ProjectStore.open(project) as store:
        assert store.job_records.get(1).status == "done" and len(store.job_records.all()) == 1


def test_a_project_that_cannot_be_distilled_is_refused_before_anything_is_written(tmp_path) -> None:
    project = tmp_path / "empty.dpproj"
    with ProjectStore.create(project):
        pass
    done = subprocess.run(_distil(project), env=single_thread_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"{project}: the project has no frames: add your camera's video" in done.stderr
    assert not (tmp_path / "jobs").exists()
    with ProjectStore.open(project) as store:
        assert store.job_records.all() == []
