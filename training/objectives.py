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


class TokenAdapter(nn.Module):
    """Student tokens -> a CNN teacher's feature space, one linear map for visual and one for keypoint tokens.

    FitNets-style, on the student's side: the teacher's features are fixed targets, so the adapter cannot
    shrink both sides to zero. Trained with the student, checkpointed for resume, never saved with it.
    """

    def __init__(self, student_dim: int, teacher_dim: int):
        super().__init__()
        self.vis = nn.Linear(student_dim, teacher_dim)
        self.kpt = nn.Linear(student_dim, teacher_dim)


class DistillObjective:
    """DistilPose: GT regression + token distillation + simulated heatmap + score, teacher frozen."""

    def __init__(self, teacher: Teacher, config: DistillLossConfig, student: nn.Module | None = None):
        self.teacher = teacher
        self.adapter: TokenAdapter | None = None
        if not teacher.has_tokens:  # e.g. MoveNet without an adapter: no tokens to align, TDE terms off
            config = config.model_copy(update={"vis_token": 0.0, "kpt_token": 0.0})
        elif getattr(teacher, "needs_adapter", False):
            if student is None:
                raise ValueError("a teacher whose tokens need an adapter needs the student to size it")
            self.adapter = _size_adapter(teacher, student)
        self.loss = DistillationLoss(config)
        #: Whether any term reads the teacher's outputs (``config`` has the token terms off for a teacher
        #: without tokens). With labels that are the teacher's own predictions (a project's pre-labels) and only
        #: label terms weighted, its forward pass (~3x the student's on a CPU) is skipped.
        self.needs_teacher = any(w > 0 for w in (config.sim_heatmap, config.score, config.vis_token, config.kpt_token))

    def __call__(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        images = batch["image"]
        t = None
        if self.needs_teacher:
            with torch.no_grad():
                t = self.teacher(images)  # same augmented, normalised batch as the student
        s = model(images)
        teacher_vis = t.vis_tokens if t is not None else None
        teacher_kpt = t.kpt_tokens if t is not None else None
        vis, kpt = s.vis_tokens, s.kpt_tokens
        if self.adapter is not None and teacher_vis is not None and vis is not None and kpt is not None:
            vis, kpt = self.adapter.vis(vis), self.adapter.kpt(kpt)
        return self.loss(
            coords=s.coords,
            target_coords=batch["target_coords"],
            target_weights=batch["target_weights"],
            scores=s.scores,
            sigmas=s.sigmas,
            teacher_heatmaps=t.heatmaps if t is not None else None,
            vis_tokens=vis if teacher_vis is not None else None,
            kpt_tokens=kpt if teacher_kpt is not None else None,
            teacher_vis_tokens=teacher_vis,
            teacher_kpt_tokens=teacher_kpt,
            pick_logits=s.pick_logits,
        )


def _size_adapter(teacher: Teacher, student: nn.Module) -> TokenAdapter:
    """One zero crop through both networks tells the adapter's input and output widths."""
    h, w = student.spec.input_size
    device = next(student.parameters()).device
    probe = torch.zeros(1, 3, h, w, device=device)
    was_training = student.training
    student.eval()
    with torch.no_grad():
        s = student(probe)
        t = teacher(probe)
    student.train(was_training)
    if s.vis_tokens is None or t.vis_tokens is None:
        raise ValueError("the student or the teacher gives no tokens; the token adapter has nothing to map")
    if s.vis_tokens.shape[1] != t.vis_tokens.shape[1]:
        raise ValueError(
            f"student has {s.vis_tokens.shape[1]} visual tokens, the teacher's features give {t.vis_tokens.shape[1]}"
        )
    return TokenAdapter(s.vis_tokens.shape[-1], t.vis_tokens.shape[-1]).to(device)
