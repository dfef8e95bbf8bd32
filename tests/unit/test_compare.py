"""Model comparison after a distillation job: PCK by hand, AP/PCK plumbing with an oracle, the same AP as
`distilpose eval`, error rows, cancellation, the Markdown table and the persisted file."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from distilpose.coco import load_coco
from distilpose.compare import (
    ComparisonCancelled,
    ComparisonRow,
    ModelEntry,
    compare_models,
    evaluate_predictor,
    format_comparison,
    gt_people,
    is_trained_student,
    pck,
    pck_counts,
)
from distilpose.errors import DistilPoseError
from distilpose.training.synthetic import make_synthetic_coco, write_random_teacher
from distilpose.types import Instance

torch.set_num_threads(1)


# ---------------------------------------------------------------------------------------------- PCK
def _pck_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two people; expected values are worked out in the test below."""
    gt = np.zeros((2, 17, 3))
    pred = np.full((2, 17, 2), 999.0)  # unlabelled joints predicted far away: they must not count
    boxes = np.array([[10, 20, 50, 100], [0, 0, 40, 10]], dtype=np.float64)
    gt[0, 0] = (30, 40, 2)
    pred[0, 0] = (42, 56)  # 12, 16 -> distance 20
    gt[0, 1] = (50, 60, 2)
    pred[0, 1] = (65, 75)  # 15, 15 -> distance 21.21
    gt[0, 2] = (20, 80, 1)  # occluded but labelled
    pred[0, 2] = (20, 80)  # distance 0
    gt[1, 0] = (5, 5, 2)
    pred[1, 0] = (8, 9)  # 3, 4 -> distance 5
    gt[1, 5] = (10, 5, 2)
    pred[1, 5] = (19, 5)  # distance 9
    return pred, gt, boxes


def test_pck_by_hand() -> None:
    pred, gt, boxes = _pck_case()
    # alpha 0.2: person 0 threshold 0.2 * max(50, 100) = 20 -> 20 (hit, boundary), 21.21 (miss), 0 (hit);
    # person 1 threshold 0.2 * max(40, 10) = 8 -> 5 (hit), 9 (miss). 3 of 5 labelled keypoints.
    assert pck_counts(pred, gt, boxes) == (3, 5)
    assert pck(pred, gt, boxes) == pytest.approx(0.6)
    # alpha 0.1: thresholds 10 and 4 -> only the exact joint of person 0 is a hit.
    assert pck_counts(pred, gt, boxes, alpha=0.1) == (1, 5)
    # A wrong formula using the shorter side (thresholds 10 and 2) would give 1 of 5 at alpha 0.2.
    assert pck_counts(pred[:1], gt[:1], boxes[:1]) == (2, 3)


def test_pck_without_labelled_keypoints_and_bad_shapes() -> None:
    pred, gt, boxes = _pck_case()
    gt[:, :, 2] = 0
    assert pck_counts(pred, gt, boxes) == (0, 0)
    assert math.isnan(pck(pred, gt, boxes))
    with pytest.raises(DistilPoseError, match=r"boxes \(N, 4\)"):
        pck_counts(pred, gt, boxes[:1])


# ---------------------------------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def val_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("val")
    ann, images = make_synthetic_coco(folder, num_images=2, persons_per_image=1)
    return ann, images


@pytest.fixture(scope="module")
def student_ckpt(tmp_path_factory):
    from distilpose.models import create_model
    from distilpose.models.checkpoint import save_weights

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "student.safetensors"
    save_weights(create_model("distilpose-t"), path)
    return path


class OraclePredictor:
    """Predicts each ground-truth person exactly (score 1), shifted right by ``shift`` x max(box w, h)."""

    def __init__(self, dataset, shift: float = 0.0) -> None:
        self.people = [p for _img, persons in gt_people(dataset) for p in persons]
        self.shift = shift

    def predict(self, rgb, boxes):
        out = []
        for box in boxes:
            (person,) = [p for p in self.people if np.allclose(p.box, box)]
            kp = person.ann.keypoints.copy()
            kp[:, 0] += self.shift * max(person.ann.bbox[2], person.ann.bbox[3])
            kp[:, 2] = 2
            inst = Instance(keypoints=kp, scores=np.ones(17), source="student")
            inst.extras["area"] = float(box[2] * box[3])
            out.append(inst)
        return out


def test_oracle_scores_perfect_and_shifted_oracle_misses(val_set) -> None:
    ann, images = val_set
    dataset = load_coco(ann)
    people = gt_people(dataset)
    assert [len(p) for _i, p in people] == [1, 1]
    ap, pck_value, n, _results = evaluate_predictor(OraclePredictor(dataset), dataset, images, people)
    assert (ap, pck_value, n) == (pytest.approx(1.0), 1.0, 2)
    # 0.15 x the longer side is inside the 0.2 radius; 0.25 x is outside for every joint.
    _ap, near, _n, _r = evaluate_predictor(OraclePredictor(dataset, 0.15), dataset, images, people)
    ap_far, far, _n, _r = evaluate_predictor(OraclePredictor(dataset, 0.25), dataset, images, people)
    assert (near, far) == (1.0, 0.0)
    assert ap_far < 0.5


# ---------------------------------------------------------------------------------------------- models
def test_compare_models_scores_like_eval_and_keeps_error_rows(val_set, student_ckpt, tmp_path) -> None:
    from distilpose.evaluation import evaluate_keypoints
    from distilpose.inference.coco_run import predict_coco
    from distilpose.inference.loading import load_predictor

    ann, images = val_set
    seen: list[tuple[str, int, int]] = []
    rows = compare_models(
        [
            ModelEntry("new student", student_ckpt),
            ModelEntry("missing", tmp_path / "nope.safetensors"),
            ModelEntry("unknown", "no-such-model"),
        ],
        ann,
        images,
        progress=lambda label, done, total: seen.append((label, done, total)),
        warmup=1,
        iters=3,
    )
    assert [r.label for r in rows] == ["new student", "missing", "unknown"]
    good, missing, unknown = rows
    assert good.error is None and good.model == str(student_ckpt) and good.instances == 2
    expected = evaluate_keypoints(
        ann,
        predict_coco(load_predictor(student_ckpt, threads=1).predictor, load_coco(ann), images, progress=False),
    )["AP"]
    assert good.ap == pytest.approx(expected, abs=1e-12)  # same protocol as `distilpose eval --boxes gt`
    assert 0.0 <= good.pck <= 1.0
    assert math.isfinite(good.fps) and good.fps > 0 and good.latency_ms > 0
    assert seen == [("new student", 1, 2), ("new student", 2, 2)]
    assert "no such checkpoint file" in missing.error and str(tmp_path / "nope.safetensors") in missing.error
    assert "no-such-model" in unknown.error
    assert all(r.ap is None and r.pck is None and r.fps is None for r in (missing, unknown))


def test_cancel_between_models_and_images(val_set, student_ckpt) -> None:
    ann, images = val_set
    with pytest.raises(ComparisonCancelled):
        compare_models([ModelEntry("a", student_ckpt)], ann, images, should_stop=lambda: True)
    calls = []

    def stop_on_second_image() -> bool:
        calls.append(1)
        return len(calls) >= 3  # 1: before the model, 2: first image, 3: second image

    # Stopping inside a model must cancel, not be turned into that model's error row.
    with pytest.raises(ComparisonCancelled):
        compare_models([ModelEntry("a", student_ckpt)], ann, images, should_stop=stop_on_second_image)
    assert len(calls) == 3


def test_bad_inputs_name_the_file(val_set, tmp_path) -> None:
    ann, images = val_set
    with pytest.raises(DistilPoseError, match="image folder not found"):
        compare_models([ModelEntry("a", "distilpose-t")], ann, tmp_path / "no-images")
    doc = json.loads(ann.read_text())
    doc["annotations"] = []
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(doc))
    with pytest.raises(DistilPoseError, match=f"{empty}: no person with labelled keypoints"):
        compare_models([ModelEntry("a", "distilpose-t")], empty, images)


def test_is_trained_student(student_ckpt, tmp_path, monkeypatch) -> None:
    from distilpose.models import bundled

    assert is_trained_student(student_ckpt)
    assert not is_trained_student(write_random_teacher(tmp_path / "teacher.safetensors"))
    assert not is_trained_student(tmp_path / "missing.safetensors")
    assert not is_trained_student("no-such-model")
    assert bundled.bundled_weights("distilpose-t") is None
    assert not is_trained_student("distilpose-t")  # random weights: nothing to compare with
    monkeypatch.setattr(bundled, "bundled_weights", lambda name: student_ckpt)
    assert is_trained_student("distilpose-t")
    assert not is_trained_student("tokenpose-stemnet")  # a teacher stays a teacher


# ---------------------------------------------------------------------------------------------- output
ROWS = [
    ComparisonRow("new student", "run/final/model.safetensors", 0.51234, 0.7, 31.25, 32.0, 2),
    ComparisonRow("teacher", "movenet-thunder", error="movenet-thunder: not in the model cache"),
]


def test_format_comparison() -> None:
    assert format_comparison(ROWS) == "\n".join(
        [
            "| Model | AP | PCK@0.2 | FPS | Weights |",
            "|---|---:|---:|---:|---|",
            "| new student | 0.512 | 70.0% | 31.2 | run/final/model.safetensors |",
            "| teacher | — | — | — | movenet-thunder (error: movenet-thunder: not in the model cache) |",
        ]
    )
