"""ResNet residual blocks shared by StemNet and HRNet.

Attribute names (conv1, bn1, ..., downsample.0/.1) follow mmpose 0.x / the official StemNet so that
official checkpoints load without renaming. The ReLU module is called several times per block, as in
the official code, so module-hook FLOP counters see the same calls.
"""

from __future__ import annotations

from torch import Tensor, nn


def conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=False)


def conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """Conv (no bias) + BN, the projection shortcut used when a block changes shape."""
    pad = kernel // 2
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size=kernel, stride=stride, padding=pad, bias=False),
        nn.BatchNorm2d(out_ch),
    )


class BasicBlock(nn.Module):
    """Two 3x3 convs; ``out_channels`` is the block output (expansion 1)."""

    expansion = 1

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, downsample: nn.Module | None = None
    ):
        super().__init__()
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carries the stride, 'pytorch' style), 1x1 expand by 4."""

    expansion = 4

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, downsample: nn.Module | None = None
    ):
        super().__init__()
        mid = out_channels // self.expansion
        self.conv1 = nn.Conv2d(in_channels, mid, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = conv3x3(mid, mid, stride)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + shortcut)


def make_res_layer(
    block: type[BasicBlock] | type[Bottleneck], in_channels: int, out_channels: int, blocks: int
) -> nn.Sequential:
    """``blocks`` residual blocks; the first gets a 1x1 projection when the channel count changes."""
    downsample = conv_bn(in_channels, out_channels, 1) if in_channels != out_channels else None
    layers = [block(in_channels, out_channels, downsample=downsample)]
    layers += [block(out_channels, out_channels) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


def init_conv_bn(module: nn.Module, std: float = 0.001) -> None:
    """The official backbone init without pretraining: conv N(0, std), BN weight 1 / bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
