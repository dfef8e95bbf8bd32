"""Regression targets for students: crop-pixel keypoints <-> coordinates normalised to the input size.

mmpose 0.x ``TopDownGenerateTargetRegression``: ``target = (x, y) / (W, H)`` of the crop pixel coordinates
(pixel centres at integers, no half-pixel shift); a keypoint counts only when labelled and inside the crop
``[0, W−1] x [0, H−1]``. Decoding is the plain inverse, ``x_px = x · W``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def encode_regression(
    keypoints_crop_px: np.ndarray, input_size_wh: Sequence[int] = (192, 256)
) -> tuple[np.ndarray, np.ndarray]:
    """``(K, 3)`` crop-pixel keypoints ``(x, y, v)`` -> ``(coords (K, 2) float32, weights (K,) float32)``."""
    kp = np.asarray(keypoints_crop_px, dtype=np.float64)
    if kp.ndim != 2 or kp.shape[1] != 3:
        raise ValueError(f"keypoints must have shape (K, 3) as (x, y, v), got {kp.shape}")
    w, h = float(input_size_wh[0]), float(input_size_wh[1])
    x, y = kp[:, 0], kp[:, 1]
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    weights = ((kp[:, 2] > 0) & inside).astype(np.float32)
    coords = (kp[:, :2] / np.array([w, h])).astype(np.float32)
    return coords, weights


def decode_regression(coords_norm: Any, input_size_wh: Sequence[int] = (192, 256)) -> Any:
    """``(..., 2)`` normalised coords (numpy or torch) -> crop pixels ``(x·W, y·H)``."""
    if coords_norm.shape[-1] != 2:
        raise ValueError(f"coords must have a last axis of 2 (x, y), got shape {tuple(coords_norm.shape)}")
    scale = np.asarray(input_size_wh, dtype=np.float64)
    if hasattr(coords_norm, "detach"):
        import torch

        return coords_norm * torch.as_tensor(scale, dtype=coords_norm.dtype, device=coords_norm.device)
    return np.asarray(coords_norm, dtype=np.float64) * scale
