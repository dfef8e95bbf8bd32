"""A pretrained backbone: zoo initialisation through the config, and its own (smaller) learning rate."""

from __future__ import annotations

import pytest
import torch

from distilpose.models import create_model
from distilpose.training.config import ConfigError, ScheduleConfig
from distilpose.training.schedule import WarmupStepSchedule
from distilpose.training.trainer import init_backbone_from_zoo, param_groups
from tests.conftest import require_zoo_model


def test_backbone_group_follows_the_schedule_at_its_multiple() -> None:
    model = create_model("distilpose-t")
    groups = param_groups(model, 0.1)
    assert len(groups) == 2
    n_backbone = sum(p.numel() for p in model.backbone.parameters())
    assert sum(p.numel() for p in groups[0]["params"]) == n_backbone
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert sum(p.numel() for g in groups for p in g["params"]) == trainable
    opt = torch.optim.Adam(groups, lr=1e-3)
    sched = WarmupStepSchedule(opt, 1e-3, ScheduleConfig(warmup_iters=0, step_epochs=[2], gamma=0.1))
    sched.apply(step=5, epoch=3)
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-5)
    assert opt.param_groups[1]["lr"] == pytest.approx(1e-4)


def test_one_group_without_a_multiple_and_a_frozen_backbone_with_zero() -> None:
    model = create_model("distilpose-t")
    assert len(param_groups(model, 1.0)) == 1
    (group,) = param_groups(model, 0.0)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert {id(p) for p in group["params"]} == {id(p) for p in model.keypoint_head.parameters() if p.requires_grad}


def test_zoo_init_copies_lightning_features() -> None:
    require_zoo_model("movenet-lightning")
    from distilpose.zoo.movenet_backbone import movenet_backbone_state

    model = create_model("distilpose-mnv2")
    init_backbone_from_zoo(model, "movenet-lightning")
    state = movenet_backbone_state("movenet-lightning", heatmap_head=True)
    assert torch.equal(model.backbone.fpn.stem.weight, state["fpn.stem.weight"])
    assert torch.equal(model.backbone.heatmap_out.bias, state["heatmap_out.bias"])


def test_zoo_init_errors_name_the_config_key() -> None:
    with pytest.raises(ConfigError, match="model.init_backbone_from_zoo"):
        init_backbone_from_zoo(create_model("distilpose-mnv2"), "movenet-thunder")
    require_zoo_model("movenet-lightning")
    with pytest.raises(ConfigError, match="does not fit"):
        init_backbone_from_zoo(create_model("distilpose-t"), "movenet-lightning")
