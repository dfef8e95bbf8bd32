"""Temporal smoothing of per-frame keypoints: the One-Euro filter and the track ids it needs.

Per-frame predictions jitter (mmpose #3257). The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) is a
low-pass filter whose cutoff rises with speed: still joints are smoothed hard, fast ones follow with little lag.
Filtering is per person, so instances are first given track ids by matching boxes to the previous frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from distilpose.types import Instance


def smoothing_factor(cutoff_hz: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Exponential smoothing factor of a first-order low-pass filter with this cutoff, for a step ``dt``."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter over arrays of any fixed shape (e.g. (17, 2) keypoint coordinates).

    ``min_cutoff`` (Hz) sets smoothing at rest (lower: smoother), ``beta`` how fast the cutoff grows with
    speed (higher: less lag), ``d_cutoff`` (Hz) the smoothing of the speed estimate.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("min_cutoff and d_cutoff must be > 0 and beta >= 0")
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter sample ``x`` taken at time ``t`` (seconds); a first sample, or time not moving forward,
        restarts the filter (a seek in a video)."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or t <= self._t or x.shape != self._x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        dx = (x - self._x) / dt
        a_d = smoothing_factor(self.d_cutoff, dt)
        dx_hat = a_d * dx + (1.0 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
        a = smoothing_factor(cutoff, dt)
        x_hat = a * x + (1.0 - a) * self._x
        self._x, self._dx, self._t = x_hat, dx_hat, t
        return x_hat.copy()


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of (N, 4) and (M, 4) xywh boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax0, ay0, ax1, ay1 = a[:, 0], a[:, 1], a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx0, by0, bx1, by1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax1[:, None], bx1[None]) - np.maximum(ax0[:, None], bx0[None]), 0, None)
    ih = np.clip(np.minimum(ay1[:, None], by1[None]) - np.maximum(ay0[:, None], by0[None]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


@dataclass
class _Track:
    box: np.ndarray
    age: int = 0  # frames since last matched


@dataclass
class IouTracker:
    """Greedy IoU matching of each frame's boxes to the previous frame's: stable ids for smoothing and export.

    A track unmatched for more than ``max_age`` frames is forgotten; new people get fresh ids.
    """

    min_iou: float = 0.3
    max_age: int = 5
    _tracks: dict[int, _Track] = field(default_factory=dict)
    _next_id: int = 1

    def reset(self) -> None:
        self._tracks.clear()
        self._next_id = 1

    def assign(self, boxes: np.ndarray) -> list[int]:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        ids = list(self._tracks)
        ious = (
            box_iou(boxes, np.array([self._tracks[i].box for i in ids])) if ids else np.zeros((len(boxes), 0))
        )
        out = [-1] * len(boxes)
        taken: set[int] = set()
        for flat in np.argsort(-ious, axis=None):
            r, c = divmod(int(flat), max(len(ids), 1))
            if not ids or ious[r, c] < self.min_iou:
                break
            if out[r] != -1 or ids[c] in taken:
                continue
            out[r] = ids[c]
            taken.add(ids[c])
        for r in range(len(boxes)):
            if out[r] == -1:
                out[r] = self._next_id
                self._next_id += 1
        for tid in list(self._tracks):
            if tid not in taken:
                self._tracks[tid].age += 1
                if self._tracks[tid].age > self.max_age:
                    del self._tracks[tid]
        for r, tid in enumerate(out):
            self._tracks[tid] = _Track(boxes[r].copy())
        return out


@dataclass
class KeypointSmoother:
    """One-Euro smoothing of every person's keypoint coordinates, keyed by track id.

    Scores, sigmas and boxes pass through unchanged; instances come back as new objects with ``track_id`` set.
    """

    min_cutoff: float = 1.0
    beta: float = 0.01  # for pixel coordinates: cuts 2 px jitter by ~3x, lags a 300 px/s motion by ~8 px
    d_cutoff: float = 1.0
    tracker: IouTracker = field(default_factory=IouTracker)
    _filters: dict[int, OneEuroFilter] = field(default_factory=dict)

    def reset(self) -> None:
        self._filters.clear()
        self.tracker.reset()

    def __call__(self, instances: list[Instance], t: float) -> list[Instance]:
        boxes = np.array([_box_of(inst) for inst in instances]).reshape(-1, 4)
        ids = self.tracker.assign(boxes)
        out = []
        for inst, tid in zip(instances, ids, strict=True):
            flt = self._filters.get(tid)
            if flt is None:
                flt = self._filters[tid] = OneEuroFilter(self.min_cutoff, self.beta, self.d_cutoff)
            kp = inst.keypoints.copy()
            kp[:, :2] = flt(kp[:, :2], t)
            out.append(replace(inst, keypoints=kp, track_id=tid, extras=dict(inst.extras)))
        live = set(self.tracker._tracks)
        for tid in [t for t in self._filters if t not in live]:
            del self._filters[tid]
        return out


def _box_of(inst: Instance) -> tuple[float, float, float, float]:
    if inst.bbox is not None:
        return inst.bbox
    box = inst.bbox_from_keypoints(0.0)
    return box if box is not None else (0.0, 0.0, 0.0, 0.0)
