"""StemNet: the small stride-4 CNN of TokenPose-S-v1 used by DistilPose-S.

Official layout (stemnet.py): conv3x3 s2 -> BN -> ReLU -> conv3x3 s2 -> BN -> ReLU -> 4 Bottlenecks
(planes 64 -> 256 channels). Output 256 ch at 1/4 resolution (64x48 for a 256x192 input).
``width`` / ``num_blocks`` shrink it for the CPU-sized ``distilpose-t``.
"""

from __future__ import annotations

from torch import Tensor, nn

from distilpose.models.blocks import Bottleneck, conv3x3, init_conv_bn, make_res_layer


class StemNet(nn.Module):
    def __init__(self, width: int = 64, num_blocks: int = 4, in_channels: int = 3):
        super().__init__()
        self.conv1 = conv3x3(in_channels, width, stride=2)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride=2)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.out_channels = width * Bottleneck.expansion
        self.layer1 = make_res_layer(Bottleneck, width, self.out_channels, num_blocks)
        init_conv_bn(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        return self.layer1(x)
