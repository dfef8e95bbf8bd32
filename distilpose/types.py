"""Plain data types shared by the library, the trainer and the app (no Qt, no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from distilpose.keypoints import NUM_KEYPOINTS

#: Where an instance came from: a person, or a model.
SOURCES = ("user", "student", "teacher", "import")


@dataclass
class Instance:
    """One person: keypoints (K x 3 array of x, y, v in image pixels) and what a model said about them.

    ``v`` follows COCO: 0 not labelled, 1 labelled but occluded, 2 visible. Predictions use v=2 for every
    keypoint and carry per-keypoint ``scores``; a student also carries ``sigmas`` (K x 2, image pixels).
    """

    keypoints: np.ndarray
    bbox: tuple[float, float, float, float] | None = None  # x, y, w, h
    scores: np.ndarray | None = None
    sigmas: np.ndarray | None = None
    score: float | None = None
    source: str = "user"
    track_id: int | None = None
    extras: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        kp = np.asarray(self.keypoints, dtype=np.float64)
        if kp.shape != (NUM_KEYPOINTS, 3):
            raise ValueError(f"keypoints must have shape ({NUM_KEYPOINTS}, 3), got {kp.shape}")
        self.keypoints = kp
        if self.source not in SOURCES:
            raise ValueError(f"unknown instance source {self.source!r}; expected one of {SOURCES}")

    @property
    def num_labelled(self) -> int:
        return int((self.keypoints[:, 2] > 0).sum())

    def bbox_from_keypoints(self, pad: float = 0.1) -> tuple[float, float, float, float] | None:
        """Tight box around labelled keypoints, padded by ``pad`` of its size on each side."""
        pts = self.keypoints[self.keypoints[:, 2] > 0, :2]
        if len(pts) == 0:
            return None
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        w, h = x1 - x0, y1 - y0
        return (float(x0 - pad * w), float(y0 - pad * h), float(w * (1 + 2 * pad)), float(h * (1 + 2 * pad)))
