"""Geometry of instance edits, as pure functions on :class:`Instance` (the store writes the result)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from distilpose.types import Instance


def copy_instance(inst: Instance) -> Instance:
    return Instance(
        keypoints=inst.keypoints.copy(),
        bbox=None if inst.bbox is None else tuple(inst.bbox),  # type: ignore[arg-type]
        scores=None if inst.scores is None else np.array(inst.scores, dtype=np.float64),
        sigmas=None if inst.sigmas is None else np.array(inst.sigmas, dtype=np.float64),
        score=inst.score,
        source=inst.source,
        track_id=inst.track_id,
        extras=copy.deepcopy(inst.extras),
    )


def instance_center(inst: Instance) -> tuple[float, float]:
    if inst.bbox is not None:
        x, y, w, h = inst.bbox
        return float(x + w / 2), float(y + h / 2)
    lab = inst.keypoints[:, 2] > 0
    if lab.any():
        cx, cy = inst.keypoints[lab, :2].mean(axis=0)
        return float(cx), float(cy)
    return 0.0, 0.0


def _move_coco_fields(coco: dict, xf: Callable, scale: float) -> dict:
    """COCO fields follow a moved instance: area scales, polygons move; an RLE mask cannot move and is
    dropped."""
    out = dict(coco)
    if isinstance(out.get("area"), (int, float)):
        out["area"] = float(out["area"]) * scale * scale
    extra = dict(out.get("extra") or {})
    seg = extra.get("segmentation")
    if isinstance(seg, list) and all(isinstance(poly, list) for poly in seg):
        moved = []
        for poly in seg:
            pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
            xs, ys = xf(pts[:, 0], pts[:, 1])
            moved.append(np.stack([xs, ys], axis=1).reshape(-1).tolist())
        extra["segmentation"] = moved
    elif seg is not None:
        del extra["segmentation"]
    out["extra"] = extra
    return out


def moved_instance(
    inst: Instance, dx: float, dy: float, scale: float, center: tuple[float, float] | None = None
) -> tuple[Instance, tuple[float, float]]:
    """A copy scaled by ``scale`` about ``center`` (default :func:`instance_center`), then shifted by (dx,
    dy), and the centre used. Labelled keypoints, box, sigmas and COCO area/polygons follow; unlabelled
    keypoints (no position) stay; an RLE mask, which cannot follow, is dropped."""
    cx, cy = center if center is not None else instance_center(inst)

    def xf(x: Any, y: Any) -> tuple[Any, Any]:
        return cx + scale * (x - cx) + dx, cy + scale * (y - cy) + dy

    after = copy_instance(inst)
    lab = after.keypoints[:, 2] > 0
    after.keypoints[lab, 0], after.keypoints[lab, 1] = xf(after.keypoints[lab, 0], after.keypoints[lab, 1])
    if after.bbox is not None:
        bx, by = xf(after.bbox[0], after.bbox[1])
        after.bbox = (float(bx), float(by), after.bbox[2] * scale, after.bbox[3] * scale)
    if after.sigmas is not None:
        after.sigmas = after.sigmas * scale
    coco = after.extras.get("coco")
    if isinstance(coco, dict):
        after.extras["coco"] = _move_coco_fields(coco, xf, scale)
    return after, (float(cx), float(cy))
