"""`distilpose eval --model`: the full top-down protocol (boxes, predictor, rescoring, OKS-NMS, COCOeval)."""

from __future__ import annotations

import json

import pytest

from distilpose.cli import main
from distilpose.coco import load_keypoint_results
from distilpose.inference.runtimes import RUNTIMES
from tests.conftest import require_zoo_model, shared_path


def _eval(capsys, *args: str) -> dict:
    assert main(["eval", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_movenet_thunder_reaches_its_known_ap_on_real_coco(capsys):
    """Our own measurement of the same model with square crops of GT boxes was 0.77 (shared/data/README)."""
    require_zoo_model("movenet-thunder")
    root = shared_path("mmpose-coco")
    gt = _eval(capsys, "--model", "movenet-thunder", "--ann", str(root / "test_coco.json"),
               "--images", str(root / "images"))  # fmt: skip
    assert gt["AP"] == pytest.approx(0.77, abs=0.02)
    det = _eval(capsys, "--model", "movenet-thunder", "--ann", str(root / "test_coco.json"),
                "--images", str(root / "images"), "--boxes", str(root / "test_coco_det_AP_H_56.json"))  # fmt: skip
    assert 0.6 < det["AP"] <= 1.0


def test_eval_model_writes_results_usable_by_eval_results(tmp_path, capsys):
    root = shared_path("mmpose-coco")
    out = tmp_path / "results.json"
    first = _eval(capsys, "--model", "distilpose-t", "--ann", str(root / "test_coco.json"),
                  "--images", str(root / "images"), "--out", str(out))  # fmt: skip
    results = load_keypoint_results(out)
    assert results and all(r.keypoints.shape == (17, 3) for r in results)
    again = _eval(capsys, "--ann", str(root / "test_coco.json"), "--results", str(out))
    assert first.pop("runtime") in RUNTIMES  # a model run says what ran (auto's choice); a results file cannot
    assert again == first


def test_eval_model_without_images_is_a_clear_error(capsys):
    root = shared_path("mmpose-coco")
    assert main(["eval", "--model", "distilpose-t", "--ann", str(root / "test_coco.json")]) == 2
    assert "--images" in capsys.readouterr().err
