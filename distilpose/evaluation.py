"""Keypoint accuracy: OKS, OKS-based NMS, the top-down rescoring rule, and COCO keypoint AP via pycocotools.

OKS and the AP numbers follow the COCO keypoint benchmark exactly (same sigmas, same area normalisation), so
results are comparable with published numbers; AP itself is delegated to pycocotools rather than re-derived.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from distilpose.coco import (
    CocoDataset,
    Detection,
    KeypointResult,
    load_coco,
    load_keypoint_results,
    parse_coco,
)
from distilpose.errors import CocoFormatError
from distilpose.keypoints import NUM_KEYPOINTS, OKS_SIGMAS
from distilpose.similarity import oks_exponent

#: Keys of :func:`evaluate_keypoints`, in the order pycocotools reports them.
METRIC_NAMES: tuple[str, ...] = ("AP", "AP50", "AP75", "APm", "APl", "AR")
_STATS_INDEX = {"AP": 0, "AP50": 1, "AP75": 2, "APm": 3, "APl": 4, "AR": 5}
#: COCOeval 'bbox' reports small objects too: AR is maxDets=100 (index 8).
_BOX_STATS_INDEX = {"AP": 0, "AP50": 1, "AP75": 2, "APm": 4, "APl": 5, "AR": 8}


def oks_nms(
    instances: Sequence[Any],
    thr: float = 0.9,
    sigmas: np.ndarray = OKS_SIGMAS,
    vis_thr: float | None = None,
) -> list[int]:
    """Indices of the instances kept, best score first: each drops the lower-scored ones it overlaps with OKS > thr.

    An instance is a mapping or object with ``keypoints`` (17, 3: x, y, score; an :class:`Instance`'s
    ``scores`` replace its v column), ``score`` and ``area`` (else the ``bbox`` area, else the keypoints' extent). As in mmpose, the OKS between two predictions uses their mean area
    and every keypoint, or only keypoints scoring above ``vis_thr`` in both when it is given.
    """
    if len(instances) == 0:
        return []
    kpts = np.stack([_scored_keypoints(inst) for inst in instances])
    scores = np.array([float(_field(inst, "score") or 0.0) for inst in instances])
    areas = np.array([_area(inst, kp) for inst, kp in zip(instances, kpts, strict=True)])
    sigmas = np.asarray(sigmas, dtype=np.float64)
    order = list(np.argsort(-scores, kind="stable"))
    keep: list[int] = []
    while order:
        best, rest = order[0], np.array(order[1:], dtype=int)
        keep.append(int(best))
        if len(rest) == 0:
            break
        mean_area = ((areas[best] + areas[rest]) / 2.0)[:, None]
        e = oks_exponent(kpts[best, None, :, :2], kpts[rest, :, :2], mean_area, sigmas)
        if vis_thr is None:
            sim = np.exp(-e).mean(axis=1)
        else:
            mask = (kpts[best, None, :, 2] > vis_thr) & (kpts[rest, :, 2] > vis_thr)
            counts = mask.sum(axis=1)
            sim = np.where(counts > 0, (np.exp(-e) * mask).sum(axis=1) / np.maximum(counts, 1), 0.0)
        order = [int(i) for i in rest[sim <= thr]]
    return keep


def _field(inst: Any, name: str) -> Any:
    if isinstance(inst, Mapping):
        return inst.get(name)
    return getattr(inst, name, None)


def _scored_keypoints(inst: Any) -> np.ndarray:
    """(17, 3) x, y, score; an Instance keeps v in its keypoints and the scores apart, so take those."""
    kp = np.array(_field(inst, "keypoints"), dtype=np.float64).reshape(NUM_KEYPOINTS, 3)
    scores = _field(inst, "scores")
    if scores is not None:
        kp[:, 2] = np.asarray(scores, dtype=np.float64).reshape(NUM_KEYPOINTS)
    return kp


def _area(inst: Any, kpts: np.ndarray) -> float:
    area = _field(inst, "area")
    if area is not None:
        return float(area)
    bbox = _field(inst, "bbox")
    if bbox is not None:
        return float(bbox[2]) * float(bbox[3])
    span = kpts[:, :2].max(axis=0) - kpts[:, :2].min(axis=0)
    return float(span[0] * span[1])


def rescore(box_score: float, keypoint_scores: np.ndarray, vis_thr: float = 0.2) -> float:
    """Instance score of a top-down prediction (mmpose's rule): the box score times the mean of the keypoint
    scores above ``vis_thr``; 0 when none is above it, so a box with no confident keypoint sinks in the AP."""
    s = np.asarray(keypoint_scores, dtype=np.float64).reshape(-1)
    confident = s[s > vis_thr]
    if confident.size == 0:
        return 0.0
    return float(box_score) * float(confident.mean())


def evaluate_keypoints(
    annotations: str | os.PathLike | CocoDataset,
    results: str | os.PathLike | Sequence[KeypointResult],
) -> dict[str, float]:
    """COCO keypoint AP/AR of ``results`` against ``annotations`` (pycocotools' COCOeval, 'keypoints').

    Values are pycocotools' own: -1.0 means the ground truth has no person in that area range (e.g. APm on a
    set of only large people). No results at all scores 0 everywhere.
    """
    if isinstance(annotations, CocoDataset):
        gt_name = str(annotations.path) if annotations.path else "<dataset>"
        gt_doc = annotations.to_json_dict()
        parse_coco(gt_doc, source=gt_name)  # an in-memory dataset may have been edited into an invalid state
    else:
        gt_name = str(annotations)
        gt_doc = load_coco(annotations).to_json_dict()
    if isinstance(results, (str, os.PathLike)):
        res_name = str(results)
        res_list = load_keypoint_results(results)
    else:
        res_name = "<results>"
        res_list = list(results)
    _check_results_match(res_list, gt_doc, res_name, gt_name)
    if not res_list:
        return dict.fromkeys(METRIC_NAMES, 0.0)
    stats = _cocoeval(gt_doc, [r.to_json_dict() for r in res_list])
    return {name: float(stats[i]) for name, i in _STATS_INDEX.items()}


def _check_results_match(
    results: Sequence[KeypointResult | Detection], gt_doc: dict, res_name: str, gt_name: str
) -> None:
    """pycocotools only asserts 'Results do not correspond'; name each foreign image/category id instead."""
    image_ids = {img["id"] for img in gt_doc["images"]}
    cat_ids = {c["id"] for c in gt_doc["categories"]}
    first: dict[tuple[str, int], int] = {}
    count: dict[tuple[str, int], int] = {}
    for i, r in enumerate(results):
        for kind, value, known in (
            ("image_id", r.image_id, image_ids),
            ("category_id", r.category_id, cat_ids),
        ):
            if value not in known:
                key = (kind, value)
                first.setdefault(key, i)
                count[key] = count.get(key, 0) + 1
    if first:
        problems = [
            f"[{first[key]}]: '{key[0]}' {key[1]} is not {'an image' if key[0] == 'image_id' else 'a category'} "
            f"of {gt_name} ({count[key]} result(s) use it)"
            for key in first
        ]
        raise CocoFormatError(res_name, problems)


def cocoeval_matched(gt_doc: dict, res: list[dict], iou_type: str = "keypoints"):
    """pycocotools' COCOeval after ``evaluate()``: each image's detections matched to its ground truth, not yet
    accumulated (what :mod:`distilpose.ap_interval` resamples)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress on stdout
        gt = COCO()
        gt.dataset = gt_doc
        gt.createIndex()
        dt = gt.loadRes(res)
        ev = COCOeval(gt, dt, iou_type)
        ev.params.kpt_oks_sigmas = np.asarray(OKS_SIGMAS, dtype=np.float64)
        ev.params.catIds = [c["id"] for c in gt_doc["categories"] if c.get("keypoints")]
        ev.evaluate()
    return ev


def _cocoeval(gt_doc: dict, res: list[dict], iou_type: str = "keypoints") -> np.ndarray:
    ev = cocoeval_matched(gt_doc, res, iou_type)
    with contextlib.redirect_stdout(io.StringIO()):  # keep the CLI's and app's output clean
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats, dtype=np.float64)


def evaluate_boxes(
    annotations: str | os.PathLike | CocoDataset, detections: Sequence[Detection]
) -> dict[str, float]:
    """Person box AP/AR of ``detections`` (pycocotools' COCOeval, 'bbox') against the annotations' person boxes.

    How good the boxes are bounds a top-down model's AP with detected boxes; this is the detector's own score.
    """
    if isinstance(annotations, CocoDataset):
        gt_doc = annotations.to_json_dict()
    else:
        gt_doc = load_coco(annotations).to_json_dict()
    dets = list(detections)
    _check_results_match(dets, gt_doc, "<detections>", str(getattr(annotations, "path", annotations)))  # type: ignore[arg-type]
    if not dets:
        return dict.fromkeys(METRIC_NAMES, 0.0)
    stats = _cocoeval(gt_doc, [d.to_json_dict() for d in dets], iou_type="bbox")
    return {name: float(stats[i]) for name, i in _BOX_STATS_INDEX.items()}


def format_metrics(metrics: Mapping[str, float]) -> str:
    """A two-column table, one metric a line (AP as a fraction, as pycocotools reports it)."""
    return "\n".join(f"{name:<5} {metrics[name]:.4f}" for name in METRIC_NAMES if name in metrics)


def topdown_results(
    people: Sequence[Mapping[str, Any]], vis_thr: float = 0.2, nms_thr: float = 0.9
) -> list[KeypointResult]:
    """mmpose's top-down post-processing, used by `distilpose eval` and by validation during training.

    ``people``: one mapping per box with ``image_id``, ``keypoints`` (K, 3: x, y, score in image pixels),
    ``box_score`` and ``area``. Each is rescored (:func:`rescore`), then OKS-NMS runs among each image's boxes.
    """
    by_image: dict[int, list[dict]] = defaultdict(list)
    for p in people:
        by_image[int(p["image_id"])].append(
            dict(p, score=rescore(p["box_score"], p["keypoints"][:, 2], vis_thr))
        )
    results: list[KeypointResult] = []
    for image_id, items in by_image.items():
        for k in oks_nms(items, thr=nms_thr):
            results.append(
                KeypointResult(image_id=image_id, keypoints=items[k]["keypoints"], score=items[k]["score"])
            )
    return results
