"""What one training step minimises, for each training mode.

An objective maps (model, batch) to a dict of named, already-weighted loss terms plus ``"total"``; the
trainer only ever calls ``total.backward()`` and logs the rest by name.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn

from distilpose.losses import DistillationLoss, DistillLossConfig, heatmap_mse_loss
from distilpose.training.teachers import Teacher


class Objective(Protocol):
    def __call__(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]: ...


class HeatmapObjective:
    """Teacher training: MSE to the Gaussian targets, weighted per joint (mmpose JointsMSELoss)."""

    def __call__(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        out = model(batch["image"])
        loss = heatmap_mse_loss(out.heatmaps, batch["target_heatmaps"], batch["heatmap_weights"])
        return {"heatmap": loss, "total": loss}


class DistillObjective:
    """DistilPose: GT regression + token distillation + simulated heatmap + score, teacher frozen."""

    def __init__(self, teacher: Teacher, config: DistillLossConfig):
        self.teacher = teacher
        if not teacher.has_tokens:  # e.g. MoveNet: no tokens to align, so the TDE terms are off
            config = config.model_copy(update={"vis_token": 0.0, "kpt_token": 0.0})
        self.loss = DistillationLoss(config)

    def __call__(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        images = batch["image"]
        with torch.no_grad():
            t = self.teacher(images)  # same augmented, normalised batch as the student
        s = model(images)
        return self.loss(
            coords=s.coords,
            target_coords=batch["target_coords"],
            target_weights=batch["target_weights"],
            scores=s.scores,
            sigmas=s.sigmas,
            teacher_heatmaps=t.heatmaps,
            vis_tokens=s.vis_tokens if t.vis_tokens is not None else None,
            kpt_tokens=s.kpt_tokens if t.kpt_tokens is not None else None,
            teacher_vis_tokens=t.vis_tokens,
            teacher_kpt_tokens=t.kpt_tokens,
        )
