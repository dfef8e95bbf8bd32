"""MoveNet / CenterNet wrapper geometry, checked by hand without the real models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distilpose.errors import DistilPoseError, MediaError
from distilpose.zoo.centernet import CenterNet, InputTransform, letterbox, person_boxes, stretch
from distilpose.zoo.movenet import MoveNet, crop_to_image
from distilpose.zoo.tfjs import load_tfjs
from tests.unit.test_tfjs_ops import node, placeholder, write_model


def test_person_boxes_keep_confident_people_in_image_pixels():
    det = np.array(
        [
            [100, 50, 300, 450, 0.9, 0],
            [10, 10, 20, 20, 0.95, 3],  # not a person
            [0, 0, 100, 100, 0.2, 0],  # below the threshold
            [400, 100, 520, 300, 0.5, 0],  # crosses the right edge
            [600, 10, 700, 20, 0.6, 0],  # entirely outside the image once clipped
        ],
        np.float32,
    )[None]
    transform = InputTransform(512 / 640, 512 / 480)  # a 640x480 image stretched to 512x512
    boxes = person_boxes(torch.from_numpy(det), transform, image_size=(640, 480), min_score=0.3)
    np.testing.assert_allclose(
        boxes, [[125, 46.875, 375, 421.875, 0.9], [500, 93.75, 640, 281.25, 0.5]], rtol=1e-6, atol=1e-4
    )


def test_letterbox_and_stretch_transforms():
    image = np.full((480, 640, 3), 200, np.uint8)
    boxed, transform = letterbox(image)
    assert boxed.shape == (512, 512, 3) and boxed.dtype == np.float32
    assert transform == InputTransform(0.8, 0.8, 0.0, 64.0)  # 640x480 -> 512x384, centred vertically
    assert boxed[:64].max() == 0 and boxed[448:].max() == 0 and boxed[64:448].min() == 200
    np.testing.assert_allclose(transform.boxes_to_image(np.array([[0, 64, 512, 448]])), [[0, 0, 640, 480]])
    stretched, transform = stretch(image)
    assert stretched.shape == (512, 512, 3) and transform == InputTransform(0.8, 512 / 480)
    with pytest.raises(MediaError, match=r"expected an RGB image of shape \(H, W, 3\), got \(4, 4\)"):
        letterbox(np.zeros((4, 4)))


def test_crop_to_image():
    kp = np.tile([0.5, 0.25, 0.9], (2, 17, 1))
    out = crop_to_image(kp, np.array([[10, 20, 100, 200], [0, 0, 8, 8]]))
    np.testing.assert_allclose(out[0, 3], [60, 70, 0.9])
    np.testing.assert_allclose(out[1, 0], [4, 2, 0.9])


def test_wrappers_refuse_other_graphs(tmp_path):
    graph = load_tfjs(write_model(tmp_path, [placeholder(), node("y", "Sigmoid", ["x"])]))
    with pytest.raises(DistilPoseError, match="not a MoveNet single-pose graph"):
        MoveNet(graph, 192)
    with pytest.raises(DistilPoseError, match="not the CenterNet detector graph"):
        CenterNet(graph)
