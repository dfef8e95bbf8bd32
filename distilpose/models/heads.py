"""Token heads: the encoder plus the per-keypoint-token MLP, wrapped like the official mmpose heads.

Official nesting: ``keypoint_head.tokenpose`` (TokenPoseHead -> TokenPose_TB_base) for the heatmap
teachers and ``keypoint_head.tokenhead`` (DistilPoseHead -> DistilPose_base) for the regression students;
the encoder's modules and ``mlp_head`` sit side by side inside that object.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from distilpose.models.tokens import TokenEncoder


class HeatmapTokenNet(TokenEncoder):
    """TokenPose: keypoint tokens -> MLP -> one (H, W) heatmap per keypoint (raw, no activation)."""

    def __init__(self, in_channels: int, heatmap_size: tuple[int, int] = (64, 48), **encoder_kwargs):
        super().__init__(in_channels, **encoder_kwargs)
        self.heatmap_size = heatmap_size
        hm_dim = heatmap_size[0] * heatmap_size[1]
        hidden = hm_dim // 8
        # The official rule: a two-layer MLP (no activation between) when dim <= hidden / 2.
        if self.dim <= hidden * 0.5:
            self.mlp_head = nn.Sequential(
                nn.LayerNorm(self.dim),
                nn.Linear(self.dim, hidden),
                nn.LayerNorm(hidden),
                nn.Linear(hidden, hm_dim),
            )
        else:
            self.mlp_head = nn.Sequential(nn.LayerNorm(self.dim), nn.Linear(self.dim, hm_dim))
        self.apply_init()

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """-> heatmaps (N, K, H, W), keypoint tokens, visual tokens."""
        kpt, vis = self.encode(feature)
        heatmaps = self.mlp_head(kpt).reshape(kpt.shape[0], kpt.shape[1], *self.heatmap_size)
        return heatmaps, kpt, vis


class RegressionTokenNet(TokenEncoder):
    """DistilPose (out_mode 'all'): per keypoint token LN + Linear(D, 5) -> x, y, score, sigma_x, sigma_y.

    The config's ``hidden_dim=64`` is unused in the official code (the 2-layer branch needs D <= 32), so
    the head is a single Linear.
    """

    def __init__(self, in_channels: int, **encoder_kwargs):
        super().__init__(in_channels, **encoder_kwargs)
        self.mlp_head = nn.Sequential(nn.LayerNorm(self.dim), nn.Linear(self.dim, 5))
        self.apply_init()

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """-> coords (N,K,2) in (0,1), raw scores (N,K), sigmas (N,K,2) > 0, keypoint tokens, visual tokens."""
        kpt, vis = self.encode(feature)
        out = self.mlp_head(kpt)
        return out[..., 0:2].sigmoid(), out[..., 2], F.softplus(out[..., 3:5]), kpt, vis


class TokenPoseHead(nn.Module):
    def __init__(self, in_channels: int, heatmap_size: tuple[int, int] = (64, 48), **encoder_kwargs):
        super().__init__()
        self.tokenpose = HeatmapTokenNet(in_channels, heatmap_size, **encoder_kwargs)

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.tokenpose(feature)


class DistilPoseHead(nn.Module):
    def __init__(self, in_channels: int, **encoder_kwargs):
        super().__init__()
        self.tokenhead = RegressionTokenNet(in_channels, **encoder_kwargs)

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        return self.tokenhead(feature)
