"""`distilpose eval`: scores a results file, prints a table or JSON, and reports bad input as a user error."""

from __future__ import annotations

import json

import numpy as np

from distilpose.cli import build_parser, main
from distilpose.coco import KeypointResult, load_coco, save_keypoint_results
from distilpose.evaluation import METRIC_NAMES
from tests.conftest import shared_path
from tests.unit.coco_factory import gt_as_results, make_coco_doc


def test_eval_gt_as_results_on_shared_val_set_is_ap_1(tmp_path, capsys):
    ann = shared_path("mmpose-coco", "test_coco.json")
    res = tmp_path / "gt_results.json"
    save_keypoint_results(gt_as_results(load_coco(ann)), res)
    assert main(["eval", "--ann", str(ann), "--results", str(res), "--json"]) == 0
    out = capsys.readouterr().out
    metrics = json.loads(out)  # one JSON object and nothing else (pycocotools' prints are silenced)
    assert list(metrics) == list(METRIC_NAMES)
    assert metrics["AP"] == 1.0 and metrics["AR"] == 1.0


def test_eval_prints_a_table(tmp_path, capsys):
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(make_coco_doc()))
    results = gt_as_results(load_coco(ann))
    results[0].keypoints[:, :2] += 40  # one person badly off: AP below 1
    res = tmp_path / "res.json"
    save_keypoint_results(results, res)
    assert main(["eval", "--ann", str(ann), "--results", str(res)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(METRIC_NAMES)
    ap = float(lines[0].split()[1])
    assert 0.0 < ap < 1.0


def test_eval_errors_are_user_errors(tmp_path, capsys):
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(make_coco_doc()))
    res = tmp_path / "res.json"
    save_keypoint_results([KeypointResult(image_id=404, keypoints=np.ones((17, 3)), score=1.0)], res)
    assert main(["eval", "--ann", str(ann), "--results", str(res)]) == 2
    err = capsys.readouterr().err
    assert "distilpose eval: error:" in err and "'image_id' 404 is not an image of" in err

    assert main(["eval", "--ann", str(ann), "--model", "distilpose-t", "--images", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "file not found" in err and str(tmp_path) in err  # names the missing image file

    assert main(["eval", "--ann", str(ann)]) == 2
    assert "nothing to evaluate" in capsys.readouterr().err

    assert main(["eval", "--ann", str(tmp_path / "missing.json"), "--results", str(res)]) == 2
    assert "missing.json: 1 problem(s)" in capsys.readouterr().err


def test_eval_parser_keeps_the_model_options():
    args = build_parser().parse_args(
        [
            "eval",
            "--ann",
            "a.json",
            "--model",
            "m",
            "--images",
            "imgs",
            "--boxes",
            "det.json",
            "--flip",
            "--out",
            "r.json",
        ]
    )
    assert (args.ann, args.model, args.images, args.boxes, args.flip, args.out) == (
        "a.json", "m", "imgs", "det.json", True, "r.json"
    )  # fmt: skip
    defaults = build_parser().parse_args(["eval", "--ann", "a.json", "--results", "r.json"])
    assert (defaults.boxes, defaults.flip, defaults.json, defaults.model) == ("gt", False, False, None)
