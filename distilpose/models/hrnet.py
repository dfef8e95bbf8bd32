"""HRNet backbone with mmpose 0.x parameter names, returning the highest-resolution branch.

``num_stages=4`` is mmpose's full ``HRNet`` (the TokenPose teacher's backbone); ``num_stages=3`` is the
official ``HRNet_3stage`` of DistilPose-L (stage 4 and transition 3 removed). In both the last stage emits
only branch 0 (``multiscale_output=False``): width channels at 1/4 resolution.

Key layout (matches ``backbone.*`` of official checkpoints): conv1/bn1/conv2/bn2 stem; ``layer1`` (4
Bottlenecks); ``transitionI.B`` (Sequential conv-bn-relu, or Sequential of such for a new branch, or None);
``stageS.M.branches.B.n.*``; ``stageS.M.fuse_layers.i.j`` (None on the diagonal).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from distilpose.models.blocks import BasicBlock, Bottleneck, conv3x3, init_conv_bn, make_res_layer


@dataclass(frozen=True)
class StageConfig:
    num_modules: int
    num_blocks: int  # per branch
    channels: tuple[int, ...]  # one per branch


def hrnet_stages(width: int) -> tuple[StageConfig, ...]:
    """Stages 2-4 of HRNet-W``width`` (mmpose w32/w48 configs): branches double in channels."""
    return (
        StageConfig(1, 4, (width, 2 * width)),
        StageConfig(4, 4, (width, 2 * width, 4 * width)),
        StageConfig(3, 4, (width, 2 * width, 4 * width, 8 * width)),
    )


def _conv_bn_relu(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    return nn.Sequential(conv3x3(in_ch, out_ch, stride), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


class HRModule(nn.Module):
    """Parallel branches of BasicBlocks followed by all-to-all fusion."""

    def __init__(self, cfg: StageConfig, in_channels: tuple[int, ...], multiscale_output: bool):
        super().__init__()
        self.num_branches = len(cfg.channels)
        self.branches = nn.ModuleList(
            make_res_layer(BasicBlock, cin, cout, cfg.num_blocks)
            for cin, cout in zip(in_channels, cfg.channels, strict=True)
        )
        self.fuse_layers = (
            self._fuse_layers(cfg.channels, multiscale_output) if self.num_branches > 1 else None
        )
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def _fuse_layers(channels: tuple[int, ...], multiscale_output: bool) -> nn.ModuleList:
        outputs = len(channels) if multiscale_output else 1
        fuse = nn.ModuleList()
        for i in range(outputs):
            row = nn.ModuleList()
            for j, cj in enumerate(channels):
                if j > i:  # lower resolution: 1x1 conv to branch i's width, then nearest upsampling
                    row.append(
                        nn.Sequential(
                            nn.Conv2d(cj, channels[i], 1, bias=False),
                            nn.BatchNorm2d(channels[i]),
                            nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"),
                        )
                    )
                elif j == i:
                    row.append(None)
                else:  # higher resolution: (i - j) stride-2 convs, ReLU between them but not after the last
                    steps = []
                    for k in range(i - j):
                        if k == i - j - 1:
                            steps.append(
                                nn.Sequential(conv3x3(cj, channels[i], 2), nn.BatchNorm2d(channels[i]))
                            )
                        else:
                            steps.append(_conv_bn_relu(cj, cj, 2))
                    row.append(nn.Sequential(*steps))
            fuse.append(row)
        return fuse

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        ys = [branch(x) for branch, x in zip(self.branches, xs, strict=True)]
        if self.fuse_layers is None:
            return ys
        fused = []
        for i, row in enumerate(self.fuse_layers):
            acc = None  # summed in branch order j = 0..n, as the official code does
            for j, layer in enumerate(row):
                term = ys[j] if j == i else layer(ys[j])
                acc = term if acc is None else acc + term
            fused.append(self.relu(acc))
        return fused


class HRNet(nn.Module):
    """HRNet-W``width`` with ``num_stages`` (3 or 4) stages; forward returns branch 0 (width ch, 1/4 res)."""

    def __init__(self, width: int = 48, num_stages: int = 4, in_channels: int = 3):
        super().__init__()
        if num_stages not in (3, 4):
            raise ValueError(f"HRNet num_stages must be 3 or 4, got {num_stages}")
        self.num_stages = num_stages
        self.out_channels = width
        self.conv1 = conv3x3(in_channels, 64, stride=2)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = conv3x3(64, 64, stride=2)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = make_res_layer(Bottleneck, 64, 64 * Bottleneck.expansion, 4)

        prev: tuple[int, ...] = (64 * Bottleneck.expansion,)
        stage_cfgs = hrnet_stages(width)[: num_stages - 1]
        for s, cfg in enumerate(stage_cfgs, start=2):
            last_stage = s == num_stages
            setattr(self, f"transition{s - 1}", self._transition(prev, cfg.channels))
            # Transitions already map to the stage's widths, so every module sees cfg.channels.
            modules = [
                HRModule(cfg, cfg.channels, multiscale_output=not (last_stage and m == cfg.num_modules - 1))
                for m in range(cfg.num_modules)
            ]
            setattr(self, f"stage{s}", nn.Sequential(*modules))
            prev = cfg.channels
        init_conv_bn(self)

    @staticmethod
    def _transition(prev: tuple[int, ...], cur: tuple[int, ...]) -> nn.ModuleList:
        layers = nn.ModuleList()
        for i, c in enumerate(cur):
            if i < len(prev):
                layers.append(_conv_bn_relu(prev[i], c, 1) if prev[i] != c else None)
            else:  # a new, lower-resolution branch grown from the last existing one
                steps = []
                for k in range(i + 1 - len(prev)):
                    out = c if k == i - len(prev) else prev[-1]
                    steps.append(_conv_bn_relu(prev[-1], out, 2))
                layers.append(nn.Sequential(*steps))
        return layers

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        ys = [self.layer1(x)]
        for s in range(2, self.num_stages + 1):
            transition: nn.ModuleList = getattr(self, f"transition{s - 1}")
            xs = [
                ys[i] if layer is None else layer(ys[i] if i < len(ys) else ys[-1])
                for i, layer in enumerate(transition)
            ]
            ys = getattr(self, f"stage{s}")(xs)
        return ys[0]
