"""Snap-to-peak: move a joint to the heatmap maximum nearest the cursor (heatmap-assisted correction).

A teacher's heatmap often has several modes (left/right confusion, a second person); the annotator points near
the right one and the joint lands on its peak. Pure numpy, so it is tested on synthetic heatmaps.
"""

from __future__ import annotations

import numpy as np

from distilpose.inference.predictor import CropGeometry

#: Local maxima below this fraction of the heatmap's maximum are noise, not candidates.
MIN_PEAK_RATIO = 0.1


def image_to_heatmap(points_xy: np.ndarray, crop: CropGeometry) -> np.ndarray:
    """Image pixels -> heatmap pixels of ``crop`` (the inverse of the predictor's back-projection)."""
    pts = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    size = np.asarray(crop.scale, dtype=np.float64) * 200.0
    origin = np.asarray(crop.center, dtype=np.float64) - size / 2
    return (pts - origin) * np.asarray(crop.heatmap_size_wh, dtype=np.float64) / size


def heatmap_to_image(points_hm: np.ndarray, crop: CropGeometry) -> np.ndarray:
    """Heatmap pixels -> image pixels, as the predictor back-projects a decoded peak."""
    pts = np.asarray(points_hm, dtype=np.float64).reshape(-1, 2)
    size = np.asarray(crop.scale, dtype=np.float64) * 200.0
    origin = np.asarray(crop.center, dtype=np.float64) - size / 2
    return origin + pts * size / np.asarray(crop.heatmap_size_wh, dtype=np.float64)


def heatmap_peaks(heatmap: np.ndarray, min_ratio: float = MIN_PEAK_RATIO) -> np.ndarray:
    """Local maxima of a 2-D heatmap as (N, 3) rows of x, y (heatmap pixels, sub-pixel) and value, highest
    first. A peak is >= its 8 neighbours and >= ``min_ratio`` of the maximum; the position is refined by a
    parabola through the peak and its two neighbours on each axis."""
    h = np.asarray(heatmap, dtype=np.float64)
    if h.ndim != 2 or h.size == 0:
        raise ValueError(f"a heatmap must be a non-empty 2-D array, got shape {h.shape}")
    top = float(h.max())
    if not np.isfinite(top) or top <= 0:
        return np.zeros((0, 3))
    padded = np.pad(h, 1, constant_values=-np.inf)
    rows, cols = h.shape
    is_peak = h >= min_ratio * top
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dx or dy:
                is_peak &= h >= padded[1 + dy : 1 + dy + rows, 1 + dx : 1 + dx + cols]
    peaks = []
    for y, x in zip(*np.nonzero(is_peak), strict=True):
        peaks.append((x + _offset(h, y, x, 0, 1), y + _offset(h, y, x, 1, 0), h[y, x]))
    out = np.array(peaks, dtype=np.float64).reshape(-1, 3)
    return out[np.argsort(-out[:, 2], kind="stable")]


def _offset(h: np.ndarray, y: int, x: int, dy: int, dx: int) -> float:
    """Sub-pixel offset of the vertex of the parabola through three samples along one axis (|offset| <= 0.5)."""
    y0, x0, y1, x1 = y - dy, x - dx, y + dy, x + dx
    if not (y0 >= 0 and x0 >= 0 and y1 < h.shape[0] and x1 < h.shape[1]):
        return 0.0
    a, b, c = h[y0, x0], h[y, x], h[y1, x1]
    curvature = a - 2 * b + c
    if curvature >= 0:  # flat or not a maximum along this axis
        return 0.0
    return float(np.clip(0.5 * (a - c) / curvature, -0.5, 0.5))


def nearest_peak(
    heatmap: np.ndarray, crop: CropGeometry, cursor_xy: tuple[float, float]
) -> tuple[float, float] | None:
    """The image position of the heatmap peak nearest ``cursor_xy`` (image pixels), or None without peaks."""
    peaks = heatmap_peaks(heatmap)
    if len(peaks) == 0:
        return None
    in_image = heatmap_to_image(peaks[:, :2], crop)
    distances = np.linalg.norm(in_image - np.asarray(cursor_xy, dtype=np.float64), axis=1)
    x, y = in_image[int(np.argmin(distances))]
    return float(x), float(y)
