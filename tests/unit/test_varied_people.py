"""varied_people: layouts, joint mapping, de-duplication, the val2017 drop, resumable labelling, fusion.

Small sources are made in tmp_path from the real sample photo (resources/samples/astronaut.jpg), so these run
without the fetched sources; one test runs the real MoveNet Thunder (skips when the zoo is absent)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest

from distilpose.errors import DistilPoseError
from distilpose.training.recipes import varied_people as vp
from distilpose.types import Instance

ASTRONAUT = Path(__file__).resolve().parents[2] / "resources" / "samples" / "astronaut.jpg"


def _photo(path: Path, variant: int, size: tuple[int, int] = (120, 160)) -> Path:
    """A distinct real picture per ``variant``: a different crop of the sample photo, mirrored or not."""
    img = cv2.imread(str(ASTRONAUT))
    h, w = img.shape[:2]
    x0, y0 = (variant * 37) % (w // 3), (variant * 53) % (h // 3)
    crop = img[y0 : y0 + 2 * h // 3, x0 : x0 + 2 * w // 3]
    if variant % 2:
        crop = crop[:, ::-1]
    if variant % 3 == 2:
        crop = crop[::-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.resize(crop, size))
    return path


def _lsp(root: Path, n: int = 3) -> Path:
    savemat = pytest.importorskip("scipy.io", reason="scipy (the dev/train extra) writes joints.mat").savemat

    joints = np.zeros((14, 3, n))
    for k in range(n):
        _photo(root / "images" / f"im{k + 1:05d}.jpg", k)
        joints[:, 0, k] = 10 + 5 * np.arange(14)  # x = 10 + 5 * (LSP joint index)
        joints[:, 1, k] = 20 + 4 * np.arange(14)
        joints[:, 2, k] = 1
    joints[0, :, 0] = (0, -26, 0)  # image 1: right ankle missing, as in LSP-extended
    savemat(str(root / "joints.mat"), {"joints": joints})
    return root


def _mpii(root: Path) -> Path:
    _photo(root / "images" / "000000001.jpg", 10)
    _photo(root / "images" / "000000002.jpg", 11)  # no joints: the detector labels it
    rows = []
    for person in range(2):  # two people in image 1
        xy = np.column_stack([30 + 2 * np.arange(16) + 40 * person, 40 + 3 * np.arange(16)]).astype(float)
        xy[9] = -1  # head top missing
        rows.append("000000001.jpg," + ",".join(f"{v:.1f}" for v in xy.flatten()))
    (root / "pose_dataset" / "mpii").mkdir(parents=True)
    (root / "pose_dataset" / "mpii" / "train_joints.csv").write_text("\n".join(rows) + "\n")
    return root


def _coco128(root: Path) -> Path:
    _photo(root / "images" / "train2017" / "000000000009.jpg", 20)
    _photo(root / "images" / "train2017" / "000000000025.jpg", 21)
    _photo(root / "images" / "val2017" / "000000000139.jpg", 22)
    labels = root / "object_detection" / "labels" / "train2017"
    labels.mkdir(parents=True)
    (labels / "000000000009.txt").write_text("0 0.5 0.5 0.25 0.5\n23 0.1 0.1 0.1 0.1\n")
    (labels / "000000000025.txt").write_text("23 0.5 0.5 0.2 0.2\n")  # no person: skipped
    return root


def _fake_teacher(calls: list):
    def predict(image, boxes, scores):
        calls.append(len(boxes))
        out = []
        for box in boxes:
            kp = np.zeros((17, 3))
            kp[:, 0] = box[0] + np.arange(17)
            kp[:, 1] = box[1] + 2.0
            kp[:, 2] = 2.0
            conf = np.where(np.arange(17) < 12, 0.9, 0.1)  # the last 5 (knees, ankles) unsure
            out.append(Instance(kp, bbox=tuple(box), scores=conf, score=0.9, source="teacher"))
        return out

    def detect(image):
        return np.array([[5.0, 5.0, 50.0, 80.0]]), np.array([0.8])

    return predict, detect


def test_recognises_each_layout_and_maps_joints_to_coco(tmp_path: Path) -> None:
    lsp = vp.recognise("lsp", _lsp(tmp_path / "lsp"))
    assert lsp.layout == "lsp-joints" and len(lsp.items) == 3
    j = lsp.items[1].joints[0]
    for src, dst in vp.LSP_TO_COCO.items():  # x encodes the LSP index
        assert j[dst, 0] == 10 + 5 * src and j[dst, 2] == 2
    assert j[:5, 2].sum() == 0  # face joints: not in LSP
    assert lsp.items[0].joints[0][16, 2] == 0  # the missing right ankle stays unlabelled
    assert lsp.items[1].boxes is not None and lsp.items[1].boxes[0][0] < 10  # box spans head top too

    mpii = vp.recognise("mpii", _mpii(tmp_path / "mpii"))
    assert mpii.layout == "mpii-joints-csv"
    first, second = mpii.items
    assert len(first.joints) == 2 and first.boxes.shape == (2, 4)
    assert second.joints == [] and second.boxes is None  # no joints: detector
    for src, dst in vp.MPII_TO_COCO.items():
        assert first.joints[0][dst, 0] == 30 + 2 * src
    assert first.joints[1][6, 0] == 30 + 2 * 12 + 40  # second person: right shoulder (MPII 12)

    coco = vp.recognise("coco128", _coco128(tmp_path / "coco128"))
    assert coco.layout == "coco128-boxes"
    assert [i.rel for i in coco.items] == ["images/train2017/000000000009.jpg"]  # never val2017
    np.testing.assert_allclose(coco.items[0].boxes, [[45.0, 40.0, 30.0, 80.0]])  # 120 wide, 160 high

    _photo(tmp_path / "plain" / "a" / "x.jpg", 30)
    _photo(tmp_path / "plain" / "val2017" / "y.jpg", 31)
    plain = vp.recognise("plain", tmp_path / "plain")
    assert plain.layout == "plain-images" and [i.rel for i in plain.items] == ["a/x.jpg"]

    (tmp_path / "bad" / "images").mkdir(parents=True)
    (tmp_path / "bad" / "joints.mat").write_text("not a MATLAB file")
    with pytest.raises(DistilPoseError, match=r"joints.mat: not an LSP joints file"):
        vp.recognise("bad", tmp_path / "bad")
    (tmp_path / "badcsv" / "images").mkdir(parents=True)
    (tmp_path / "badcsv" / "train_joints.csv").write_text("a.jpg," + ",".join(["x"] * 32) + "\n")
    with pytest.raises(DistilPoseError, match=r"train_joints.csv:1: a joint coordinate is not a number"):
        vp.recognise("badcsv", tmp_path / "badcsv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DistilPoseError, match="no images"):
        vp.recognise("empty", tmp_path / "empty")


def test_drops_exact_and_near_duplicates_across_sources(tmp_path: Path) -> None:
    a = _photo(tmp_path / "one" / "a.jpg", 1)
    _photo(tmp_path / "one" / "b.jpg", 2)
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "a_copy.jpg").write_bytes(a.read_bytes())  # same bytes
    img = cv2.imread(str(a))  # same picture, resized and re-encoded: another sha256, a near duplicate
    cv2.imwrite(
        str(tmp_path / "two" / "a_small.jpg"), cv2.resize(img, (90, 120)), [cv2.IMWRITE_JPEG_QUALITY, 70]
    )
    _photo(tmp_path / "two" / "c.jpg", 3)
    sources = [vp.recognise(n, tmp_path / n) for n in ("one", "two")]
    kept, files = vp.plan(sources, vp._Hashes(tmp_path / "h.json"), None)
    assert [(p.source, p.item.rel) for p in kept] == [("one", "a.jpg"), ("one", "b.jpg"), ("two", "c.jpg")]
    status = {f["file"]: f["status"] for f in files["two"]}
    assert status["a_copy.jpg"] == "dropped: same sha256 as one/a.jpg"
    assert status["a_small.jpg"] == "dropped: near duplicate of one/a.jpg"
    assert all(len(f["sha256"]) == 64 for f in files["one"] + files["two"])


def test_drops_val2017_by_id_and_refuses_coco_names_without_the_list(tmp_path: Path) -> None:
    _photo(tmp_path / "c" / "000000397133.jpg", 1)  # a val2017 id
    _photo(tmp_path / "c" / "000000000009.jpg", 2)  # train2017
    listing = tmp_path / "val2017.txt"
    listing.write_text("D:\\COCO\\images\\val2017\\000000397133.jpg 1,2,3,4,0\n")
    assert vp.read_val2017_ids(listing) == {397133}
    src = [vp.recognise("c", tmp_path / "c")]
    kept, files = vp.plan(src, vp._Hashes(tmp_path / "h.json"), vp.read_val2017_ids(listing))
    assert [p.item.rel for p in kept] == ["000000000009.jpg"]
    assert {f["file"]: f["status"] for f in files["c"]}["000000397133.jpg"] == "dropped: COCO val2017"
    with pytest.raises(DistilPoseError, match="val2017-list"):
        vp.plan(src, vp._Hashes(tmp_path / "h2.json"), None)


def test_fusion_rules() -> None:
    teacher = np.column_stack([np.arange(17.0), np.zeros(17), np.where(np.arange(17) < 12, 0.9, 0.1)])
    gt = np.zeros((17, 3))
    gt[[5, 13, 15], :] = [[100, 1, 2], [113, 1, 2], [115, 1, 2]]
    kp, s = vp.fuse(teacher, gt, "teacher", 0.3)
    np.testing.assert_array_equal(kp[:, 0], np.arange(17))
    kp, s = vp.fuse(teacher, gt, "fill", 0.3)  # only where Thunder is unsure (13, 15), not the shoulder (5)
    assert (kp[5, 0], kp[13, 0], kp[15, 0], kp[14, 0]) == (5, 113, 115, 14) and s[13] == 1.0 and s[14] == 0.1
    kp, s = vp.fuse(teacher, gt, "gt", 0.3)
    assert (kp[5, 0], kp[13, 0]) == (100, 113)
    kp, _ = vp.fuse(teacher, None, "gt", 0.3)  # no joints: Thunder
    np.testing.assert_array_equal(kp[:, 0], np.arange(17))


@pytest.mark.slow
def test_prepare_resumes_keeps_work_when_stopped_and_writes_a_loadable_coco_set(tmp_path: Path) -> None:
    from distilpose.data import TopDownCocoDataset, train_pipeline

    lsp, mpii = _lsp(tmp_path / "lsp"), _mpii(tmp_path / "mpii")
    specs, out = [f"lsp={lsp}", f"mpii={mpii}"], tmp_path / "data"
    calls: list = []
    predict, detect = _fake_teacher(calls)
    state = {"n": 0}

    def interrupted(image, boxes, scores):
        state["n"] += 1
        if state["n"] == 3:  # as `kill PID` of a background run (Ctrl-C raises KeyboardInterrupt directly)
            os.kill(os.getpid(), signal.SIGTERM)
        return predict(image, boxes, scores)

    first = vp.prepare(specs, out, val_list=None, predict=interrupted, detect=detect, dev_fraction=0.0)
    assert first["interrupted"] and first["planned"]["labelled"] == 2
    assert first["train"] == {"images": 2, "people": 3}  # lsp im00001 (1) and mpii 000000001 (2), interleaved
    calls.clear()
    again = vp.prepare(specs, out, val_list=None, predict=predict, detect=detect, dev_fraction=0.0)
    assert not again["interrupted"] and len(calls) == 3  # only the three images not done yet
    assert again["train"] == {"images": 5, "people": 6}
    calls.clear()
    vp.prepare(specs, out, val_list=None, predict=predict, detect=detect, dev_fraction=0.0)
    assert calls == []  # all done: nothing labelled twice

    doc = json.loads((out / "train" / "person_keypoints.json").read_text())
    by_file = {im["file"]: im for im in doc["images"]}
    assert "images/000000002.jpg" in by_file  # the detector's box
    ds = TopDownCocoDataset.from_coco(
        out / "train" / "person_keypoints.json", out / "train" / "images", train_pipeline(), train=True
    )
    assert len(ds) == 6 and ds[0] is not None
    listing = json.loads((out / "sources.json").read_text())["sources"]
    assert [s["layout"] for s in listing] == ["lsp-joints", "mpii-joints-csv"]
    assert listing[0]["repo"] == "axelcarlier/lsp" and listing[0]["licence"].startswith("LSP")
    # fill: Thunder's unsure knees/ankles come from the source's joints where it has them
    ann = next(a for a in doc["annotations"] if a["image_id"] == by_file["images/im00002.jpg"]["id"])
    assert ann["keypoints"][3 * 16] == 10 + 5 * 0  # right ankle = LSP joint 0's x
    assert vp.build(out, fusion="teacher")["train"]["people"] == 6
    teacher_only = json.loads((out / "train" / "person_keypoints.json").read_text())
    assert all(a["keypoints"][3 * 16 + 2] == 0 for a in teacher_only["annotations"])


def test_dev_split_is_fixed_by_content_and_seed(tmp_path: Path) -> None:
    shas = [f"{i:064x}" for i in range(2000)]
    dev = [s for s in shas if vp.split_of(s, 0.05, 26) == "dev"]
    assert 60 < len(dev) < 140
    assert dev == [s for s in shas if vp.split_of(s, 0.05, 26) == "dev"]
    assert dev != [s for s in shas if vp.split_of(s, 0.05, 27) == "dev"]
    assert not [s for s in shas if vp.split_of(s, 0.0, 26) == "dev"]


def test_measure_reports_thunder_agreement_with_source_joints(tmp_path: Path) -> None:
    lsp = _lsp(tmp_path / "lsp")
    predict, detect = _fake_teacher([])
    vp.prepare([f"lsp={lsp}"], tmp_path / "d", val_list=None, predict=predict, detect=detect)
    rows = vp.measure(tmp_path / "d")
    assert rows["lsp"]["people"] == 3 and 0.0 <= rows["lsp"]["mean_oks"] < 0.5  # the fake is far off
    lab = rows["lsp"]["body_joints_labelled"]
    assert lab["teacher"] == 7 and lab["fill"] > lab["teacher"] and lab["gt"] >= lab["fill"]


@pytest.mark.slow
def test_real_thunder_labels_people(tmp_path: Path) -> None:
    from tests.conftest import require_zoo_model

    require_zoo_model("movenet-thunder")
    require_zoo_model("centernet")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "astronaut.jpg").write_bytes(ASTRONAUT.read_bytes())
    lsp = _lsp(tmp_path / "lsp", n=1)  # the joints' box is wrong for this photo: Thunder still labels it
    counts = vp.prepare([f"plain={tmp_path / 'plain'}", f"lsp={lsp}"], tmp_path / "d", val_list=None)
    assert counts["planned"]["labelled"] == 2
    rec = next(r for r in vp.done_records(tmp_path / "d" / "labels.jsonl").values() if r["source"] == "plain")
    assert rec["people"] and rec["people"][0]["box_from"] == "detector"
    person = np.asarray(rec["people"][0]["teacher"])
    x, y, w, h = rec["people"][0]["box"]
    confident = person[person[:, 2] >= 0.3]
    assert len(confident) >= 10  # the astronaut is plainly visible
    assert (confident[:, 0] > x - 0.1 * w).all() and (confident[:, 0] < x + 1.1 * w).all()
    assert json.loads((tmp_path / "d" / "prepare.json").read_text())["teacher"].startswith(
        "movenet-thunder (flip"
    )


def test_near_duplicate_needs_both_hashes_close() -> None:
    """Plain-background pictures of different people can share a 64-bit hash within 3 bits (seen across yoga,
    HAR and LSP); the 256-bit hash tells them apart, so both must be close."""
    bands: list[dict] = [{} for _ in range(4)]
    kept = (0xFFFF_0000_FFFF_0000, (1 << 200) - 1)
    for b, table in enumerate(bands):
        table.setdefault((kept[0] >> (16 * b)) & 0xFFFF, []).append((kept, "a/kept.jpg"))
    same_64_far_256 = (kept[0] ^ 0b101, kept[1] ^ ((1 << 40) - 1))  # 2 and 40 bits apart
    close_both = (kept[0] ^ 0b1, kept[1] ^ ((1 << 16) - 1))  # 1 and 16 bits apart
    assert vp._near(bands, same_64_far_256) is None
    assert vp._near(bands, close_both) == "a/kept.jpg"
    assert vp._near(bands, (kept[0] ^ 0b1111, kept[1])) is None  # 4 bits apart on the 64-bit hash
