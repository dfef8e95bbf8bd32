"""Frozen teachers behind one small interface.

Distillation needs from a teacher its raw heatmaps (N, K, 64, 48) and, when it has them, its last-layer
visual/keypoint tokens. A :class:`Teacher` returns exactly that as a :class:`TeacherOutput`, so a teacher
without tokens (e.g. MoveNet from the zoo, whose square heatmaps are resampled to 64x48) is one more
adapter class; the distillation loss then skips the token terms.

A teacher is never a submodule of the student: it is not in the optimiser, not in the student's
state_dict, and it runs in eval mode under ``no_grad`` on the same augmented batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn

from distilpose.errors import CheckpointError, DistilPoseError
from distilpose.training.config import ConfigError, TeacherConfig


@dataclass
class TeacherOutput:
    heatmaps: Tensor  # (N, K, 64, 48), raw
    vis_tokens: Tensor | None = None  # (N, 256, D)
    kpt_tokens: Tensor | None = None  # (N, K, D)


class Teacher(Protocol):
    name: str
    has_tokens: bool

    def __call__(self, images: Tensor) -> TeacherOutput: ...

    def to(self, device: torch.device) -> Teacher: ...


class ModelTeacher:
    """A registered heatmap model (TokenPose) with trained weights."""

    def __init__(self, model: nn.Module, name: str):
        self.model = model
        self.name = name
        self.has_tokens = True
        model.eval()
        model.requires_grad_(False)

    def to(self, device: torch.device) -> ModelTeacher:
        self.model.to(device)
        return self

    @torch.no_grad()
    def __call__(self, images: Tensor) -> TeacherOutput:
        self.model.eval()  # BN uses running statistics, whatever mode the caller left it in
        out = self.model(images)
        if out.heatmaps is None:
            raise DistilPoseError(f"teacher {self.name!r} returned no heatmaps")
        return TeacherOutput(heatmaps=out.heatmaps, vis_tokens=out.vis_tokens, kpt_tokens=out.kpt_tokens)


def build_teacher(cfg: TeacherConfig) -> Teacher:
    """Build and load the configured teacher; wrong names or weights give a ConfigError naming the key."""
    from distilpose.models import create_model, model_spec
    from distilpose.models.checkpoint import load_weights

    try:
        spec = model_spec(cfg.name)
    except DistilPoseError as exc:
        raise ConfigError(f"teacher.name: {exc}") from None
    if spec.kind != "heatmap":
        raise ConfigError(
            f"teacher.name: {cfg.name!r} is a {spec.kind} model; a teacher must predict heatmaps"
        )
    if not cfg.weights.exists():
        raise ConfigError(f"teacher.weights: file not found: {cfg.weights}")
    try:
        model = create_model(cfg.name, **cfg.overrides)
    except TypeError as exc:
        raise ConfigError(f"teacher.overrides: {exc}") from None
    try:
        load_weights(model, cfg.weights, strict=True)
    except CheckpointError as exc:
        raise ConfigError(f"teacher.weights: {cfg.weights} does not fit {cfg.name!r}: {exc}") from None
    return ModelTeacher(model, cfg.name)
