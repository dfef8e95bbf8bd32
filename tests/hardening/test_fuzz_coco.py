"""Fuzzing the COCO readers: a mutated annotation, results or detections file loads, or raises a
CocoFormatError naming the file; nothing else escapes and nothing hangs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from distilpose.coco import (
    CocoDataset,
    Detection,
    load_coco,
    load_detections,
    load_keypoint_results,
    parse_coco,
    save_coco,
)
from distilpose.errors import CocoFormatError
from tests.hardening.support import FUZZ, assert_names_file, mutate, mutate_bytes
from tests.unit.coco_factory import gt_as_results, make_coco_doc

DOC = make_coco_doc(seed=3)
RESULTS = [r.to_json_dict() for r in gt_as_results(parse_coco(DOC))]
DETECTIONS = [
    Detection(image_id=10 + i % 3, bbox=(1.5 * i, 2.0, 30.0 + i, 40.0), score=0.1 * (i + 1)).to_json_dict()
    for i in range(5)
]


def _check_dataset(dataset: CocoDataset, scratch: Path) -> None:
    """A loaded file is usable: the writer accepts it (it refuses what the reader would) and it reads back."""
    for ann in dataset.annotations:
        assert ann.keypoints.shape == (17, 3) and np.isfinite(ann.keypoints).all()
        assert all(np.isfinite(ann.bbox)) and np.isfinite(ann.area)
    save_coco(dataset, scratch)
    again = load_coco(scratch)
    assert [i.id for i in again.images] == [i.id for i in dataset.images]
    assert [a.id for a in again.annotations] == [a.id for a in dataset.annotations]


def test_the_seed_documents_are_valid(tmp_path):
    """The fuzz starts from files that load: otherwise every case would only test the error path."""
    assert len(parse_coco(DOC).annotations) > 5
    (tmp_path / "r.json").write_text(json.dumps(RESULTS))
    (tmp_path / "d.json").write_text(json.dumps(DETECTIONS))
    assert len(load_keypoint_results(tmp_path / "r.json")) == len(RESULTS) > 3
    assert len(load_detections(tmp_path / "d.json")) == 5


@pytest.mark.timeout(120)
@FUZZ
@given(data=st.data())
def test_mutated_annotation_documents(tmp_path, data):
    doc = mutate(data, DOC)
    path = tmp_path / "ann file.json"
    path.write_text(json.dumps(doc))  # NaN/Infinity are written as the JSON extensions Python reads back
    try:
        dataset = load_coco(path)
    except CocoFormatError as exc:
        assert_names_file(exc, path)
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        return
    except Exception as exc:  # noqa: BLE001 - the point: report anything else as a failure
        assert_names_file(exc, path)
    else:
        _check_dataset(dataset, tmp_path / "saved.json")


@pytest.mark.timeout(120)
@FUZZ
@given(data=st.data())
def test_mutated_documents_in_memory(data):
    doc = mutate(data, DOC)
    try:
        parse_coco(doc, source="memory-doc")
    except Exception as exc:  # noqa: BLE001
        assert_names_file(exc, "memory-doc")


@pytest.mark.timeout(120)
@FUZZ
@given(data=st.data(), which=st.sampled_from(["coco", "results", "detections"]))
def test_damaged_bytes(tmp_path, data, which):
    """Truncated files, flipped bytes, non-UTF-8, random bytes and empty files, in all three readers."""
    seed = {"coco": DOC, "results": RESULTS, "detections": DETECTIONS}[which]
    raw = json.dumps(seed).encode()
    if data.draw(st.booleans(), label="mutate structure too"):
        raw = json.dumps(mutate(data, seed, max_edits=2)).encode()
    path = tmp_path / f"{which}.json"
    path.write_bytes(mutate_bytes(data, raw))
    reader = {"coco": load_coco, "results": load_keypoint_results, "detections": load_detections}[which]
    try:
        result = reader(path)
    except Exception as exc:  # noqa: BLE001
        assert_names_file(exc, path)
        return
    if which == "coco":
        _check_dataset(result, tmp_path / "saved.json")
    else:
        assert isinstance(result, list)


@pytest.mark.timeout(120)
@FUZZ
@given(data=st.data(), which=st.sampled_from(["results", "detections"]))
def test_mutated_results_and_detections(tmp_path, data, which):
    seed = RESULTS if which == "results" else DETECTIONS
    path = tmp_path / f"{which}.json"
    path.write_text(json.dumps(mutate(data, seed)))
    try:
        entries = (load_keypoint_results if which == "results" else load_detections)(path)
    except Exception as exc:  # noqa: BLE001
        assert_names_file(exc, path)
        return
    for entry in entries:
        values = entry.keypoints if which == "results" else np.asarray(entry.bbox)
        assert np.isfinite(values).all() and np.isfinite(entry.score)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '{"images": [{"id": 1' + "0" * 400 + ', "file_name": "a", "width": 1, "height": 1}], '
            '"annotations": [], "categories": []}',
            "too large",
        ),
        (
            '{"images": [{"id": 9223372036854775808, "file_name": "a", "width": 1, "height": 1}], '
            '"annotations": [], "categories": []}',
            "outside the 64-bit integer range",
        ),
        (
            '{"images": [], "annotations": [], "categories": [], "info": {"n": ' + "7" * 5000 + "}}",
            "not usable JSON",
        ),
    ],
    ids=["int-beyond-float", "int-beyond-int64", "int-beyond-4300-digits"],
)
def test_huge_integers_are_problems_not_crashes(tmp_path, text, problem):
    """Found by the fuzz: these raised OverflowError / ValueError out of load_coco."""
    path = tmp_path / "big.json"
    path.write_text(text)
    with pytest.raises(CocoFormatError) as info:
        load_coco(path)
    assert str(path) in str(info.value) and problem in str(info.value)


def test_huge_keypoint_value_is_named(tmp_path):
    doc = json.loads(json.dumps(DOC))
    doc["annotations"][0]["keypoints"][0] = 10**400
    with pytest.raises(CocoFormatError, match=r"'keypoints'\[0\] \(nose x\) is a 1329-bit integer"):
        parse_coco(doc)
