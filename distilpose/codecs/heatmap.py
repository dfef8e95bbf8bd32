"""Gaussian heatmap targets (teacher training) and heatmap decoding (argmax + DARK), vectorised numpy.

Encoding is mmpose 0.x ``TopDownGenerateTarget(encoding='MSRA', unbiased_encoding=True)``: a full-map,
peak-1 Gaussian at the sub-pixel centre ``mu = x_crop / stride``. Decoding is mmpose 0.x
``keypoints_from_heatmaps(post_process='unbiased')``: integer argmax, then DARK (Zhang et al., CVPR 2020):
blur with a ``kernel``-tap Gaussian (sigma from OpenCV's rule, 2.0 for 11 taps) on a zero-padded map,
rescale to the original maximum, take the log and do one Newton step around the argmax.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np


def _as_numpy(array: Any) -> np.ndarray:
    """Accept numpy arrays or torch tensors (runtimes hand either) without importing torch here."""
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    return np.asarray(array)


def encode_heatmaps(
    keypoints_crop_px: np.ndarray,
    input_size_wh: Sequence[int] = (192, 256),
    heatmap_size_wh: Sequence[int] = (48, 64),
    sigma: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(K, 3)`` crop-pixel keypoints ``(x, y, v)`` -> ``(heatmaps (K, H, W) float32, weights (K,) float32)``.

    Weight is 1 when the keypoint is labelled (``v > 0``) and any part of its 3-sigma square touches the map
    (mmpose's in-crop rule: not ``mu − 3σ >= W/H`` and not ``mu + 3σ + 1 < 0``); maps of weight-0 joints
    are all zero.
    """
    kp = np.asarray(keypoints_crop_px, dtype=np.float64)
    if kp.ndim != 2 or kp.shape[1] != 3:
        raise ValueError(f"keypoints must have shape (K, 3) as (x, y, v), got {kp.shape}")
    hm_w, hm_h = int(heatmap_size_wh[0]), int(heatmap_size_wh[1])
    stride = np.asarray(input_size_wh, dtype=np.float64) / np.array([hm_w, hm_h], dtype=np.float64)
    mu = kp[:, :2] / stride
    reach = 3.0 * sigma
    outside = (
        (mu[:, 0] - reach >= hm_w)
        | (mu[:, 1] - reach >= hm_h)
        | (mu[:, 0] + reach + 1 < 0)
        | (mu[:, 1] + reach + 1 < 0)
    )
    weights = ((kp[:, 2] > 0) & ~outside).astype(np.float32)
    xs = np.arange(hm_w, dtype=np.float64)
    ys = np.arange(hm_h, dtype=np.float64)
    gx = np.exp(-((xs[None, :] - mu[:, 0:1]) ** 2) / (2.0 * sigma**2))  # (K, W)
    gy = np.exp(-((ys[None, :] - mu[:, 1:2]) ** 2) / (2.0 * sigma**2))  # (K, H)
    heatmaps = gy[:, :, None] * gx[:, None, :] * weights[:, None, None]
    return heatmaps.astype(np.float32), weights


def _argmax(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer argmax ``(B, 2)`` and max ``(B,)`` of ``(B, H, W)`` maps; mmpose sets coords to -1 if max <= 0."""
    b, _, w = heatmaps.shape
    flat = heatmaps.reshape(b, -1)
    idx = flat.argmax(axis=1)
    maxvals = flat[np.arange(b), idx]
    coords = np.stack([idx % w, idx // w], axis=1).astype(np.float64)
    coords[maxvals <= 0] = -1.0
    return coords, maxvals


def gaussian_blur_like_dark(heatmaps: np.ndarray, kernel: int = 11) -> np.ndarray:
    """DARK's blur of ``(B, H, W)`` maps: zero padding, ``kernel`` taps, then rescale to each map's max.

    Equals mmpose's float32 ``cv2.GaussianBlur`` on a map padded with ``(kernel-1)/2`` zeros (the padding is
    wide enough that OpenCV's own border rule never reaches the kept pixels). All maps go through ONE OpenCV
    call: each zero-padded map is stacked into a tall image, so the kernel never reaches a neighbour map.
    """
    if kernel < 3 or kernel % 2 == 0:
        raise ValueError(f"DARK kernel must be an odd size >= 3, got {kernel}")
    hm = np.asarray(heatmaps, dtype=np.float32)
    b, h, w = hm.shape
    border = (kernel - 1) // 2
    padded = np.zeros((b, h + 2 * border, w + 2 * border), dtype=np.float32)
    padded[:, border : border + h, border : border + w] = hm
    taps = cv2.getGaussianKernel(kernel, 0, ktype=cv2.CV_32F)
    tall = padded.reshape(b * (h + 2 * border), w + 2 * border)
    blurred = cv2.sepFilter2D(tall, -1, taps, taps, borderType=cv2.BORDER_CONSTANT)
    blurred = blurred.reshape(padded.shape)[:, border : border + h, border : border + w].astype(np.float64)
    origin_max = hm.reshape(b, -1).max(axis=1).astype(np.float64)
    new_max = blurred.reshape(b, -1).max(axis=1)
    ratio = np.divide(origin_max, new_max, out=np.ones_like(origin_max), where=new_max != 0)
    return blurred * ratio[:, None, None]


def _dark_refine(heatmaps: np.ndarray, coords: np.ndarray, kernel: int) -> np.ndarray:
    """One Newton step on the log of the blurred map at each integer ``coords`` (mmpose ``_taylor``)."""
    b, h, w = heatmaps.shape
    if h < 5 or w < 5:  # the 5x5 stencil does not fit
        return coords.copy()
    blurred = gaussian_blur_like_dark(heatmaps, kernel)
    px = coords[:, 0].astype(np.int64)
    py = coords[:, 1].astype(np.int64)
    inside = (px > 1) & (px < w - 2) & (py > 1) & (py < h - 2)
    pxc = np.clip(px, 2, w - 3)
    pyc = np.clip(py, 2, h - 3)
    n = np.arange(b)

    def at(dy: int, dx: int) -> np.ndarray:  # log only the stencil points, not whole maps
        return np.log(np.maximum(blurred[n, pyc + dy, pxc + dx], 1e-10))

    dx = 0.5 * (at(0, 1) - at(0, -1))
    dy = 0.5 * (at(1, 0) - at(-1, 0))
    dxx = 0.25 * (at(0, 2) - 2 * at(0, 0) + at(0, -2))
    dyy = 0.25 * (at(2, 0) - 2 * at(0, 0) + at(-2, 0))
    dxy = 0.25 * (at(1, 1) - at(-1, 1) - at(1, -1) + at(-1, -1))
    det = dxx * dyy - dxy**2
    ok = inside & (det != 0)
    safe_det = np.where(ok, det, 1.0)
    off_x = -(dyy * dx - dxy * dy) / safe_det
    off_y = -(dxx * dy - dxy * dx) / safe_det
    out = coords.copy()
    out[ok, 0] += off_x[ok]
    out[ok, 1] += off_y[ok]
    return out


def _check_maps(heatmaps: Any) -> np.ndarray:
    hm = _as_numpy(heatmaps)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must have shape (N, K, H, W), got {hm.shape}")
    return hm


def decode_heatmaps(heatmaps: Any, dark: bool = True, kernel: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """``(N, K, H, W)`` heatmaps -> ``(coords_hm (N, K, 2) as x, y in heatmap pixels, maxvals (N, K))``.

    As mmpose 0.x: keypoints whose maximum is <= 0 get coords -1 (and no refinement); ``maxvals`` are the
    raw (unblurred) maxima. Back-project with ``crops_to_images(..., output_size_wh=heatmap size)``.
    """
    hm = _check_maps(heatmaps)
    n, k, h, w = hm.shape
    flat = hm.reshape(n * k, h, w)
    coords, maxvals = _argmax(flat)
    if dark:
        coords = _dark_refine(flat, coords, kernel)
    return coords.reshape(n, k, 2), maxvals.reshape(n, k)


def decode_heatmaps_around(
    heatmaps: Any,
    guess_hm: Any,
    radius: float,
    dark: bool = True,
    kernel: int = 11,
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`decode_heatmaps`, but each argmax only looks within ``radius`` heatmap px of a guess.

    For multi-person heatmaps (MoveNet) that respond to every person in the crop: the guess (e.g. the
    regressed keypoint, ``(N, K, 2)`` in heatmap px) picks which peak belongs to this person. A window is
    the pixels with ``|x − gx| <= radius`` and ``|y − gy| <= radius``; guesses outside the map are clamped
    into it so the window is never empty.
    """
    hm = _check_maps(heatmaps)
    n, k, h, w = hm.shape
    guess = _as_numpy(guess_hm).astype(np.float64)
    if guess.shape != (n, k, 2):
        raise ValueError(f"guess must have shape {(n, k, 2)} to match the heatmaps, got {guess.shape}")
    if not np.isfinite(guess).all():
        raise ValueError("guess contains NaN or infinite coordinates")
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    gx = np.clip(guess[..., 0], 0, w - 1).reshape(-1, 1, 1)
    gy = np.clip(guess[..., 1], 0, h - 1).reshape(-1, 1, 1)
    xs = np.arange(w, dtype=np.float64)[None, None, :]
    ys = np.arange(h, dtype=np.float64)[None, :, None]
    window = (np.abs(xs - gx) <= radius) & (np.abs(ys - gy) <= radius)
    window |= (np.abs(xs - np.round(gx)) < 0.5) & (np.abs(ys - np.round(gy)) < 0.5)  # never empty
    flat = hm.reshape(n * k, h, w)
    masked = np.where(window, flat, -np.inf)
    coords, maxvals = _argmax(masked)
    if dark:
        coords = _dark_refine(flat, coords, kernel)
    return coords.reshape(n, k, 2), maxvals.reshape(n, k)
