"""The shared token encoder: position embedding values, patch order, attention, and the official algorithm."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from distilpose.models.heads import RegressionTokenNet
from distilpose.models.tokens import (
    Attention,
    TokenEncoder,
    explicit_attention,
    patchify,
    sine_position_embedding,
)


def test_sine_pe_hand_values():
    pe = sine_position_embedding(16, 16, 192)
    assert pe.shape == (1, 256, 192)
    assert pe.dtype == torch.float32
    # token 0 = row 1, col 1: both angles are 1/16 * 2pi = pi/8 (up to the 1e-6 eps).
    assert pe[0, 0, 0].item() == pytest.approx(math.sin(math.pi / 8), abs=1e-6)  # y, sin, freq 1
    assert pe[0, 0, 1].item() == pytest.approx(math.cos(math.pi / 8), abs=1e-6)  # y, cos, freq 1
    assert pe[0, 0, 2].item() == pytest.approx(0.318489, abs=1e-5)  # sin(pi/8 / 10000**(1/48))
    assert pe[0, 0, 3].item() == pytest.approx(0.947926, abs=1e-5)  # cos(pi/8 / 10000**(1/48))
    assert pe[0, 0, 96].item() == pytest.approx(math.sin(math.pi / 8), abs=1e-6)  # x half starts at 96
    # token 1 = row 1, col 2: x angle pi/4, y unchanged.
    assert pe[0, 1, 0].item() == pytest.approx(math.sin(math.pi / 8), abs=1e-6)
    assert pe[0, 1, 96].item() == pytest.approx(math.sin(math.pi / 4), abs=1e-6)
    # token 16 = row 2, col 1 (row-major): y angle pi/4.
    assert pe[0, 16, 0].item() == pytest.approx(math.sin(math.pi / 4), abs=1e-6)
    assert pe[0, 16, 96].item() == pytest.approx(math.sin(math.pi / 8), abs=1e-6)
    # last token = row 16, col 16: angle 2pi -> sin 0, cos 1.
    assert pe[0, 255, 0].item() == pytest.approx(0.0, abs=1e-5)
    assert pe[0, 255, 1].item() == pytest.approx(1.0, abs=1e-6)


def test_sine_pe_rejects_bad_dim():
    with pytest.raises(ValueError, match="divisible by 4"):
        sine_position_embedding(4, 4, 18)


def test_patchify_is_channel_fastest_row_major():
    # value = c * 48 + y * 6 + x on a (1, 2, 8, 6) map; 4x3 patches -> a 2x2 grid of 24-long patches.
    feat = torch.arange(2 * 8 * 6, dtype=torch.float32).reshape(1, 2, 8, 6)
    p = patchify(feat, (4, 3))
    assert p.shape == (1, 4, 24)
    assert p[0, 0, :8].tolist() == [0, 48, 1, 49, 2, 50, 6, 54]  # (p1, p2, c) with c fastest
    assert p[0, 0, -2:].tolist() == [3 * 6 + 2, 48 + 3 * 6 + 2]  # bottom-right pixel of patch 0
    assert p[0, 1, :4].tolist() == [3, 51, 4, 52]  # patch (0, 1) starts at x = 3
    assert p[0, 2, :2].tolist() == [24, 72]  # patch (1, 0) starts at y = 4


def test_sdpa_equals_explicit_attention():
    torch.manual_seed(0)
    attn = Attention(32, heads=4)
    x = torch.randn(2, 9, 32)
    fused = attn(x)
    attn.use_sdpa = False
    explicit = attn(x)
    torch.testing.assert_close(fused, explicit, atol=1e-6, rtol=1e-5)
    # and the explicit path is softmax(QK^T * d^-0.5) V for a single head written out by hand
    q, k, v = torch.randn(3, 1, 1, 5, 8).unbind(0)
    manual = torch.softmax((q[0, 0] @ k[0, 0].T) / math.sqrt(8), dim=-1) @ v[0, 0]
    torch.testing.assert_close(explicit_attention(q, k, v, 8**-0.5)[0, 0], manual)


def test_pe_is_frozen_parameter_in_state_dict():
    enc = TokenEncoder(
        in_channels=4, feature_size=(8, 6), patch_size=(4, 3), num_keypoints=3, dim=16, depth=1, heads=2
    )
    assert "pos_embedding" in enc.state_dict()
    assert enc.pos_embedding.requires_grad is False
    assert enc.keypoint_token.requires_grad is True


def _reference_forward(
    sd: dict, feature: torch.Tensor, k: int, heads: int, patch: tuple[int, int], depth: int
):
    """The official DistilPose_base forward, written independently: loop patch flatten, einsum attention,
    in-place re-add of the position embedding to the visual slice before every layer after the first."""
    b, _, hh, ww = feature.shape
    ph, pw = patch
    patches = [
        feature[:, :, i * ph : (i + 1) * ph, j * pw : (j + 1) * pw].permute(0, 2, 3, 1).reshape(b, -1)
        for i in range(hh // ph)
        for j in range(ww // pw)
    ]
    x = torch.stack(patches, 1) @ sd["patch_to_embedding.weight"].T + sd["patch_to_embedding.bias"]
    pos = sd["pos_embedding"]
    x = x + pos
    x = torch.cat([sd["keypoint_token"].expand(b, -1, -1), x], 1)
    d = x.shape[-1]
    t = x.shape[1]
    for n in range(depth):
        p = f"transformer.layers.{n}."
        if n > 0:
            x[:, k:] += pos
        y = F.layer_norm(x, (d,), sd[p + "0.fn.norm.weight"], sd[p + "0.fn.norm.bias"])
        q, kk, v = (y @ sd[p + "0.fn.fn.to_qkv.weight"].T).chunk(3, -1)

        def split(z):
            return z.reshape(b, t, heads, d // heads).transpose(1, 2)

        dots = torch.einsum("bhid,bhjd->bhij", split(q), split(kk)) * (d // heads) ** -0.5
        out = torch.einsum("bhij,bhjd->bhid", dots.softmax(-1), split(v)).transpose(1, 2).reshape(b, t, d)
        x = x + out @ sd[p + "0.fn.fn.to_out.0.weight"].T + sd[p + "0.fn.fn.to_out.0.bias"]
        y = F.layer_norm(x, (d,), sd[p + "1.fn.norm.weight"], sd[p + "1.fn.norm.bias"])
        hidden = F.gelu(y @ sd[p + "1.fn.fn.net.0.weight"].T + sd[p + "1.fn.fn.net.0.bias"])
        x = x + hidden @ sd[p + "1.fn.fn.net.3.weight"].T + sd[p + "1.fn.fn.net.3.bias"]
    kpt, vis = x[:, :k], x[:, k:]
    o = F.layer_norm(kpt, (d,), sd["mlp_head.0.weight"], sd["mlp_head.0.bias"]) @ sd["mlp_head.1.weight"].T
    o = o + sd["mlp_head.1.bias"]
    return o[..., :2].sigmoid(), o[..., 2], F.softplus(o[..., 3:5]), kpt, vis


@pytest.mark.parametrize("use_sdpa", [True, False])
def test_regression_head_matches_official_algorithm(use_sdpa):
    torch.manual_seed(1)
    net = RegressionTokenNet(
        5,
        feature_size=(8, 12),
        patch_size=(4, 3),
        num_keypoints=3,
        dim=16,
        depth=3,
        heads=2,
        use_sdpa=use_sdpa,
    ).eval()
    # non-trivial LayerNorm / bias values so a swapped key would show
    with torch.no_grad():
        for p in net.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn_like(p))
    feat = torch.randn(2, 5, 8, 12)
    sd = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        ours = net(feat)
        ref = _reference_forward(sd, feat, k=3, heads=2, patch=(4, 3), depth=3)
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4)


def test_encoder_rejects_wrong_feature_size():
    enc = TokenEncoder(
        in_channels=2, feature_size=(8, 6), patch_size=(4, 3), num_keypoints=2, dim=8, depth=1, heads=2
    )
    with pytest.raises(ValueError, match=r"\(8, 6\)"):
        enc.encode(torch.zeros(1, 2, 8, 9))


def test_apply_init_matches_official_scheme():
    torch.manual_seed(0)
    enc = TokenEncoder(
        in_channels=64, feature_size=(8, 6), patch_size=(4, 3), num_keypoints=17, dim=192, depth=2
    )
    enc.apply_init()
    w = enc.transformer.layers[0][1].fn.fn.net[0].weight
    assert abs(w.mean().item()) < 0.002
    assert w.std().item() == pytest.approx(0.02, rel=0.15)
    assert torch.all(enc.transformer.layers[0][1].fn.fn.net[0].bias == 0)
    ln = enc.transformer.layers[1][0].fn.norm
    assert torch.all(ln.weight == 1) and torch.all(ln.bias == 0)
    assert enc.keypoint_token.std().item() == pytest.approx(0.02, rel=0.15)
