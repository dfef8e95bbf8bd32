"""MoveNet as a distillation teacher: its square heatmaps land on the student's 64x48 grid, on this person."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distilpose.codecs import boxes_to_centers_scales, crop_images, crops_to_images, decode_heatmaps
from distilpose.data.normalize import normalize_image
from distilpose.inference.loading import load_predictor
from distilpose.training.config import ConfigError, TeacherConfig
from distilpose.training.teachers import build_teacher
from distilpose.video import read_image
from tests.conftest import REPO_ROOT, require_zoo_model


def _astronaut_crop() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The sample photo, its person box, and that box's normalised 256x192 crop with its geometry."""
    image = read_image(REPO_ROOT / "resources" / "samples" / "astronaut.jpg")
    box = np.array([[100.0, 20.0, 330.0, 490.0]])
    centers, scales = boxes_to_centers_scales(box, 192 / 256, 1.25)
    return image, box, centers, scales, normalize_image(crop_images(image, centers, scales, 0.0, (192, 256)))


def test_zoo_teacher_heatmaps_peak_where_movenet_puts_the_keypoints():
    require_zoo_model("movenet-thunder")
    torch.set_num_threads(1)
    image, box, centers, scales, crop = _astronaut_crop()
    teacher = build_teacher(TeacherConfig(name="movenet-thunder"))
    assert not teacher.has_tokens
    out = teacher(torch.from_numpy(crop))
    assert out.heatmaps.shape == (1, 17, 64, 48) and out.vis_tokens is None
    coords_hm, maxvals = decode_heatmaps(out.heatmaps.numpy(), dark=False)
    from_teacher_grid = crops_to_images(coords_hm, centers, scales, (48, 64))[0]
    (reference,) = load_predictor("movenet-thunder").predictor.predict(image, box)
    confident = reference.scores > 0.5
    assert confident.sum() >= 5
    error = np.linalg.norm(from_teacher_grid[confident] - reference.keypoints[confident, :2], axis=1)
    # one heatmap pixel is ~7.7 image px here (a 385 px tall crop over 64 rows)
    assert np.median(error) < 8.0 and error.max() < 20.0
    assert np.all(maxvals[0, confident] > 0.2)


def test_zoo_teacher_config_errors():
    with pytest.raises(ConfigError, match="brings its own pretrained weights"):
        build_teacher(TeacherConfig(name="movenet-thunder", weights="x.safetensors"))
    with pytest.raises(ConfigError, match="needs trained weights"):
        build_teacher(TeacherConfig(name="tokenpose-stemnet"))


def test_token_adapter_tokens_pool_the_teachers_features_and_train_the_adapter():
    require_zoo_model("movenet-thunder")
    from distilpose.losses import DistillLossConfig
    from distilpose.models import create_model
    from distilpose.training.objectives import DistillObjective

    torch.set_num_threads(1)
    crop = torch.from_numpy(_astronaut_crop()[-1])
    teacher = build_teacher(TeacherConfig(name="movenet-thunder", token_adapter=True), token_grid=(8, 8))
    out = teacher(crop)
    assert teacher.has_tokens and out.vis_tokens.shape == (1, 64, 24) and out.kpt_tokens.shape == (1, 17, 24)
    # a keypoint token is the heatmap-weighted mean of the features: it lies within their range
    feats = out.vis_tokens
    assert float(out.kpt_tokens.max()) > 0.0 and float(out.kpt_tokens.min()) >= 0.0  # ReLU features
    assert float(out.vis_tokens.mean()) > 0.0 and torch.isfinite(feats).all()

    student = create_model("distilpose-mnv2")
    objective = DistillObjective(teacher, DistillLossConfig(vis_token=1.0, kpt_token=1.0), student)
    assert objective.adapter is not None and objective.adapter.vis.in_features == 128
    batch = {
        "image": crop,
        "target_coords": torch.full((1, 17, 2), 0.5),
        "target_weights": torch.ones(1, 17, 1),
    }
    terms = objective(student, batch)
    assert {"vis_token", "kpt_token"} <= set(terms)
    terms["total"].backward()
    assert objective.adapter.vis.weight.grad is not None and objective.adapter.vis.weight.grad.abs().sum() > 0


def test_token_adapter_is_only_for_zoo_teachers(tmp_path):
    with pytest.raises(ConfigError, match="teacher.token_adapter"):
        build_teacher(
            TeacherConfig(name="tokenpose-stemnet", weights=tmp_path / "x.safetensors", token_adapter=True)
        )
