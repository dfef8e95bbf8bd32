"""YOLO-pose export (Ultralytics layout), for users who train YOLO models on their annotations.

``images/<split>/<name>``, ``labels/<split>/<stem>.txt`` with one line per person:
``0 cx cy w h`` then 17 x ``x y v``, all coordinates normalised by the image size (v = 0 is written 0 0 0),
and ``data.yaml`` with ``kpt_shape: [17, 3]``, ``flip_idx`` and the class name. Frames of split 'none' go to
train.
Crowd regions are left out (YOLO has no notion of them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from distilpose.atomic import atomic_write_text, remove_stale_temps
from distilpose.errors import DistilPoseError
from distilpose.keypoints import FLIP_PAIRS, NUM_KEYPOINTS
from distilpose.project.exporting import (
    IMAGE_MODES,
    ExportItem,
    check_sources,
    clean_stale_temps,
    materialise,
    plan_export,
)
from distilpose.project.store import ProjectStore
from distilpose.types import Instance

PathLike = str | os.PathLike
#: YOLO trains on the pixels: the images are always written.
YOLO_IMAGE_MODES: tuple[str, ...] = tuple(m for m in IMAGE_MODES if m != "none")


@dataclass
class YoloReport:
    out_dir: Path
    images: dict[str, int]  # per split folder
    labels: int
    left_out_unverified: int
    left_out: int  # crowd regions and instances with neither a box nor a labelled keypoint

    def summary(self) -> str:
        per = ", ".join(f"{k} {v}" for k, v in self.images.items())
        text = f"{sum(self.images.values())} image(s) ({per}), {self.labels} person line(s) -> {self.out_dir}"
        if self.left_out_unverified:
            text += f"; {self.left_out_unverified} unverified instance(s) left out"
        if self.left_out:
            text += f"; {self.left_out} crowd/empty instance(s) left out"
        return text


def flip_index() -> list[int]:
    """For each keypoint, its mirror partner (itself on the centre line): Ultralytics' ``flip_idx``."""
    idx = list(range(NUM_KEYPOINTS))
    for a, b in FLIP_PAIRS:
        idx[a], idx[b] = b, a
    return idx


def yolo_line(inst: Instance, width: int, height: int) -> str | None:
    """One label line, or None for a crowd region or an instance with nothing to place."""
    coco = inst.extras.get("coco")
    if isinstance(coco, dict) and coco.get("iscrowd"):
        return None
    bbox = inst.bbox if inst.bbox is not None else inst.bbox_from_keypoints()
    if bbox is None:
        return None
    x0, y0 = max(0.0, float(bbox[0])), max(0.0, float(bbox[1]))
    x1, y1 = min(float(width), float(bbox[0] + bbox[2])), min(float(height), float(bbox[1] + bbox[3]))
    if x1 <= x0 or y1 <= y0:
        return None
    values = [(x0 + x1) / 2 / width, (y0 + y1) / 2 / height, (x1 - x0) / width, (y1 - y0) / height]
    parts = ["0"] + [f"{v:.6f}" for v in values]
    for x, y, v in inst.keypoints:
        if v > 0:
            nx, ny = np.clip([x / width, y / height], 0.0, 1.0)
            parts += [f"{nx:.6f}", f"{ny:.6f}", str(int(v))]
        else:
            parts += ["0.000000", "0.000000", "0"]
    return " ".join(parts)


def export_yolo(
    store: ProjectStore,
    out_dir: PathLike,
    *,
    only_verified: bool = False,
    splits: list[str] | None = None,
    images: str = "copy",
    overwrite: bool = False,
) -> YoloReport:
    """Write ``out_dir/images/<split>/``, ``out_dir/labels/<split>/`` and ``out_dir/data.yaml`` (last, so its
    presence means the export is complete)."""
    if images not in YOLO_IMAGE_MODES:
        raise DistilPoseError(
            f"YOLO export needs the images: use {' or '.join(map(repr, YOLO_IMAGE_MODES))}, not {images!r}"
        )
    out = Path(out_dir)
    data_yaml = out / "data.yaml"
    if data_yaml.exists() and not overwrite:
        raise DistilPoseError(f"{data_yaml}: already exists (export to another folder, or overwrite it)")
    plan = plan_export(store, only_verified=only_verified, splits=splits)
    check_sources(plan, need_pixels=True)
    remove_stale_temps(out)
    clean_stale_temps(out / "images", out / "labels")
    per_split: dict[str, list[ExportItem]] = {}
    for item in plan.items:
        per_split.setdefault(_folder(item.frame.split), []).append(item)
    labels = left_out = 0
    for split, items in per_split.items():
        sub = type(plan)(items=items)
        materialise(sub, out / "images" / split, images)
        for item in items:
            width, height = int(item.width), int(item.height)  # type: ignore[arg-type]
            lines = [yolo_line(inst, width, height) for inst in item.instances]
            kept = [line for line in lines if line is not None]
            left_out += len(lines) - len(kept)
            labels += len(kept)
            label = out / "labels" / split / PurePosixPath(item.file_name).with_suffix(".txt")
            atomic_write_text(label, "".join(line + "\n" for line in kept))
    atomic_write_text(data_yaml, _data_yaml(sorted(per_split)))
    return YoloReport(
        out_dir=out,
        images={k: len(v) for k, v in sorted(per_split.items())},
        labels=labels,
        left_out_unverified=plan.left_out_unverified,
        left_out=left_out,
    )


def _folder(split: str) -> str:
    return "train" if split == "none" else split


def _data_yaml(splits: list[str]) -> str:
    train = "images/train"
    val = "images/val" if "val" in splits else train  # Ultralytics wants a val set; reuse train when none
    # no `path:` key: Ultralytics then resolves the folders against this file's own folder
    lines = ["# written by DistilPose Studio", f"train: {train}", f"val: {val}"]
    if "test" in splits:
        lines.append("test: images/test")
    lines += [
        f"kpt_shape: [{NUM_KEYPOINTS}, 3]",
        f"flip_idx: [{', '.join(map(str, flip_index()))}]",
        "names:",
        "  0: person",
    ]
    return "\n".join(lines) + "\n"
