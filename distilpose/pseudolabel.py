"""Turn raw footage into a distillation set: person boxes from the detector, keypoints from the teacher.

A practitioner's own videos and photos carry no labels; a teacher's confident predictions on them are what a
student is distilled on. This writes an ordinary COCO person-keypoint dataset (``person_keypoints.json`` and
``images/``) that ``distilpose train`` reads like any other, plus ``sources.json``, the data list: every
input file with its sha256 and the frames taken, so a trained model can say exactly what it saw.

Keypoints the teacher scores below ``keypoint_threshold`` are written as unlabelled (v = 0); a person with
fewer than ``min_keypoints`` confident keypoints is dropped (a detector's false box or a hidden person).
The teacher's per-keypoint scores and the box score are kept in each annotation's extra fields.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from distilpose.atomic import atomic_write_text
from distilpose.coco import CocoAnnotation, CocoDataset, CocoImage, save_coco
from distilpose.errors import DistilPoseError
from distilpose.hashing import sha256_file
from distilpose.pipeline import LivePipeline
from distilpose.video import FrameSource, open_source


@dataclass
class PseudoLabelStats:
    images: int = 0
    instances: int = 0
    dropped: int = 0
    per_source: dict[str, dict] = field(default_factory=dict)


def _source_files(source: FrameSource, path: Path) -> list[Path]:
    if source.kind == "folder":
        return [source.frame_path(i) for i in range(len(source))]  # type: ignore[attr-defined]
    return [path]


def pseudo_label(
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    pipeline: LivePipeline,
    teacher_name: str,
    every: int = 1,
    keypoint_threshold: float = 0.3,
    min_keypoints: int = 6,
    jpeg_quality: int = 92,
    max_side: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PseudoLabelStats:
    """Label every ``every``-th frame of each input (video, image or folder) into ``out_dir``.

    ``pipeline`` is the teacher (as its pose model) behind a person detector; each frame is run on its own
    (no index: nothing is tracked across frames). The teacher always sees the full frame; ``max_side`` then shrinks the stored image (and its labels) so that training,
    which decodes every image once per epoch, is not spent decoding 4K pixels for a 256x192 crop. The JSON
    files are written atomically at the end, so a cancelled run leaves no dataset that looks complete.
    """
    if every < 1:
        raise DistilPoseError(f"every must be >= 1, got {every}")
    out = Path(out_dir)
    images_dir = out / "images"
    try:
        images_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DistilPoseError(
            f"{images_dir}: cannot create the output folder ({exc.strerror or exc})"
        ) from exc
    sources = []
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            raise DistilPoseError(f"{path}: no such file or folder")
        sources.append((path, open_source(path)))
    plan = [(p, s, list(range(0, len(s), every if s.kind == "video" else 1))) for p, s in sources]
    total = sum(len(idx) for _, _, idx in plan)
    stats = PseudoLabelStats()
    images: list[CocoImage] = []
    annotations: list[CocoAnnotation] = []
    data_list = []
    done = 0
    try:
        for path, source, indices in plan:
            stem = path.stem if source.kind != "folder" else path.name
            kept = 0
            for index in indices:
                if should_stop is not None and should_stop():
                    raise DistilPoseError(f"pseudo-labelling cancelled after {done} of {total} frames")
                image = source.frame(index)
                instances = pipeline.process(image).instances
                image_id = len(images) + 1
                longest = max(image.shape[:2])
                factor = min(1.0, max_side / longest) if max_side else 1.0
                name = (
                    f"{stem}_{index:06d}.jpg"
                    if source.kind == "video"
                    else f"{stem}_{Path(source.frame_name(index)).stem}.jpg"
                )
                good, dropped = _confident_annotations(
                    instances,
                    image_id=image_id,
                    first_id=len(annotations) + 1,
                    factor=factor,
                    threshold=keypoint_threshold,
                    min_keypoints=min_keypoints,
                    teacher_name=teacher_name,
                )
                stats.dropped += dropped
                if good:
                    h_img, w_img = _write_jpeg(image, factor, images_dir / name, jpeg_quality)
                    extra = {"source": str(path), "frame_index": index}
                    images.append(
                        CocoImage(id=image_id, file_name=name, width=w_img, height=h_img, extra=extra)
                    )
                    annotations.extend(good)
                    kept += 1
                    stats.instances += len(good)
                done += 1
                if progress is not None:
                    progress(done, total)
            files = _source_files(source, path)
            data_list.append(
                {
                    "source": str(path),
                    "kind": source.kind,
                    "files": [{"name": f.name, "sha256": sha256_file(f)} for f in files],
                    "frames_sampled": len(indices),
                    "every": every if source.kind == "video" else 1,
                    "images_kept": kept,
                }
            )
            stats.per_source[str(path)] = {"sampled": len(indices), "kept": kept}
    finally:
        for _, source in sources:
            source.close()
    stats.images = len(images)
    if not images:
        raise DistilPoseError("the teacher found no confident person in any frame; nothing written")
    save_coco(CocoDataset(images=images, annotations=annotations), out / "person_keypoints.json")
    meta = {
        "teacher": teacher_name,
        "keypoint_threshold": keypoint_threshold,
        "min_keypoints": min_keypoints,
        "images": stats.images,
        "instances": stats.instances,
        "dropped_instances": stats.dropped,
        "sources": data_list,
    }
    atomic_write_text(out / "sources.json", json.dumps(meta, indent=2) + "\n")
    return stats


def _confident_annotations(
    instances: list,
    *,
    image_id: int,
    first_id: int,
    factor: float,
    threshold: float,
    min_keypoints: int,
    teacher_name: str,
) -> tuple[list[CocoAnnotation], int]:
    """The teacher's people with enough confident keypoints, scaled by ``factor``; and how many were dropped."""
    good: list[CocoAnnotation] = []
    dropped = 0
    for inst in instances:
        scores = np.asarray(inst.scores, dtype=np.float64)
        confident = scores >= threshold
        if int(confident.sum()) < min_keypoints:
            dropped += 1
            continue
        kp = inst.keypoints.copy()
        kp[:, :2] *= factor
        kp[:, 2] = np.where(confident, 2.0, 0.0)
        kp[~confident, :2] = 0.0
        x, y, w, h = (v * factor for v in inst.bbox)
        good.append(
            CocoAnnotation(
                id=first_id + len(good),
                image_id=image_id,
                category_id=1,
                keypoints=kp,
                bbox=(x, y, w, h),
                area=float(w * h),
                iscrowd=0,
                num_keypoints=int(confident.sum()),
                extra={"teacher": teacher_name, "teacher_scores": [round(float(v), 4) for v in scores]},
            )
        )
    return good, dropped


def _write_jpeg(image: np.ndarray, factor: float, path: Path, quality: int) -> tuple[int, int]:
    """Shrink by ``factor`` (< 1) and write; -> the stored (height, width)."""
    import cv2

    if factor < 1.0:
        size = (round(image.shape[1] * factor), round(image.shape[0] * factor))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    if not cv2.imwrite(
        str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    ):
        raise DistilPoseError(f"{path}: cannot write the image (disk full or no permission?)")
    return image.shape[0], image.shape[1]
