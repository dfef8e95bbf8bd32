"""The trainer in-process on tiny synthetic data: both modes, what is saved, resume, errors, budgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from distilpose.models import create_model
from distilpose.models.checkpoint import load_model, load_state_dict_file, save_weights
from distilpose.training.checkpointing import load_checkpoint
from distilpose.training.config import ConfigError, DistillLossConfig
from distilpose.training.entry import train_main
from distilpose.training.events import read_events
from distilpose.training.objectives import DistillObjective
from distilpose.training.synthetic import smoke_config, write_random_teacher
from distilpose.training.teachers import ModelTeacher, TeacherOutput
from distilpose.training.trainer import TrainingDiverged

DISTILL_TERMS = {"reg", "vis_token", "kpt_token", "sim_heatmap", "score"}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def teacher_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_teacher(tmp_path_factory.mktemp("teacher") / "teacher.safetensors")


def _write(tmp_path: Path, cfg: dict, name: str = "cfg.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(cfg))
    return path


def _train(cfg_path: Path, out: Path, **kw: object) -> int:
    return train_main(cfg_path, out=out, device="cpu", show_progress=False, **kw)


def test_distillation_run_events_checkpoint_and_export(tmp_path: Path, teacher_file: Path) -> None:
    cfg = _write(tmp_path, smoke_config(tmp_path, teacher_weights=teacher_file, max_steps=3))
    teacher_before = load_state_dict_file(teacher_file)
    out = tmp_path / "run"
    assert _train(cfg, out) == 0

    events = read_events(out / "events.jsonl")
    types = [e["type"] for e in events]
    assert types[0] == "start" and types[-1] == "done"
    start = events[0]
    assert start["format_version"] == 1 and start["world_size"] == 1 and start["mode"] == "distill"
    assert start["paths"]["final_weights"] == str(out / "final" / "model.safetensors")
    assert start["steps_per_epoch"] == 3 and start["total_steps"] == 3  # 6 persons, batch 2
    steps = [e for e in events if e["type"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3]
    for e in steps:
        assert set(e["losses"]) == DISTILL_TERMS
        assert e["loss"] == pytest.approx(sum(e["losses"].values()), rel=1e-5)
        assert e["images_per_s"] > 0 and e["eta_s"] >= 0
    # warm-up over 2 iterations from lr*0.001: 1e-6, then 1e-3*(1 - 0.5*0.999), then 1e-3
    assert [e["lr"] for e in steps] == pytest.approx([1e-6, 5.005e-4, 1e-3])
    assert [e["step"] for e in events if e["type"] == "checkpoint"] == [2, 3]
    assert events[-1]["status"] == "completed" and events[-1]["step"] == 3

    # the checkpoint holds the student only: keys, shapes, optimiser params
    ck = load_checkpoint(out / "checkpoints" / "last.pt")
    student = create_model("distilpose-t")
    ref = student.state_dict()
    assert set(ck["model_state"]) == set(ref)
    assert all(ck["model_state"][k].shape == ref[k].shape for k in ref)
    n_trainable = sum(1 for p in student.parameters() if p.requires_grad)
    assert len(ck["optimizer"]["param_groups"][0]["params"]) == n_trainable
    assert (ck["step"], ck["epoch"], ck["batch_in_epoch"]) == (3, 1, 0)
    assert ck["config"]["teacher"]["name"] == "tokenpose-stemnet" and ck["code_revision"]

    # the teacher file is untouched, the exported student loads by itself
    after = load_state_dict_file(teacher_file)
    assert all(torch.equal(teacher_before[k], after[k]) for k in teacher_before)
    model, spec = load_model(out / "final" / "model.safetensors")
    assert spec.name == "distilpose-t"
    for k, v in model.state_dict().items():
        assert torch.equal(v, ck["model_state"][k])
    saved_cfg = json.loads((out / "config.json").read_text())
    assert saved_cfg["run"]["max_steps"] == 3


def test_teacher_training_uses_heatmap_loss_and_evaluates(tmp_path: Path) -> None:
    cfg = _write(tmp_path, smoke_config(tmp_path, model="tokenpose-stemnet", max_steps=2, val=True))
    out = tmp_path / "run"
    assert _train(cfg, out) == 0
    events = read_events(out / "events.jsonl")
    steps = [e for e in events if e["type"] == "step"]
    assert all(set(e["losses"]) == {"heatmap"} for e in steps)
    evals = [e for e in events if e["type"] == "eval"]
    assert len(evals) == 1 and evals[0]["final"] is True
    assert set(evals[0]["metrics"]) == {"AP", "AP50", "AP75", "APm", "APl", "AR"}
    assert (out / "eval" / "keypoints_val.json").exists()
    summary = json.loads((out / "final" / "metrics.json").read_text())
    assert summary["status"] == "completed" and summary["AP"] == evals[0]["metrics"]["AP"]
    _, spec = load_model(out / "final" / "model.safetensors")
    assert spec.kind == "heatmap"


def test_loss_decreases_when_fitting_one_batch(tmp_path: Path, teacher_file: Path) -> None:
    raw = smoke_config(
        tmp_path, teacher_weights=teacher_file, augment=False, max_steps=12, checkpoint_every_steps=100
    )
    raw["data"]["max_train_samples"] = 2
    raw["schedule"]["warmup_iters"] = 0
    # an untrained teacher's heatmaps are noise no Gaussian can fit: fit the GT and the teacher's tokens
    raw["loss"] = {"reg": 1.0, "vis_token": 5e-4, "kpt_token": 0.0, "sim_heatmap": 0.0, "score": 0.0}
    out = tmp_path / "run"
    assert _train(_write(tmp_path, raw), out) == 0
    steps = [e for e in read_events(out / "events.jsonl") if e["type"] == "step"]
    assert len(steps) == 12 and set(steps[0]["losses"]) == {"reg", "vis_token"}
    losses = [e["loss"] for e in steps]
    assert sum(losses[-3:]) / 3 < 0.8 * losses[0]  # without optimiser steps every value would be equal
    assert steps[-1]["losses"]["vis_token"] < 0.6 * steps[0]["losses"]["vis_token"]


def test_resume_continues_exactly(tmp_path: Path, teacher_file: Path) -> None:
    raw = smoke_config(tmp_path, teacher_weights=teacher_file, max_steps=5, checkpoint_every_steps=2)
    full, part = tmp_path / "full", tmp_path / "part"
    assert _train(_write(tmp_path, raw), full) == 0
    short = dict(raw, run={**raw["run"], "max_steps": 2})
    assert _train(_write(tmp_path, short, "short.json"), part) == 0
    assert _train(_write(tmp_path, raw), part, resume=True) == 0  # a longer budget may be given on resume
    a = load_state_dict_file(full / "final" / "model.safetensors")
    b = load_state_dict_file(part / "final" / "model.safetensors")
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    resumed = [e for e in read_events(part / "events.jsonl") if e["type"] == "start"][-1]
    assert resumed["resumed_from"] == str(part / "checkpoints" / "last.pt") and resumed["step"] == 2


def test_resume_refuses_a_changed_data_order_and_a_fresh_run_refuses_an_old_folder(
    tmp_path: Path, teacher_file: Path
) -> None:
    raw = smoke_config(tmp_path, teacher_weights=teacher_file, max_steps=1)
    out = tmp_path / "run"
    assert _train(_write(tmp_path, raw), out) == 0
    with pytest.raises(ConfigError, match="already holds a training run"):
        _train(_write(tmp_path, raw), out)
    changed = dict(raw, run={**raw["run"], "batch_size": 3, "seed": 5})
    with pytest.raises(ConfigError, match=r"cannot resume: the config changed run\.batch_size, run\.seed"):
        _train(_write(tmp_path, changed, "changed.json"), out, resume=True)
    errors = [e for e in read_events(out / "events.jsonl") if e["type"] == "error"]
    assert len(errors) == 2 and all(e["kind"] == "user" for e in errors)


def test_mode_and_teacher_errors_name_the_key(tmp_path: Path) -> None:
    student_alone = smoke_config(tmp_path, model="distilpose-t")
    with pytest.raises(
        ConfigError, match=r"model\.name: 'distilpose-t' is a regression student; training it needs a teacher"
    ):
        _train(_write(tmp_path, student_alone), tmp_path / "a")
    wrong = tmp_path / "wrong.safetensors"
    save_weights(create_model("distilpose-t"), wrong)
    bad_teacher = smoke_config(tmp_path, teacher_weights=wrong)
    with pytest.raises(
        ConfigError, match=r"teacher\.weights: .*wrong\.safetensors does not fit 'tokenpose-stemnet'"
    ):
        _train(_write(tmp_path, bad_teacher), tmp_path / "b")
    regression_teacher = smoke_config(tmp_path, teacher_weights=wrong, teacher="distilpose-t")
    with pytest.raises(ConfigError, match="teacher must predict heatmaps"):
        _train(_write(tmp_path, regression_teacher), tmp_path / "c")
    event = read_events(tmp_path / "c" / "events.jsonl")[-1]
    assert event["type"] == "error" and "teacher must predict heatmaps" in event["message"]


def test_non_finite_loss_stops_with_an_error_event(
    tmp_path: Path, teacher_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def nan_loss(self: DistillObjective, model: torch.nn.Module, batch: dict) -> dict:
        out = model(batch["image"])
        return {"total": out.coords.sum() * float("nan")}

    monkeypatch.setattr(DistillObjective, "__call__", nan_loss)
    out = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match="non-finite at step 0"):
        _train(_write(tmp_path, smoke_config(tmp_path, teacher_weights=teacher_file)), out)
    event = read_events(out / "events.jsonl")[-1]
    assert event["type"] == "error" and event["kind"] == "internal"
    assert "TrainingDiverged" in event["message"] and "Traceback" in event["traceback"]


def test_time_budget_ends_the_run_and_still_exports(tmp_path: Path, teacher_file: Path) -> None:
    raw = smoke_config(tmp_path, teacher_weights=teacher_file, max_steps=1000, time_budget_s=0.001)
    out = tmp_path / "run"
    assert _train(_write(tmp_path, raw), out) == 0
    done = read_events(out / "events.jsonl")[-1]
    assert done["type"] == "done" and done["reason"] == "time_budget" and done["step"] == 1
    assert (out / "final" / "model.safetensors").exists()


class _HeatmapOnlyTeacher:
    """A teacher without tokens (like MoveNet): only heatmaps."""

    name = "fake"
    has_tokens = False

    def __call__(self, images: torch.Tensor) -> TeacherOutput:
        return TeacherOutput(heatmaps=torch.rand(images.shape[0], 17, 64, 48))

    def to(self, device: torch.device) -> _HeatmapOnlyTeacher:
        return self


def test_a_teacher_without_tokens_switches_the_token_terms_off() -> None:
    torch.manual_seed(0)
    student = create_model("distilpose-t")
    objective = DistillObjective(_HeatmapOnlyTeacher(), DistillLossConfig())
    batch = {
        "image": torch.randn(2, 3, 256, 192),
        "target_coords": torch.rand(2, 17, 2),
        "target_weights": torch.ones(2, 17),
    }
    losses = objective(student, batch)
    assert set(losses) == {"reg", "sim_heatmap", "score", "total"}


def test_model_teacher_is_frozen_and_stays_in_eval_mode() -> None:
    model = create_model("tokenpose-stemnet")
    teacher = ModelTeacher(model, "tokenpose-stemnet")
    model.train()  # whatever a caller does, the teacher runs with BN running stats and no grad
    out = teacher(torch.randn(1, 3, 256, 192))
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert out.heatmaps.shape == (1, 17, 64, 48) and not out.heatmaps.requires_grad
    assert out.vis_tokens.shape == (1, 256, 192) and out.kpt_tokens.shape == (1, 17, 192)


def test_l2sp_anchor_pulls_towards_the_start_and_resumes_exactly(tmp_path: Path, teacher_file: Path) -> None:
    raw = smoke_config(tmp_path, teacher_weights=teacher_file, max_steps=4, checkpoint_every_steps=2)
    raw["optimizer"] = {**raw.get("optimizer", {}), "backbone_l2sp": 10.0}
    full, part = tmp_path / "full", tmp_path / "part"
    assert _train(_write(tmp_path, raw), full) == 0
    steps = [e for e in read_events(full / "events.jsonl") if e["type"] == "step"]
    anchored = [e["losses"]["l2sp"] for e in steps]
    assert anchored[0] == 0.0 and anchored[-1] > 0.0  # zero at the start, grows as the backbone moves
    assert all(e["loss"] == pytest.approx(sum(e["losses"].values()), rel=1e-5) for e in steps)
    # a resumed run anchors to where the run started (kept in the checkpoint), so it ends bit for bit the same
    short = dict(raw, run={**raw["run"], "max_steps": 2})
    assert _train(_write(tmp_path, short, "short.json"), part) == 0
    assert _train(_write(tmp_path, raw), part, resume=True) == 0
    a = load_state_dict_file(full / "final" / "model.safetensors")
    b = load_state_dict_file(part / "final" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the pull is real: a heavier anchor keeps the backbone nearer its start
    free = dict(raw, optimizer={**raw["optimizer"], "backbone_l2sp": 0.0})
    assert _train(_write(tmp_path, free, "free.json"), tmp_path / "free") == 0
    start = create_model("distilpose-t").state_dict()
    c = load_state_dict_file(tmp_path / "free" / "final" / "model.safetensors")

    def moved(state: dict) -> float:
        return sum(float((state[k] - start[k]).pow(2).sum()) for k in start if k.startswith("backbone."))

    assert moved(a) < moved(c)


def test_l2sp_on_a_frozen_backbone_is_refused(tmp_path: Path, teacher_file: Path) -> None:
    raw = smoke_config(tmp_path, teacher_weights=teacher_file, max_steps=1)
    raw["optimizer"] = {**raw.get("optimizer", {}), "backbone_l2sp": 1.0, "backbone_lr_mult": 0.0}
    with pytest.raises(ConfigError, match="backbone_l2sp"):
        _train(_write(tmp_path, raw), tmp_path / "run")


def test_release_unwraps_what_ddp_wrapped_and_tolerates_a_half_built_trainer() -> None:
    """The DDP wrappers hold the process group; ``train_main`` releases them before destroying it, also after a
    set-up that failed before the model existed."""
    from types import SimpleNamespace

    from distilpose.training.trainer import Trainer

    bare = Trainer.__new__(Trainer)  # what a failed setup leaves: no model, no wrappers
    bare.release()
    holder = SimpleNamespace(adapter="ddp(adapter)")
    bare.model, bare.train_model, bare.adapter, bare._adapter_holder = "model", "ddp(model)", "adapter", holder
    bare.release()
    assert bare.train_model == "model" and holder.adapter == "adapter" and bare._adapter_holder is None
