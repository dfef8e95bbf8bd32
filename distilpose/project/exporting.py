"""What a dataset export contains, decided once for every format: which frames, which instances, under which
image file names, and the image files themselves (copied, hard-linked, or decoded from a video).

Rules. ``only_verified=False`` exports every instance, every frame of an image, and the frames of videos and
image folders that hold at least one instance (a 10,000-frame video with 50 labelled frames gives 50 images).
``only_verified=True`` exports verified instances, on frames that hold at least one. Ids are the project's
own: image id = frame id, annotation id = instance id (an import keeps the file's ids where they are free), so
exporting twice gives the same ids.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from distilpose.errors import DistilPoseError, MediaError
from distilpose.project import files
from distilpose.project.records import SPLITS, FrameRecord, MediaRecord
from distilpose.project.store import ProjectStore
from distilpose.types import Instance

IMAGE_MODES: tuple[str, ...] = ("copy", "link", "none")


@dataclass
class ExportItem:
    """One image of the export."""

    frame: FrameRecord
    media: MediaRecord
    file_name: str  # relative to the images folder, '/' separators
    source: Path  # the image file (of an image, or in an image folder), or the video
    instances: list[Instance]
    video_index: int | None = None  # the frame to decode when ``source`` is a video
    width: int | None = None
    height: int | None = None


@dataclass
class ExportPlan:
    items: list[ExportItem] = field(default_factory=list)
    left_out_unverified: int = 0  # instances not exported because they are not verified

    @property
    def num_instances(self) -> int:
        return sum(len(item.instances) for item in self.items)


def plan_export(
    store: ProjectStore, *, only_verified: bool = False, splits: Sequence[str] | None = None
) -> ExportPlan:
    """Choose frames and instances (see the module rules) and give every image a unique file name."""
    for split in splits or ():
        if split not in SPLITS:
            raise DistilPoseError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    media = {m.id: m for m in store.media_list()}
    by_frame = store.instances_by_frame()
    plan = ExportPlan()
    used: set[str] = set()
    folders: dict[Path, list[Path]] = {}
    for frame in store.frames():
        if splits and frame.split not in splits:
            continue
        instances = by_frame.get(frame.id, [])
        kept = [i for i in instances if i.extras["verified"]] if only_verified else instances
        plan.left_out_unverified += len(instances) - len(kept)
        m = media[frame.media_id]
        if only_verified and not kept:
            continue
        if not kept and m.kind != "image":
            continue
        source = files.resolve_stored(m.path, store.folder)
        if m.kind == "folder":
            source = _folder_image(source, frame.index, folders)
        name = _file_name(frame, m, source)
        # Unique by stem, not only by name: YOLO labels are named after the stem, so x.jpg and x.png would
        # otherwise write the same label file.
        if str(PurePosixPath(name).with_suffix("")) in used:
            parent, base = PurePosixPath(name).parent, PurePosixPath(name).name
            name = str(parent / f"{frame.id}_{base}") if str(parent) != "." else f"{frame.id}_{base}"
        used.add(str(PurePosixPath(name).with_suffix("")))
        width, height = (m.width, m.height) if m.kind == "image" else (None, None)
        index = frame.index if m.kind == "video" else None
        plan.items.append(ExportItem(frame, m, name, source, kept, index, width, height))
    return plan


def _file_name(frame: FrameRecord, media: MediaRecord, source: Path) -> str:
    """The imported COCO file name when there is one; else the image's name, ``folder/image`` for a folder's
    image, ``video_000123.jpg`` for a video frame."""
    coco = frame.extra.get("coco") if isinstance(frame.extra, dict) else None
    if isinstance(coco, dict) and isinstance(coco.get("file_name"), str):
        name = PurePosixPath(coco["file_name"].replace("\\", "/"))
        # never write outside the images folder: 'a/b.jpg' stays, '../x.jpg' or '/x.jpg' become 'x.jpg'
        return name.name if name.is_absolute() or ".." in name.parts else str(name)
    base = PurePosixPath(media.path).name
    if media.kind == "image":
        return base
    if media.kind == "folder":
        return f"{base}/{source.name}"
    return f"{PurePosixPath(base).stem}_{frame.index:06d}.jpg"


def _folder_image(folder: Path, index: int, cache: dict[Path, list[Path]]) -> Path:
    """The index-th image of an image folder, numbered exactly as the app numbers a folder's frames
    (:class:`distilpose.video.ImageFolder`: natural, case-insensitive name order)."""
    from distilpose.errors import MediaError
    from distilpose.video import ImageFolder

    if folder not in cache:
        try:
            cache[folder] = list(ImageFolder(folder).files)
        except MediaError:
            cache[folder] = []
    images = cache[folder]
    if index >= len(images):
        return folder / f"<image {index} of a folder holding {len(images)}>"
    return images[index]


def check_sources(plan: ExportPlan, need_pixels: bool) -> None:
    """Every image the export needs must be there: list each missing one before anything is written."""
    missing = []
    for item in plan.items:
        if not need_pixels and item.width is not None and item.height is not None:
            continue
        if not item.source.exists():
            missing.append(f"frame {item.frame.id}: {item.source} not found")
    if missing:
        head = f"{len(missing)} image(s) of the export are missing"
        raise DistilPoseError(head + ":\n" + "\n".join(f"  - {m}" for m in missing[:50]))


def materialise(plan: ExportPlan, images_dir: Path | None, mode: str = "copy") -> None:
    """Put each image under ``images_dir`` (``mode``: copy, link = hard link where possible, none) and fill in
    missing widths and heights from the pixels."""
    if mode not in IMAGE_MODES:
        raise DistilPoseError(f"unknown image mode {mode!r}; expected one of {', '.join(IMAGE_MODES)}")
    for item in plan.items:
        target = (
            None
            if mode == "none" or images_dir is None
            else images_dir / Path(*PurePosixPath(item.file_name).parts)
        )
        if item.video_index is None:
            if target is not None:
                _place_file(item.source, target, mode)
            if item.width is None or item.height is None:
                item.height, item.width = _read_pixels(item.source).shape[:2]
        else:
            pixels = _video_frame(item.source, item.video_index)
            item.height, item.width = pixels.shape[:2]
            if target is not None:
                _write_image(pixels, target)


def _place_file(source: Path, target: Path, mode: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and os.path.samefile(source, target):
        return
    if mode == "link":
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        try:
            os.link(source, target)
            return
        except OSError:  # another file system, or links not allowed: copy instead
            pass
    shutil.copyfile(source, target)


def _read_pixels(path: Path) -> np.ndarray:
    import cv2

    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise MediaError(f"{path}: cannot read: {exc.strerror or exc}") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(f"{path}: not an image OpenCV can decode")
    return image


def _video_frame(path: Path, index: int) -> np.ndarray:
    """The BGR pixels of one video frame."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise MediaError(f"{path}: cannot open the video")
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
    finally:
        cap.release()
    if not ok or frame is None:
        raise MediaError(f"{path}: cannot read frame {index}")
    return frame


def _write_image(pixels: np.ndarray, target: Path) -> None:
    import cv2

    target.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(target.suffix or ".jpg", pixels, [int(cv2.IMWRITE_JPEG_QUALITY), 95])
    if not ok:
        raise MediaError(f"{target}: cannot encode the frame")
    target.write_bytes(data.tobytes())
