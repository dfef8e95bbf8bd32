"""Top-down augmentation as small composable steps (mmpose 0.x TopDown* semantics, own code).

Each step is ``step(sample, rng) -> sample`` and draws its randomness only from the ``rng`` it is given (a
``numpy.random.Generator`` seeded per sample), so a sample is reproducible from (seed, epoch, index) whatever
worker loads it. Keypoints are ``(K, 3)`` ``(x, y, v)`` with COCO visibility; unlabelled ones (``v == 0``)
keep coordinates ``(0, 0)`` as in mmpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from distilpose.codecs import HEATMAP_SIZE_WH, INPUT_SIZE_WH
from distilpose.codecs.affine import affine_points, get_affine_transform
from distilpose.codecs.heatmap import encode_heatmaps
from distilpose.codecs.regression import encode_regression
from distilpose.data.normalize import normalize_image
from distilpose.keypoints import UPPER_BODY, flip_permutation



@dataclass
class Sample:
    """One person instance travelling through the pipeline."""

    image: np.ndarray  # RGB uint8 (H, W, 3); after AffineCrop the crop; after Normalize float32 (3, H, W)
    keypoints: np.ndarray  # (K, 3) x, y, v in the current frame (image pixels, then crop pixels)
    center: np.ndarray  # (2,) box centre in image pixels
    scale: np.ndarray  # (2,) box size / 200
    rotation: float = 0.0  # degrees, as get_affine_transform takes it
    flipped: bool = False
    cropped: bool = False
    image_size_wh: tuple[int, int] = (0, 0)  # of the full image, so a flipped frame can be mapped back
    targets: dict[str, np.ndarray] = field(default_factory=dict)


class Transform(Protocol):
    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample: ...


def _zero_unlabelled(keypoints: np.ndarray) -> np.ndarray:
    kp = keypoints.copy()
    kp[kp[:, 2] <= 0, :2] = 0.0
    return kp


@dataclass
class Compose:
    """Run steps in order."""

    steps: Sequence[Transform]

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        for step in self.steps:
            sample = step(sample, rng)
        return sample


@dataclass
class RandomFlip:
    """Mirror the whole image with probability ``prob``: ``x -> img_w − 1 − x``, left/right swapped, centre too."""

    prob: float = 0.5

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        if sample.cropped:
            raise RuntimeError("RandomFlip must run before AffineCrop")
        if not rng.random() < self.prob:
            return sample
        width = sample.image.shape[1]
        kp = sample.keypoints[flip_permutation()].copy()
        kp[:, 0] = width - 1 - kp[:, 0]
        center = sample.center.copy()
        center[0] = width - 1 - center[0]
        sample.image = np.ascontiguousarray(sample.image[:, ::-1])
        sample.keypoints = _zero_unlabelled(kp)
        sample.center = center
        sample.flipped = not sample.flipped
        return sample


@dataclass
class HalfBody:
    """With probability ``prob`` (if more than ``min_joints`` are labelled) re-centre the box on half the body.

    Upper half = keypoints 0-10. mmpose picks the upper half when ``randn() < 0.5`` (so ~69 % of the time,
    not 50 %); ``randn_quirk=False`` uses a fair coin instead. A half needs more than 2 labelled joints, else
    the other half is tried; the new box is the halves' extent, aspect-fixed, times ``padding`` (1.5).
    """

    prob: float = 0.3
    min_joints: int = 8
    padding: float = 1.5
    randn_quirk: bool = True
    aspect_ratio: float = INPUT_SIZE_WH[0] / INPUT_SIZE_WH[1]

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        labelled = sample.keypoints[:, 2] > 0
        if not (labelled.sum() > self.min_joints and rng.random() < self.prob):
            return sample
        is_upper = np.zeros(len(labelled), dtype=bool)
        is_upper[list(UPPER_BODY)] = True
        upper = sample.keypoints[labelled & is_upper, :2]
        lower = sample.keypoints[labelled & ~is_upper, :2]
        pick_upper = rng.standard_normal() < 0.5 if self.randn_quirk else rng.random() < 0.5
        if pick_upper and len(upper) > 2:
            chosen = upper
        elif len(lower) > 2:
            chosen = lower
        else:
            chosen = upper
        if len(chosen) < 2:
            return sample
        center = chosen.mean(axis=0)
        w, h = chosen.max(axis=0) - chosen.min(axis=0)
        if w > self.aspect_ratio * h:
            h = w / self.aspect_ratio
        elif w < self.aspect_ratio * h:
            w = h * self.aspect_ratio
        sample.center = center
        sample.scale = np.array([w / 200.0, h / 200.0]) * self.padding
        return sample


@dataclass
class RandomScaleRotation:
    """``scale *= clip(N(0,1)·sf + 1, 1−sf, 1+sf)``; ``rot = clip(N(0,1)·rf, −2rf, 2rf)`` with prob ``rot_prob``.

    Students: ``rot_factor=45, scale_factor=0.35``; the teacher recipe: 40 / 0.5.
    """

    rot_factor: float = 45.0
    scale_factor: float = 0.35
    rot_prob: float = 0.6

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        sf, rf = self.scale_factor, self.rot_factor
        s_factor = float(np.clip(rng.standard_normal() * sf + 1.0, 1.0 - sf, 1.0 + sf))
        r_factor = float(np.clip(rng.standard_normal() * rf, -2.0 * rf, 2.0 * rf))
        sample.scale = sample.scale * s_factor
        sample.rotation = r_factor if rng.random() < self.rot_prob else 0.0
        return sample


@dataclass
class AffineCrop:
    """Warp the box to the model input (bilinear) and move labelled keypoints with it."""

    output_size_wh: tuple[int, int] = INPUT_SIZE_WH

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        mat = get_affine_transform(sample.center, sample.scale, sample.rotation, self.output_size_wh)
        size = (int(self.output_size_wh[0]), int(self.output_size_wh[1]))
        sample.image = cv2.warpAffine(sample.image, mat, size, flags=cv2.INTER_LINEAR)
        kp = sample.keypoints.copy()
        labelled = kp[:, 2] > 0
        kp[labelled, :2] = affine_points(kp[labelled, :2], mat)
        sample.keypoints = _zero_unlabelled(kp)
        sample.cropped = True
        return sample


@dataclass
class RegressionTargets:
    """``targets['coords']`` (K, 2) normalised and ``targets['coord_weights']`` (K,) (labelled and in-crop)."""

    input_size_wh: tuple[int, int] = INPUT_SIZE_WH

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        if not sample.cropped:
            raise RuntimeError("RegressionTargets must run after AffineCrop")
        coords, weights = encode_regression(sample.keypoints, self.input_size_wh)
        sample.targets["coords"] = coords
        sample.targets["coord_weights"] = weights
        return sample


@dataclass
class HeatmapTargets:
    """``targets['heatmaps']`` (K, H, W) unbiased Gaussians and ``targets['heatmap_weights']`` (K,)."""

    input_size_wh: tuple[int, int] = INPUT_SIZE_WH
    heatmap_size_wh: tuple[int, int] = HEATMAP_SIZE_WH
    sigma: float = 2.0

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        if not sample.cropped:
            raise RuntimeError("HeatmapTargets must run after AffineCrop")
        heatmaps, weights = encode_heatmaps(
            sample.keypoints, self.input_size_wh, self.heatmap_size_wh, self.sigma
        )
        sample.targets["heatmaps"] = heatmaps
        sample.targets["heatmap_weights"] = weights
        return sample


@dataclass
class Normalize:
    """RGB uint8 crop -> ImageNet-normalised float32 CHW (:func:`distilpose.data.normalize.normalize_image`)."""

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        if not sample.cropped:
            raise RuntimeError("Normalize must run after AffineCrop")
        sample.image = normalize_image(sample.image)
        return sample


def train_pipeline(
    recipe: str = "student",
    heatmaps: bool | None = None,
    half_body_randn_quirk: bool = True,
    **overrides: Any,
) -> Compose:
    """The official training augmentation: flip 0.5 -> half-body 0.3 -> scale/rotation -> crop -> targets.

    ``recipe="student"`` (rot 45, scale 0.35, regression targets) or ``"teacher"`` (rot 40, scale 0.5, also
    heatmap targets). ``overrides`` may set ``flip_prob``, ``half_body_prob``, ``rot_factor``,
    ``scale_factor``, ``rot_prob``.
    """
    presets = {"student": (45.0, 0.35, False), "teacher": (40.0, 0.5, True)}
    if recipe not in presets:
        raise ValueError(f"unknown augmentation recipe {recipe!r}; expected one of {sorted(presets)}")
    rot_factor, scale_factor, want_heatmaps = presets[recipe]
    known = {"flip_prob", "half_body_prob", "rot_factor", "scale_factor", "rot_prob"}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(
            f"unknown augmentation option(s) {sorted(unknown)}; expected some of {sorted(known)}"
        )
    steps: list[Transform] = [
        RandomFlip(overrides.get("flip_prob", 0.5)),
        HalfBody(overrides.get("half_body_prob", 0.3), randn_quirk=half_body_randn_quirk),
        RandomScaleRotation(
            overrides.get("rot_factor", rot_factor),
            overrides.get("scale_factor", scale_factor),
            overrides.get("rot_prob", 0.6),
        ),
        AffineCrop(),
        RegressionTargets(),
    ]
    if want_heatmaps if heatmaps is None else heatmaps:
        steps.append(HeatmapTargets())
    steps.append(Normalize())
    return Compose(steps)


def eval_pipeline(heatmaps: bool = False) -> Compose:
    """No augmentation: crop, targets (useful for validation losses), normalise."""
    steps: list[Transform] = [AffineCrop(), RegressionTargets()]
    if heatmaps:
        steps.append(HeatmapTargets())
    steps.append(Normalize())
    return Compose(steps)
