"""The skeleton template: a standard standing pose that a new person starts from, scaled into a box.

Annotators place 17 points far faster by correcting a roughly right skeleton than by clicking each joint from
nothing (labelme and Label Studio users ask for exactly this). The pose faces the viewer, so the person's left
side is on the image's right, as in COCO.
"""

from __future__ import annotations

import numpy as np

from distilpose.keypoints import NUM_KEYPOINTS
from distilpose.types import Instance

#: (x, y) of each COCO-17 joint as a fraction of the box width and height.
TEMPLATE_POSE = np.array(
    [
        [0.50, 0.10],  # nose
        [0.54, 0.08], [0.46, 0.08],  # eyes
        [0.58, 0.10], [0.42, 0.10],  # ears
        [0.67, 0.24], [0.33, 0.24],  # shoulders
        [0.74, 0.40], [0.26, 0.40],  # elbows
        [0.78, 0.55], [0.22, 0.55],  # wrists
        [0.61, 0.55], [0.39, 0.55],  # hips
        [0.62, 0.75], [0.38, 0.75],  # knees
        [0.63, 0.95], [0.37, 0.95],  # ankles
    ],
    dtype=np.float64,
)  # fmt: skip
TEMPLATE_POSE.setflags(write=False)
assert TEMPLATE_POSE.shape == (NUM_KEYPOINTS, 2)

#: The box a template gets from a click (no box drawn): this size in image pixels, centred on the click.
DEFAULT_TEMPLATE_SIZE = (80.0, 200.0)


def template_instance(box_xywh: tuple[float, float, float, float]) -> Instance:
    """A new person ('user', every joint visible) whose template pose fills ``box_xywh``."""
    x, y, w, h = (float(v) for v in box_xywh)
    if not (w > 0 and h > 0):
        raise ValueError(f"a template needs a box with a positive size, got {w} x {h}")
    kp = np.empty((NUM_KEYPOINTS, 3), dtype=np.float64)
    kp[:, 0] = x + TEMPLATE_POSE[:, 0] * w
    kp[:, 1] = y + TEMPLATE_POSE[:, 1] * h
    kp[:, 2] = 2
    return Instance(keypoints=kp, bbox=(x, y, w, h), source="user")


def box_around(x: float, y: float, image_size_wh: tuple[int, int]) -> tuple[float, float, float, float]:
    """A :data:`DEFAULT_TEMPLATE_SIZE` box centred on (x, y), shrunk to fit inside the image."""
    iw, ih = (float(v) for v in image_size_wh)
    w, h = min(DEFAULT_TEMPLATE_SIZE[0], iw), min(DEFAULT_TEMPLATE_SIZE[1], ih)
    x0 = min(max(x - w / 2, 0.0), iw - w)
    y0 = min(max(y - h / 2, 0.0), ih - h)
    return (x0, y0, w, h)
