"""Parameter and MAC counting: hand-derived numbers for a toy net and for DistilPose-S."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from distilpose.models import create_model
from distilpose.models.complexity import attention_gmacs, count_macs, count_params, measure


def test_rules_on_a_toy_network():
    toy = nn.Sequential(
        nn.Conv2d(
            3, 4, 3, padding=1, bias=True
        ),  # 3*3*3*4 = 108 MACs x 64 positions = 6912 (+256 bias, paper only)
        nn.BatchNorm2d(4),  # 256 elements x 2 (affine) = 512, paper only
        nn.ReLU(),  # 256, paper only
        nn.Upsample(scale_factor=2),  # 4*16*16 = 1024 outputs, paper only
        nn.Linear(16, 5),  # 64 rows x 16 x 5 = 5120
        nn.LayerNorm(5),  # 320 x 2 = 640, paper only
        nn.GELU(),  # not counted by either
    )
    total, paper = count_macs(toy, input_size=(8, 8))
    assert total * 1e9 == pytest.approx(6912 + 5120)
    assert paper * 1e9 == pytest.approx(6912 + 256 + 512 + 256 + 1024 + 5120 + 640)
    n = (3 * 4 * 9 + 4) + 2 * 4 + (16 * 5 + 5) + 2 * 5  # conv, BN, Linear, LayerNorm
    assert count_params(toy) == (n, n)


def test_count_params_excludes_frozen_from_trainable():
    net = nn.Linear(4, 3)
    net.bias.requires_grad_(False)
    assert count_params(net) == (15, 12)


def test_distilpose_s_hand_count():
    """Every term of DistilPose-S at 256x192, derived by hand from the architecture."""
    with torch.device("meta"):
        model = create_model("distilpose-s")
    c = measure(model)
    p4 = 64 * 48  # positions at stride 4
    convs = (
        3 * 9 * 64 * 128 * 96  # conv1, stride 2
        + 64 * 9 * 64 * p4  # conv2, stride 2
        + (64 * 64 + 64 * 9 * 64 + 64 * 256 + 64 * 256) * p4  # bottleneck 1 with its projection
        + 3 * (256 * 64 + 64 * 9 * 64 + 64 * 256) * p4  # bottlenecks 2-4
    )
    t = 17 + 256
    linears = 256 * 3072 * 192 + 12 * t * (192 * 576 + 192 * 192 + 2 * 192 * 576) + 17 * 192 * 5
    attention = 12 * 2 * t * t * 192
    bn = 2 * (64 * 128 * 96 + 64 * p4 + 4 * (64 + 64 + 256) * p4 + 256 * p4)
    relu = 64 * 128 * 96 + 64 * p4 + 4 * (64 + 64 + 256) * p4
    ln = 2 * (12 * 2 * t * 192 + 17 * 192)
    assert c.gmacs * 1e9 == pytest.approx(convs + linears + attention, abs=1)
    assert c.gmacs_paper * 1e9 == pytest.approx(convs + linears + bn + relu + ln, abs=1)
    assert attention_gmacs(model) * 1e9 == pytest.approx(attention)
    assert c.params_trainable == c.params - 256 * 192  # the frozen sine PE


def test_meta_and_cpu_counts_agree_and_sdpa_restored():
    torch.manual_seed(0)
    cpu = create_model("distilpose-t")
    cpu.train()
    with torch.device("meta"):
        meta = create_model("distilpose-t")
    assert count_macs(cpu) == count_macs(meta)
    assert cpu.training  # mode restored
    attns = [m for m in cpu.modules() if hasattr(m, "use_sdpa")]
    assert attns and all(a.use_sdpa for a in attns)


def test_measure_needs_input_size_without_spec():
    with pytest.raises(ValueError, match="input_size"):
        measure(nn.Linear(2, 2))
