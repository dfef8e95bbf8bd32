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


class ZooTeacher:
    """A pretrained square-input teacher from the zoo (MoveNet) seen through the student's 256x192 frame.

    The student's crop is padded left and right to a square (with the value of a black pixel, as outside the
    image), resized to the teacher's input, and the teacher's square heatmaps are resampled and cut back to
    the student's (64, 48) grid, so a heatmap pixel means the same crop location for both. MoveNet's heatmaps
    light up every person in the crop: each joint's map is kept only within ``radius`` heatmap pixels of the
    teacher's own regressed keypoint, so the simulated-heatmap and score losses see this person alone.
    No tokens: the token-distillation terms are switched off for this teacher.
    """

    def __init__(
        self,
        model: nn.Module,
        name: str,
        heatmap_size: tuple[int, int] = (64, 48),
        radius: float = 4.0,
        token_grid: tuple[int, int] | None = None,
    ):
        self.model = model.eval()
        self.model.requires_grad_(False)
        self.name = name
        self.heatmap_size = heatmap_size
        self.radius = radius
        self.input_side = int(model.spec.input_size[0])
        #: With a token grid, the teacher also gives feature "tokens" for a learned adapter (see below).
        self.token_grid = token_grid
        self.has_tokens = token_grid is not None
        self.needs_adapter = token_grid is not None

    def to(self, device: torch.device) -> ZooTeacher:
        self.model.to(device)
        return self

    @torch.no_grad()
    def __call__(self, images: Tensor) -> TeacherOutput:
        import torch.nn.functional as F

        from distilpose.data.normalize import IMAGENET_MEAN, IMAGENET_STD

        n, _, h, w = images.shape
        pad = (h - w) // 2
        if pad < 0 or (h - w) % 2:
            raise DistilPoseError(
                f"teacher {self.name!r}: expected crops taller than wide by an even amount, got {h}x{w}"
            )
        black = torch.tensor(
            (-IMAGENET_MEAN / IMAGENET_STD).tolist(), dtype=images.dtype, device=images.device
        )
        square = black.view(1, 3, 1, 1).expand(n, 3, h, h).clone()
        square[..., pad : pad + w] = images
        if h != self.input_side:
            square = F.interpolate(
                square, size=(self.input_side, self.input_side), mode="bilinear", align_corners=False
            )
        if self.token_grid is not None:
            coords, _, heatmaps, features = self.model.forward_features(square)
        else:
            coords, _, heatmaps = self.model.forward_export(square)
        hh, hw = self.heatmap_size
        side = hh  # the square's heatmap side in the student's grid (64 for a 256-high crop)
        cut = (side - hw) // 2

        # The student's heatmap pixel (i, j) sits at crop pixel (4i, 4j) (the codecs' integer grid), while a
        # MoveNet map's pixel p covers [p, p + 1) of its grid (centre p + 0.5): sample the teacher's maps at
        # exactly the student's pixel positions, not at resized pixel centres (half a pixel apart).
        rows = torch.arange(hh, device=images.device, dtype=images.dtype) / side * 2 - 1
        cols = (torch.arange(hw, device=images.device, dtype=images.dtype) + cut) / side * 2 - 1
        grid = torch.stack(torch.meshgrid(cols, rows, indexing="xy"), dim=-1).expand(n, hh, hw, 2)

        def to_student_frame(x: Tensor) -> Tensor:
            return F.grid_sample(
                x, grid.to(x.dtype), mode="bilinear", padding_mode="zeros", align_corners=False
            )

        maps = to_student_frame(heatmaps)
        # keep each joint's map near the teacher's own keypoint (coords are normalised to the square)
        kx = coords[..., 0] * side - cut
        ky = coords[..., 1] * side
        xs = torch.arange(hw, device=maps.device, dtype=maps.dtype)
        ys = torch.arange(hh, device=maps.device, dtype=maps.dtype)
        near = ((xs.view(1, 1, 1, hw) - kx[..., None, None]).abs() <= self.radius) & (
            (ys.view(1, 1, hh, 1) - ky[..., None, None]).abs() <= self.radius
        )
        maps = maps * near
        if self.token_grid is None:
            return TeacherOutput(heatmaps=maps)
        feats = to_student_frame(features)  # (N, C, 64, 48)
        # visual tokens: the features averaged over each student patch; keypoint tokens: the features
        # averaged under the teacher's own (windowed) heatmap of that joint
        vis = F.adaptive_avg_pool2d(feats, self.token_grid).flatten(2).transpose(1, 2)
        weights = maps.flatten(2)
        weights = weights / weights.sum(-1, keepdim=True).clamp_min(1e-6)
        kpt = weights @ feats.flatten(2).transpose(1, 2)
        return TeacherOutput(heatmaps=maps, vis_tokens=vis, kpt_tokens=kpt)


def build_teacher(cfg: TeacherConfig, token_grid: tuple[int, int] | None = None) -> Teacher:
    """Build and load the configured teacher; wrong names or weights give a ConfigError naming the key.

    ``token_grid`` (the student's patch grid) is used when ``cfg.token_adapter`` asks a tokenless zoo
    teacher for feature tokens."""
    from distilpose.models import create_model, model_spec
    from distilpose.models.checkpoint import load_weights

    try:
        spec = model_spec(cfg.name)
    except DistilPoseError as exc:
        raise ConfigError(f"teacher.name: {exc}") from None
    if cfg.token_adapter and spec.family != "movenet":
        raise ConfigError(
            f"teacher.token_adapter: {cfg.name!r} has its own tokens; the adapter is for zoo CNN teachers"
        )
    token_grid = token_grid if cfg.token_adapter else None
    if spec.family == "movenet":
        if cfg.weights is not None:
            raise ConfigError(
                f"teacher.weights: {cfg.name!r} brings its own pretrained weights; remove the key"
            )
        try:
            return ZooTeacher(create_model(cfg.name), cfg.name, token_grid=token_grid)
        except DistilPoseError as exc:
            raise ConfigError(f"teacher.name: {exc}") from None
    if cfg.weights is None:
        raise ConfigError(f"teacher.weights: {cfg.name!r} needs trained weights (a checkpoint path)")
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
