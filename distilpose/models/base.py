"""The top-down model shell: ``backbone`` + ``keypoint_head``, the attribute names of mmpose's TopDown."""

from __future__ import annotations

from torch import Tensor, nn

from distilpose.models.outputs import PoseOutput
from distilpose.models.registry import ModelSpec


class TopDownModel(nn.Module):
    """Input: ImageNet-normalised RGB (N, 3, H, W) crops. Subclasses define ``forward`` / ``forward_export``."""

    spec: ModelSpec

    def __init__(self, backbone: nn.Module, keypoint_head: nn.Module, input_size: tuple[int, int]):
        super().__init__()
        self.backbone = backbone
        self.keypoint_head = keypoint_head
        self.input_size = tuple(input_size)

    def check_input(self, x: Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != 3 or tuple(x.shape[-2:]) != self.input_size:
            h, w = self.input_size
            raise ValueError(f"expected an (N, 3, {h}, {w}) image tensor, got {tuple(x.shape)}")

    def forward(self, x: Tensor) -> PoseOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_export(self, x: Tensor) -> tuple[Tensor, ...]:  # pragma: no cover - abstract
        raise NotImplementedError
