"""COCO I/O: lossless round trips, the export checklist, and one precise message per problem in a bad file."""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from distilpose.coco import (
    CocoAnnotation,
    CocoDataset,
    CocoImage,
    Detection,
    KeypointResult,
    load_coco,
    load_detections,
    load_keypoint_results,
    save_coco,
    save_detections,
    save_keypoint_results,
)
from distilpose.errors import CocoFormatError, DistilPoseError
from distilpose.evaluation import evaluate_keypoints
from distilpose.keypoints import NAMES, NUM_KEYPOINTS, coco_category, skeleton_to_coco
from distilpose.types import Instance
from tests.conftest import shared_path
from tests.unit.coco_factory import gt_as_results, make_coco_doc


def _write(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")  # allow_nan: Python writes NaN/Infinity literals
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(CocoFormatError) as info:
        load_coco(path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    for p in info.value.problems:  # every problem is in the message the user sees
        assert p in str(info.value)
    return info.value.problems


# ------------------------------------------------------------------------------------------ round trips


def test_round_trip_real_coco_file_is_lossless_and_scores_ap_1(tmp_path):
    src = shared_path("coco-mini-train", "person_keypoints.json")
    original = load_coco(src)
    assert (len(original.images), len(original.annotations)) == (80, 172)
    out = tmp_path / "saved.json"
    save_coco(original, out)
    again = load_coco(out)
    assert again == original
    assert again.path == out
    # byte-for-byte the same JSON values: nothing (segmentation, urls, licences) is lost or retyped
    assert json.loads(out.read_text()) == json.loads(src.read_text())

    results = gt_as_results(again)
    assert len(results) == 86  # the README's "86 with keypoints"; crowd and unlabelled ones are not evaluable
    metrics = evaluate_keypoints(src, results)
    assert metrics["AP"] == 1.0
    assert metrics["AR"] == 1.0


def test_round_trip_generated_file_and_ap_1(tmp_path):
    doc = make_coco_doc(seed=3)
    src = _write(tmp_path / "gen.json", doc)
    original = load_coco(src)
    assert len(original.images) == 4
    assert len(original.annotations) == len(doc["annotations"])

    crowd = next(a for a in original.annotations if a.iscrowd)
    assert crowd.num_keypoints == 0 and not crowd.keypoints.any()  # no keypoints field: all zero
    assert crowd.extra["segmentation"]["counts"] == [10, 20, 30]

    out = tmp_path / "out" / "saved.json"
    save_coco(original, out)
    again = load_coco(out)
    assert again == original
    # fractional coordinates survive exactly; the person records are written back unchanged
    saved = {a["id"]: a for a in json.loads(out.read_text())["annotations"]}
    for ann in doc["annotations"]:
        if "keypoints" in ann:
            assert saved[ann["id"]] == ann

    metrics = evaluate_keypoints(out, gt_as_results(again))
    assert metrics["AP"] == 1.0 and metrics["AR"] == 1.0


def test_saved_file_follows_the_export_checklist(tmp_path):
    kp = np.zeros((NUM_KEYPOINTS, 3))
    kp[0] = [10.5, 20.0, 2]
    kp[5] = [30.0, 40.0, 1.0]
    kp[6] = [99.0, 77.0, 0]  # a position with v = 0 must not reach the file
    inst_a = Instance(keypoints=kp, bbox=(0.0, 0.0, 50.0, 60.0), score=0.9)
    inst_b = Instance(keypoints=kp.copy())  # no box: the padded keypoint box is used
    ds = CocoDataset(images=[CocoImage(id=7, file_name="a.jpg", width=100, height=100)], categories=[])
    ds.annotations.append(CocoAnnotation.from_instance(inst_a, image_id=7, id=41))
    ds.annotations.append(CocoAnnotation.from_instance(inst_b, image_id=7, id=ds.next_annotation_id()))
    out = tmp_path / "export.json"
    save_coco(ds, out)
    doc = json.loads(out.read_text())

    assert [a["id"] for a in doc["annotations"]] == [41, 42]  # one entry per instance, ids as given
    first = doc["annotations"][0]
    assert len(first["keypoints"]) == 51
    assert first["keypoints"][:3] == [10.5, 20, 2]
    assert first["keypoints"][15:21] == [30, 40, 1, 0, 0, 0]
    assert all(type(v) is int for v in first["keypoints"][2::3])
    assert first["num_keypoints"] == 2
    assert first["bbox"] == [0, 0, 50, 60] and first["area"] == 3000
    assert first["iscrowd"] == 0 and first["score"] == 0.9
    # padded keypoint box: extent 19.5 x 20, padded by 10 % each side
    assert doc["annotations"][1]["bbox"] == pytest.approx([8.55, 18.0, 23.4, 24.0])
    (person,) = doc["categories"]
    assert person == coco_category()
    assert person["keypoints"] == list(NAMES)
    assert person["skeleton"] == skeleton_to_coco()
    assert min(min(pair) for pair in person["skeleton"]) == 1  # 1-based in the file


def test_instance_round_trip_keeps_id_area_and_unknown_fields():
    ann = CocoAnnotation(
        id=5, image_id=3, category_id=1, keypoints=np.arange(51, dtype=float).reshape(17, 3) % 3,
        bbox=(1, 2, 3, 4), area=77.5, iscrowd=0, num_keypoints=17, track_id=2,
        extra={"segmentation": [[1, 2, 3, 4]]},
    )  # fmt: skip
    inst = ann.to_instance()
    assert inst.source == "import" and inst.track_id == 2 and inst.bbox == (1.0, 2.0, 3.0, 4.0)
    np.testing.assert_array_equal(inst.keypoints, ann.keypoints)
    back = CocoAnnotation.from_instance(inst, image_id=3)
    assert back == ann
    with pytest.raises(ValueError, match="id"):
        CocoAnnotation.from_instance(Instance(keypoints=np.zeros((17, 3)), bbox=(0, 0, 1, 1)), image_id=1)
    with pytest.raises(ValueError, match="neither a box nor labelled keypoints"):
        CocoAnnotation.from_instance(Instance(keypoints=np.zeros((17, 3))), image_id=1, id=9)


def test_lookups_are_indexed_and_follow_list_changes(tmp_path):
    ds = load_coco(_write(tmp_path / "g.json", make_coco_doc()))
    by_image = {}
    for a in ds.annotations:
        by_image.setdefault(a.image_id, []).append(a.id)
    for img in ds.images:
        assert [a.id for a in ds.annotations_for_image(img.id)] == by_image.get(img.id, [])
        assert ds.image(img.id) is img
    assert ds.annotations_for_image(13) == []
    assert ds.image_by_file_name("img_001.jpg").id == 11
    assert ds.image_by_file_name("/some/folder/img_002.jpg").id == 12
    assert ds.image_by_file_name("missing.jpg") is None
    with pytest.raises(KeyError, match="999"):
        ds.image(999)
    # the index follows appends and in-place id edits
    new = copy.deepcopy(ds.annotations[0])
    new.id, new.image_id = ds.next_annotation_id(), 13
    ds.annotations.append(new)
    assert ds.annotations_for_image(13) == [new]
    new.image_id = 12  # an in-place id edit needs reindex() (detecting it would cost a scan per call)
    ds.reindex()
    assert new in ds.annotations_for_image(12) and ds.annotations_for_image(13) == []
    assert ds.next_image_id() == 14


def test_box_only_annotation_without_keypoints_is_accepted(tmp_path):
    doc = make_coco_doc()
    doc["annotations"] = [{"id": 1, "image_id": 10, "category_id": 1, "bbox": [1, 2, 3, 4]}]
    ann = load_coco(_write(tmp_path / "b.json", doc)).annotations[0]
    assert ann.num_keypoints == 0 and ann.keypoints.shape == (17, 3) and not ann.keypoints.any()
    assert ann.area == 12.0 and ann.iscrowd == 0


# ------------------------------------------------------------------------------------------ bad files


def test_unreadable_and_non_json_files(tmp_path):
    assert _problems(tmp_path / "nope.json") == ["file not found"]
    assert _problems(tmp_path) == ["is a folder, not a JSON file"]
    empty = tmp_path / "empty.json"
    empty.write_text("  \n")
    assert _problems(empty) == ["file is empty"]
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    assert "not UTF-8" in _problems(binary)[0]
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"images": [1,, 2]}')
    assert _problems(garbage) == ["not valid JSON at line 1, column 15: Expecting value"]


@pytest.mark.parametrize("where", ["inside a string", "after a comma", "inside a number"])
def test_truncated_json_says_where_it_ends(tmp_path, where):
    text = json.dumps(make_coco_doc(), indent=1)
    start = text.index('"annotations"')
    cut = {
        "inside a string": text[: start + 5],
        "after a comma": text[: text.index(",", start) + 1],
        "inside a number": text[: text.index('"id": ', start) + 8],
    }[where]
    path = tmp_path / "cut.json"
    path.write_text(cut)
    (problem,) = _problems(path)
    line, column = cut.count("\n") + 1, len(cut) - cut.rfind("\n")
    assert problem.startswith(f"JSON ends early at line {line}, column {column} (file truncated?): ")


def test_top_level_shape_problems(tmp_path):
    assert (
        "got a list of 0 item(s) (this looks like a results file"
        in _problems(_write(tmp_path / "l.json", []))[0]
    )
    doc = make_coco_doc()
    for key in ("images", "annotations", "categories"):
        broken = dict(doc)
        del broken[key]
        # without images (or categories) the id cross-checks are skipped rather than failing every annotation
        assert _problems(_write(tmp_path / f"no_{key}.json", broken)) == [
            f"top level: missing required field '{key}'"
        ]
    broken = dict(doc, images={"id": 1})
    assert _problems(_write(tmp_path / "t.json", broken)) == [
        "top level: 'images' must be a list, got an object of 1 item(s)"
    ]


def _bad(doc_edit) -> dict:
    doc = make_coco_doc()
    doc_edit(doc)
    return doc


def _set(path: list, value):
    def edit(doc):
        obj = doc
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = value

    return edit


def _delete(path: list):
    def edit(doc):
        obj = doc
        for key in path[:-1]:
            obj = obj[key]
        del obj[path[-1]]

    return edit


# (edit, the one expected problem); annotations[0] has id 100, images[1] has id 11.
BAD_CASES = {
    "image missing width": (
        _delete(["images", 1, "width"]),
        "image id 11 (images[1]): missing required field 'width'",
    ),
    "annotation missing image_id": (
        _delete(["annotations", 0, "image_id"]),
        "annotation id 100 (annotations[0]): missing required field 'image_id'",
    ),
    "annotation missing id": (
        _delete(["annotations", 0, "id"]),
        "annotations[0]: missing required field 'id'",
    ),
    "width is a string": (
        _set(["images", 1, "width"], "640"),
        "image id 11 (images[1]): 'width' must be an integer, got a string (\"640\")",
    ),
    "file_name is a number": (
        _set(["images", 1, "file_name"], 5),
        "image id 11 (images[1]): 'file_name' must be a string, got an integer (5)",
    ),
    "category_id not integral": (
        _set(["annotations", 0, "category_id"], 1.5),
        "annotation id 100 (annotations[0]): 'category_id' must be an integer, got 1.5",
    ),
    "iscrowd is true": (
        _set(["annotations", 0, "iscrowd"], True),
        "annotation id 100 (annotations[0]): 'iscrowd' must be an integer, got true",
    ),
    "keypoints not a list": (
        _set(["annotations", 0, "keypoints"], "1,2,3"),
        "annotation id 100 (annotations[0]): 'keypoints' must be a list of 51 numbers, got a string (\"1,2,3\")",
    ),
    "keypoints too short": (
        _set(["annotations", 0, "keypoints"], [1, 1, 2] * 16),
        "annotation id 100 (annotations[0]): 'keypoints' has 48 values, expected 51 (17 keypoints x [x, y, v])",
    ),
    "NaN keypoint": (
        _set(["annotations", 0, "keypoints", 4], float("nan")),
        "annotation id 100 (annotations[0]): 'keypoints'[4] (left_eye y) is NaN",
    ),
    "Infinity in bbox": (
        _set(["annotations", 0, "bbox", 2], float("inf")),
        "annotation id 100 (annotations[0]): 'bbox' w is Infinity",
    ),
    "NaN area": (
        _set(["annotations", 0, "area"], float("nan")),
        "annotation id 100 (annotations[0]): 'area' is NaN, must be a finite number",
    ),
    "NaN score": (
        _set(["annotations", 0, "score"], float("nan")),
        "annotation id 100 (annotations[0]): 'score' is NaN, must be a finite number",
    ),
    "NaN in segmentation": (
        _set(["annotations", 0, "segmentation"], [[1.0, float("-inf"), 3.0]]),
        "annotation id 100 (annotations[0]): 'segmentation'[0][1] is -Infinity",
    ),
    "NaN in an image's extra field": (
        _set(["images", 1, "license"], float("nan")),
        "image id 11 (images[1]): 'license' is NaN",
    ),
    "NaN in info": (_set(["info", "year"], float("nan")), "top level: 'info'.year is NaN"),
    "zero width": (_set(["images", 1, "width"], 0), "image id 11 (images[1]): 'width' must be > 0, got 0"),
    "negative height": (
        _set(["images", 1, "height"], -5),
        "image id 11 (images[1]): 'height' must be > 0, got -5",
    ),
    "negative bbox width": (
        _set(["annotations", 0, "bbox", 2], -3.5),
        "annotation id 100 (annotations[0]): 'bbox' has negative width -3.5",
    ),
    "negative bbox height": (
        _set(["annotations", 0, "bbox", 3], -1),
        "annotation id 100 (annotations[0]): 'bbox' has negative height -1",
    ),
    "bbox with 3 values": (
        _set(["annotations", 0, "bbox"], [1, 2, 3]),
        "annotation id 100 (annotations[0]): 'bbox' must have 4 values [x, y, w, h], got 3",
    ),
    "v out of range": (
        _set(["annotations", 0, "keypoints", 8], 3),
        "annotation id 100 (annotations[0]): 'keypoints'[8] (right_eye v) is 3, "
        "must be 0 (not labelled), 1 (occluded) or 2 (visible)",
    ),
    "duplicate image id": (
        _set(["images", 3, "id"], 11),
        "image id 11 (images[3]): duplicate image id 11, already used by images[1]",
    ),
    "duplicate annotation id": (
        _set(["annotations", 1, "id"], 100),
        "annotation id 100 (annotations[1]): duplicate annotation id 100, already used by annotations[0]",
    ),
    "annotation of a missing image": (
        _set(["annotations", 0, "image_id"], 999),
        "annotation id 100 (annotations[0]): 'image_id' 999 is not the id of any image",
    ),
    "annotation of a missing category": (
        _set(["annotations", 0, "category_id"], 7),
        "annotation id 100 (annotations[0]): 'category_id' 7 is not the id of any category",
    ),
    "num_keypoints disagrees": (
        _set(["annotations", 0, "num_keypoints"], 17),
        "annotation id 100 (annotations[0]): 'num_keypoints' is 17 but 11 keypoints have v > 0",
    ),
    "person keypoint names renamed": (
        _set(["categories", 0, "keypoints", 3], "leftear"),
        "category id 1 (categories[0]): 'keypoints'[3] is 'leftear', the COCO-17 schema has 'left_ear' there",
    ),
    "person keypoint names too few": (
        _set(["categories", 0, "keypoints"], list(NAMES[:14])),
        "category id 1 (categories[0]): 'keypoints' lists 14 names, but the COCO-17 person schema has 17",
    ),
    "skeleton out of range": (
        _set(["categories", 0, "skeleton", 0], [0, 18]),
        "category id 1 (categories[0]): 'skeleton'[0] must be a pair of 1-based keypoint numbers 1..17, got [0, 18]",
    ),
    "box-less annotation without labelled keypoints": (
        _delete(["annotations", -2, "bbox"]),
        "has neither a 'bbox' nor any labelled keypoints",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_each_malformed_field_gives_one_precise_problem(tmp_path, case):
    edit, expected = BAD_CASES[case]
    problems = _problems(_write(tmp_path / "bad.json", _bad(edit)))
    assert len(problems) == 1, problems
    assert problems[0].endswith(expected)


def test_overflowing_number_is_rejected(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(json.dumps(make_coco_doc()).replace('"year": 2024', '"year": 1e999'))
    assert _problems(path) == ["top level: 'info'.year is Infinity"]


def test_every_problem_is_listed_at_once(tmp_path):
    doc = make_coco_doc()
    doc["images"][0]["width"] = 0
    doc["annotations"][0]["keypoints"][2] = 5
    doc["annotations"][0]["keypoints"][6] = float("nan")
    doc["annotations"][2]["id"] = doc["annotations"][1]["id"]
    doc["annotations"][3]["image_id"] = 4242
    problems = _problems(_write(tmp_path / "many.json", doc))
    assert len(problems) == 5, problems
    assert any("images[0]" in p and "'width'" in p for p in problems)
    assert any("'keypoints'[2] (nose v) is 5" in p for p in problems)
    assert any("'keypoints'[6] (right_eye x) is NaN" in p for p in problems)
    assert any("duplicate annotation id 101" in p for p in problems)
    assert any("'image_id' 4242" in p for p in problems)


def test_a_bad_image_does_not_cascade_into_its_annotations(tmp_path):
    doc = make_coco_doc()
    doc["images"][0]["height"] = -1  # its annotations still point at a known image id
    assert _problems(_write(tmp_path / "img.json", doc)) == [
        "image id 10 (images[0]): 'height' must be > 0, got -1"
    ]


# ------------------------------------------------------------------------------------------ safe saving


def _invalid_datasets(tmp_path) -> dict:
    def ds():
        return load_coco(_write(tmp_path / "src.json", make_coco_doc()))

    nan_kp = ds()
    labelled = int(np.flatnonzero(nan_kp.annotations[0].keypoints[:, 2] > 0)[0])
    nan_kp.annotations[0].keypoints[labelled, 0] = (
        np.nan
    )  # on a labelled keypoint: v = 0 positions are zeroed
    dup = ds()
    dup.annotations[1].id = dup.annotations[0].id
    zero = ds()
    zero.images[0].width = 0
    orphan = ds()
    orphan.annotations[0].image_id = 31337
    bad_v = ds()
    bad_v.annotations[0].keypoints[0, 2] = 1.5
    shape = ds()
    shape.annotations[0].keypoints = np.zeros((16, 3))
    return {
        f"'keypoints'[{3 * labelled}] ({NAMES[labelled]} x) is NaN": nan_kp,
        "duplicate annotation id 100": dup,
        "'width' must be > 0": zero,
        "'image_id' 31337 is not the id of any image": orphan,
        "(nose v) is 1.5": bad_v,
        "'keypoints' has 48 values": shape,
    }


def test_save_of_an_invalid_dataset_writes_nothing(tmp_path):
    cases = _invalid_datasets(tmp_path)
    folder = tmp_path / "out"
    folder.mkdir()
    existing = folder / "existing.json"
    existing.write_text("previous content")
    for expected, dataset in cases.items():
        for target in (existing, folder / "absent.json"):
            with pytest.raises(CocoFormatError) as info:
                save_coco(dataset, target)
            assert info.value.path == str(target)
            assert any(expected in p for p in info.value.problems), info.value.problems
    assert existing.read_text() == "previous content"
    assert sorted(os.listdir(folder)) == ["existing.json"]  # no new file, no temp file left behind


# ------------------------------------------------------------------------------------------ results files


def test_keypoint_results_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    results = [
        KeypointResult(image_id=i, keypoints=rng.uniform(0, 100, (17, 3)), score=float(rng.uniform()))
        for i in range(5)
    ]
    path = tmp_path / "res.json"
    save_keypoint_results(results, path)
    assert load_keypoint_results(path) == results
    doc = json.loads(path.read_text())
    assert set(doc[0]) == {"image_id", "category_id", "keypoints", "score"} and len(doc[0]["keypoints"]) == 51


def test_keypoint_result_from_instance_uses_keypoint_scores():
    kp = np.ones((17, 3)) * 2
    scores = np.linspace(0, 1, 17)
    r = KeypointResult.from_instance(Instance(keypoints=kp, scores=scores, score=0.75), image_id=4)
    np.testing.assert_array_equal(r.keypoints[:, 2], scores)
    assert (r.image_id, r.score, r.category_id) == (4, 0.75, 1)


def test_bad_keypoint_results_list_every_problem(tmp_path):
    entries = [
        {"image_id": 1, "keypoints": [0.0] * 51, "score": 0.5},
        {"keypoints": [0.0] * 51, "score": 0.5},
        {"image_id": 3, "keypoints": [0.0] * 50, "score": float("nan")},
        "oops",
    ]
    path = _write(tmp_path / "res.json", entries)
    with pytest.raises(CocoFormatError) as info:
        load_keypoint_results(path)
    assert info.value.problems == [
        "[1]: missing required field 'image_id'",
        "[2] (image_id 3): 'score' is NaN, must be a finite number",
        "[2] (image_id 3): 'keypoints' has 50 values, expected 51 (17 keypoints x [x, y, score])",
        '[3]: must be an object, got a string ("oops")',
    ]
    with pytest.raises(CocoFormatError, match="looks like an annotation file"):
        load_keypoint_results(_write(tmp_path / "ann.json", make_coco_doc()))
    with pytest.raises(CocoFormatError, match="is NaN"):
        save_keypoint_results([KeypointResult(1, np.full((17, 3), np.nan), 1.0)], tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_load_detections_on_the_shared_detector_file():
    path = shared_path("mmpose-coco", "test_coco_det_AP_H_56.json")
    raw = json.loads(path.read_text())
    dets = load_detections(path)
    assert len(dets) == len(raw) == 118
    first = dets[0]
    assert first.image_id == raw[0]["image_id"] == 785
    assert first.bbox == tuple(raw[0]["bbox"]) and first.score == raw[0]["score"]
    confident = load_detections(path, min_score=0.5)
    assert len(confident) == sum(r["score"] >= 0.5 for r in raw)
    assert 0 < len(confident) < len(dets)
    assert load_detections(path, category_id=2) == []
    ann_ids = {img.id for img in load_coco(shared_path("mmpose-coco", "test_coco.json")).images}
    assert {d.image_id for d in dets} <= ann_ids


def test_detections_round_trip_and_validation(tmp_path):
    dets = [Detection(1, (1.5, 2, 30, 40), 0.9), Detection(2, (0, 0, 10, 10), 0.1, category_id=3)]
    path = tmp_path / "d.json"
    save_detections(dets, path)
    assert load_detections(path, category_id=None) == dets
    assert load_detections(path) == dets[:1]
    bad = [
        {"image_id": 1, "bbox": [0, 0, -4, 5], "score": 1},
        {"image_id": 2, "bbox": [0, 0, 1, 1], "score": "hi"},
    ]
    with pytest.raises(CocoFormatError) as info:
        load_detections(_write(tmp_path / "bad.json", bad))
    assert info.value.problems == [
        "[0] (image_id 1): 'bbox' has negative width -4",
        "[1] (image_id 2): 'score' must be a number, got a string (\"hi\")",
    ]
    assert isinstance(info.value, DistilPoseError)
    with pytest.raises(CocoFormatError):
        save_detections([Detection(1, (0, 0, 1, math.inf), 0.5)], tmp_path / "inf.json")
    assert not (tmp_path / "inf.json").exists()
