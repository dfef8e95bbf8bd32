"""COCO top-down person dataset: one item per person box, cropped and augmented by a pipeline.

Training uses ground-truth boxes (mmpose 0.x rules: non-crowd persons, box clipped to the image, annotations
without keypoints skipped, and the 30 % centre jitter drawn ONCE when the index is built, as mmpose does);
evaluation can use a person-detections list instead (COCO results format).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from distilpose.codecs.affine import box_to_center_scale
from distilpose.data.transforms import INPUT_SIZE_WH, Compose, Sample
from distilpose.errors import CocoFormatError
from distilpose.keypoints import NUM_KEYPOINTS

_JITTER_STREAM = 0x6A6974  # a fixed extra seed word so the build-time jitter has its own random stream


@dataclass(frozen=True, eq=False)
class PersonRecord:
    """One person box to crop: where it is, which annotation it came from, its keypoints in image pixels."""

    image_file: Path
    image_id: int
    ann_id: int  # -1 for a detection
    bbox: np.ndarray  # (4,) x, y, w, h (sanitised for GT boxes)
    bbox_score: float
    center: np.ndarray  # (2,)
    scale: np.ndarray  # (2,)
    keypoints: np.ndarray  # (K, 3) x, y, v; zeros for a detection
    #: The annotation's ``weight`` field (default 1): a person a user corrected counts more in the loss.
    weight: float = 1.0


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise CocoFormatError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CocoFormatError(str(path), [f"cannot read as JSON: {exc}"]) from None


def _build_coco(path: Path, data: Any):
    """A pycocotools index of an already-parsed file (its progress prints silenced).

    The document is first validated by :func:`distilpose.coco.parse_coco`, the one COCO validator, so a bad
    file gives the same precise list of problems here as everywhere else instead of an obscure crash.
    """
    from pycocotools.coco import COCO

    from distilpose.coco import parse_coco

    parse_coco(data, source=path)
    problems = []
    if not isinstance(data, dict):
        raise CocoFormatError(str(path), ["top level must be a JSON object with 'images' and 'annotations'"])
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            problems.append(f"missing or non-list field '{key}'")
    if problems:
        raise CocoFormatError(str(path), problems)
    data.setdefault("categories", [])
    for i, img in enumerate(data["images"]):
        missing = [f for f in ("id", "file_name", "width", "height") if f not in img]
        if missing:
            problems.append(f"images[{i}]: missing field(s) {missing}")
    for i, ann in enumerate(data["annotations"]):
        missing = [f for f in ("id", "image_id") if f not in ann]
        if missing:
            problems.append(f"annotations[{i}]: missing field(s) {missing}")
    if problems:
        raise CocoFormatError(str(path), problems)
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _person_category_ids(coco) -> set[int]:
    ids = {c["id"] for c in coco.dataset.get("categories", []) if c.get("name") == "person"}
    return ids or {1}


def _as_numbers(value: Any, count: int) -> np.ndarray | None:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.shape != (count,) or not np.isfinite(arr).all():
        return None
    return arr


def clean_gt_box(bbox: Sequence[float], width: float, height: float, area: float = 1.0) -> np.ndarray | None:
    """mmpose 0.x's sanitised ground-truth box: clipped to the image, ``w - 1`` / ``h - 1`` wide; None if empty.

    Training and ``distilpose eval --boxes gt`` both use it, so a checkpoint scores the same in both.
    """
    x, y, w, h = (float(v) for v in bbox)
    x1, y1 = max(0.0, x), max(0.0, y)
    x2 = min(width - 1, x1 + max(0.0, w - 1))
    y2 = min(height - 1, y1 + max(0.0, h - 1))
    if not (area > 0 and x2 > x1 and y2 > y1):
        return None
    return np.array([x1, y1, x2 - x1, y2 - y1])


def load_gt_records(
    ann_file: str | Path,
    image_root: str | Path,
    *,
    center_jitter_prob: float = 0.0,
    seed: int = 0,
    aspect_ratio: float = INPUT_SIZE_WH[0] / INPUT_SIZE_WH[1],
    padding: float = 1.25,
) -> list[PersonRecord]:
    """Person instances with keypoints from a COCO keypoints file (mmpose 0.x filtering and box clipping)."""
    path = Path(ann_file)
    coco = _build_coco(path, _read_json(path))
    person_ids = _person_category_ids(coco)
    jitter_rng = np.random.default_rng([seed, _JITTER_STREAM])
    records: list[PersonRecord] = []
    problems: list[str] = []
    for img_id in coco.getImgIds():
        info = coco.imgs[img_id]
        width, height = float(info["width"]), float(info["height"])
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img_id, iscrowd=False)):
            if ann.get("category_id", 1) not in person_ids or "bbox" not in ann or "keypoints" not in ann:
                continue
            bbox = _as_numbers(ann["bbox"], 4)
            kps = _as_numbers(ann["keypoints"], 3 * NUM_KEYPOINTS)
            if bbox is None:
                problems.append(f"annotation {ann['id']}: 'bbox' must be 4 finite numbers [x, y, w, h]")
                continue
            if kps is None:
                problems.append(
                    f"annotation {ann['id']}: 'keypoints' must be {3 * NUM_KEYPOINTS} finite numbers"
                )
                continue
            weight = _instance_weight(ann)
            if weight is None:
                problems.append(f"annotation {ann['id']}: 'weight' must be a finite number >= 0")
                continue
            clean = clean_gt_box(bbox, width, height, ann.get("area", 1))
            if clean is None or kps.max() == 0 or ann.get("num_keypoints", 1) == 0:
                continue
            center, scale = box_to_center_scale(clean, aspect_ratio, padding)
            if center_jitter_prob > 0 and jitter_rng.random() < center_jitter_prob:
                center = center + 0.4 * (jitter_rng.random(2) - 0.5) * clean[2:]
            keypoints = kps.reshape(NUM_KEYPOINTS, 3).copy()
            keypoints[keypoints[:, 2] <= 0, :2] = 0.0
            records.append(
                PersonRecord(
                    image_file=Path(image_root) / info["file_name"],
                    image_id=int(img_id),
                    ann_id=int(ann["id"]),
                    bbox=clean,
                    bbox_score=1.0,
                    center=center,
                    scale=scale,
                    keypoints=keypoints,
                    weight=weight,
                )
            )
    if problems:
        raise CocoFormatError(str(path), problems)
    return records


def load_detection_records(
    ann_file: str | Path,
    image_root: str | Path,
    detections: str | Path | Sequence[dict],
    *,
    score_thr: float = 0.0,
    aspect_ratio: float = INPUT_SIZE_WH[0] / INPUT_SIZE_WH[1],
    padding: float = 1.25,
) -> list[PersonRecord]:
    """Person boxes from a detections list (COCO results: ``image_id``, ``bbox``, ``score``, ``category_id``).

    The COCO file supplies the image file names. Boxes below ``score_thr`` and non-person detections are
    dropped; boxes are used as given (mmpose does not clip detections).
    """
    coco = _build_coco(Path(ann_file), _read_json(Path(ann_file)))
    source = "detections"
    if isinstance(detections, (str, Path)):
        source = str(detections)
        detections = _read_json(Path(detections))
    if not isinstance(detections, list):
        raise CocoFormatError(source, ["detections must be a JSON list of {image_id, bbox, score} objects"])
    records: list[PersonRecord] = []
    problems: list[str] = []
    for i, det in enumerate(detections):
        if not isinstance(det, dict):
            problems.append(f"[{i}]: not an object")
            continue
        if det.get("category_id", 1) != 1:
            continue
        bbox = _as_numbers(det.get("bbox"), 4)
        score = det.get("score")
        image_id = det.get("image_id")
        if bbox is None:
            problems.append(f"[{i}]: 'bbox' must be 4 finite numbers [x, y, w, h]")
        elif not isinstance(score, (int, float)):
            problems.append(f"[{i}]: 'score' must be a number")
        elif image_id not in coco.imgs:
            problems.append(f"[{i}]: image_id {image_id!r} is not in {ann_file}")
        elif score >= score_thr:
            center, scale = box_to_center_scale(bbox, aspect_ratio, padding)
            records.append(
                PersonRecord(
                    image_file=Path(image_root) / coco.imgs[image_id]["file_name"],
                    image_id=int(image_id),
                    ann_id=-1,
                    bbox=bbox,
                    bbox_score=float(score),
                    center=center,
                    scale=scale,
                    keypoints=np.zeros((NUM_KEYPOINTS, 3)),
                )
            )
    if problems:
        raise CocoFormatError(source, problems)
    return records


def _instance_weight(ann: dict) -> float | None:
    """An annotation's optional ``weight`` (finite, >= 0; default 1), or None when it is not one."""
    value = ann.get("weight", 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if np.isfinite(value) and value >= 0 else None


def read_rgb_image(path: str | Path) -> np.ndarray:
    """An image file as RGB uint8 ``(H, W, 3)``; :class:`MediaError` naming the file and the problem.

    The one image reader of the project (:func:`distilpose.video.read_image`), so training, evaluation and the
    app decode images identically (and non-ASCII paths work everywhere)."""
    from distilpose.video import read_image

    return read_image(path)


class TopDownCocoDataset(Dataset):
    """Items are dicts of tensors for one person crop.

    Keys: ``image`` (3, 256, 192) float32 normalised; ``target_coords`` (K, 2) and ``target_weights`` (K,);
    with heatmap targets ``target_heatmaps`` (K, 64, 48) and ``heatmap_weights`` (K,); ``keypoints`` (K, 3) in
    crop pixels; ``center``, ``scale`` (2,) float64, ``rotation``, ``flipped`` (what the crop used, for
    back-projection); ``image_size`` (W, H) of the full image; ``bbox`` (4,), ``bbox_score``, ``image_id``, ``ann_id`` (-1 for detections), ``index``.

    An item index may be an ``int`` (uses :attr:`epoch`) or ``(index, epoch)`` (what
    :class:`distilpose.data.loader.SeededSampler` yields); the augmentation RNG is seeded with
    ``(seed, epoch, index)``, so an item is the same whichever worker loads it.
    """

    def __init__(
        self,
        records: Sequence[PersonRecord],
        pipeline: Compose,
        *,
        seed: int = 0,
    ) -> None:
        self.records = list(records)
        self.pipeline = pipeline
        self.seed = int(seed)
        self.epoch = 0

    @classmethod
    def from_coco(
        cls,
        ann_file: str | Path,
        image_root: str | Path,
        pipeline: Compose,
        *,
        train: bool = True,
        detections: str | Path | Sequence[dict] | None = None,
        det_score_thr: float = 0.0,
        center_jitter_prob: float = 0.3,
        seed: int = 0,
    ) -> TopDownCocoDataset:
        """GT boxes (with the centre jitter when ``train``) or, given ``detections``, detected boxes."""
        if detections is not None:
            records = load_detection_records(ann_file, image_root, detections, score_thr=det_score_thr)
        else:
            jitter = center_jitter_prob if train else 0.0
            records = load_gt_records(ann_file, image_root, center_jitter_prob=jitter, seed=seed)
        return cls(records, pipeline, seed=seed)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.records)

    def sample(self, item: int | tuple[int, int]) -> tuple[Sample, PersonRecord]:
        """The pipeline's :class:`Sample` for an item (before packing into tensors)."""
        index, epoch = item if isinstance(item, tuple) else (item, self.epoch)
        if not 0 <= index < len(self.records):
            raise IndexError(f"index {index} out of range for a dataset of {len(self.records)} persons")
        rec = self.records[index]
        rng = np.random.default_rng([self.seed, int(epoch), int(index)])
        image = read_rgb_image(rec.image_file)
        sample = Sample(
            image=image,
            keypoints=rec.keypoints.copy(),
            center=rec.center.copy(),
            scale=rec.scale.copy(),
            image_size_wh=(image.shape[1], image.shape[0]),
        )
        return self.pipeline(sample, rng), rec

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        sample, rec = self.sample(item)
        index = item[0] if isinstance(item, tuple) else item
        out: dict[str, torch.Tensor] = {"image": torch.from_numpy(np.ascontiguousarray(sample.image))}
        names = {
            "coords": "target_coords",
            "coord_weights": "target_weights",
            "heatmaps": "target_heatmaps",
            "heatmap_weights": "heatmap_weights",
        }
        for key, value in sample.targets.items():
            out[names.get(key, key)] = torch.from_numpy(value)
        if rec.weight != 1.0 and "target_weights" in out:  # the person's weight scales its label terms
            out["target_weights"] = out["target_weights"] * rec.weight
        out["keypoints"] = torch.from_numpy(sample.keypoints.astype(np.float32))
        out["center"] = torch.from_numpy(np.asarray(sample.center, dtype=np.float64))
        out["scale"] = torch.from_numpy(np.asarray(sample.scale, dtype=np.float64))
        out["rotation"] = torch.tensor(float(sample.rotation), dtype=torch.float64)
        out["flipped"] = torch.tensor(bool(sample.flipped))
        out["image_size"] = torch.tensor(sample.image_size_wh, dtype=torch.int64)
        out["bbox"] = torch.from_numpy(np.asarray(rec.bbox, dtype=np.float64))
        out["bbox_score"] = torch.tensor(rec.bbox_score, dtype=torch.float32)
        out["image_id"] = torch.tensor(rec.image_id, dtype=torch.int64)
        out["ann_id"] = torch.tensor(rec.ann_id, dtype=torch.int64)
        out["index"] = torch.tensor(int(index), dtype=torch.int64)
        return out
