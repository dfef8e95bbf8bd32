"""Fixtures for the app tests: a generated image with a stick figure and a matching COCO file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from distilpose.keypoints import SKELETON, coco_category

#: Image size (w, h) and background colour (RGB): a sand colour that no widget or marker uses.
FIGURE_SIZE = (240, 240)
FIGURE_BG_RGB = (235, 225, 190)

# Person A: every keypoint labelled except left_wrist (v=0); right_knee occluded (v=1).
PERSON_A = np.array(
    [
        [70, 40, 2], [75, 35, 2], [65, 35, 2], [80, 40, 2], [60, 40, 2],  # nose, eyes, ears
        [90, 70, 2], [50, 70, 2], [100, 100, 2], [40, 100, 2],  # shoulders, elbows
        [110, 130, 0], [30, 130, 2],  # wrists: the left one is not labelled
        [82, 140, 2], [58, 140, 2], [85, 180, 2], [55, 180, 1],  # hips, knees: right knee occluded
        [88, 220, 2], [52, 220, 2],  # ankles
    ],
    dtype=np.float64,
)  # fmt: skip
# Person B: only the nose and the shoulders.
PERSON_B = np.zeros((17, 3))
PERSON_B[0] = (180, 60, 2)
PERSON_B[5] = (195, 90, 2)
PERSON_B[6] = (165, 90, 2)
# Hand-counted from SKELETON: A has 16 markers and 18 limbs (19 minus left_elbow-left_wrist), 2 of them
# touching the occluded right knee; B has 3 markers and 1 limb (the shoulders).
EXPECTED_MARKERS = (16, 3)
EXPECTED_LIMBS = (18, 1)


@dataclass
class FigureFiles:
    image: Path
    ann: Path
    persons: list[np.ndarray]


def write_figure_image(path: Path) -> None:
    """A sand-coloured picture with person A's skeleton drawn in dark grey (PNG: lossless, exact colours)."""
    w, h = FIGURE_SIZE
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[:] = FIGURE_BG_RGB
    for a, b in SKELETON:
        if PERSON_A[a, 2] > 0 and PERSON_A[b, 2] > 0:
            pa = tuple(int(v) for v in PERSON_A[a, :2])
            pb = tuple(int(v) for v in PERSON_A[b, :2])
            cv2.line(rgb, pa, pb, (70, 70, 70), 2, cv2.LINE_AA)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def _annotation(ann_id: int, image_id: int, kp: np.ndarray) -> dict:
    labelled = kp[kp[:, 2] > 0, :2]
    x0, y0 = labelled.min(axis=0)
    x1, y1 = labelled.max(axis=0)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "keypoints": [float(v) if i % 3 < 2 else int(v) for i, v in enumerate(kp.reshape(-1))],
        "num_keypoints": int((kp[:, 2] > 0).sum()),
        "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
        "area": float((x1 - x0) * (y1 - y0)),
        "iscrowd": 0,
    }


def write_coco(path: Path, image_name: str) -> None:
    """A COCO file with the figure image (2 people) and another image whose person must not show."""
    w, h = FIGURE_SIZE
    other = PERSON_A.copy()
    other[:, :2] += 3
    doc = {
        "images": [
            {"id": 7, "file_name": f"subdir/{image_name}", "width": w, "height": h},
            {"id": 8, "file_name": "other.png", "width": w, "height": h},
        ],
        "annotations": [_annotation(1, 7, PERSON_A), _annotation(2, 7, PERSON_B), _annotation(3, 8, other)],
        "categories": [coco_category()],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")


@pytest.fixture
def figure_files(tmp_path: Path) -> FigureFiles:
    image = tmp_path / "figure.png"
    ann = tmp_path / "figure_coco.json"
    write_figure_image(image)
    write_coco(ann, image.name)
    return FigureFiles(image=image, ann=ann, persons=[PERSON_A, PERSON_B])


@pytest.fixture
def window(qtbot):
    """A shown 800x600 main window whose error messages are captured in ``window.errors``."""
    from distilpose.app.main_window import MainWindow
    from distilpose.app.state import AppState

    errors: list[tuple[str, str]] = []
    win = MainWindow(AppState(), error_sink=lambda _parent, title, text: errors.append((title, text)))
    win.errors = errors
    qtbot.addWidget(win)
    win.resize(800, 600)
    win.show()
    qtbot.waitExposed(win)
    return win
