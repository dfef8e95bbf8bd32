"""The TokenPose token encoder shared by the teachers and the DistilPose students (reference 1.5).

Token layout (must be identical in teacher and student so TDE can align tokens 1:1):
[K keypoint tokens, (H/ph)*(W/pw) visual tokens], dim D. Visual tokens come from a patch flatten with the
channel index fastest ('b c (h p1) (w p2) -> b (h w) (p1 p2 c)') followed by a Linear, so official
``patch_to_embedding`` weights load as they are. A fixed 'sine-full' position embedding is added to the
visual tokens only, and re-added before every layer after the first.

Module attribute names mirror the official ``TokenPose_TB_base`` / ``DistilPose_base`` so that
``state_dict()`` keys equal the official ones: ``patch_to_embedding``, ``keypoint_token``,
``pos_embedding``, ``transformer.layers.N.0.fn.norm`` / ``.0.fn.fn.to_qkv`` / ``.0.fn.fn.to_out.0`` /
``.1.fn.norm`` / ``.1.fn.fn.net.0`` / ``.1.fn.fn.net.3``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sine_position_embedding(h: int, w: int, dim: int, temperature: float = 10000.0) -> Tensor:
    """(1, h*w, dim) fixed embedding: normalised cumsum * 2pi, interleaved sin/cos, concat [y, x].

    Rows/columns are numbered 1..h / 1..w and divided by (h + 1e-6) / (w + 1e-6), exactly as the official
    code does; channel 2i is sin, 2i+1 is cos, both with frequency 10000 ** (2 * (i // 2) / (dim / 2)).
    """
    if dim % 4:
        raise ValueError(f"sine position embedding needs dim divisible by 4, got {dim}")
    half = dim // 2
    eps = 1e-6
    ys = torch.arange(1, h + 1, dtype=torch.float32) / (h + eps) * (2 * math.pi)
    xs = torch.arange(1, w + 1, dtype=torch.float32) / (w + eps) * (2 * math.pi)
    idx = torch.arange(half, dtype=torch.float32)
    freq = temperature ** (2 * torch.div(idx, 2, rounding_mode="floor") / half)

    def encode(v: Tensor) -> Tensor:  # (L,) -> (L, half): [sin, cos, sin, cos, ...]
        angles = v[:, None] / freq
        return torch.stack((angles[:, 0::2].sin(), angles[:, 1::2].cos()), dim=-1).flatten(1)

    pos_y = encode(ys)[:, None, :].expand(h, w, half)
    pos_x = encode(xs)[None, :, :].expand(h, w, half)
    return torch.cat((pos_y, pos_x), dim=-1).reshape(1, h * w, dim)


def patchify(feature: Tensor, patch: tuple[int, int]) -> Tensor:
    """(N, C, H, W) -> (N, (H/ph)*(W/pw), ph*pw*C), patches row-major, channel fastest inside a patch."""
    n, c, hh, ww = feature.shape
    ph, pw = patch
    h, w = hh // ph, ww // pw
    x = feature.reshape(n, c, h, ph, w, pw).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(n, h * w, ph * pw * c)


def explicit_attention(q: Tensor, k: Tensor, v: Tensor, scale: float) -> Tensor:
    """softmax(q k^T * scale) v with plain matmuls: the reference SDPA must equal (and FLOP counters see)."""
    return torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * scale, dim=-1) @ v


class Attention(nn.Module):
    """Multi-head self-attention: qkv Linear without bias, scale (dim/heads)^-0.5, output Linear."""

    def __init__(self, dim: int, heads: int, use_sdpa: bool = True):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.use_sdpa = use_sdpa
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        n, t, d = x.shape
        # qkv features are [q | k | v], each split into heads with the head index outermost.
        q, k, v = (
            self.to_qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        )
        if self.use_sdpa:
            out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        else:
            out = explicit_attention(q, k, v, self.scale)
        return self.to_out(out.transpose(1, 2).reshape(n, t, d))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        # Identity keeps the second Linear at index 3, where the official (dropout) layout stores it.
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Identity(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class _NormThen(nn.Module):
    """LayerNorm then ``fn``; holds ``norm`` and ``fn`` so keys read '<i>.fn.norm' / '<i>.fn.fn'."""

    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(self.norm(x))


class PreNormResidual(nn.Module):
    """x + fn(LN(x))."""

    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.fn = _NormThen(dim, fn)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.fn(x)


class Transformer(nn.Module):
    """``depth`` pre-norm layers; each is ModuleList([attention residual, feed-forward residual])."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_dim: int, use_sdpa: bool = True):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    PreNormResidual(dim, Attention(dim, heads, use_sdpa)),
                    PreNormResidual(dim, FeedForward(dim, mlp_dim)),
                ]
            )
            for _ in range(depth)
        )


class TokenEncoder(nn.Module):
    """Feature map -> (keypoint tokens (N, K, D), visual tokens (N, P, D)) after the last layer.

    No final LayerNorm: the outputs are the raw residual stream the official heads (and TDE) consume.
    """

    def __init__(
        self,
        in_channels: int,
        feature_size: tuple[int, int] = (64, 48),
        patch_size: tuple[int, int] = (4, 3),
        num_keypoints: int = 17,
        dim: int = 192,
        depth: int = 12,
        heads: int = 8,
        mlp_ratio: int = 3,
        use_sdpa: bool = True,
    ):
        super().__init__()
        fh, fw = feature_size
        ph, pw = patch_size
        if fh % ph or fw % pw:
            raise ValueError(f"feature size {feature_size} is not divisible by patch size {patch_size}")
        self.feature_size = (fh, fw)
        self.patch_size = (ph, pw)
        self.grid = (fh // ph, fw // pw)
        self.num_keypoints = num_keypoints
        self.dim = dim
        self.patch_to_embedding = nn.Linear(in_channels * ph * pw, dim)
        self.keypoint_token = nn.Parameter(torch.zeros(1, num_keypoints, dim))
        # A Parameter with requires_grad=False, as in the official code: it is saved under the official
        # key but is not trained (and not counted as a trainable parameter).
        self.pos_embedding = nn.Parameter(sine_position_embedding(*self.grid, dim), requires_grad=False)
        self.transformer = Transformer(dim, depth, heads, dim * mlp_ratio, use_sdpa)

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    def apply_init(self) -> None:
        """Official ``apply_init=True``: Linear trunc_normal(0.02) / bias 0, LayerNorm 1 / 0, tokens 0.02."""
        nn.init.trunc_normal_(self.keypoint_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def set_sdpa(self, enabled: bool) -> None:
        """Switch every attention between fused SDPA and explicit matmuls (identical numbers)."""
        for m in self.modules():
            if isinstance(m, Attention):
                m.use_sdpa = enabled

    def encode(self, feature: Tensor) -> tuple[Tensor, Tensor]:
        if tuple(feature.shape[-2:]) != self.feature_size:
            raise ValueError(f"expected a {self.feature_size} feature map, got {tuple(feature.shape[-2:])}")
        k = self.num_keypoints
        x = self.patch_to_embedding(patchify(feature, self.patch_size)) + self.pos_embedding
        x = torch.cat((self.keypoint_token.expand(x.shape[0], -1, -1), x), dim=1)
        pos = self.pos_embedding
        for idx, (attn, ffn) in enumerate(self.transformer.layers):
            if idx > 0:  # 'x[:, K:] += pos' of the official code, without in-place ops (autograd, export)
                x = torch.cat((x[:, :k], x[:, k:] + pos), dim=1)
            x = ffn(attn(x))
        return x[:, :k], x[:, k:]
