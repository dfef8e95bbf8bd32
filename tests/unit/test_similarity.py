"""Box IoU and keypoint OKS: hand-computed values, and the guard that they are computed in one place."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from distilpose.similarity import box_iou, oks, shared_oks

ROOT = Path(__file__).resolve().parents[2]


def test_box_iou_by_hand() -> None:
    a = np.array([0, 0, 10, 10])
    # [5,0,10,10]: overlap 5x10 = 50, union 150; [5,5,10,10]: 25 / 175; [20,20,5,5]: apart
    iou = box_iou(a, np.array([[5, 0, 10, 10], [5, 5, 10, 10], [20, 20, 5, 5]]))
    assert iou.shape == (1, 3)
    np.testing.assert_allclose(iou, [[1 / 3, 1 / 7, 0.0]])
    assert box_iou(a, a)[0, 0] == 1.0
    # the matrix is (M, N): rows the first set, columns the second
    m = box_iou(np.array([[0, 0, 10, 10], [0, 0, 20, 10]]), np.array([[0, 0, 10, 10]]))
    np.testing.assert_allclose(m, [[1.0], [0.5]])
    assert box_iou(np.zeros(4), np.zeros(4))[0, 0] == 0.0  # two empty boxes: no union, 0 rather than NaN


def _pose(points: dict[int, tuple[float, float]]) -> np.ndarray:
    kp = np.zeros((17, 3))
    for k, (x, y) in points.items():
        kp[k] = (x, y, 1.0)
    return kp


def test_shared_oks_by_hand() -> None:
    # nose (sigma 0.026) and left hip (0.107) where they were, left shoulder (0.079) 10 px off; area 10000
    a = _pose({0: (50, 20), 5: (40, 40), 11: (45, 80), 13: (45, 95)})
    b = _pose({0: (50, 20), 5: (46, 48), 11: (45, 80)})  # no left knee (13): not shared
    shoulder = math.exp(-100 / (2 * 10000 * (2 * 0.079) ** 2))  # 0.81849...
    assert shared_oks(a, b, 10000.0) == pytest.approx((1.0 + shoulder + 1.0) / 3, abs=1e-12)
    assert shared_oks(a, b, 10000.0) == pytest.approx(0.939498, abs=1e-6)
    # two shared keypoints are too little pose to judge
    b[11, 2] = 0
    assert shared_oks(a, b, 10000.0) is None
    assert shared_oks(a, b, 10000.0, min_common=2) == pytest.approx((1.0 + shoulder) / 2, abs=1e-12)
    # an area under one pixel is taken as one pixel: 1 px off on the nose
    c, d = _pose({0: (0, 0), 5: (0, 0), 11: (0, 0)}), _pose({0: (1, 0), 5: (0, 0), 11: (0, 0)})
    nose = math.exp(-1 / (2 * 1 * (2 * 0.026) ** 2))
    assert shared_oks(c, d, 0.0) == pytest.approx((nose + 2.0) / 3, abs=1e-12)


def test_oks_over_a_given_mask() -> None:
    gt = _pose({0: (100, 100), 5: (120, 150)})
    dt = _pose({0: (103, 104), 5: (120, 150)})
    # only the nose: d^2 = 25, e = 25 / (2 * 10000 * 0.052^2) = 0.462278
    over = np.zeros(17, dtype=bool)
    over[0] = True
    assert oks(gt, 10000.0, dt, over=over) == pytest.approx(math.exp(-0.462278), abs=1e-6)
    assert oks(gt, 10000.0, dt, over=np.zeros(17, dtype=bool)) == 0.0


def _defined_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_one_box_iou_and_one_oks() -> None:
    """No other module of the library or the app defines its own box IoU or OKS, nor reads the OKS sigmas
    (beyond the schema that declares them and COCOeval's parameters)."""
    allowed_sigmas = {"distilpose/keypoints.py", "distilpose/similarity.py", "distilpose/evaluation.py"}
    offenders = []
    for folder in ("distilpose", "app"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "distilpose/similarity.py":
                continue
            names = _defined_functions(path)
            offenders += [f"{rel}: def {n}" for n in sorted(names) if n in {"box_iou", "oks", "iou"}]
            if "OKS_SIGMAS" in path.read_text(encoding="utf-8") and rel not in allowed_sigmas:
                offenders.append(f"{rel}: reads OKS_SIGMAS")
    assert offenders == []
