"""MobileNetV2 with MoveNet's small FPN: a stride-4 feature extractor that starts from real pretrained weights.

The layout is exactly MoveNet SinglePose Lightning's ``center_net_mobile_net_v2fpn_feature_extractor``
(width 1.0 MobileNetV2, BatchNorm folded into the convolutions, a 1280-channel top, then three
upsample + lateral + separable-conv steps 64 -> 32 -> 24 channels), so
:func:`distilpose.zoo.movenet_backbone.movenet_backbone_state` can load Google's weights into it
one tensor per parameter. Unlike the TF.js graph it is a plain module that runs at any input size divisible
by 32: a 256x192 crop gives the (24, 64, 48) feature map the DistilPose token layout expects.

Convolutions pad like TensorFlow's ``SAME`` (more padding bottom/right on stride 2), which keeps the
pretrained features identical to the graph's. Input: RGB scaled to [-1, 1], MoveNet's own normalisation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: (expansion t, output channels c, repeats n, first stride s) of MobileNetV2's inverted residual stages.
MOBILENET_V2_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
#: Blocks whose outputs feed the FPN laterals (strides 16, 8, 4), in MoveNet's order.
LATERAL_BLOCKS = (9, 5, 2)
FPN_CHANNELS = (64, 32, 24)
#: MobileNetV2 width multiplier of each single-pose MoveNet: the same layout, wider stages (ADR 0029).
MOVENET_WIDTHS = {"movenet-lightning": 1.0, "movenet-thunder": 1.75}


def scaled_channels(channels: int, width: float) -> int:
    """MobileNetV2's channel rounding (to a multiple of 8, never below 90 % of the scaled width)."""
    scaled = channels * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * scaled else rounded


def _same_pad(x: Tensor, kernel: int, stride: int) -> Tensor:
    """TensorFlow 'SAME' padding (asymmetric when the total is odd), so pretrained weights see the same borders."""
    if kernel == 1 and stride == 1:
        return x
    h, w = x.shape[-2:]

    def total(size: int) -> int:
        return max((-(-size // stride) - 1) * stride + kernel - size, 0)

    th, tw = total(int(h)), total(int(w))
    return F.pad(x, (tw // 2, tw - tw // 2, th // 2, th - th // 2))


class TfConv(nn.Conv2d):
    """Conv2d (bias = folded BatchNorm) with TF 'SAME' padding and an optional ReLU / ReLU6."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int = 1,
        stride: int = 1,
        groups: int = 1,
        act: str | None = None,
        bias: bool = True,
    ):
        # stride 1 with an odd kernel pads symmetrically in TF too: let the convolution do it (no copy)
        padding = kernel // 2 if stride == 1 else 0
        super().__init__(cin, cout, kernel, stride=stride, padding=padding, groups=groups, bias=bias)
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        if self.stride[0] != 1:
            x = _same_pad(x, self.kernel_size[0], self.stride[0])
        x = super().forward(x)
        # in place: the convolution's output has no other user, and eager CPU time here is memory traffic
        if self.act == "relu6":
            return F.relu6(x, inplace=True)
        if self.act == "relu":
            return F.relu(x, inplace=True)
        return x


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        hidden = cin * expansion
        self.expand = TfConv(cin, hidden, act="relu6") if expansion != 1 else None
        self.depthwise = TfConv(hidden, hidden, 3, stride, groups=hidden, act="relu6")
        self.project = TfConv(hidden, cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class SeparableConv(nn.Module):
    """Depthwise 3x3 (no bias) then pointwise 1x1 + bias + ReLU, as Keras' SeparableConv2D in MoveNet's FPN."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.depthwise = TfConv(cin, cin, 3, groups=cin, bias=False)
        self.pointwise = TfConv(cin, cout, act="relu")

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


class MobileNetV2FPN(nn.Module):
    """Input (N, 3, H, W) RGB in [-1, 1] (or ImageNet-normalised with ``imagenet_input``); output (N, 24, H/4, W/4)."""

    out_channels = FPN_CHANNELS[-1]

    def __init__(self, imagenet_input: bool = False, width: float = 1.0) -> None:
        super().__init__()
        self.imagenet_input = imagenet_input
        if imagenet_input:  # x_imagenet -> rgb/127.5 - 1, a fixed per-channel affine
            from distilpose.data.normalize import IMAGENET_MEAN, IMAGENET_STD

            scale = torch.tensor(IMAGENET_STD.tolist()) * 2.0
            shift = torch.tensor(IMAGENET_MEAN.tolist()) * 2.0 - 1.0
            self.register_buffer("input_scale", scale.view(1, 3, 1, 1), persistent=False)
            self.register_buffer("input_shift", shift.view(1, 3, 1, 1), persistent=False)
        cin = scaled_channels(32, width)
        self.stem = TfConv(3, cin, 3, 2, act="relu6")
        blocks: list[nn.Module] = []
        for t, c, n, s in MOBILENET_V2_STAGES:
            cout = scaled_channels(c, width)
            for i in range(n):
                blocks.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.top = TfConv(cin, 1280, act="relu6")
        self.fpn_top = TfConv(1280, FPN_CHANNELS[0])
        lateral_in = [self.blocks[i].project.out_channels for i in LATERAL_BLOCKS]
        self.laterals = nn.ModuleList(TfConv(c, o) for c, o in zip(lateral_in, FPN_CHANNELS, strict=True))
        outs = FPN_CHANNELS[1:] + FPN_CHANNELS[-1:]
        self.smooth = nn.ModuleList(SeparableConv(c, o) for c, o in zip(FPN_CHANNELS, outs, strict=True))

    def forward(self, x: Tensor) -> Tensor:
        if self.imagenet_input:
            x = x * self.input_scale + self.input_shift
        # NHWC: PyTorch's CPU depthwise convolutions are ~20% faster in it (a no-op under ONNX export)
        x = self.stem(x.contiguous(memory_format=torch.channels_last))
        taps: dict[int, Tensor] = {}
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in LATERAL_BLOCKS:
                taps[i] = x
        y = self.fpn_top(self.top(x))
        for index, lateral, smooth in zip(LATERAL_BLOCKS, self.laterals, self.smooth, strict=True):
            skip = lateral(taps[index])
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = smooth(y + skip)
        return y


class MoveNetFeatures(nn.Module):
    """MoveNet Lightning's FPN features *and* its 17 keypoint heatmaps, stacked: (N, 24 + 17, H/4, W/4).

    A regression head trained from scratch on a few thousand crops learns slowly where each joint is; given
    the pretrained heatmaps as 17 more input channels it starts from a strong prior and only has to learn to
    read out this person's coordinates (MoveNet's maps also light up bystanders). The heatmap branch is
    Lightning's ``kpt_heatmap_0`` head (separable conv 24 -> 96, ReLU, 1x1 conv 96 -> 17, sigmoid) and is
    fine-tuned with the rest.
    """

    out_channels = FPN_CHANNELS[-1] + 17

    def __init__(self, imagenet_input: bool = True, width: float = 1.0) -> None:
        super().__init__()
        self.fpn = MobileNetV2FPN(imagenet_input=imagenet_input, width=width)
        self.heatmap_hidden = SeparableConv(FPN_CHANNELS[-1], 96)
        self.heatmap_out = TfConv(96, 17)

    def forward(self, x: Tensor) -> Tensor:
        features = self.fpn(x)
        heatmaps = torch.sigmoid(self.heatmap_out(self.heatmap_hidden(features)))
        return torch.cat([features, heatmaps], dim=1)


#: MoveNet's decoding heads beside the keypoint heatmaps: person centre (1), keypoint regression from the
#: centre (2 per joint: dy, dx) and sub-pixel offsets (2 per joint), in that channel order after the maps.
DECODE_HEADS = {"centre": 1, "regress": 34, "offsets": 34}


class MoveNetDecodeFeatures(MoveNetFeatures):
    """:class:`MoveNetFeatures` plus Lightning's other three heads, so a student can decode its heatmaps
    exactly as Lightning does (:func:`distilpose.models.heads.movenet_decode`): output (N, 24 + 17 + 69, ...).

    Why: the plain heatmap peak loses to Lightning's own decoding (regression-guided pick, then offsets) by
    0.03-0.05 AP on COCO with the same maps; see docs/student.md.
    """

    decode_heads = True
    out_channels = MoveNetFeatures.out_channels + sum(DECODE_HEADS.values())
    #: How many leading channels the token encoder reads (features and heatmaps).
    token_channels = MoveNetFeatures.out_channels

    def __init__(self, imagenet_input: bool = True, width: float = 1.0) -> None:
        super().__init__(imagenet_input, width)
        for name, channels in DECODE_HEADS.items():
            setattr(self, f"{name}_hidden", SeparableConv(FPN_CHANNELS[-1], 96))
            setattr(self, f"{name}_out", TfConv(96, channels))

    def forward(self, x: Tensor) -> Tensor:
        features = self.fpn(x)
        heatmaps = torch.sigmoid(self.heatmap_out(self.heatmap_hidden(features)))
        centre = torch.sigmoid(self.centre_out(self.centre_hidden(features)))
        regress = self.regress_out(self.regress_hidden(features))
        offsets = self.offsets_out(self.offsets_hidden(features))
        return torch.cat([features, heatmaps, centre, regress, offsets], dim=1)
