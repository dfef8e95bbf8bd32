"""pseudo_label: teacher predictions on raw media become a COCO set pycocotools reads, with a data list."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from distilpose.errors import DistilPoseError
from distilpose.pipeline import LivePipeline
from distilpose.pseudolabel import pseudo_label
from distilpose.types import Instance


def _images(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = folder / f"img{i}.png"
        cv2.imwrite(str(p), rng.integers(0, 255, (60, 80, 3), dtype=np.uint8))
        paths.append(p)
    return paths


class _Detector:
    name = "two boxes"

    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.array([[10.0, 5.0, 30.0, 40.0], [0.0, 0.0, 5.0, 5.0]]), np.array([0.9, 0.4])


class _Teacher:
    def predict(self, image, boxes, scores, return_heatmaps: bool = False) -> list[Instance]:
        return _predict(boxes, scores)


def _pipeline() -> LivePipeline:
    """A teacher that places its keypoints from the box, behind a detector of two boxes."""
    return LivePipeline(_Teacher(), _Detector())  # type: ignore[arg-type]


def _predict(boxes, scores) -> list[Instance]:
    out = []
    for b, box in enumerate(boxes):
        kp = np.zeros((17, 3))
        kp[:, 0] = box[0] + np.arange(17)
        kp[:, 1] = box[1] + 1.0
        kp[:, 2] = 2.0
        # first box: 10 confident keypoints; second box: only 3 (dropped with min_keypoints=6)
        conf = np.where(np.arange(17) < (10 if b == 0 else 3), 0.9, 0.1)
        out.append(
            Instance(keypoints=kp, bbox=tuple(box), scores=conf, score=float(scores[b]), source="teacher")
        )
    return out


def test_writes_a_coco_set_with_unlabelled_low_scores(tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    paths = _images(tmp_path / "raw", 3)
    stats = pseudo_label(
        [tmp_path / "raw"],
        tmp_path / "out",
        pipeline=_pipeline(),
        teacher_name="t",
        min_keypoints=6,
    )
    assert (stats.images, stats.instances, stats.dropped) == (3, 3, 3)
    coco = COCO(str(tmp_path / "out" / "person_keypoints.json"))
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) == 3
    kp = np.array(anns[0]["keypoints"]).reshape(17, 3)
    assert (kp[:10, 2] == 2).all() and (kp[10:, 2] == 0).all() and (kp[10:, :2] == 0).all()
    assert kp[3, 0] == 13.0 and anns[0]["num_keypoints"] == 10
    assert anns[0]["teacher_scores"][0] == 0.9
    for im in coco.loadImgs(coco.getImgIds()):
        assert (tmp_path / "out" / "images" / im["file_name"]).is_file()
    sources = json.loads((tmp_path / "out" / "sources.json").read_text())
    files = sources["sources"][0]["files"]
    assert [f["name"] for f in files] == [p.name for p in paths]
    assert files[0]["sha256"] == hashlib.sha256(paths[0].read_bytes()).hexdigest()


def test_video_frames_are_strided(tmp_path: Path) -> None:
    from distilpose.render import H264Writer

    video = tmp_path / "clip.mp4"
    writer = H264Writer(video, 10.0, (64, 48))
    for i in range(7):
        writer.write(np.full((48, 64, 3), i * 30, dtype=np.uint8))
    writer.close()
    stats = pseudo_label(
        [video], tmp_path / "out", pipeline=_pipeline(), teacher_name="t", every=3
    )
    doc = json.loads((tmp_path / "out" / "person_keypoints.json").read_text())
    assert [im["frame_index"] for im in doc["images"]] == [0, 3, 6]
    assert stats.per_source[str(video)] == {"sampled": 3, "kept": 3}


def test_cancel_and_empty_results_write_no_dataset(tmp_path: Path) -> None:
    _images(tmp_path / "raw", 2)

    def run(out: str, **kwargs) -> None:
        pseudo_label(
            [tmp_path / "raw"], tmp_path / out, pipeline=_pipeline(), teacher_name="t", **kwargs
        )

    with pytest.raises(DistilPoseError, match="cancelled"):
        run("a", should_stop=lambda: True)
    assert not (tmp_path / "a" / "person_keypoints.json").exists()
    with pytest.raises(DistilPoseError, match="no confident person"):
        run("b", min_keypoints=17)
    assert not (tmp_path / "b" / "person_keypoints.json").exists()
    with pytest.raises(DistilPoseError, match="no such file"):
        pseudo_label(
            [tmp_path / "missing.mp4"], tmp_path / "c", pipeline=_pipeline(), teacher_name="t"
        )


def test_max_side_shrinks_images_and_labels_together(tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    folder.mkdir()
    cv2.imwrite(str(folder / "big.png"), np.zeros((200, 400, 3), dtype=np.uint8))
    pseudo_label([folder], tmp_path / "out", pipeline=_pipeline(), teacher_name="t", max_side=100)
    doc = json.loads((tmp_path / "out" / "person_keypoints.json").read_text())
    assert (doc["images"][0]["width"], doc["images"][0]["height"]) == (100, 50)
    assert cv2.imread(str(tmp_path / "out" / "images" / doc["images"][0]["file_name"])).shape[:2] == (50, 100)
    ann = doc["annotations"][0]
    assert ann["bbox"] == [2.5, 1.25, 7.5, 10.0]  # (10, 5, 30, 40) / 4
    assert ann["keypoints"][:2] == [2.5, 1.5]  # (10, 6) / 4


def test_an_output_folder_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    _images(tmp_path / "raw", 1)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(DistilPoseError, match="not-a-folder/out/images: cannot create the output folder"):
        pseudo_label([tmp_path / "raw"], blocker / "out", pipeline=_pipeline(), teacher_name="t")
