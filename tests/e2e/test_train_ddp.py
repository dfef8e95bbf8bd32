"""The unchanged `distilpose train` command under `torchrun --nproc_per_node 2` (gloo on CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from distilpose.models.checkpoint import load_model
from distilpose.training.checkpointing import load_checkpoint
from distilpose.training.events import read_events
from distilpose.training.synthetic import smoke_config, write_random_teacher

pytestmark = pytest.mark.timeout(240)


def test_torchrun_two_cpu_processes(tmp_path: Path) -> None:
    teacher = write_random_teacher(tmp_path / "teacher.safetensors")
    cfg = smoke_config(tmp_path, teacher_weights=teacher, max_steps=3, checkpoint_every_steps=2)
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(cfg))
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "distilpose.cli", "train", str(cfg_path), "--out", str(out), "--device", "cpu",
    ]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stderr[-3000:]

    events = read_events(out / "events.jsonl")
    start = events[0]
    assert start["type"] == "start" and start["world_size"] == 2
    # 6 persons split over 2 ranks -> 3 each -> 2 batches of (up to) 2 per epoch (single process: 3)
    assert start["steps_per_epoch"] == 2
    # only rank 0 writes: every step reported exactly once, one start, one done
    assert [e["step"] for e in events if e["type"] == "step"] == [1, 2, 3]
    assert [e["type"] for e in events].count("start") == 1
    assert events[-1]["type"] == "done" and events[-1]["status"] == "completed"
    for e in events:
        if e["type"] == "step":
            assert e["images_per_s"] > 0  # global images: batch 2 x 2 ranks

    ck = load_checkpoint(out / "checkpoints" / "last.pt")
    assert ck["world_size"] == 2 and ck["step"] == 3
    assert not any(k.startswith("module.") for k in ck["model_state"])  # saved unwrapped from DDP
    model, spec = load_model(out / "final" / "model.safetensors")
    assert spec.name == "distilpose-t"
