"""Exact resume: a run SIGKILLed after a checkpoint and resumed ends with the same weights as an
uninterrupted run (tiny synthetic data, CPU, one thread, no data workers)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from distilpose.models.checkpoint import load_state_dict_file
from distilpose.training.events import read_events
from distilpose.training.synthetic import smoke_config, write_random_teacher
from tests.conftest import single_thread_env

pytestmark = pytest.mark.timeout(240)


def _cmd(cfg: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "distilpose.cli",
        "train",
        str(cfg),
        "--out",
        str(out),
        "--device",
        "cpu",
        *extra,
    ]


def _wait_for_checkpoint(events: Path, proc: subprocess.Popen, timeout: float = 120.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if events.exists():
            steps = [e["step"] for e in read_events(events) if e["type"] == "checkpoint"]
            if steps:
                return steps[-1]
        if proc.poll() is not None:
            raise AssertionError(f"training exited early with {proc.returncode}: {proc.stderr.read()}")
        time.sleep(0.02)
    raise AssertionError("no checkpoint event within the timeout")


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    teacher = write_random_teacher(tmp_path / "teacher.safetensors")
    # 6 persons, batch 2: 3 steps per epoch, so the run crosses epoch boundaries; checkpoint every 3 steps
    cfg = smoke_config(tmp_path, teacher_weights=teacher, max_steps=10, checkpoint_every_steps=3)
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(cfg))
    full, part = tmp_path / "full", tmp_path / "part"

    done = subprocess.run(_cmd(cfg_path, full), env=single_thread_env(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr

    proc = subprocess.Popen(_cmd(cfg_path, part), env=single_thread_env(), stderr=subprocess.PIPE, text=True)
    try:
        ck_step = _wait_for_checkpoint(part / "events.jsonl", proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    killed_events = read_events(part / "events.jsonl")
    assert "done" not in [e["type"] for e in killed_events], "the run finished before it could be killed"
    assert ck_step < 10

    resumed = subprocess.run(
        _cmd(cfg_path, part, "--resume"), env=single_thread_env(), capture_output=True, text=True, timeout=180
    )
    assert resumed.returncode == 0, resumed.stderr
    starts = [e for e in read_events(part / "events.jsonl") if e["type"] == "start"]
    assert len(starts) == 2 and starts[1]["resumed_from"].endswith("last.pt")
    assert starts[1]["step"] in (3, 6, 9) and starts[1]["step"] >= ck_step

    a = load_state_dict_file(full / "final" / "model.safetensors")
    b = load_state_dict_file(part / "final" / "model.safetensors")
    assert set(a) == set(b)
    differing = [k for k in a if not torch.equal(a[k], b[k])]
    assert differing == []
    last_full = [e for e in read_events(full / "events.jsonl") if e["type"] == "step"][-1]
    last_part = [e for e in read_events(part / "events.jsonl") if e["type"] == "step"][-1]
    assert last_full["step"] == last_part["step"] == 10
    assert last_full["losses"] == last_part["losses"]
