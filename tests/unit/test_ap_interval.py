"""The paired block bootstrap of AP differences (distilpose.ap_interval), on generated COCO sets."""

from __future__ import annotations

import numpy as np
import pytest

from distilpose.ap_interval import block_resamples, gain_intervals
from distilpose.coco import KeypointResult, parse_coco
from distilpose.evaluation import evaluate_keypoints
from distilpose.keypoints import coco_category

from .coco_factory import _person


def _video_set(n_images: int = 40, seed: int = 0):
    """``n_images`` frames of 1-2 people each."""
    rng = np.random.default_rng(seed)
    images, annotations = [], []
    for i in range(n_images):
        images.append({"id": i + 1, "file_name": f"f{i:04d}.jpg", "width": 640, "height": 480})
        for _ in range(int(rng.integers(1, 3))):
            annotations.append(_person(rng, len(annotations) + 1, i + 1, 640, 480))
    doc = {"images": images, "annotations": annotations, "categories": [coco_category()]}
    return parse_coco(doc)


def _predictions(dataset, noise_px, seed: int) -> list[KeypointResult]:
    """The labels moved by Gaussian noise: ``noise_px`` a scalar, or one value per image (by position)."""
    rng = np.random.default_rng(seed)
    out = []
    for a in dataset.annotations:
        px = noise_px if np.isscalar(noise_px) else noise_px[a.image_id - 1]
        kp = a.keypoints.reshape(-1, 3).copy()
        kp[:, :2] += rng.normal(0.0, px, size=(len(kp), 2))
        kp[:, 2] = 1.0
        out.append(KeypointResult(image_id=a.image_id, keypoints=kp.reshape(-1), score=float(rng.uniform(0.5, 1))))
    return out


def test_the_whole_set_gain_is_the_difference_of_the_evaluated_aps() -> None:
    ds = _video_set()
    results = {"new": _predictions(ds, 3.0, 1), "old": _predictions(ds, 6.0, 2)}
    gains = gain_intervals(ds, results, of="new", rounds=50)
    expected = evaluate_keypoints(ds, results["new"])["AP"] - evaluate_keypoints(ds, results["old"])["AP"]
    assert gains["old"].gain == pytest.approx(expected, abs=1e-12)
    assert gains["old"].low <= gains["old"].gain <= gains["old"].high


def test_a_gain_on_every_frame_is_sure_and_a_gain_on_one_frame_is_not() -> None:
    ds = _video_set()
    # clearly better everywhere: sure
    everywhere = gain_intervals(ds, {"new": _predictions(ds, 2.0, 1), "old": _predictions(ds, 12.0, 1)}, of="new")
    assert everywhere["old"].gain > 0.1 and everywhere["old"].sure and everywhere["old"].low > 0
    # the same predictions except on a single frame, where the old one is far off: a positive gain that the
    # bootstrap cannot tell from luck (the resamples that miss that frame show no gain at all)
    old_noise = np.full(40, 2.0)
    old_noise[17] = 40.0
    one_frame = gain_intervals(ds, {"new": _predictions(ds, 2.0, 1), "old": _predictions(ds, old_noise, 1)}, of="new")
    assert one_frame["old"].gain > 0 and not one_frame["old"].sure
    assert one_frame["old"].low <= 0.0 < one_frame["old"].high
    # identical predictions: no gain, and a zero-width interval
    same = _predictions(ds, 3.0, 1)
    tie = gain_intervals(ds, {"new": same, "old": same}, of="new")["old"]
    assert (tie.gain, tie.low, tie.high, tie.sure) == (0.0, 0.0, 0.0, False)


def test_blocks_are_runs_of_consecutive_images() -> None:
    draws = block_resamples(50, rounds=200, block=7, rng=np.random.default_rng(0))
    assert draws.shape == (200, 50) and draws.min() >= 0 and draws.max() <= 49
    steps = np.diff(draws, axis=1)
    # within a block the positions follow each other; a new block may start anywhere
    assert (steps[:, :6] == 1).all() and (steps[:, 7:13] == 1).all()
    assert len(np.unique(draws[:, 0])) > 20  # block starts spread over the set


def test_a_model_without_predictions_is_left_out() -> None:
    ds = _video_set(10)
    gains = gain_intervals(ds, {"new": _predictions(ds, 3.0, 1), "none": []}, of="new", rounds=20)
    assert gains == {}
    assert gain_intervals(ds, {"new": [], "old": _predictions(ds, 3.0, 1)}, of="new", rounds=20) == {}


def test_a_resampled_ap_is_the_ap_of_the_set_with_those_images_repeated() -> None:
    from distilpose.ap_interval import _keypoint_ap
    from distilpose.evaluation import cocoeval_matched

    ds = _video_set(12)
    results = _predictions(ds, 5.0, 3)
    ev = cocoeval_matched(ds.to_json_dict(), [r.to_json_dict() for r in results])
    saved = ev.evalImgs
    draw = np.array([3, 3, 4, 5, 0, 1, 1, 1, 9, 10, 11, 2])  # positions in the sorted image ids, with repeats
    resampled = _keypoint_ap(ev, draw)
    assert ev.evalImgs is saved  # the matches are put back for the next round
    # the same set rebuilt by hand: each drawn image a new image (new ids), its people and predictions copied
    doc = ds.to_json_dict()
    ids = sorted(im["id"] for im in doc["images"])
    images, anns, preds = [], [], []
    for new_id, pos in enumerate(draw, start=1):
        old = ids[pos]
        images.append({**next(im for im in doc["images"] if im["id"] == old), "id": new_id})
        anns += [{**a, "id": len(anns) + i + 1, "image_id": new_id}
                 for i, a in enumerate(a for a in doc["annotations"] if a["image_id"] == old)]  # fmt: skip
        preds += [KeypointResult(image_id=new_id, keypoints=r.keypoints, score=r.score) for r in results if r.image_id == old]
    rebuilt = parse_coco({**doc, "images": images, "annotations": anns})
    assert resampled == pytest.approx(evaluate_keypoints(rebuilt, preds)["AP"], abs=1e-12)
    assert _keypoint_ap(ev) == pytest.approx(evaluate_keypoints(ds, results)["AP"], abs=1e-12)
