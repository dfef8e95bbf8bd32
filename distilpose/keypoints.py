"""The one COCO-17 person keypoint schema used everywhere in the project.

Indices in code are 0-based. COCO files store the skeleton 1-based; convert only at the
file boundary with :func:`skeleton_to_coco` / :func:`skeleton_from_coco`.
"""

from __future__ import annotations

import numpy as np

NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
NUM_KEYPOINTS = len(NAMES)

#: Limbs as 0-based index pairs, in the order of the COCO category's ``skeleton`` field.
SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
    (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip

#: Left/right pairs swapped by a horizontal flip (0-based).
FLIP_PAIRS: tuple[tuple[int, int], ...] = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))

#: Per-keypoint OKS sigmas from the COCO keypoint evaluation.
OKS_SIGMAS: np.ndarray = np.array(
    [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
     0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089],
    dtype=np.float64,
)  # fmt: skip
OKS_SIGMAS.setflags(write=False)

UPPER_BODY: tuple[int, ...] = tuple(range(11))
LOWER_BODY: tuple[int, ...] = tuple(range(11, 17))

#: Drawing colours (RGB, 0-255): centre line green, left side orange, right side blue.
_CENTRE, _LEFT, _RIGHT = (51, 204, 51), (255, 140, 0), (30, 144, 255)


def side_of(index: int) -> str:
    """'left', 'right' or 'centre' for a keypoint index."""
    name = NAMES[index]
    if name.startswith("left_"):
        return "left"
    if name.startswith("right_"):
        return "right"
    return "centre"


KEYPOINT_COLORS: tuple[tuple[int, int, int], ...] = tuple(
    {"left": _LEFT, "right": _RIGHT, "centre": _CENTRE}[side_of(i)] for i in range(NUM_KEYPOINTS)
)


def _limb_color(a: int, b: int) -> tuple[int, int, int]:
    sides = {side_of(a), side_of(b)}
    if sides == {"left"}:
        return _LEFT
    if sides == {"right"}:
        return _RIGHT
    return _CENTRE


LIMB_COLORS: tuple[tuple[int, int, int], ...] = tuple(_limb_color(a, b) for a, b in SKELETON)


def flip_permutation() -> np.ndarray:
    """Index array ``p`` such that ``flipped[k] = original[p[k]]`` after a horizontal flip."""
    perm = np.arange(NUM_KEYPOINTS)
    for a, b in FLIP_PAIRS:
        perm[a], perm[b] = b, a
    return perm


def skeleton_to_coco() -> list[list[int]]:
    """The skeleton as COCO files store it (1-based)."""
    return [[a + 1, b + 1] for a, b in SKELETON]


def skeleton_from_coco(skeleton: list[list[int]]) -> list[tuple[int, int]]:
    """Convert a 1-based COCO skeleton to 0-based pairs."""
    return [(int(a) - 1, int(b) - 1) for a, b in skeleton]


def coco_category() -> dict:
    """The COCO ``person`` category with keypoint names and 1-based skeleton."""
    return {
        "id": 1,
        "name": "person",
        "supercategory": "person",
        "keypoints": list(NAMES),
        "skeleton": skeleton_to_coco(),
    }
