"""Training plumbing: events, LR schedule, deterministic sampling, checkpoints."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from distilpose.errors import CheckpointError
from distilpose.training.checkpointing import (
    capture_rng_state,
    code_revision,
    load_checkpoint,
    prune_step_checkpoints,
    restore_rng_state,
    save_checkpoint,
    step_checkpoint_name,
)
from distilpose.training.config import ScheduleConfig
from distilpose.training.events import EVENTS_FORMAT_VERSION, EventWriter, read_events
from distilpose.training.sampling import ResumableSampler
from distilpose.training.schedule import WarmupStepSchedule, lr_at

# ---------------------------------------------------------------- events


def test_events_are_one_flushed_json_object_per_line(tmp_path: Path) -> None:
    path = tmp_path / "ev" / "events.jsonl"
    writer = EventWriter(path)
    writer.emit("start", 0, 0, format_version=EVENTS_FORMAT_VERSION, config={"a": 1})
    writer.emit("step", 5, 1, losses={"reg": 0.5, "bad": float("nan")}, lr=np.float32(0.25))
    # flushed per line: readable before close
    events = read_events(path)
    assert [e["type"] for e in events] == ["start", "step"]
    for e in events:
        assert {"type", "time", "step", "epoch"} <= set(e)
    assert events[1]["losses"] == {"reg": 0.5, "bad": None}  # NaN is not JSON
    assert events[1]["lr"] == 0.25 and events[1]["step"] == 5 and events[1]["epoch"] == 1
    writer.close()
    # appending (resume continues the same log), torn last line ignored
    with open(path, "a") as fh:
        fh.write('{"type": "st')
    EventWriter(path).emit("done", 9, 2)
    assert [e["type"] for e in read_events(path)] == ["start", "step", "done"]


def test_disabled_writer_writes_nothing_and_unknown_type_fails(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    w = EventWriter(path, enabled=False)
    assert w.emit("step", 1, 0) is None
    assert not path.exists()
    with pytest.raises(ValueError, match="unknown event type"):
        EventWriter(path).emit("progress", 1, 0)


def test_stdout_events(capsys: pytest.CaptureFixture[str]) -> None:
    w = EventWriter("-")
    assert w.to_stdout
    w.emit("eval", 3, 0, metrics={"AP": 0.5})
    line = capsys.readouterr().out.strip()
    assert json.loads(line)["metrics"] == {"AP": 0.5}


# ---------------------------------------------------------------- schedule


def test_lr_warmup_and_steps_hand_computed() -> None:
    kw = dict(warmup_iters=500, warmup_ratio=0.001, step_epochs=[200, 260], gamma=0.1)
    assert lr_at(1e-3, 0, 0, **kw) == pytest.approx(1e-6)
    # step 250: k = 0.5 * 0.999 = 0.4995 -> 1e-3 * 0.5005
    assert lr_at(1e-3, 250, 0, **kw) == pytest.approx(5.005e-4)
    assert lr_at(1e-3, 500, 0, **kw) == pytest.approx(1e-3)
    assert lr_at(1e-3, 10**6, 199, **kw) == pytest.approx(1e-3)
    assert lr_at(1e-3, 10**6, 200, **kw) == pytest.approx(1e-4)
    assert lr_at(1e-3, 10**6, 260, **kw) == pytest.approx(1e-5)
    assert lr_at(1e-3, 3, 0, warmup_iters=0, warmup_ratio=0.001, step_epochs=[], gamma=0.1) == 1e-3


def test_schedule_sets_every_param_group() -> None:
    p1, p2 = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([{"params": [p1]}, {"params": [p2]}], lr=1.0)
    sched = WarmupStepSchedule(opt, 1e-3, ScheduleConfig(warmup_iters=10, warmup_ratio=0.5, step_epochs=[1]))
    assert sched.apply(5, 0) == pytest.approx(1e-3 * 0.75)  # k = 0.5 * 0.5
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([7.5e-4, 7.5e-4])
    assert sched.apply(20, 1) == pytest.approx(1e-4)


# ---------------------------------------------------------------- sampling


def _share(n: int, rank: int, world: int, epoch: int = 2, skip: int = 0) -> list[tuple[int, int]]:
    s = ResumableSampler(n, seed=1, rank=rank, world_size=world)
    s.set_epoch(epoch, skip)
    items = list(s)
    assert len(s) == len(items)
    return items


def test_sampler_is_a_function_of_seed_and_epoch_and_ranks_partition_it() -> None:
    shares = [_share(11, r, 2) for r in range(2)]
    assert [len(s) for s in shares] == [6, 6]  # 11 padded to 12
    assert {e for s in shares for _, e in s} == {2}  # items carry the epoch for per-sample seeding
    assert {i for s in shares for i, _ in s} == set(range(11))
    assert shares == [_share(11, r, 2) for r in range(2)]
    assert _share(11, 0, 1, epoch=3) != _share(11, 0, 1, epoch=2)


def test_resume_skip_drops_exactly_the_consumed_items() -> None:
    for rank in range(2):
        assert _share(11, rank, 2, skip=4) == _share(11, rank, 2)[4:]
    assert _share(11, 0, 1, skip=5) == _share(11, 0, 1)[5:]
    assert _share(11, 0, 2, skip=6) == []  # the epoch was finished


# ---------------------------------------------------------------- checkpoints


def test_checkpoint_roundtrip_with_weights_only_and_rng(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    rng = capture_rng_state()
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    path = save_checkpoint(
        tmp_path / "ck" / "last.pt",
        {
            "model_state": model.state_dict(),
            "optimizer": opt.state_dict(),
            "step": 7,
            "epoch": 1,
            "config": {"name": "x", "nested": {"a": [1, 2]}},
            "rng": rng,
            "metrics": {"AP": 0.1},
        },
    )
    assert not list(path.parent.glob(".*tmp*"))  # atomic write leaves no temp file
    data = load_checkpoint(path)  # uses weights_only=True
    assert data["step"] == 7 and data["config"]["nested"]["a"] == [1, 2]
    assert data["code_revision"] == code_revision() and data["code_revision"]
    torch.testing.assert_close(data["model_state"]["weight"], model.weight.detach())
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    restore_rng_state(data["rng"])
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected
    opt2 = torch.optim.Adam(torch.nn.Linear(3, 2).parameters(), lr=1e-3)
    opt2.load_state_dict(data["optimizer"])
    torch.testing.assert_close(
        opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"]
    )


def test_bad_checkpoints_raise_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "none.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="junk.pt: not a readable training checkpoint"):
        load_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(1)}, other)
    with pytest.raises(CheckpointError, match="not a DistilPose training checkpoint"):
        load_checkpoint(other)


def test_prune_keeps_newest(tmp_path: Path) -> None:
    for s in (5, 10, 15, 20):
        (tmp_path / step_checkpoint_name(s)).write_bytes(b"x")
    removed = prune_step_checkpoints(tmp_path, keep=2)
    assert [p.name for p in removed] == ["step_00000005.pt", "step_00000010.pt"]
    assert sorted(p.name for p in tmp_path.glob("step_*.pt")) == ["step_00000015.pt", "step_00000020.pt"]
