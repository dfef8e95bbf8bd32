"""How alike two people are: box IoU and keypoint OKS, the one place each is computed.

COCO's object keypoint similarity (the keypoint benchmark's own formula and sigmas) scores AP in
:mod:`distilpose.evaluation`, suppresses duplicates (``oks_nms``), and tells the tracker, the pre-labeller, the
project's track edits and the live coverage whether two poses are one person; box IoU matches boxes in the
detection schedule, the tracker and the views. Pure numpy, no other project module but the keypoint schema.
"""

from __future__ import annotations

import numpy as np

from distilpose.keypoints import NUM_KEYPOINTS, OKS_SIGMAS

#: Fewer keypoints seen in both poses than this: too little pose to judge (:func:`shared_oks` says None).
MIN_COMMON = 3


def box_iou(a_xywh: np.ndarray, b_xywh: np.ndarray) -> np.ndarray:
    """(M, N) intersection over union between two sets of xywh boxes (one box may be given as (4,));
    0 where both boxes are empty."""
    a = np.asarray(a_xywh, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b_xywh, dtype=np.float64).reshape(-1, 4)
    ax1, ay1, ax2, ay2 = a[:, 0:1], a[:, 1:2], a[:, 0:1] + a[:, 2:3], a[:, 1:2] + a[:, 3:4]
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0, None)
    ih = np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0, None)
    inter = iw * ih
    union = a[:, 2:3] * a[:, 3:4] + b[:, 2] * b[:, 3] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def oks_exponent(a_xy: np.ndarray, b_xy: np.ndarray, area: float | np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """Per keypoint d^2 / (2 s^2 k^2) with s^2 the area and k = 2 sigma (COCO's ``e``; OKS averages exp(-e)).
    Broadcasts over leading axes (``oks_nms`` scores one pose against many)."""
    d2 = ((a_xy - b_xy) ** 2).sum(axis=-1)
    return d2 / (2.0 * sigmas) ** 2 / (area + np.spacing(1)) / 2.0


def oks(
    gt_kpts: np.ndarray,
    gt_area: float,
    dt_kpts: np.ndarray,
    sigmas: np.ndarray = OKS_SIGMAS,
    over: np.ndarray | None = None,
) -> float:
    """Object keypoint similarity of a prediction to a ground truth, averaged as COCO does over the GT's
    labelled (v > 0) keypoints, or over the keypoints ``over`` marks. 0.0 when there are none (COCO then
    falls back to its box)."""
    gt = np.asarray(gt_kpts, dtype=np.float64).reshape(NUM_KEYPOINTS, -1)
    dt = np.asarray(dt_kpts, dtype=np.float64).reshape(NUM_KEYPOINTS, -1)
    mask = gt[:, 2] > 0 if over is None else np.asarray(over, dtype=bool)
    if not mask.any():
        return 0.0
    e = oks_exponent(gt[:, :2], dt[:, :2], float(gt_area), np.asarray(sigmas, dtype=np.float64))
    return float(np.exp(-e[mask]).mean())


def shared_oks(a: np.ndarray, b: np.ndarray, area: float, min_common: int = MIN_COMMON) -> float | None:
    """OKS of two (K, 3) poses (third column > 0: the keypoint is usable) over the keypoints both have, at
    the scale ``area`` (pixels squared, at least 1); None when fewer than ``min_common`` are shared."""
    common = (np.asarray(a)[:, 2] > 0) & (np.asarray(b)[:, 2] > 0)
    if common.sum() < min_common:
        return None
    return oks(a, max(float(area), 1.0), b, over=common)
