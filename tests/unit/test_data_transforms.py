"""Augmentation steps and input normalisation on synthetic samples (no shared data needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distilpose.codecs import crop_to_image
from distilpose.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AffineCrop,
    HalfBody,
    RandomFlip,
    RandomScaleRotation,
    RegressionTargets,
    Sample,
    denormalize_image,
    normalize_image,
    train_pipeline,
)
from distilpose.keypoints import NUM_KEYPOINTS


class ScriptedRng:
    """Stands in for numpy's Generator: returns scripted draws so each branch can be hand-checked."""

    def __init__(self, uniform=(), normal=()):
        self.uniform = list(uniform)
        self.normal = list(normal)

    def random(self):
        return self.uniform.pop(0)

    def standard_normal(self):
        return self.normal.pop(0)


def _sample(width=100, height=80, keypoints=None):
    image = np.arange(height * width * 3, dtype=np.uint32).reshape(height, width, 3).astype(np.uint8)
    kp = np.zeros((NUM_KEYPOINTS, 3)) if keypoints is None else keypoints
    return Sample(image=image, keypoints=kp, center=np.array([40.0, 50.0]), scale=np.array([0.3, 0.4]))


def test_normalize_hand_values_and_round_trip():
    img = np.array([[[255, 0, 124]]], dtype=np.uint8)
    out = normalize_image(img)
    assert out.shape == (3, 1, 1) and out.dtype == np.float32
    expected = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (124 / 255 - 0.406) / 0.225]
    np.testing.assert_allclose(out[:, 0, 0], expected, rtol=1e-6)
    batch = np.random.default_rng(0).integers(0, 256, size=(2, 5, 4, 3), dtype=np.uint8)
    norm = normalize_image(batch)
    assert norm.shape == (2, 3, 5, 4)
    np.testing.assert_array_equal(denormalize_image(norm), batch)
    np.testing.assert_allclose(normalize_image(torch.from_numpy(batch)).numpy(), norm, rtol=1e-6)
    np.testing.assert_array_equal(denormalize_image(torch.from_numpy(norm)), batch)
    assert IMAGENET_MEAN.tolist() == pytest.approx([0.485, 0.456, 0.406])
    assert IMAGENET_STD.tolist() == pytest.approx([0.229, 0.224, 0.225])
    with pytest.raises(ValueError, match=r"RGB \(H, W, 3\)"):
        normalize_image(np.zeros((3, 4, 4), np.uint8))


def test_random_flip_hand_values():
    kp = np.zeros((NUM_KEYPOINTS, 3))
    kp[1] = [10, 20, 2]  # left eye
    kp[2] = [30, 25, 1]  # right eye
    kp[0] = [50, 5, 2]  # nose
    s = _sample(keypoints=kp)
    original = s.image.copy()
    out = RandomFlip(prob=0.5)(s, ScriptedRng(uniform=[0.2]))
    assert out.flipped
    np.testing.assert_array_equal(out.keypoints[1], [99 - 30, 25, 1])  # left <- mirrored right
    np.testing.assert_array_equal(out.keypoints[2], [99 - 10, 20, 2])
    np.testing.assert_array_equal(out.keypoints[0], [49, 5, 2])
    np.testing.assert_array_equal(out.keypoints[3], [0, 0, 0])  # unlabelled stays at the origin
    np.testing.assert_array_equal(out.center, [99 - 40, 50])
    np.testing.assert_array_equal(out.image, original[:, ::-1])
    kept = RandomFlip(prob=0.5)(_sample(keypoints=kp), ScriptedRng(uniform=[0.7]))
    assert not kept.flipped and kept.keypoints[1, 0] == 10


def _half_body_keypoints():
    kp = np.zeros((NUM_KEYPOINTS, 3))
    for i in range(11):  # upper body: x 10..20, y 20..40 -> mean (15, 30), extent 10 x 20
        kp[i] = [10 + i, 20 + 2 * i, 2]
    for j, i in enumerate(range(11, 17)):  # lower body: x 50, y 100..150 -> mean (50, 125), extent 0 x 50
        kp[i] = [50, 100 + 10 * j, 2]
    return kp


def test_half_body_picks_upper_with_the_randn_quirk():
    # prob draw 0.1 < 0.3; randn 0.4 < 0.5 -> upper; w 10 < 0.75*20 -> w = 15; scale = [15, 20]/200*1.5
    out = HalfBody()(_sample(keypoints=_half_body_keypoints()), ScriptedRng(uniform=[0.1], normal=[0.4]))
    np.testing.assert_allclose(out.center, [15, 30])
    np.testing.assert_allclose(out.scale, [0.1125, 0.15])
    # randn 0.7 -> lower: w 0 -> 37.5; scale = [37.5, 50]/200*1.5
    out = HalfBody()(_sample(keypoints=_half_body_keypoints()), ScriptedRng(uniform=[0.1], normal=[0.7]))
    np.testing.assert_allclose(out.center, [50, 125])
    np.testing.assert_allclose(out.scale, [0.28125, 0.375])
    # probability draw 0.5 >= 0.3: untouched
    out = HalfBody()(_sample(keypoints=_half_body_keypoints()), ScriptedRng(uniform=[0.5]))
    np.testing.assert_allclose(out.center, [40, 50])


def test_half_body_needs_more_than_min_joints():
    kp = _half_body_keypoints()
    kp[3:, 2] = 0  # only 3 labelled
    out = HalfBody()(_sample(keypoints=kp), ScriptedRng(uniform=[0.0], normal=[0.0]))
    np.testing.assert_allclose(out.center, [40, 50])


@pytest.mark.parametrize(("quirk", "expected"), [(True, 0.6915), (False, 0.5)])
def test_half_body_upper_share(quirk, expected):
    rng = np.random.default_rng(5)
    step = HalfBody(prob=1.0, randn_quirk=quirk)
    picks = [step(_sample(keypoints=_half_body_keypoints()), rng).center[1] == 30 for _ in range(4000)]
    assert np.mean(picks) == pytest.approx(expected, abs=0.03)


def test_scale_rotation_hand_values_and_clips():
    s = RandomScaleRotation()(_sample(), ScriptedRng(normal=[1.0, 3.0], uniform=[0.5]))
    np.testing.assert_allclose(s.scale, np.array([0.3, 0.4]) * 1.35)  # 1*0.35 + 1, at the clip
    assert s.rotation == 90.0  # 3*45 = 135 clipped to 2*45
    s = RandomScaleRotation()(_sample(), ScriptedRng(normal=[-0.5, 0.2], uniform=[0.7]))
    np.testing.assert_allclose(s.scale, np.array([0.3, 0.4]) * 0.825)
    assert s.rotation == 0.0  # 0.7 >= rot_prob 0.6
    s = RandomScaleRotation(40, 0.5)(_sample(), ScriptedRng(normal=[-3.0, 0.5], uniform=[0.1]))
    np.testing.assert_allclose(s.scale, np.array([0.3, 0.4]) * 0.5)  # teacher recipe clip 1 - 0.5
    assert s.rotation == 20.0


def test_affine_crop_moves_labelled_keypoints_and_targets_mark_out_of_crop():
    kp = np.zeros((NUM_KEYPOINTS, 3))
    kp[0] = [40, 50, 2]  # the box centre -> crop centre (96, 128)
    kp[1] = [0, 0, 2]  # far outside the 60x80 px box
    kp[2] = [45, 55, 0]  # unlabelled
    s = _sample(keypoints=kp)
    s = AffineCrop()(s, None)
    s = RegressionTargets()(s, None)
    assert s.image.shape == (256, 192, 3)
    np.testing.assert_allclose(s.keypoints[0, :2], [96, 128], atol=1e-9)
    np.testing.assert_array_equal(s.keypoints[2], [0, 0, 0])
    np.testing.assert_allclose(s.targets["coords"][0], [0.5, 0.5])
    assert s.targets["coord_weights"][:3].tolist() == [1.0, 0.0, 0.0]
    back = crop_to_image(s.keypoints[:2, :2], s.center, s.scale, (192, 256))
    np.testing.assert_allclose(back, kp[:2, :2], atol=1e-9)


def test_pipeline_is_reproducible_per_seed():
    kp = _half_body_keypoints()
    pipe = train_pipeline("teacher")

    def run(seed):
        return pipe(_sample(keypoints=kp.copy()), np.random.default_rng(seed))

    a, b, c = run(7), run(7), run(8)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.targets["coords"], b.targets["coords"])
    np.testing.assert_array_equal(a.targets["heatmaps"], b.targets["heatmaps"])
    assert a.image.shape == (3, 256, 192) and a.targets["heatmaps"].shape == (17, 64, 48)
    assert not (np.array_equal(a.image, c.image) and a.rotation == c.rotation)


def test_train_pipeline_options():
    with pytest.raises(ValueError, match="unknown augmentation recipe"):
        train_pipeline("giant")
    with pytest.raises(ValueError, match="unknown augmentation option"):
        train_pipeline(rot=3)
    student = train_pipeline()
    assert "heatmaps" not in student(_sample(), np.random.default_rng(0)).targets
    with pytest.raises(RuntimeError, match="before AffineCrop"):
        RandomFlip(1.0)(AffineCrop()(_sample(), None), np.random.default_rng(0))
