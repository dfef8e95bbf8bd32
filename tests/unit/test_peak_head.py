"""The peak-choice head (issue 26 item 2(b), ADR 0022): untrained it is the prior bit for bit, its loss moves
the decode's argmax onto the target, its files load into the architecture that wrote them, and a config that
asks for its loss without it is refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from distilpose.errors import CheckpointError
from distilpose.losses import peak_pick_loss
from distilpose.models import create_model
from distilpose.models.checkpoint import load_model, save_weights
from distilpose.models.heads import movenet_decode, movenet_pick
from distilpose.training.config import ConfigError
from distilpose.training.entry import train_main
from distilpose.training.synthetic import smoke_config, write_random_teacher
from distilpose.training.trainer import init_backbone_from_zoo, param_groups
from tests.conftest import require_zoo_model


def _two_peaks(n: int = 2) -> tuple[torch.Tensor, ...]:
    """Maps where every joint has a strong peak at (10, 10), the regressed point, and a weaker one at (40, 30)."""
    k, h, w = 17, 64, 48
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij"
    )
    blob = lambda y, x, a: a * torch.exp(-((ys - y) ** 2 + (xs - x) ** 2) / 8)  # noqa: E731
    heatmaps = (blob(10, 10, 0.9) + blob(40, 30, 0.6)).clamp(1e-4, 1 - 1e-4).expand(n, k, h, w).contiguous()
    centre = blob(32, 24, 0.9)[None, None].expand(n, 1, h, w).contiguous()
    regress = torch.zeros(n, 2 * k, h, w)
    regress[:, 0::2], regress[:, 1::2] = 10 - 32, 10 - 24  # dy, dx from the centre to (10, 10)
    return heatmaps, centre, regress, torch.zeros(n, 2 * k, h, w)


@pytest.mark.slow  # ~2 s on a quiet machine, 16 s at a load of 20
def test_a_zero_bias_is_movenets_pick_and_the_loss_moves_the_pick_to_the_target() -> None:
    heatmaps, centre, regress, offsets = _two_peaks(1)
    xy, score = movenet_decode(heatmaps, centre, regress, offsets)
    bias = torch.zeros_like(heatmaps, requires_grad=True)
    xy0, score0, logits = movenet_pick(heatmaps, centre, regress, offsets, bias)
    assert torch.equal(xy, xy0) and torch.equal(score, score0)
    np.testing.assert_allclose(xy[0, 0].numpy(), [10 / 48, 10 / 64])  # the prior picks the near peak
    target = torch.tensor([30.5 / 48, 40.5 / 64]).expand(1, 17, 2)  # the label sits on the other peak
    weights = torch.ones(1, 17)
    weights[:, 5] = 0  # an unlabelled joint is left alone
    opt = torch.optim.Adam([bias], lr=0.3)
    for _ in range(30):
        _, _, logits = movenet_pick(heatmaps, centre, regress, offsets, bias)
        loss = peak_pick_loss(logits, target, weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
    moved, moved_score, _ = movenet_pick(heatmaps, centre, regress, offsets, bias.detach())
    labelled = weights[0] > 0
    np.testing.assert_allclose(moved[0, labelled].numpy(), np.tile([30 / 48, 40 / 64], (16, 1)), atol=1e-6)
    np.testing.assert_allclose(moved[0, 5].numpy(), [10 / 48, 10 / 64])
    assert torch.allclose(
        moved_score[0, labelled], heatmaps[0, 0, 40, 30]
    )  # the score is the map's own value


@pytest.mark.slow
def test_an_untrained_peak_head_is_the_prior_bit_for_bit_and_its_file_loads_by_itself(tmp_path: Path) -> None:
    require_zoo_model("movenet-lightning")
    torch.manual_seed(0)
    prior = create_model("distilpose-mnv2-lt")
    init_backbone_from_zoo(prior, "movenet-lightning")
    student = create_model("distilpose-mnv2-lt", peak_head="residual")
    missing = student.load_state_dict(prior.state_dict(), strict=False).missing_keys
    assert missing and all(".peak." in name for name in missing)
    x = torch.rand(2, 3, 256, 192) * 2 - 1
    with torch.no_grad():
        a, b = prior.eval()(x), student.eval()(x)
    assert torch.equal(a.coords, b.coords) and torch.equal(a.scores, b.scores)
    assert a.pick_logits is None and b.pick_logits is None  # inference and export compute no logits
    with torch.no_grad():
        trained = student.train()(x)
    assert torch.equal(trained.coords, b.coords) and trained.pick_logits.shape == (2, 17, 64, 48)
    student.eval()

    with torch.no_grad():
        student.keypoint_head.tokenhead.peak.out.bias.fill_(0.5)  # some non-zero head
    path = tmp_path / "peak.safetensors"
    save_weights(student, path, metadata={"overrides": json.dumps({"peak_head": "residual"})})
    loaded, _ = load_model(path)
    with torch.no_grad():
        assert torch.equal(loaded(x).coords, student(x).coords)

    bad = tmp_path / "bad.safetensors"
    save_weights(student, bad, metadata={"overrides": json.dumps({"peak_head": "sideways"})})
    with pytest.raises(CheckpointError, match=r"bad\.safetensors.*overrides.*peak_head"):
        load_model(bad)


def test_the_peak_head_gets_its_own_learning_rate_multiple() -> None:
    model = create_model("distilpose-mnv2-lt", peak_head="residual")
    groups = param_groups(model, 0.0, peak_head_lr_mult=10.0)
    peak = {id(p) for p in model.keypoint_head.tokenhead.peak.parameters()}
    assert [g["lr_mult"] for g in groups] == [1.0, 10.0]
    assert {id(p) for p in groups[1]["params"]} == peak
    assert not peak & {id(p) for p in groups[0]["params"]}
    assert len(param_groups(model, 0.0)) == 1  # multiple 1: one group, as before


def test_a_frozen_token_head_leaves_only_the_peak_head_to_train() -> None:
    model = create_model("distilpose-mnv2-lt", peak_head="residual")
    groups = param_groups(model, 0.0, peak_head_lr_mult=10.0, freeze_token_head=True)
    peak = {id(p) for p in model.keypoint_head.tokenhead.peak.parameters()}
    assert [g["lr_mult"] for g in groups] == [10.0] and {id(p) for p in groups[0]["params"]} == peak
    assert {id(p) for p in model.parameters() if p.requires_grad} == peak


def test_a_peak_loss_without_a_peak_head_is_refused_by_name(tmp_path: Path) -> None:
    teacher = write_random_teacher(tmp_path / "teacher.safetensors")
    cfg = smoke_config(tmp_path, teacher_weights=teacher, max_steps=1)
    cfg["loss"] = {**cfg.get("loss", {}), "peak_pick": 1.0}
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=r"loss\.peak_pick: 'distilpose-t' has no peak-choice head"):
        train_main(path, out=tmp_path / "run", device="cpu", show_progress=False)
    cfg["model"]["overrides"] = {"peak_head": "sideways"}
    path.write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=r"model\.overrides: .*peak_head"):
        train_main(path, out=tmp_path / "run2", device="cpu", show_progress=False)


def test_a_student_file_without_a_peak_head_starts_one_at_zero_and_other_mismatches_are_refused(
    tmp_path: Path,
) -> None:
    from distilpose.training.trainer import load_start_weights

    torch.manual_seed(0)
    plain = create_model("distilpose-mnv2-lt")
    path = tmp_path / "shipped-like.safetensors"
    save_weights(plain, path)
    student = create_model("distilpose-mnv2-lt", peak_head="residual")
    load_start_weights(student, path)
    got = student.state_dict()
    assert all(torch.equal(got[k], v) for k, v in plain.state_dict().items())
    assert not student.keypoint_head.tokenhead.peak.out.weight.any()  # the head starts as the identity

    other = tmp_path / "other.safetensors"
    save_weights(create_model("distilpose-s"), other)
    with pytest.raises(CheckpointError, match=r"other\.safetensors"):
        load_start_weights(student, other)
    with pytest.raises(CheckpointError, match=r"other\.safetensors"):
        load_start_weights(create_model("distilpose-mnv2-lt"), other)  # no peak head: strict as before


class _TeacherThatMustNotRun:
    has_tokens = False

    def __call__(self, images: torch.Tensor):
        raise AssertionError("the teacher ran although no loss term reads it")


def test_the_teacher_is_not_run_when_only_label_terms_are_weighted() -> None:
    from distilpose.losses import DistillLossConfig
    from distilpose.training.objectives import DistillObjective

    torch.manual_seed(0)
    student = create_model("distilpose-mnv2-lt", peak_head="residual").train()
    batch = {
        "image": torch.rand(2, 3, 256, 192),
        "target_coords": torch.rand(2, 17, 2),
        "target_weights": torch.ones(2, 17, 1),
    }
    labels_only = DistillLossConfig(sim_heatmap=0.0, score=0.0, peak_pick=1.0, reg_beta=0.005)
    objective = DistillObjective(_TeacherThatMustNotRun(), labels_only, student)
    assert not objective.needs_teacher
    losses = objective(student, batch)
    assert set(losses) == {"reg", "peak_pick", "total"} and torch.isfinite(losses["total"])
    losses["total"].backward()
    assert student.keypoint_head.tokenhead.peak.out.weight.grad.abs().sum() > 0  # the pick loss reaches the head
    with pytest.raises(AssertionError, match="the teacher ran"):
        DistillObjective(_TeacherThatMustNotRun(), DistillLossConfig(), student)(student, batch)


def test_an_untrained_context_peak_head_is_the_prior_and_sees_the_whole_person() -> None:
    from distilpose.models.heads import ContextPeakHead

    torch.manual_seed(0)
    prior = create_model("distilpose-mnv2-lt").eval()
    student = create_model("distilpose-mnv2-lt", peak_head="context").eval()
    student.load_state_dict(prior.state_dict(), strict=False)
    x = torch.rand(1, 3, 256, 192) * 2 - 1
    with torch.no_grad():
        assert torch.equal(prior(x).coords, student(x).coords)  # its last layer starts at zero
    head = ContextPeakHead(41, 17)
    torch.nn.init.ones_(head.out.weight)
    feature = torch.zeros(1, 41, 64, 48, requires_grad=True)
    head(feature)[0, :, 32, 24].sum().backward()
    rows = feature.grad.abs().sum(dim=(0, 1, 3)).nonzero().flatten()
    # dilations 2, 4, 8 after a 3x3: one output cell reads 31 rows of cells (124 crop pixels), not 3
    assert rows.min() == 32 - 15 and rows.max() == 32 + 15


def test_a_shipped_file_with_a_peak_head_loads_by_its_registered_name(tmp_path: Path, monkeypatch) -> None:
    """The shipped student may carry a trained peak head: loading it by name builds the architecture its
    metadata records, or the strict load would refuse the head's weights."""
    import distilpose.models.checkpoint as checkpoint

    torch.manual_seed(0)
    student = create_model("distilpose-mnv2-lt", peak_head="context")
    with torch.no_grad():
        student.keypoint_head.tokenhead.peak.out.bias.fill_(0.25)
    shipped = tmp_path / "model.safetensors"
    save_weights(student, shipped, metadata={"model": "distilpose-mnv2-lt", "overrides": json.dumps({"peak_head": "context"})})
    monkeypatch.setattr(checkpoint, "bundled_weights", lambda name: shipped if name == "distilpose-mnv2-lt" else None)
    loaded, spec = load_model("distilpose-mnv2-lt")
    assert spec.name == "distilpose-mnv2-lt" and loaded.keypoint_head.tokenhead.peak is not None
    assert torch.equal(loaded.keypoint_head.tokenhead.peak.out.bias, student.keypoint_head.tokenhead.peak.out.bias)
    assert checkpoint.stored_overrides(shipped) == {"peak_head": "context"}


def test_a_job_from_a_start_with_a_peak_head_keeps_its_kind_and_that_kind_s_learning_rate(tmp_path: Path) -> None:
    from distilpose.training.project_job import PEAK_HEAD_LR, DistilSpec, build_config

    student = create_model("distilpose-mnv2-lt", peak_head="context")
    start = tmp_path / "start.safetensors"
    save_weights(student, start, metadata={"model": "distilpose-mnv2-lt", "overrides": json.dumps({"peak_head": "context"})})
    for recipe in ("peak", "distilpose"):  # either recipe builds the architecture the start file holds
        cfg = build_config(DistilSpec.for_budget(student=str(start), recipe=recipe), tmp_path, with_val=True)
        assert cfg["model"]["overrides"] == {"peak_head": "context"} and cfg["model"]["init_weights"] == str(start)
    peak = build_config(DistilSpec.for_budget(student=str(start)), tmp_path, with_val=True)
    assert peak["optimizer"]["peak_head_lr_mult"] == pytest.approx(PEAK_HEAD_LR["context"] / peak["optimizer"]["lr"])
    assert PEAK_HEAD_LR["context"] != PEAK_HEAD_LR["residual"]


def test_every_peak_head_kind_has_a_job_learning_rate() -> None:
    from distilpose.models.heads import PEAK_HEADS
    from distilpose.training.project_job import PEAK_HEAD_LR

    assert set(PEAK_HEAD_LR) == set(PEAK_HEADS) - {"none"}


def test_a_job_from_a_file_with_an_unknown_peak_head_says_so_by_name(tmp_path: Path) -> None:
    from distilpose.errors import DistilPoseError
    from distilpose.training.project_job import DistilSpec, build_config

    start = tmp_path / "odd.safetensors"
    save_weights(create_model("distilpose-mnv2-lt"), start, metadata={"overrides": json.dumps({"peak_head": "sideways"})})
    with pytest.raises(DistilPoseError, match=r"odd\.safetensors.*sideways"):
        build_config(DistilSpec.for_budget(student=str(start)), tmp_path, with_val=True)
