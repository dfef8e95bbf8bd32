"""COCO files that passed ``load_coco`` and then broke the import with a traceback (issue 15, defect 6): a
list nested 500+ deep in an unknown annotation field (RecursionError), a lone surrogate in ``file_name``
(UnicodeEncodeError), a 5,000-character ``file_name`` (an OSError naming the image path and printing all of
it). Each is now a CocoFormatError naming the JSON file, and the project is unchanged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distilpose.cli import main
from distilpose.coco import MAX_NESTING, load_coco, save_coco
from distilpose.errors import CocoFormatError
from distilpose.project import ProjectStore
from distilpose.project.coco_io import import_coco
from tests.hardening.support import FUZZ, digest
from tests.unit.coco_factory import make_coco_doc

pytestmark = pytest.mark.timeout(120)


def _deep(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def _doc_with(case: str) -> str:
    doc = make_coco_doc(seed=1)
    if case == "deep":
        doc["annotations"][0]["attributes"] = _deep(600)
    elif case == "surrogate":
        doc["images"][0]["file_name"] = "a\ud800b.jpg"
    elif case == "long-name":
        doc["images"][0]["file_name"] = "n" * 5000 + ".jpg"
    elif case == "long-path":
        doc["images"][0]["file_name"] = "/".join(["d" * 200] * 25) + ".jpg"
    return json.dumps(doc)  # lone surrogates are written as the escape "\ud800", as JSON allows


CASES = {
    "deep": f"nested more than {MAX_NESTING} levels deep",
    "surrogate": "lone surrogate \\ud800",
    "long-name": "(5004 characters)",
    "long-path": "(5028 characters)",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_coco_files_are_refused_naming_the_json_file(tmp_path, case, capsys):
    ann = tmp_path / "hostile.json"
    ann.write_text(_doc_with(case), encoding="utf-8")
    (tmp_path / "images").mkdir()
    project = tmp_path / "p.dpproj"
    ProjectStore.create(project).close()
    with ProjectStore.open(project) as store:
        with pytest.raises(CocoFormatError) as info:
            import_coco(store, ann, tmp_path / "images")
        assert store.counts() == {"media": 0, "frames": 0, "instances": 0, "verified": 0, "keypoints_labelled": 0}
    text = str(info.value)
    assert text.startswith(f"{ann}: ") and CASES[case] in text, text
    assert len(text) < 1000, "the message prints the whole of a long name"
    before = digest(project)
    assert main(["project", "import-coco", str(project), str(ann), "--images", str(tmp_path / "images")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(ann) in err and len(err) < 1200
    assert digest(project) == before or ProjectStore.open(project).counts()["media"] == 0


def test_deep_nesting_is_refused_by_the_loader_itself(tmp_path):
    ann = tmp_path / "deep.json"
    ann.write_text(_doc_with("deep"), encoding="utf-8")
    with pytest.raises(CocoFormatError) as info:
        load_coco(ann)
    assert "annotation id" in str(info.value) and "'attributes'" in str(info.value)


def test_nesting_up_to_the_limit_round_trips(tmp_path):
    doc = make_coco_doc(seed=1)
    doc["annotations"][0]["attributes"] = _deep(MAX_NESTING - 1)
    ann = tmp_path / "ok.json"
    ann.write_text(json.dumps(doc), encoding="utf-8")
    dataset = load_coco(ann)
    save_coco(dataset, tmp_path / "again.json")
    assert load_coco(tmp_path / "again.json").annotations[0].extra["attributes"] == _deep(MAX_NESTING - 1)


def test_duplicate_ids_are_reported_by_one_rule_for_every_list(tmp_path):
    """The three parsers share one 'check the id, report duplicates' helper (issue 16)."""
    doc = make_coco_doc(seed=1)
    doc["categories"].append(dict(doc["categories"][0]))
    doc["images"].append(dict(doc["images"][0]))
    doc["annotations"].append(dict(doc["annotations"][0]))
    ann = tmp_path / "dups.json"
    ann.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(CocoFormatError) as info:
        load_coco(ann)
    problems = info.value.problems
    for kind, plural in (("category", "categories"), ("image", "images"), ("annotation", "annotations")):
        assert any(f"duplicate {kind} id" in p and f"already used by {plural}[0]" in p for p in problems), kind


def test_import_keeps_names_it_can_use(tmp_path):
    """Regular names (sub-folders, spaces, non-ASCII) still import."""
    doc = make_coco_doc(seed=1)
    doc["images"][0]["file_name"] = "sub folder/bild ä.jpg"
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(doc), encoding="utf-8")
    (tmp_path / "images").mkdir()
    with ProjectStore.create(tmp_path / "p.dpproj") as store:
        report = import_coco(store, ann, tmp_path / "images")
        assert report.images_added == len(doc["images"])
        assert any(m.path.endswith("sub folder/bild ä.jpg") for m in store.media_list())
    assert Path(ann).exists()


_PARTS = st.sampled_from(["..", ".", "a", "b.jpg", "", "link", "ä", "x" * 300, "\ud800", "C:", "\\..\\", "\x00"])


@pytest.fixture(scope="module")
def fuzz_project(tmp_path_factory):
    """images/ (with a sub-folder and a link out of it), and one open project every example imports into."""
    root = tmp_path_factory.mktemp("fuzz")
    images = root / "images"
    (images / "a").mkdir(parents=True)
    (root / "outside").mkdir()
    (images / "link").symlink_to(root / "outside")
    with ProjectStore.create(root / "p.dpproj") as store:
        yield root, images, store


@pytest.mark.slow
@settings(FUZZ, max_examples=200)
@given(names=st.lists(st.lists(_PARTS, min_size=1, max_size=6).map("/".join), min_size=1, max_size=4))
def test_fuzzed_file_names_import_inside_the_folder_or_are_refused(fuzz_project, names):
    """Any file names: either every media path of the project lies inside the images folder (links
    resolved), or the import is refused naming the JSON file and the project is unchanged."""
    root, images, store = fuzz_project
    doc = make_coco_doc(seed=1)
    doc["images"] = [dict(doc["images"][0], id=i + 1, file_name=name) for i, name in enumerate(names)]
    doc["annotations"] = []
    ann = root / "fuzz.json"
    ann.write_text(json.dumps(doc), encoding="utf-8")
    before = store.counts()["media"]
    try:
        import_coco(store, ann, images)
    except CocoFormatError as exc:
        assert str(exc).startswith(f"{ann}: ")
        assert store.counts()["media"] == before
        return
    inside = os.path.realpath(images)
    for media in store.media_list():
        real = os.path.realpath(store.media_path(media.id))
        assert Path(real).is_relative_to(inside), (media.path, real)
