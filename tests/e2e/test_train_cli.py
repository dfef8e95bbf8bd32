"""`distilpose train` from the command line: exit codes, one-line errors, event streams, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from distilpose.cli import main
from distilpose.training.checkpointing import load_checkpoint
from distilpose.training.events import read_events
from distilpose.training.synthetic import smoke_config, write_random_teacher

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _write(path: Path, cfg: dict) -> Path:
    path.write_text(json.dumps(cfg))
    return path


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("distilpose train: error: ")
    return err[0]


def test_unknown_key_exits_2_with_one_line_and_an_error_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = smoke_config(tmp_path)
    raw["data"]["augment"] = {"rotate_factor": 40}
    cfg = _write(tmp_path / "bad.json", raw)
    out = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(out), "--device", "cpu"]) == 2
    line = _error_line(capsys)
    assert "bad.json: invalid config: data.augment.rotate_factor: unknown key" in line
    event = read_events(out / "events.jsonl")[-1]
    assert event["type"] == "error" and event["kind"] == "user" and "rotate_factor" in event["message"]
    assert {"time", "step", "epoch"} <= set(event)


def test_missing_teacher_weights_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _write(tmp_path / "c.json", smoke_config(tmp_path, teacher_weights=tmp_path / "gone.safetensors"))
    events = tmp_path / "ev.jsonl"
    assert main(["train", str(cfg), "--out", str(tmp_path / "run"), "--events", str(events)]) == 2
    assert "teacher.weights: file not found:" in _error_line(capsys)
    assert read_events(events)[-1]["type"] == "error"


def test_bundled_config_by_name_checks_its_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COCO_ROOT", str(tmp_path / "no-coco"))
    assert main(["train", "distilpose_s_coco_256x192", "--out", str(tmp_path / "run")]) == 2
    assert f"data.train_ann: file not found: {tmp_path / 'no-coco'}" in _error_line(capsys)


def test_events_to_stdout_are_the_only_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    teacher = write_random_teacher(tmp_path / "t.safetensors")
    cfg = _write(tmp_path / "c.json", smoke_config(tmp_path, teacher_weights=teacher, max_steps=2))
    assert main(["train", str(cfg), "--out", str(tmp_path / "run"), "--device", "cpu", "--events", "-"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    events = [json.loads(line) for line in lines]  # every stdout line is an event
    assert [e["type"] for e in events] == ["start", "step", "step", "checkpoint", "done"]
    assert not (tmp_path / "run" / "events.jsonl").exists()


def test_sigterm_writes_a_final_checkpoint_and_exits_cleanly(tmp_path: Path) -> None:
    teacher = write_random_teacher(tmp_path / "t.safetensors")
    cfg = _write(
        tmp_path / "c.json",
        smoke_config(tmp_path, teacher_weights=teacher, max_steps=500, checkpoint_every_steps=1000),
    )
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "distilpose.cli", "train", str(cfg), "--out", str(out), "--device", "cpu"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    events_path = out / "events.jsonl"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if events_path.exists() and any(e["type"] == "step" for e in read_events(events_path)):
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    events = read_events(events_path)
    done = events[-1]
    assert done["type"] == "done" and done["status"] == "interrupted" and done["signal"] == "SIGTERM"
    assert events[-2]["type"] == "checkpoint"
    assert 1 <= done["step"] < 500
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == done["step"]
    assert not (out / "final").exists()  # an interrupted run exports nothing final
