"""Official mmpose 0.x checkpoints load strictly: key names and shapes written out from the official code.

Sources (yshMars/DistilPose @ 91651a8): heads/utils/tokenbase.py (TokenPose_TB_base, DistilPose_base and
their Residual/PreNorm/Attention/FeedForward nesting), heads/tokenpose_head.py (``self.tokenpose``),
heads/distilpose_head.py (``self.tokenhead``), backbones/stemnet.py, backbones/hrnet_3stage.py; mmpose 0.x
backbones/hrnet.py and resnet.py (mmcv ``build_norm_layer`` names BN layers ``bn1``/``bn2``/...).
These enumerations are written independently from the model code on purpose.
"""

from __future__ import annotations

import pytest
import torch

from distilpose.models import create_model
from distilpose.models.checkpoint import init_backbone_from_teacher, load_weights

Shapes = dict[str, tuple[int, ...]]


def _bn(prefix: str, c: int) -> Shapes:
    return {
        f"{prefix}.weight": (c,),
        f"{prefix}.bias": (c,),
        f"{prefix}.running_mean": (c,),
        f"{prefix}.running_var": (c,),
        f"{prefix}.num_batches_tracked": (),
    }


def _bottleneck(prefix: str, cin: int, planes: int, downsample: bool) -> Shapes:
    keys = {f"{prefix}.conv1.weight": (planes, cin, 1, 1), **_bn(f"{prefix}.bn1", planes)}
    keys |= {f"{prefix}.conv2.weight": (planes, planes, 3, 3), **_bn(f"{prefix}.bn2", planes)}
    keys |= {f"{prefix}.conv3.weight": (planes * 4, planes, 1, 1), **_bn(f"{prefix}.bn3", planes * 4)}
    if downsample:
        keys |= {
            f"{prefix}.downsample.0.weight": (planes * 4, cin, 1, 1),
            **_bn(f"{prefix}.downsample.1", planes * 4),
        }
    return keys


def _basic(prefix: str, c: int) -> Shapes:
    return {
        f"{prefix}.conv1.weight": (c, c, 3, 3),
        **_bn(f"{prefix}.bn1", c),
        f"{prefix}.conv2.weight": (c, c, 3, 3),
        **_bn(f"{prefix}.bn2", c),
    }


def _stem(prefix: str) -> Shapes:
    return {
        f"{prefix}.conv1.weight": (64, 3, 3, 3),
        **_bn(f"{prefix}.bn1", 64),
        f"{prefix}.conv2.weight": (64, 64, 3, 3),
        **_bn(f"{prefix}.bn2", 64),
    }


def official_stemnet_keys() -> Shapes:
    keys = _stem("backbone")
    for b in range(4):
        keys |= _bottleneck(f"backbone.layer1.{b}", 64 if b == 0 else 256, 64, downsample=b == 0)
    return keys


def official_hrnet_keys(width: int, stages: int) -> Shapes:
    """mmpose HRNet naming; the last stage keeps only fuse output 0 in its last module."""
    keys = _stem("backbone")
    for b in range(4):
        keys |= _bottleneck(f"backbone.layer1.{b}", 64 if b == 0 else 256, 64, downsample=b == 0)
    channels = {
        2: [width, 2 * width],
        3: [width, 2 * width, 4 * width],
        4: [width, 2 * width, 4 * width, 8 * width],
    }
    modules = {2: 1, 3: 4, 4: 3}
    prev = [256]
    for s in range(2, stages + 1):
        cur = channels[s]
        t = f"backbone.transition{s - 1}"
        for i, c in enumerate(cur):
            if i < len(prev):
                if prev[i] != c:
                    keys |= {f"{t}.{i}.0.weight": (c, prev[i], 3, 3), **_bn(f"{t}.{i}.1", c)}
            else:  # new branch: one stride-2 conv from the last existing branch (HRNet grows one per stage)
                keys |= {f"{t}.{i}.0.0.weight": (c, prev[-1], 3, 3), **_bn(f"{t}.{i}.0.1", c)}
        for m in range(modules[s]):
            p = f"backbone.stage{s}.{m}"
            for b, c in enumerate(cur):
                for n in range(4):
                    keys |= _basic(f"{p}.branches.{b}.{n}", c)
            outputs = 1 if (s == stages and m == modules[s] - 1) else len(cur)
            for i in range(outputs):
                for j in range(len(cur)):
                    f = f"{p}.fuse_layers.{i}.{j}"
                    if j > i:
                        keys |= {f"{f}.0.weight": (cur[i], cur[j], 1, 1), **_bn(f"{f}.1", cur[i])}
                    elif j < i:
                        for k in range(i - j):
                            out = cur[i] if k == i - j - 1 else cur[j]
                            keys |= {f"{f}.{k}.0.weight": (out, cur[j], 3, 3), **_bn(f"{f}.{k}.1", out)}
        prev = cur
    return keys


def official_head_keys(prefix: str, in_channels: int, mlp_head: Shapes, depth: int = 12) -> Shapes:
    """TokenPose_TB_base / DistilPose_base: Residual(PreNorm(Attention)) and Residual(PreNorm(FeedForward))."""
    keys = {
        f"{prefix}.keypoint_token": (1, 17, 192),
        f"{prefix}.pos_embedding": (1, 256, 192),  # sine, requires_grad=False, still a Parameter
        f"{prefix}.patch_to_embedding.weight": (192, in_channels * 12),
        f"{prefix}.patch_to_embedding.bias": (192,),
    }
    layer = {
        "0.fn.norm.weight": (192,),
        "0.fn.norm.bias": (192,),
        "0.fn.fn.to_qkv.weight": (576, 192),
        "0.fn.fn.to_out.0.weight": (192, 192),
        "0.fn.fn.to_out.0.bias": (192,),
        "1.fn.norm.weight": (192,),
        "1.fn.norm.bias": (192,),
        "1.fn.fn.net.0.weight": (576, 192),
        "1.fn.fn.net.0.bias": (576,),
        "1.fn.fn.net.3.weight": (192, 576),
        "1.fn.fn.net.3.bias": (192,),
    }
    for n in range(depth):
        keys |= {f"{prefix}.transformer.layers.{n}.{k}": v for k, v in layer.items()}
    keys |= {f"{prefix}.{k}": v for k, v in mlp_head.items()}
    return keys


REGRESSION_MLP = {
    "mlp_head.0.weight": (192,),
    "mlp_head.0.bias": (192,),
    "mlp_head.1.weight": (5, 192),
    "mlp_head.1.bias": (5,),
}
HEATMAP_MLP = {
    "mlp_head.0.weight": (192,),
    "mlp_head.0.bias": (192,),
    "mlp_head.1.weight": (384, 192),
    "mlp_head.1.bias": (384,),
    "mlp_head.2.weight": (384,),
    "mlp_head.2.bias": (384,),
    "mlp_head.3.weight": (3072, 384),
    "mlp_head.3.bias": (3072,),
}


def official_keys(name: str) -> Shapes:
    if name == "distilpose-s":
        return official_stemnet_keys() | official_head_keys("keypoint_head.tokenhead", 256, REGRESSION_MLP)
    if name == "distilpose-l":
        return official_hrnet_keys(48, 3) | official_head_keys("keypoint_head.tokenhead", 48, REGRESSION_MLP)
    if name == "tokenpose-hrnet-w48":
        return official_hrnet_keys(48, 4) | official_head_keys("keypoint_head.tokenpose", 48, HEATMAP_MLP)
    if name == "tokenpose-stemnet":
        return official_stemnet_keys() | official_head_keys("keypoint_head.tokenpose", 256, HEATMAP_MLP)
    raise AssertionError(name)


def random_state(shapes: Shapes, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, shape in shapes.items():
        if k.endswith("num_batches_tracked"):
            out[k] = torch.tensor(7, dtype=torch.long)
        elif k.endswith("running_var"):
            out[k] = torch.rand(shape, generator=g) + 0.5
        else:
            out[k] = 0.02 * torch.randn(shape, generator=g)
    return out


def test_spot_checks_from_known_hrnet_w48_checkpoints():
    """A few keys every mmpose HRNet-W48 pose checkpoint has, independent of the enumeration above."""
    keys = official_hrnet_keys(48, 4)
    assert keys["backbone.transition1.0.0.weight"] == (48, 256, 3, 3)
    assert keys["backbone.transition1.1.0.0.weight"] == (96, 256, 3, 3)
    assert keys["backbone.transition3.3.0.0.weight"] == (384, 192, 3, 3)
    assert keys["backbone.stage4.2.fuse_layers.0.3.0.weight"] == (48, 384, 1, 1)
    assert keys["backbone.stage4.0.fuse_layers.3.0.2.0.weight"] == (384, 48, 3, 3)
    assert "backbone.stage4.2.fuse_layers.1.0.0.0.weight" not in keys  # last module: output 0 only
    assert "backbone.stage3.3.fuse_layers.2.0.1.0.weight" in keys  # stage 3 keeps all outputs in 4-stage
    assert "backbone.stage3.3.fuse_layers.2.0.1.0.weight" not in official_hrnet_keys(48, 3)


@pytest.mark.parametrize("name", ["distilpose-s", "distilpose-l", "tokenpose-hrnet-w48", "tokenpose-stemnet"])
def test_official_state_dict_loads_strictly(name):
    model = create_model(name)
    shapes = official_keys(name)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == shapes  # same names, same shapes, nothing extra on either side
    state = random_state(shapes)
    report = load_weights(model, {"state_dict": state, "meta": {"epoch": 210}})
    assert report.ok and len(report.loaded) == len(shapes)
    loaded = model.state_dict()
    for k in list(shapes)[::97]:
        torch.testing.assert_close(loaded[k], state[k])


def test_official_student_forward_after_load():
    model = create_model("distilpose-s")
    load_weights(model, random_state(official_keys("distilpose-s"), seed=3))
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 256, 192))
    assert torch.isfinite(out.coords).all() and torch.all(out.sigmas > 0)


def test_distilpose_l_backbone_from_teacher():
    teacher = random_state(official_keys("tokenpose-hrnet-w48"), seed=5)
    student = create_model("distilpose-l")
    head_before = student.keypoint_head.tokenhead.patch_to_embedding.weight.clone()
    result = init_backbone_from_teacher(student, {"state_dict": teacher})
    sd = student.backbone.state_dict()
    assert len(result.loaded) == len(sd)
    torch.testing.assert_close(
        sd["stage3.3.branches.0.3.conv2.weight"], teacher["backbone.stage3.3.branches.0.3.conv2.weight"]
    )
    torch.testing.assert_close(sd["conv1.weight"], teacher["backbone.conv1.weight"])
    ignored = set(result.ignored)
    assert any(k.startswith("stage4.") for k in ignored) and any(
        k.startswith("transition3.") for k in ignored
    )
    assert "stage3.3.fuse_layers.1.0.0.0.weight" in ignored  # teacher's stage 3 keeps every output
    assert not any(k.startswith("keypoint_head") for k in ignored)  # the head is never considered
    # the student's head is left alone (random init, as in the official recipe)
    torch.testing.assert_close(student.keypoint_head.tokenhead.patch_to_embedding.weight, head_before)


def test_teacher_backbone_of_wrong_width_is_refused():
    from distilpose.errors import CheckpointError

    student = create_model("distilpose-l")
    narrow = random_state(official_hrnet_keys(32, 4))
    with pytest.raises(
        CheckpointError,
        match=r"shape mismatches .*transition1\.0\.0\.weight \(expected \[48, 256, 3, 3\], got \[32, 256, 3, 3\]\)",
    ):
        init_backbone_from_teacher(student, narrow)
