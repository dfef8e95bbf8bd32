"""Forward passes of every registered model: output types, shapes and value ranges; every registered model
exports to ONNX and round-trips its weights (driven by the registry, so a new family is covered at once)."""

from __future__ import annotations

import pytest
import torch

from distilpose.inference.onnx_service import FP32_TOLERANCE, export_onnx, sample_batch
from distilpose.models import PoseOutput, create_model, list_models, load_weights, model_spec, save_weights
from distilpose.models.hrnet import HRNet
from distilpose.models.stemnet import StemNet
from tests.conftest import require_zoo_model

STUDENTS = ["distilpose-t", "distilpose-s", "distilpose-l"]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(2, 3, 256, 192)


@pytest.mark.parametrize("name", STUDENTS)
def test_student_outputs(name, image):
    torch.manual_seed(0)
    model = create_model(name).eval()
    with torch.no_grad():
        out = model(image)
        exported = model.forward_export(image)
    assert isinstance(out, PoseOutput)
    assert out.heatmaps is None
    assert out.coords.shape == (2, 17, 2) and out.scores.shape == (2, 17) and out.sigmas.shape == (2, 17, 2)
    assert out.vis_tokens.shape == (2, 256, 192) and out.kpt_tokens.shape == (2, 17, 192)
    assert torch.all((out.coords > 0) & (out.coords < 1))
    assert torch.all(out.sigmas > 0)
    assert torch.isfinite(out.scores).all()
    assert len(exported) == 3
    for a, b in zip(exported, (out.coords, out.scores, out.sigmas), strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", ["tokenpose-stemnet", "tokenpose-hrnet-w48"])
def test_teacher_outputs(name, image):
    torch.manual_seed(0)
    model = create_model(name).eval()
    x = image[:1]
    with torch.no_grad():
        out = model(x)
        (heatmaps,) = model.forward_export(x)
    assert out.coords is None and out.scores is None and out.sigmas is None
    assert out.heatmaps.shape == (1, 17, 64, 48)
    assert out.vis_tokens.shape == (1, 256, 192) and out.kpt_tokens.shape == (1, 17, 192)
    torch.testing.assert_close(heatmaps, out.heatmaps)


def test_student_trains_end_to_end():
    """Gradients reach the backbone and tokens; the frozen position embedding gets none."""
    torch.manual_seed(0)
    model = create_model("distilpose-t").train()
    out = model(torch.randn(2, 3, 256, 192))
    (out.coords.sum() + out.sigmas.sum() + out.scores.sum() + out.vis_tokens.mean()).backward()
    head = model.keypoint_head.tokenhead
    assert head.keypoint_token.grad is not None and head.keypoint_token.grad.abs().sum() > 0
    assert model.backbone.conv1.weight.grad is not None
    assert head.pos_embedding.grad is None


def test_wrong_input_shape_is_reported():
    model = create_model("distilpose-t")
    with pytest.raises(ValueError, match=r"\(N, 3, 256, 192\).*\(1, 3, 128, 96\)"):
        model(torch.zeros(1, 3, 128, 96))


def test_backbones_emit_64x48_maps():
    x = torch.zeros(1, 3, 256, 192)
    with torch.no_grad():
        assert StemNet().eval()(x).shape == (1, 256, 64, 48)
        assert HRNet(width=32, num_stages=3).eval()(x).shape == (1, 32, 64, 48)
    with pytest.raises(ValueError, match="3 or 4"):
        HRNet(num_stages=2)


def test_stemnet_official_init():
    torch.manual_seed(0)
    net = StemNet()
    assert net.conv2.weight.std().item() == pytest.approx(0.001, rel=0.05)
    assert torch.all(net.layer1[0].bn3.weight == 1) and torch.all(net.layer1[0].bn3.bias == 0)


def _outputs(model, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        return tuple(model.forward_export(x))


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_forwards_exports_and_round_trips_its_weights(name, tmp_path):
    spec = model_spec(name)
    if spec.pretrained == "zoo" or spec.init_backbone_from_zoo:
        require_zoo_model(spec.init_backbone_from_zoo or spec.zoo_name or name)
    torch.manual_seed(0)
    model = create_model(name).eval()
    x = torch.from_numpy(sample_batch(spec, batch=2))
    with torch.no_grad():
        out = model(x)
    assert isinstance(out, PoseOutput)
    k = spec.num_keypoints
    if spec.kind == "heatmap":
        assert out.heatmaps.shape == (2, k, *spec.heatmap_size)
    else:
        assert out.coords.shape == (2, k, 2) and out.scores.shape == (2, k)
        assert torch.isfinite(out.coords).all() and torch.isfinite(out.scores).all()
    exported = _outputs(model, x)
    first = out.heatmaps if spec.kind == "heatmap" else out.coords
    torch.testing.assert_close(exported[0], first)

    path = tmp_path / "weights.safetensors"
    save_weights(model, path)
    torch.manual_seed(1)  # a differently initialised copy: only the file can make it equal
    fresh = create_model(name).eval()
    load_weights(fresh, path)  # strict: every key and shape
    for a, b in zip(_outputs(fresh, x), exported, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)

    report = export_onnx(model, tmp_path / "model.onnx")  # raises when ONNX Runtime disagrees with PyTorch
    assert max(report.max_abs_diff.values()) <= FP32_TOLERANCE
