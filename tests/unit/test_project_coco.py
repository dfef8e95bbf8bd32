"""COCO import/export of a project: exact round trips (pycocotools AP 1.0), all-or-nothing import, stable ids,
the export checklist, video frames, and YOLO-pose lines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from distilpose.coco import load_coco
from distilpose.errors import CocoFormatError, DistilPoseError
from distilpose.evaluation import evaluate_keypoints
from distilpose.keypoints import NAMES, NUM_KEYPOINTS, skeleton_to_coco
from distilpose.project.coco_io import ANNOTATION_FILE, export_coco, import_coco
from distilpose.project.store import ProjectStore
from distilpose.project.yolo_io import export_yolo, flip_index, yolo_line
from tests.conftest import shared_path
from tests.unit.coco_factory import gt_as_results, make_coco_doc
from tests.unit.test_project_support import dump_tables, person, write_coco_images, write_jpeg, write_json


@pytest.fixture
def store(tmp_path):
    with ProjectStore.create(tmp_path / "p.dpproj") as s:
        yield s


def _generated(tmp_path: Path, seed: int = 1) -> tuple[dict, Path, Path]:
    doc = make_coco_doc(seed=seed)
    (tmp_path / "src").mkdir()
    src = write_json(tmp_path / "src" / "ann.json", doc)
    images = write_coco_images(doc, tmp_path / "src" / "images")
    return doc, src, images


def _assert_round_trip(src: Path, exported: Path) -> None:
    """The exported file holds the original's images and person annotations exactly, and scores AP 1.0."""
    original, again = load_coco(src), load_coco(exported)
    assert sorted(again.images, key=lambda i: i.id) == sorted(original.images, key=lambda i: i.id)
    person = original.person_category_id()
    want = {a.id: a for a in original.annotations if a.category_id == person}
    got = {a.id: a for a in again.annotations}
    assert got.keys() == want.keys()
    for ann_id, ann in want.items():
        assert got[ann_id] == ann, ann_id  # ids, keypoints (x, y, v exact), box, area, crowd, segmentation
    assert (again.info, again.licenses) == (original.info, original.licenses)
    metrics = evaluate_keypoints(src, gt_as_results(again))
    assert metrics["AP"] == 1.0 and metrics["AR"] == 1.0


def test_generated_coco_round_trip_is_exact(store, tmp_path):
    doc, src, images = _generated(tmp_path)
    report = import_coco(store, src, images)
    n_person = sum(1 for a in doc["annotations"] if a["category_id"] == 1)
    assert (report.images_added, report.instances_added, report.skipped_other_category) == (4, n_person, 1)
    assert report.missing_image_files == []
    assert all(
        i.source == "import" and i.extras["verified"] for f in store.frames() for i in store.instances(f.id)
    )
    out = tmp_path / "out"
    exp = export_coco(store, out)
    assert (exp.images, exp.annotations) == (4, n_person)
    _assert_round_trip(src, out / ANNOTATION_FILE)
    for img in doc["images"]:  # the images were copied
        assert (out / "images" / img["file_name"]).read_bytes() == (images / img["file_name"]).read_bytes()


def test_coco_mini_train_round_trip_is_exact(store, tmp_path):
    src = shared_path("coco-mini-train", "person_keypoints.json")
    report = import_coco(store, src, src.parent / "images")
    assert (report.images_added, report.instances_added, report.missing_image_files) == (80, 172, [])
    out = tmp_path / "out"
    export_coco(store, out, images="link")
    _assert_round_trip(src, out / ANNOTATION_FILE)
    # nothing lost or retyped: the same JSON values, up to the order of the annotations
    a, b = json.loads(src.read_text()), json.loads((out / ANNOTATION_FILE).read_text())
    for d in (a, b):
        d["annotations"].sort(key=lambda ann: ann["id"])
    assert a == b
    assert len(list((out / "images").iterdir())) == 80


def test_export_follows_the_checklist(store, tmp_path):
    frame = store.add_frame(store.add_media(write_jpeg(tmp_path / "x.jpg", 40, 30)))
    iid = store.add_instance(frame, person(x0=1.5, y0=2.0))
    store.set_visibility(iid, 3, 0)  # the position is remembered in the project...
    store.set_visibility(iid, 4, 1)
    store.add_instance(frame, person(x0=7.0))
    export_coco(store, tmp_path / "out")
    doc = json.loads((tmp_path / "out" / ANNOTATION_FILE).read_text())
    anns = doc["annotations"]
    assert len(anns) == 2 and len({a["id"] for a in anns}) == 2
    first = next(a for a in anns if a["id"] == iid)
    kp = first["keypoints"]
    assert len(kp) == 3 * NUM_KEYPOINTS
    assert kp[9:12] == [0, 0, 0]  # ...but an export writes v = 0 as 0, 0, 0
    assert kp[12:15] == [1.5 + 4, 2.0 + 8, 1]  # v = 1 stays 1
    assert first["num_keypoints"] == 16 and first["iscrowd"] == 0
    assert first["bbox"] == pytest.approx(list(store.instance(iid).bbox_from_keypoints()))
    assert first["area"] == pytest.approx(first["bbox"][2] * first["bbox"][3])
    assert doc["categories"][0]["keypoints"] == list(NAMES)
    assert doc["categories"][0]["skeleton"] == [list(p) for p in skeleton_to_coco()]
    assert min(min(p) for p in doc["categories"][0]["skeleton"]) == 1  # 1-based
    assert doc["images"] == [{"id": frame, "file_name": "x.jpg", "width": 40, "height": 30}]


def test_malformed_file_lists_every_problem_and_changes_nothing(store, tmp_path):
    doc, src, images = _generated(tmp_path)
    import_coco(store, src, images)
    frame = store.frames()[0].id
    store.move_keypoint(store.instances(frame)[0].extras["id"], 0, 1.0, 1.0)
    before = dump_tables(store.path)

    bad = make_coco_doc(seed=2)
    del bad["images"][1]["file_name"]
    bad["annotations"][0]["keypoints"] = bad["annotations"][0]["keypoints"][:-3]
    bad["annotations"][1]["bbox"][2] = -4.0
    bad["annotations"][2]["image_id"] = 99999
    bad_path = tmp_path / "bad.json"
    bad_path.write_text(json.dumps(bad).replace('"area": 1200.0', '"area": NaN'))
    with pytest.raises(CocoFormatError) as info:
        import_coco(store, bad_path, images)
    assert info.value.problems == [
        "image id 11 (images[1]): missing required field 'file_name'",
        "annotation id 100 (annotations[0]): 'keypoints' has 48 values, expected 51 (17 keypoints x [x, y, v])",
        "annotation id 101 (annotations[1]): 'bbox' has negative width -4.0",
        "annotation id 102 (annotations[2]): 'image_id' 99999 is not the id of any image",
        f"annotation id {bad['annotations'][-2]['id']} (annotations[{len(bad['annotations']) - 2}]): "
        "'area' is NaN, must be a finite number",
    ]
    assert dump_tables(store.path) == before


def test_a_failure_half_way_through_an_import_rolls_everything_back(store, tmp_path, monkeypatch):
    doc, src, images = _generated(tmp_path)
    before = dump_tables(store.path)
    real, calls = store.add_instance, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "add_instance", failing)
    with pytest.raises(OSError, match="disk full"):
        import_coco(store, src, images)
    assert dump_tables(store.path) == before
    with pytest.raises(DistilPoseError, match="images folder not found"):
        import_coco(store, src, tmp_path / "nowhere")


def test_reimport_merges_and_ids_stay_stable(store, tmp_path):
    doc, src, images = _generated(tmp_path)
    import_coco(store, src, images)
    again = import_coco(store, src, images)
    assert (again.images_added, again.images_matched, again.instances_added) == (0, 4, 0)
    assert again.skipped_existing == sum(1 for a in doc["annotations"] if a["category_id"] == 1)

    out1, out2 = tmp_path / "o1", tmp_path / "o2"
    export_coco(store, out1, images="none")
    export_coco(store, out2, images="none")
    assert (out1 / ANNOTATION_FILE).read_text() == (out2 / ANNOTATION_FILE).read_text()
    assert not (out1 / "images").exists()

    first_frame = store.frames()[0].id
    victim = store.instances(first_frame)[0].extras["id"]
    store.delete_instance(victim)
    new = store.add_instance(first_frame, person())
    out3 = tmp_path / "o3"
    export_coco(store, out3, images="none")
    old_ids = {a["id"] for a in json.loads((out1 / ANNOTATION_FILE).read_text())["annotations"]}
    new_ids = {a["id"] for a in json.loads((out3 / ANNOTATION_FILE).read_text())["annotations"]}
    assert new_ids == (old_ids - {victim}) | {new} and new > max(old_ids)
    with pytest.raises(DistilPoseError, match="already exists"):
        export_coco(store, out3, images="none")
    export_coco(store, out3, images="none", overwrite=True)


def test_second_file_with_colliding_ids_gets_fresh_ids(store, tmp_path):
    doc, src, images = _generated(tmp_path)
    import_coco(store, src, images)
    other = make_coco_doc(seed=5)  # same image and annotation ids, other file names
    for img in other["images"]:
        img["file_name"] = "b_" + img["file_name"]
    other_path = write_json(tmp_path / "other.json", other)
    write_coco_images(other, images)
    report = import_coco(store, other_path, images)
    assert report.images_added == 4 and report.instances_added == sum(
        1 for a in other["annotations"] if a["category_id"] == 1
    )
    assert store.counts()["frames"] == 8
    export_coco(store, tmp_path / "out", images="none")
    exported = load_coco(tmp_path / "out" / ANNOTATION_FILE)
    assert len({a.id for a in exported.annotations}) == len(exported.annotations)


def test_only_verified_leaves_out_predictions(store, tmp_path):
    a = store.add_frame(store.add_media(write_jpeg(tmp_path / "a.jpg", 50, 50)))
    b = store.add_frame(store.add_media(write_jpeg(tmp_path / "b.jpg", 50, 50, seed=1)))
    verified = store.add_instance(a, person(), verified=True)
    store.add_instance(a, person(source="student", scores=True))
    store.add_instance(b, person(source="teacher", scores=True))
    report = export_coco(store, tmp_path / "v", only_verified=True)
    assert (report.images, report.annotations, report.left_out_unverified) == (1, 1, 2)
    doc = json.loads((tmp_path / "v" / ANNOTATION_FILE).read_text())
    assert [a["id"] for a in doc["annotations"]] == [verified]
    assert [i["id"] for i in doc["images"]] == [a]
    everything = export_coco(store, tmp_path / "all")
    assert (everything.images, everything.annotations) == (2, 3)
    scored = [
        a for a in json.loads((tmp_path / "all" / ANNOTATION_FILE).read_text())["annotations"] if "score" in a
    ]
    assert scored == []  # per-instance score only when the instance has one; these have keypoint scores only


def test_missing_images_are_listed_before_anything_is_written(store, tmp_path):
    store.add_frame(store.add_media(tmp_path / "gone1.jpg", must_exist=False, width=10, height=10))
    store.add_frame(store.add_media(tmp_path / "gone2.jpg", must_exist=False))
    with pytest.raises(DistilPoseError) as info:
        export_coco(store, tmp_path / "out")
    assert "2 image(s) of the export are missing" in str(info.value)
    assert "gone1.jpg" in str(info.value) and "gone2.jpg" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_video_frames_are_decoded_into_images(store, tmp_path):
    import cv2

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(8):
        writer.write(np.full((48, 64, 3), i * 30, dtype=np.uint8))
    writer.release()
    media = store.add_media(video)
    labelled = store.add_frame(media, 5)
    store.add_frame(media, 6)  # no instance: not part of the dataset
    store.add_instance(labelled, person(x0=3.0, y0=1.0))
    report = export_coco(store, tmp_path / "out")
    assert (report.images, report.annotations) == (1, 1)
    doc = json.loads((tmp_path / "out" / ANNOTATION_FILE).read_text())
    assert doc["images"] == [{"id": labelled, "file_name": "clip_000005.jpg", "width": 64, "height": 48}]
    pixels = cv2.imread(str(tmp_path / "out" / "images" / "clip_000005.jpg"))
    assert pixels.shape == (48, 64, 3) and abs(float(pixels.mean()) - 150) < 8  # frame 5 is grey 150


def test_yolo_line_is_normalised_by_hand():
    inst = person(bbox=(20.0, 10.0, 40.0, 50.0))
    inst.keypoints[:] = 0
    inst.keypoints[0] = (50.0, 30.0, 2)
    inst.keypoints[16] = (100.0, 20.0, 1)
    line = yolo_line(inst, width=200, height=100).split()
    assert line[:5] == ["0", "0.200000", "0.350000", "0.200000", "0.500000"]  # cx=40/200, cy=35/100, w, h
    assert line[5:8] == ["0.250000", "0.300000", "2"]
    assert line[8:11] == ["0.000000", "0.000000", "0"]
    assert line[-3:] == ["0.500000", "0.200000", "1"]
    assert len(line) == 5 + 3 * NUM_KEYPOINTS
    crowd = person(bbox=(0.0, 0.0, 5.0, 5.0))
    crowd.extras = {"coco": {"iscrowd": 1}}
    assert yolo_line(crowd, 100, 100) is None
    assert flip_index()[:5] == [0, 2, 1, 4, 3]


def test_yolo_export_layout(store, tmp_path):
    a = store.add_frame(store.add_media(write_jpeg(tmp_path / "a.jpg", 100, 50)), split="val")
    b = store.add_frame(store.add_media(write_jpeg(tmp_path / "b.jpg", 100, 50, seed=2)))
    store.add_instance(a, person(bbox=(0.0, 0.0, 50.0, 25.0)))
    store.add_instance(b, person(bbox=(10.0, 10.0, 20.0, 20.0)))
    store.add_instance(b, person(bbox=(30.0, 10.0, 20.0, 20.0)))
    report = export_yolo(store, tmp_path / "y")
    assert report.images == {"train": 1, "val": 1} and report.labels == 3
    assert (tmp_path / "y" / "images" / "val" / "a.jpg").exists()
    assert (
        (tmp_path / "y" / "labels" / "val" / "a.txt")
        .read_text()
        .startswith("0 0.250000 0.250000 0.500000 0.500000 ")
    )
    assert len((tmp_path / "y" / "labels" / "train" / "b.txt").read_text().splitlines()) == 2
    data = (tmp_path / "y" / "data.yaml").read_text()
    assert "kpt_shape: [17, 3]" in data and "val: images/val" in data and "0: person" in data


def test_folder_frames_export_against_the_files_the_app_shows(store, tmp_path):
    """A folder's frames are numbered in the app's natural order (img2 before img10, case-insensitive)."""
    folder = tmp_path / "shots"
    folder.mkdir()
    for i, name in enumerate(["img10.jpg", "Img3.jpg", "img1.jpg", "img2.jpg"]):
        write_jpeg(folder / name, 64, 48, seed=i)
    media = store.add_media(folder, "folder", width=64, height=48)
    for index in range(4):
        frame = store.add_frame(media, index)
        store.add_instance(frame, person(x0=index), verified=True)
    out = tmp_path / "export"
    export_coco(store, out, images="none")
    doc = json.loads((out / ANNOTATION_FILE).read_text())
    by_image = {img["id"]: img["file_name"] for img in doc["images"]}
    first_x = {by_image[a["image_id"]]: a["keypoints"][0] for a in doc["annotations"]}
    assert first_x == {"shots/img1.jpg": 0, "shots/img2.jpg": 1, "shots/Img3.jpg": 2, "shots/img10.jpg": 3}


def test_yolo_export_keeps_images_with_the_same_stem_apart(store, tmp_path):
    """x.jpg and x.png would share the label file x.txt: each image must keep its own people."""
    import cv2

    write_jpeg(tmp_path / "x.jpg", 100, 50)
    cv2.imwrite(str(tmp_path / "x.png"), np.zeros((50, 100, 3), np.uint8))
    one = store.add_frame(store.add_media(tmp_path / "x.jpg"))
    two = store.add_frame(store.add_media(tmp_path / "x.png"))
    store.add_instance(one, person(bbox=(0.0, 0.0, 50.0, 25.0)))
    store.add_instance(two, person(bbox=(10.0, 10.0, 20.0, 20.0)))
    store.add_instance(two, person(bbox=(30.0, 10.0, 20.0, 20.0)))
    export_yolo(store, tmp_path / "y")
    labels = sorted((tmp_path / "y" / "labels" / "train").glob("*.txt"))
    assert len(labels) == 2
    assert sorted(len(p.read_text().splitlines()) for p in labels) == [1, 2]
    images = sorted(p.stem for p in (tmp_path / "y" / "images" / "train").iterdir())
    assert images == sorted(p.stem for p in labels)
