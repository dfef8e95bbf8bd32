"""OKS, OKS-NMS, rescoring and COCO keypoint AP, against hand-computed values and real pycocotools."""

from __future__ import annotations

import contextlib
import io
import json
import math

import numpy as np
import pytest

from distilpose.coco import KeypointResult, load_coco, parse_coco, save_keypoint_results
from distilpose.errors import CocoFormatError
from distilpose.evaluation import METRIC_NAMES, evaluate_keypoints, oks_nms, rescore
from distilpose.keypoints import NUM_KEYPOINTS
from distilpose.similarity import oks
from distilpose.types import Instance
from tests.conftest import shared_path
from tests.unit.coco_factory import gt_as_results, make_coco_doc


def _kpts(points: dict[int, tuple[float, float, float]]) -> np.ndarray:
    kp = np.zeros((NUM_KEYPOINTS, 3))
    for k, row in points.items():
        kp[k] = row
    return kp


# ------------------------------------------------------------------------------------------ oks


def test_oks_hand_computed():
    # GT labels the nose (sigma 0.026) and the left shoulder; the prediction is 5 px off on the nose only.
    gt = _kpts({0: (100, 100, 2), 5: (120, 150, 1)})
    dt = _kpts({0: (103, 104, 0.9), 5: (120, 150, 0.9), 9: (500, 500, 0.9)})  # kp 9 is unlabelled in GT
    # nose: d^2 = 25, (2 sigma)^2 = 0.002704, 2 * area = 20000 -> e = 25 / 54.08 = 0.462278, exp(-e) = 0.629847
    assert oks(gt, 10000.0, dt) == pytest.approx((0.629847 + 1.0) / 2, abs=1e-6)
    assert oks(gt, 10000.0, gt) == 1.0
    assert oks(gt, 10000.0, dt.reshape(-1)) == pytest.approx(0.814924, abs=1e-6)  # flat input works too
    # sigmas are honoured: 0.1 for all -> e = 25 / (0.04 * 20000) = 0.03125
    assert oks(gt, 10000.0, dt, sigmas=np.full(17, 0.1)) == pytest.approx((math.exp(-0.03125) + 1) / 2)


def test_oks_without_labelled_gt_is_zero():
    assert oks(np.zeros((17, 3)), 500.0, _kpts({0: (1, 1, 1)})) == 0.0


def test_oks_matches_pycocotools_compute_oks():
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ds = parse_coco(make_coco_doc(seed=5))
    rng = np.random.default_rng(0)
    results = gt_as_results(ds)
    for r in results:
        r.keypoints[:, :2] += rng.normal(0, 6, (NUM_KEYPOINTS, 2))
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = ds.to_json_dict()
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes([r.to_json_dict() for r in results]), "keypoints")
        ev.params.imgIds = [img.id for img in ds.images]
        ev.evaluate()
    checked = 0
    for img in ds.images:
        gts = [a for a in ds.annotations_for_image(img.id) if a.category_id == 1]
        dts = [r for r in results if r.image_id == img.id]
        if not gts or not dts:
            continue
        ious = ev.ious[(img.id, 1)]  # rows: detections (all score 1, so input order), columns: GT
        for i, dt in enumerate(dts):
            for j, g in enumerate(gts):
                if g.num_keypoints > 0:
                    assert oks(g.keypoints, g.area, dt.keypoints) == pytest.approx(ious[i, j], abs=1e-12)
                    checked += 1
    assert checked >= 8


# ------------------------------------------------------------------------------------------ oks_nms


def _base() -> np.ndarray:
    kp = np.zeros((NUM_KEYPOINTS, 3))
    kp[:, 0] = np.arange(NUM_KEYPOINTS) * 10.0
    kp[:, 1] = 50.0
    kp[:, 2] = 0.9
    return kp


def test_oks_nms_hand_computed_threshold():
    sig = np.full(NUM_KEYPOINTS, 0.1)
    a = _base()
    b = a.copy()
    b[:, :2] += (3, 4)  # every keypoint 5 px off: e = 25 / (0.2^2) / 312.5 / 2 = 1 -> OKS = exp(-1) = 0.3679
    c = a.copy()
    c[:, :2] += 1000
    instances = [
        {"keypoints": a, "score": 0.9, "area": 312.5},
        {"keypoints": b, "score": 0.8, "area": 312.5},
        {"keypoints": c, "score": 0.95, "area": 312.5},
    ]
    assert oks_nms(instances, thr=0.36, sigmas=sig) == [2, 0]
    assert oks_nms(instances, thr=0.37, sigmas=sig) == [2, 0, 1]
    # the pair uses the mean of the two areas: (312.5 + 937.5) / 2 = 625 -> e = 0.5 -> OKS = 0.6065
    instances[1]["area"] = 937.5
    assert oks_nms(instances, thr=0.60, sigmas=sig) == [2, 0]
    assert oks_nms(instances, thr=0.61, sigmas=sig) == [2, 0, 1]
    assert oks_nms([], thr=0.9) == []


def test_oks_nms_accepts_instances_and_vis_thr():
    sig = np.full(NUM_KEYPOINTS, 0.1)
    a = _base()
    b = a.copy()
    b[0, :2] += (3, 4)
    b[1:, :2] += (300, 400)  # far off, but with low scores
    b[1:, 2] = 0.1
    box = (0.0, 0.0, 12.5, 25.0)  # area 312.5 from the box
    insts = [Instance(keypoints=b, bbox=box, score=0.5), Instance(keypoints=a, bbox=box, score=0.7)]
    # an Instance keeps v = 2 in its keypoints and the scores apart: vis_thr must read the scores
    insts.append(Instance(keypoints=np.c_[b[:, :2], np.full(17, 2.0)], bbox=box, score=0.1, scores=b[:, 2]))
    # all keypoints: OKS(a, b) ~ exp(-1) / 17; b and its copy (index 2) are identical, OKS 1
    assert oks_nms(insts, thr=0.3, sigmas=sig) == [1, 0]
    # only keypoints scoring > 0.5 in both: the nose alone, OKS = exp(-1) = 0.368 > 0.3
    assert oks_nms(insts, thr=0.3, sigmas=sig, vis_thr=0.5) == [1]
    assert oks_nms(insts, thr=0.37, sigmas=sig, vis_thr=0.5) == [1, 0]


# ------------------------------------------------------------------------------------------ rescore


def test_rescore_hand_computed():
    scores = np.zeros(NUM_KEYPOINTS)
    scores[:4] = [0.1, 0.5, 0.9, 0.2]  # 0.2 is not above vis_thr=0.2
    assert rescore(0.8, scores) == pytest.approx(0.8 * (0.5 + 0.9) / 2)  # 0.56
    assert rescore(0.8, scores, vis_thr=0.05) == pytest.approx(0.8 * (0.1 + 0.5 + 0.9 + 0.2) / 4)  # 0.34
    assert rescore(0.8, np.full(NUM_KEYPOINTS, 0.2)) == 0.0
    assert rescore(0.5, np.ones(NUM_KEYPOINTS)) == 0.5


# ------------------------------------------------------------------------------------------ COCO AP


def _one_person_doc() -> dict:
    doc = make_coco_doc()
    doc["images"] = doc["images"][:1]
    kp = [0] * 51
    kp[0:3] = [200, 150, 2]  # only the nose is labelled
    doc["annotations"] = [
        {"id": 1, "image_id": 10, "category_id": 1, "keypoints": kp, "num_keypoints": 1,
         "bbox": [150, 100, 100, 100], "area": 10000.0, "iscrowd": 0}
    ]  # fmt: skip
    return doc


def test_ap_of_a_single_prediction_hand_computed():
    ds = parse_coco(_one_person_doc())
    dt = _kpts({0: (203, 153, 0.9)})
    # OKS = exp(-18 / 54.08) = 0.7169: a match at OKS thresholds 0.50 .. 0.70 (5 of 10), none from 0.75 up.
    # The person is large (area 10000 > 96^2), so there is no medium GT: pycocotools reports -1 there.
    metrics = evaluate_keypoints(ds, [KeypointResult(image_id=10, keypoints=dt, score=0.9)])
    assert metrics == pytest.approx({"AP": 0.5, "AP50": 1.0, "AP75": 0.0, "APm": -1.0, "APl": 0.5, "AR": 0.5})
    assert list(metrics) == list(METRIC_NAMES)


def test_worse_predictions_score_lower(tmp_path):
    ds = parse_coco(make_coco_doc(seed=2))
    perfect = evaluate_keypoints(ds, gt_as_results(ds))
    noisy = gt_as_results(ds)
    rng = np.random.default_rng(4)
    for r in noisy:
        r.keypoints[:, :2] += rng.normal(0, 8, (NUM_KEYPOINTS, 2))
    path = tmp_path / "noisy.json"
    save_keypoint_results(noisy, path)
    worse = evaluate_keypoints(ds, path)
    assert perfect["AP"] == 1.0
    assert 0.0 < worse["AP"] < 1.0 and worse["AR"] < 1.0
    assert evaluate_keypoints(ds, noisy) == worse  # a list and a file give the same answer


def test_empty_results_score_zero_not_crash(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text("[]")
    assert evaluate_keypoints(parse_coco(make_coco_doc()), path) == dict.fromkeys(METRIC_NAMES, 0.0)


def test_results_for_unknown_images_or_categories_are_named(tmp_path):
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(make_coco_doc()))
    results = [
        KeypointResult(image_id=10, keypoints=_base(), score=1.0),
        KeypointResult(image_id=999, keypoints=_base(), score=1.0),
        KeypointResult(image_id=999, keypoints=_base(), score=0.5),
        KeypointResult(image_id=11, keypoints=_base(), score=0.5, category_id=7),
    ]
    res = tmp_path / "res.json"
    save_keypoint_results(results, res)
    with pytest.raises(CocoFormatError) as info:
        evaluate_keypoints(ann, res)
    assert info.value.path == str(res)
    assert info.value.problems == [
        f"[1]: 'image_id' 999 is not an image of {ann} (2 result(s) use it)",
        f"[3]: 'category_id' 7 is not a category of {ann} (1 result(s) use it)",
    ]


def test_an_edited_invalid_dataset_is_refused():
    ds = parse_coco(make_coco_doc())
    ds.images[0].height = 0
    with pytest.raises(CocoFormatError, match="'height' must be > 0"):
        evaluate_keypoints(ds, gt_as_results(ds))


def test_shared_val_set_gt_as_results_scores_ap_1():
    ann = shared_path("mmpose-coco", "test_coco.json")
    results = gt_as_results(load_coco(ann))
    assert len(results) == 12  # README: 14 annotations, 12 with keypoints
    metrics = evaluate_keypoints(ann, results)
    assert metrics["AP"] == 1.0 and metrics["AR"] == 1.0


def test_box_ap_of_the_ground_truth_boxes_is_one_and_drops_when_they_move():
    from distilpose.coco import Detection
    from distilpose.evaluation import evaluate_boxes

    dataset = parse_coco(make_coco_doc(seed=2))
    exact = [Detection(a.image_id, a.bbox, 0.9) for a in dataset.annotations if not a.iscrowd]
    assert evaluate_boxes(dataset, exact)["AP"] == pytest.approx(1.0)
    # shifted by half their width: IoU 1/3 < 0.5, so no detection matches at any COCO threshold
    moved = [Detection(d.image_id, (d.bbox[0] + d.bbox[2] / 2, *d.bbox[1:]), 0.9) for d in exact]
    assert evaluate_boxes(dataset, moved)["AP"] == pytest.approx(0.0)
    assert evaluate_boxes(dataset, [])["AP"] == 0.0
    with pytest.raises(CocoFormatError, match="image_id"):
        evaluate_boxes(dataset, [Detection(999, (0, 0, 5, 5), 0.5)])


def test_eval_cli_scores_the_detector_on_real_images(tmp_path, capsys):
    from distilpose.cli import main
    from tests.conftest import require_zoo_model

    folder = shared_path("mmpose-coco")
    require_zoo_model("centernet")
    out = tmp_path / "dets.json"
    args = ["eval", "--detector", "centernet", "--ann", str(folder / "test_coco.json")]
    assert main([*args, "--images", str(folder / "images"), "--json", "--out", str(out)]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["AP"] > 0.5  # 0.70 measured: CenterNet-MobileNetV3 on 4 COCO val images
    from distilpose.coco import load_detections

    assert len(load_detections(out)) >= 10  # usable as --boxes
