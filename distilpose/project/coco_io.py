"""COCO person-keypoint import into a project and export out of it.

Import validates the whole file first (:func:`distilpose.coco.load_coco` lists every problem) and only then
opens one write transaction, so a malformed file, or any failure half-way, leaves the project exactly as it
was. Images become media + frame 0 (matched to an existing media by path), annotations become verified
instances with source 'import'. The file's image and annotation ids become the frame and instance ids where
they are free, and fields the project has no column for (area, iscrowd, segmentation, licence, urls, info) are
kept, so an export gives the original annotations back.

Export follows the checklist of docs (one annotation per instance, fresh per image; flat [x, y, v] * 17; x = y
= 0 where v = 0; num_keypoints = count(v > 0); bbox [x, y, w, h]; area; iscrowd; the person category with
names and 1-based skeleton; stable ids) and then reloads the written file with pycocotools to prove it reads
back.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from distilpose.coco import CocoAnnotation, CocoDataset, CocoImage, load_coco, save_coco, shorten
from distilpose.errors import CocoFormatError, DistilPoseError
from distilpose.keypoints import coco_category
from distilpose.project.exporting import (
    IMAGE_MODES,
    check_sources,
    clean_stale_temps,
    materialise,
    plan_export,
)
from distilpose.project.posetrack import posetrack_image_fields
from distilpose.project.store import ProjectStore
from distilpose.types import Instance

PathLike = str | os.PathLike

ANNOTATION_FILE = Path("annotations") / "person_keypoints.json"
_META_INFO = "coco_info"
_META_LICENSES = "coco_licenses"


@dataclass
class ImportReport:
    annotation_file: str
    images_added: int = 0
    images_matched: int = 0  # already in the project: their annotations were merged into the existing frame
    instances_added: int = 0
    skipped_existing: int = 0  # annotation id already in the project on the same frame (a re-import)
    skipped_other_category: int = 0  # annotations of a category other than 'person'
    missing_image_files: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"{self.images_added} image(s) added",
            f"{self.images_matched} already in the project",
            f"{self.instances_added} instance(s) added",
        ]
        if self.skipped_existing:
            parts.append(f"{self.skipped_existing} already imported (skipped)")
        if self.skipped_other_category:
            parts.append(f"{self.skipped_other_category} not of the person category (skipped)")
        if self.missing_image_files:
            parts.append(f"{len(self.missing_image_files)} image file(s) not found")
        return ", ".join(parts)


@dataclass
class ExportReport:
    annotation_file: Path
    images_dir: Path | None
    images: int
    annotations: int
    left_out_unverified: int
    left_out_empty: int  # instances with neither a box nor a labelled keypoint: nothing to write

    def summary(self) -> str:
        text = f"{self.images} image(s), {self.annotations} annotation(s) -> {self.annotation_file}"
        if self.left_out_unverified:
            text += f"; {self.left_out_unverified} unverified instance(s) left out"
        if self.left_out_empty:
            text += f"; {self.left_out_empty} empty instance(s) left out"
        return text


# --------------------------------------------------------------------------------------------- import


def import_coco(store: ProjectStore, ann_path: PathLike, images_dir: PathLike) -> ImportReport:
    """Merge a COCO keypoint file into the project in one transaction (all or nothing)."""
    dataset = load_coco(ann_path)  # raises CocoFormatError with every problem, before anything is written
    folder = Path(images_dir)
    if not folder.is_dir():
        raise DistilPoseError(f"{folder}: images folder not found")
    paths = media_paths(dataset, folder, ann_path)
    person_ids = {
        c.get("id") for c in dataset.categories if isinstance(c, dict) and c.get("name") == "person"
    }
    check_one_person_per_track(dataset, person_ids, ann_path)
    report = ImportReport(annotation_file=str(ann_path))
    payload = {"file": str(ann_path)}
    with store.transaction("import_coco", payload):
        for image in dataset.images:
            frame_id = _frame_for(store, image, paths[image.id], report)
            for ann in dataset.annotations_for_image(image.id):
                if ann.category_id not in person_ids:
                    report.skipped_other_category += 1
                    continue
                if _already_imported(store, ann.id, frame_id):
                    report.skipped_existing += 1
                    continue
                free = not store.exists("instances", ann.id)
                store.add_instance(
                    frame_id, _instance(ann), verified=True, instance_id=ann.id if free else None
                )
                report.instances_added += 1
        _merge_file_meta(store, dataset)
        payload.update(images_added=report.images_added, instances_added=report.instances_added)
    return report


def media_paths(dataset: CocoDataset, folder: Path, ann_path: PathLike) -> dict[int, Path]:
    """Each image's file, resolved once against the images folder the user named; refuses (CocoFormatError
    naming the COCO file, the image id and the name) any name that is absolute, climbs out with ``..``,
    leads out through a symbolic link, or cannot be a path at all (too long, a NUL byte).

    A COCO file is data from elsewhere: ``../../home/me/.ssh/id_rsa`` must not become project media that an
    export then copies into a dataset."""
    root = Path(os.path.realpath(folder))
    problems: list[str] = []
    out: dict[int, Path] = {}
    for image in dataset.images:
        name = image.file_name.replace("\\", "/")
        where = f"image id {image.id}: 'file_name' {shorten(image.file_name)}"
        if PurePosixPath(name).is_absolute() or PureWindowsPath(image.file_name).drive:
            problems.append(f"{where} is an absolute path; file names must be relative to {folder}")
            continue
        path = Path(os.path.normpath(folder / Path(*PurePosixPath(name).parts)))
        try:
            real = Path(os.path.realpath(path))
            real.exists()  # a name too long for the file system fails here, not half-way through the import
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problems.append(f"{where} cannot be used as a file name here: {reason}")
            continue
        if not real.is_relative_to(root):
            how = "climbs out of" if ".." in PurePosixPath(name).parts else "leads (through a link) out of"
            problems.append(f"{where} {how} the images folder {folder}")
            continue
        out[image.id] = path
    if problems:
        raise CocoFormatError(str(ann_path), problems)
    return out


def check_one_person_per_track(dataset: CocoDataset, person_ids: set, ann_path: PathLike) -> None:
    """Refuse (CocoFormatError naming the COCO file, each image and its annotations) a file that gives two
    people of one image the same ``track_id``: a track names one person per frame, a rule of the project."""
    names = {image.id: image.file_name for image in dataset.images}
    holders: dict[tuple[int, int], list[int]] = {}
    for ann in dataset.annotations:
        if ann.track_id is not None and ann.category_id in person_ids:
            holders.setdefault((ann.image_id, ann.track_id), []).append(ann.id)
    problems = [
        f"image id {image_id} ({shorten(names.get(image_id, '?'))}): annotations "
        f"{', '.join(map(str, ids))} all have track_id {track_id}; a track names one person per image"
        for (image_id, track_id), ids in holders.items()
        if len(ids) > 1
    ]
    if problems:
        raise CocoFormatError(str(ann_path), problems)


def _frame_for(store: ProjectStore, image: CocoImage, path: Path, report: ImportReport) -> int:
    media = store.find_media(path)
    if media is not None:
        report.images_matched += 1
        frame = store.frame_at(media.id, 0)
        return frame.id if frame is not None else store.add_frame(media.id, 0)
    if not path.is_file():
        report.missing_image_files.append(image.file_name)
    media_id = store.add_media(path, "image", width=image.width, height=image.height, must_exist=False)
    report.images_added += 1
    free = not store.exists("frames", image.id)
    extra = {"coco": {"file_name": image.file_name, "extra": image.extra}}
    return store.add_frame(media_id, 0, extra=extra, frame_id=image.id if free else None)


def _already_imported(store: ProjectStore, ann_id: int, frame_id: int) -> bool:
    row = store.conn.execute("SELECT frame_id, source FROM instances WHERE id = ?", (ann_id,)).fetchone()
    return row is not None and row[0] == frame_id and row[1] == "import"


def _instance(ann: CocoAnnotation) -> Instance:
    """The editable form of an annotation; ``extras['coco']`` keeps what the project has no column for."""
    inst = ann.to_instance()
    inst.extras = {"coco": {"area": ann.area, "iscrowd": ann.iscrowd, "extra": dict(ann.extra)}}
    return inst


def _merge_file_meta(store: ProjectStore, dataset: CocoDataset) -> None:
    """Keep the first file's ``info`` and the union of licences (by id), for the export."""
    if store.get_meta(_META_INFO) is None and dataset.info:
        store.set_meta(_META_INFO, json.dumps(dataset.info))
    licenses = json.loads(store.get_meta(_META_LICENSES) or "[]")
    known = {lic.get("id") for lic in licenses if isinstance(lic, dict)}
    added = [lic for lic in dataset.licenses if not (isinstance(lic, dict) and lic.get("id") in known)]
    if added:
        store.set_meta(_META_LICENSES, json.dumps(licenses + added))


# --------------------------------------------------------------------------------------------- export


def export_coco(
    store: ProjectStore,
    out_dir: PathLike,
    *,
    only_verified: bool = False,
    splits: list[str] | None = None,
    images: str = "copy",
    overwrite: bool = False,
    keep: Callable[[list[Instance]], list[Instance]] | None = None,
) -> ExportReport:
    """Write ``out_dir/images/...`` and ``out_dir/annotations/person_keypoints.json``; the annotation file is
    written last (atomically), so its presence means the export is complete. ``keep``: see
    :func:`~distilpose.project.exporting.plan_export`."""
    if images not in IMAGE_MODES:
        raise DistilPoseError(f"unknown image mode {images!r}; expected one of {', '.join(IMAGE_MODES)}")
    out = Path(out_dir)
    ann_file = out / ANNOTATION_FILE
    if ann_file.exists() and not overwrite:
        raise DistilPoseError(f"{ann_file}: already exists (export to another folder, or overwrite it)")
    plan = plan_export(store, only_verified=only_verified, splits=splits, keep=keep)
    check_sources(plan, need_pixels=images != "none")
    images_dir = None if images == "none" else out / "images"
    clean_stale_temps(out / "annotations", out / "images")
    materialise(plan, images_dir, images)

    dataset = CocoDataset(categories=[coco_category()])
    dataset.info = json.loads(store.get_meta(_META_INFO) or "null") or {
        "description": f"exported by DistilPose Studio from {store.path.name}"
    }
    dataset.licenses = json.loads(store.get_meta(_META_LICENSES) or "[]")
    video_fields = posetrack_image_fields(plan)  # PoseTrack 2018 vid_id/frame_id of tracked videos
    empty = 0
    for item in plan.items:
        coco = item.frame.extra.get("coco", {}) if isinstance(item.frame.extra, dict) else {}
        dataset.images.append(
            CocoImage(
                id=item.frame.id,
                file_name=item.file_name,
                width=int(item.width),  # type: ignore[arg-type]
                height=int(item.height),  # type: ignore[arg-type]
                extra={**coco.get("extra", {}), **video_fields.get(item.frame.id, {})},
            )
        )
        for inst in item.instances:
            try:
                ann = CocoAnnotation.from_instance(
                    inst, image_id=item.frame.id, id=inst.extras["id"], category_id=1
                )
            except ValueError:  # neither a box nor a labelled keypoint
                empty += 1
                continue
            dataset.annotations.append(ann)
    save_coco(dataset, ann_file)
    verify_with_pycocotools(ann_file, dataset)
    return ExportReport(
        annotation_file=ann_file,
        images_dir=images_dir,
        images=len(dataset.images),
        annotations=len(dataset.annotations),
        left_out_unverified=plan.left_out_unverified,
        left_out_empty=empty,
    )


def verify_with_pycocotools(path: Path, dataset: CocoDataset) -> None:
    """Reload the written file with pycocotools (what training and evaluation code will use) and check every
    image and annotation reads back as written."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    problems = []
    if sorted(coco.imgs) != sorted(img.id for img in dataset.images):
        problems.append("the image ids read back differ from those written")
    for ann in dataset.annotations:
        back = coco.anns.get(ann.id)
        if back is None:
            problems.append(f"annotation {ann.id} is missing")
            continue
        expected = ann.to_json_dict()["keypoints"]
        if back.get("image_id") != ann.image_id or not np.array_equal(back.get("keypoints"), expected):
            problems.append(f"annotation {ann.id} reads back differently")
    if problems:
        raise DistilPoseError(
            f"{path}: the export does not read back with pycocotools: " + "; ".join(problems[:10])
        )
