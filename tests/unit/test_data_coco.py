"""COCO top-down dataset and loader on real images (../shared/data), plus bad-input errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from distilpose.codecs import crop_image, crop_to_image, decode_heatmaps
from distilpose.data import (
    TopDownCocoDataset,
    denormalize_image,
    eval_pipeline,
    load_detection_records,
    load_gt_records,
    make_dataloader,
    read_rgb_image,
    train_pipeline,
)
from distilpose.data.loader import SeededSampler
from distilpose.errors import CocoFormatError, MediaError
from distilpose.keypoints import flip_permutation
from tests.conftest import shared_path

INPUT_WH = np.array([192.0, 256.0])


@pytest.fixture(scope="module")
def mini():
    ann = shared_path("coco-mini-train", "person_keypoints.json")
    return ann, ann.parent / "images"


def _annotation_keypoints(ann_file, ann_id):
    doc = json.loads(ann_file.read_text())
    ann = next(a for a in doc["annotations"] if a["id"] == ann_id)
    return np.array(ann["keypoints"], dtype=np.float64).reshape(17, 3)


def test_gt_records_follow_mmpose_filtering(mini):
    ann, images = mini
    records = load_gt_records(ann, images)
    doc = json.loads(ann.read_text())
    with_kps = [a for a in doc["annotations"] if not a["iscrowd"] and a.get("num_keypoints", 0) > 0]
    assert len(records) == len(with_kps) == 86
    assert {r.ann_id for r in records} == {a["id"] for a in with_kps}
    # clipped boxes stay inside their image
    sizes = {img["id"]: (img["width"], img["height"]) for img in doc["images"]}
    for r in records:
        w, h = sizes[r.image_id]
        assert r.bbox[0] >= 0 and r.bbox[1] >= 0
        assert r.bbox[0] + r.bbox[2] <= w - 1 and r.bbox[1] + r.bbox[3] <= h - 1
    # the train-time centre jitter moves about 30 % of the centres, once, reproducibly
    jittered = load_gt_records(ann, images, center_jitter_prob=0.3, seed=4)
    again = load_gt_records(ann, images, center_jitter_prob=0.3, seed=4)
    moved = [not np.allclose(a.center, b.center) for a, b in zip(records, jittered, strict=True)]
    assert 0.1 < np.mean(moved) < 0.5
    np.testing.assert_array_equal([r.center for r in jittered], [r.center for r in again])


def test_unaugmented_items_map_back_onto_the_annotation(mini):
    ann, images = mini
    ds = TopDownCocoDataset.from_coco(ann, images, eval_pipeline(), train=False)
    checked = 0
    for index in range(0, len(ds), 9):
        item = ds[index]
        assert item["image"].shape == (3, 256, 192) and item["image"].dtype == torch.float32
        assert item["target_coords"].shape == (17, 2) and item["target_weights"].shape == (17,)
        assert not item["flipped"] and item["rotation"].item() == 0.0
        img = item["image"].numpy()
        assert img.min() >= (0 - 0.485) / 0.229 - 1e-5 and img.max() <= (1 - 0.406) / 0.225 + 1e-5
        # the pixels are the crop of the original image
        original = read_rgb_image(ds.records[index].image_file)
        crop = crop_image(original, item["center"].numpy(), item["scale"].numpy(), 0, (192, 256))
        np.testing.assert_array_equal(denormalize_image(item["image"]), crop)
        # targets -> crop pixels -> image pixels == the annotation
        w = item["target_weights"].numpy() > 0
        crop_px = item["target_coords"].numpy().astype(np.float64) * INPUT_WH
        back = crop_to_image(crop_px, item["center"].numpy(), item["scale"].numpy(), (192, 256))
        truth = _annotation_keypoints(ann, int(item["ann_id"]))
        np.testing.assert_allclose(back[w], truth[w, :2], atol=2e-3)
        assert w.sum() > 0 and set(np.nonzero(w)[0]) <= set(np.nonzero(truth[:, 2] > 0)[0])
        checked += 1
    assert checked >= 9


def test_flipped_and_rotated_items_map_back_onto_the_annotation(mini):
    ann, images = mini
    pipe = train_pipeline("teacher", flip_prob=1.0, rot_prob=1.0, half_body_prob=0.0)
    ds = TopDownCocoDataset.from_coco(ann, images, pipe, train=True, center_jitter_prob=0.0, seed=11)
    perm = flip_permutation()
    for index in (0, 5, 17, 40):
        item = ds[(index, 2)]
        assert item["flipped"] and item["rotation"].item() != 0.0
        w = item["target_weights"].numpy() > 0
        crop_px = item["target_coords"].numpy().astype(np.float64) * INPUT_WH
        flipped_frame = crop_to_image(
            crop_px,
            item["center"].numpy(),
            item["scale"].numpy(),
            (192, 256),
            rot_deg=item["rotation"].item(),
        )
        img_w = int(item["image_size"][0])
        unflipped = flipped_frame.copy()
        unflipped[:, 0] = img_w - 1 - flipped_frame[:, 0]
        truth = _annotation_keypoints(ann, int(item["ann_id"]))[perm]  # slot k now holds pair partner
        np.testing.assert_allclose(unflipped[w], truth[w, :2], atol=2e-3)
        # teacher recipe: heatmap targets decode to the same points (heatmap px = crop px / 4)
        hm_coords, _ = decode_heatmaps(item["target_heatmaps"].numpy()[None])
        hw = item["heatmap_weights"].numpy() > 0
        inside = (
            hw
            & w
            & (crop_px[:, 0] > 12)
            & (crop_px[:, 0] < 180)
            & (crop_px[:, 1] > 12)
            & (crop_px[:, 1] < 244)
        )
        assert np.abs(hm_coords[0][inside] - crop_px[inside] / 4).max() < 0.05


def test_augmentation_is_reproducible_with_the_same_seed(mini):
    ann, images = mini
    a = TopDownCocoDataset.from_coco(ann, images, train_pipeline(), seed=3)
    b = TopDownCocoDataset.from_coco(ann, images, train_pipeline(), seed=3)
    differs = 0
    for index in (1, 2, 3):
        x, y = a[(index, 5)], b[(index, 5)]
        for key in ("image", "target_coords", "target_weights", "center", "scale", "rotation", "flipped"):
            torch.testing.assert_close(x[key], y[key], rtol=0, atol=0)
        z = a[(index, 6)]
        differs += int(not torch.equal(x["image"], z["image"]))
    assert differs == 3  # another epoch draws another augmentation


def test_dataloader_batches_match_direct_items(mini):
    ann, images = mini
    ds = TopDownCocoDataset.from_coco(ann, images, train_pipeline(), seed=9)
    loader = make_dataloader(ds, batch_size=4, shuffle=True, num_workers=2, seed=1)
    loader.sampler.set_epoch(3)
    batch = next(iter(loader))
    assert batch["image"].shape == (4, 3, 256, 192)
    assert batch["target_coords"].shape == (4, 17, 2) and batch["target_weights"].shape == (4, 17)
    for row, index in enumerate(batch["index"].tolist()):
        direct = ds[(index, 3)]
        torch.testing.assert_close(batch["image"][row], direct["image"], rtol=0, atol=0)
        torch.testing.assert_close(batch["target_coords"][row], direct["target_coords"], rtol=0, atol=0)


def test_seeded_sampler_shards_and_shuffles():
    s = SeededSampler(10, shuffle=True, seed=0, rank=0, world_size=3)
    r1 = SeededSampler(10, shuffle=True, seed=0, rank=1, world_size=3)
    r2 = SeededSampler(10, shuffle=True, seed=0, rank=2, world_size=3)
    parts = [list(x) for x in (s, r1, r2)]
    assert [len(p) for p in parts] == [4, 4, 4] and len(s) == 4
    assert {i for p in parts for i, _ in p} == set(range(10))
    assert all(epoch == 0 for p in parts for _, epoch in p)
    s.set_epoch(1)
    assert [i for i, _ in s] != [i for i, _ in parts[0]]
    assert [i for i, _ in SeededSampler(5, shuffle=False)] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="rank 3"):
        SeededSampler(5, rank=3, world_size=2)


def test_detections_become_eval_records():
    ann = shared_path("mmpose-coco", "test_coco.json")
    det_file = ann.parent / "test_coco_det_AP_H_56.json"
    dets = json.loads(det_file.read_text())
    all_recs = load_detection_records(ann, ann.parent / "images", det_file)
    assert len(all_recs) == sum(1 for d in dets if d.get("category_id", 1) == 1)
    strong = load_detection_records(ann, ann.parent / "images", det_file, score_thr=0.5)
    assert len(strong) == sum(1 for d in dets if d["score"] >= 0.5) < len(all_recs)
    r = all_recs[0]
    assert r.ann_id == -1 and r.bbox_score == pytest.approx(dets[0]["score"])
    x, y, w, h = dets[0]["bbox"]
    np.testing.assert_allclose(r.center, [x + w / 2, y + h / 2])
    ds = TopDownCocoDataset(strong[:2], eval_pipeline())
    item = ds[0]
    assert item["image"].shape == (3, 256, 192) and item["ann_id"].item() == -1
    assert item["target_weights"].sum().item() == 0.0


def test_bad_inputs_name_the_file_and_the_problem(tmp_path):
    with pytest.raises(CocoFormatError, match="file not found"):
        load_gt_records(tmp_path / "missing.json", tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CocoFormatError, match="cannot read as JSON"):
        load_gt_records(bad, tmp_path)
    doc = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 50, "height": 50}],
        "annotations": [
            {
                "id": 7,
                "image_id": 1,
                "category_id": 1,
                "bbox": [1, 1, 20, 30],
                "keypoints": [1, 2, 2],
                "iscrowd": 0,
            }
        ],
        "categories": [{"id": 1, "name": "person"}],
    }
    path = tmp_path / "short.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(CocoFormatError, match=r"annotation id 7 .*'keypoints' has 3 values, expected 51") as err:
        load_gt_records(path, tmp_path)
    assert str(path) in str(err.value)
    doc["annotations"][0]["keypoints"] = [5, 5, 2] * 17
    path.write_text(json.dumps(doc))
    with pytest.raises(CocoFormatError, match="image_id 99 is not in"):
        load_detection_records(path, tmp_path, [{"image_id": 99, "bbox": [0, 0, 5, 5], "score": 0.9}])
    ds = TopDownCocoDataset.from_coco(path, tmp_path, eval_pipeline(), train=False)
    with pytest.raises(MediaError, match="a.jpg"):
        ds[0]
    with pytest.raises(IndexError):
        ds.sample(5)
