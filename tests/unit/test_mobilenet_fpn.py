"""MobileNetV2FPN: TF 'SAME' padding, shapes at any size, and feature parity with MoveNet Lightning's graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distilpose.errors import CheckpointError
from distilpose.models import create_model
from distilpose.models.mobilenet_fpn import MobileNetV2FPN, _same_pad
from tests.conftest import require_zoo_model

FEATURE_NODE = "StatefulPartitionedCall/center_net_mobile_net_v2fpn_feature_extractor/model_1/re_lu_2/Relu"


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [
        ((8, 6), 3, 2, (0, 1, 0, 1)),  # even: TF puts the odd pixel bottom/right
        ((7, 7), 3, 2, (1, 1, 1, 1)),  # odd: symmetric
        ((8, 8), 1, 1, (0, 0, 0, 0)),
    ],
)
def test_same_padding_matches_tensorflow(size, kernel, stride, expected) -> None:
    x = torch.zeros(1, 1, *size)
    padded = _same_pad(x, kernel, stride)
    left, right, top, bottom = expected
    assert padded.shape[-2:] == (size[0] + top + bottom, size[1] + left + right)
    marked = torch.ones(1, 1, *size)
    p = _same_pad(marked, kernel, stride)
    assert p[..., top : top + size[0], left : left + size[1]].sum() == marked.sum()


@pytest.mark.parametrize("hw", [(256, 192), (192, 192)])
def test_output_is_stride_4_with_24_channels(hw) -> None:
    net = MobileNetV2FPN().eval()
    with torch.no_grad():
        out = net(torch.zeros(2, 3, *hw))
    assert out.shape == (2, 24, hw[0] // 4, hw[1] // 4)


def test_student_builds_and_exports_its_contract() -> None:
    model = create_model("distilpose-mnv2").eval()
    with torch.no_grad():
        coords, scores, sigmas = model.forward_export(torch.zeros(1, 3, 256, 192))
    assert coords.shape == (1, 17, 2) and scores.shape == (1, 17) and sigmas.shape == (1, 17, 2)
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 256, 192))
    assert out.vis_tokens.shape == (1, 64, 128)  # 8x6 patches over the 64x48 feature, D = 128


def test_lightning_weights_reproduce_the_graph_features() -> None:
    require_zoo_model("movenet-lightning")
    import cv2

    from distilpose.data.normalize import IMAGENET_MEAN, IMAGENET_STD
    from distilpose.models.bundled import resources_root
    from distilpose.video import read_image
    from distilpose.zoo import load_graph
    from distilpose.zoo.movenet_backbone import movenet_backbone_state

    image = read_image(resources_root() / "samples" / "astronaut.jpg")
    rgb = cv2.resize(image, (192, 192), interpolation=cv2.INTER_AREA).astype(np.float32)
    x = torch.from_numpy(rgb)[None]
    graph = load_graph("movenet-lightning")
    net = MobileNetV2FPN(imagenet_input=True).eval()
    net.load_state_dict(movenet_backbone_state("movenet-lightning"), strict=True)
    imagenet = (x / 255.0 - torch.tensor(IMAGENET_MEAN.tolist())) / torch.tensor(IMAGENET_STD.tolist())
    with torch.no_grad():
        want = graph(feeds={"StatefulPartitionedCall/stack": x}, outputs=FEATURE_NODE).permute(0, 3, 1, 2)
        got = net(imagenet.permute(0, 3, 1, 2))
    assert want.abs().max() > 0.5  # real activations, not an all-zero map
    assert (got - want).abs().max().item() < 1e-3


def test_only_single_pose_movenets_fit() -> None:
    from distilpose.zoo.movenet_backbone import movenet_backbone_state

    with pytest.raises(CheckpointError, match="movenet-multipose"):
        movenet_backbone_state("movenet-multipose")


def _blob(h: int, w: int, cy: float, cx: float, s: float = 1.5) -> torch.Tensor:
    ys = torch.arange(h, dtype=torch.float32)[:, None]
    xs = torch.arange(w, dtype=torch.float32)[None, :]
    return torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * s * s))


def test_heatmap_prior_finds_the_subpixel_peak_nearest_the_centre() -> None:
    from distilpose.models.heads import heatmap_prior

    maps = torch.zeros(1, 2, 64, 48)
    maps[0, 0] = _blob(64, 48, 20.0, 30.0)  # one person: centre of pixel (20, 30)
    # two people, equally strong: the one near the crop centre (row 32, col 24) is this crop's person
    maps[0, 1] = _blob(64, 48, 34.0, 22.0) + _blob(64, 48, 5.0, 44.0)
    maps.requires_grad_(True)
    xy, peak = heatmap_prior(maps)
    assert peak[0].tolist() == pytest.approx([1.0, 1.0], abs=1e-6)  # the maps' values at the chosen peaks
    # pixel j's centre is (j + 0.5) / W
    assert xy[0, 0].tolist() == pytest.approx([30.5 / 48, 20.5 / 64], abs=1e-3)
    assert xy[0, 1].tolist() == pytest.approx([22.5 / 48, 34.5 / 64], abs=2e-3)
    xy.sum().backward()
    assert maps.grad is not None and maps.grad.abs().sum() > 0  # differentiable in the map


def test_an_untrained_prior_head_predicts_the_heatmap_positions() -> None:
    from distilpose.models.heads import heatmap_prior

    model = create_model("distilpose-mnv2").eval()
    feats = torch.rand(1, model.backbone.out_channels, 64, 48)
    with torch.no_grad():
        coords, scores = model.keypoint_head(feats)[:2]
    xy, peak = heatmap_prior(feats[:, -17:])
    assert torch.allclose(coords, xy) and torch.allclose(scores, peak)


@pytest.mark.parametrize(("name", "size"), [("movenet-lightning", 192), ("movenet-thunder", 256)])
def test_each_movenets_own_decoding_is_reproduced_from_its_heads(name: str, size: int) -> None:
    """movenet_decode on MoveNetDecodeFeatures' heads (at the model's width) gives the graph's keypoints on
    real crops: Thunder is Lightning's layout 1.75x wider, so one plain module runs either at any crop size."""
    require_zoo_model(name)
    import cv2

    from distilpose.models.bundled import resources_root
    from distilpose.models.heads import movenet_decode
    from distilpose.models.mobilenet_fpn import MOVENET_WIDTHS, MoveNetDecodeFeatures
    from distilpose.video import read_image
    from distilpose.zoo.movenet import load_movenet
    from distilpose.zoo.movenet_backbone import movenet_backbone_state

    image = read_image(resources_root() / "samples" / "astronaut.jpg")
    crops = [cv2.resize(image[:, s : s + image.shape[0]], (size, size)) for s in (0, 40)]
    crops.append(cv2.resize(image, (size, size)))
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()
    backbone = MoveNetDecodeFeatures(imagenet_input=False, width=MOVENET_WIDTHS[name]).eval()
    backbone.load_state_dict(movenet_backbone_state(name, heatmap_head=True, decode_heads=True), strict=True)
    with torch.no_grad():
        expected, _ = load_movenet(name)(x)
        out = backbone(x / 127.5 - 1.0)
    t = MoveNetDecodeFeatures.token_channels
    xy, scores = movenet_decode(out[:, t - 17 : t], out[:, t : t + 1], out[:, t + 1 : t + 35], out[:, t + 35 :])
    assert torch.allclose(xy, expected[..., :2], atol=1e-3)
    assert torch.allclose(scores, expected[..., 2], atol=1e-3)
    assert scores.mean() > 0.3  # a real person was found, not two empty maps agreeing


def test_thunder_width_follows_mobilenet_v2_rounding() -> None:
    from distilpose.models.mobilenet_fpn import scaled_channels

    # Thunder's graph: stem 56, stages 32, 40, 56, 112, 168, 280, 560 channels (width 1.75)
    assert [scaled_channels(c, 1.75) for c in (32, 16, 24, 32, 64, 96, 160, 320)] == [56, 32, 40, 56, 112, 168, 280, 560]
    assert [scaled_channels(c, 1.0) for c in (32, 16, 24, 320)] == [32, 16, 24, 320]


def test_an_untrained_lightning_prior_student_predicts_lightnings_decoding() -> None:
    from distilpose.models.heads import movenet_decode

    model = create_model("distilpose-mnv2-lt").eval()
    assert model.spec.init_backbone_from_zoo == "movenet-lightning"
    torch.manual_seed(0)
    feats = torch.rand(2, model.backbone.out_channels, 64, 48)
    with torch.no_grad():
        coords, scores = model.keypoint_head(feats)[:2]
    t = model.backbone.token_channels
    xy, peak = movenet_decode(feats[:, t - 17 : t], feats[:, t : t + 1], feats[:, t + 1 : t + 35], feats[:, t + 35 :])
    assert torch.allclose(coords, xy) and torch.allclose(scores, peak)
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 256, 192))
    assert out.vis_tokens.shape == (1, 64, 128) and out.coords.shape == (1, 17, 2)
