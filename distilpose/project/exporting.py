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
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from distilpose.atomic import atomic_open, atomic_write_bytes, remove_stale_temps, replace_with_link
from distilpose.errors import DistilPoseError, MediaError
from distilpose.project import files
from distilpose.project.records import SPLITS, FrameRecord, MediaRecord
from distilpose.project.store import ProjectStore
from distilpose.types import Instance
from distilpose.video import ImageFolder, image_size, read_image

IMAGE_MODES: tuple[str, ...] = ("copy", "link", "none")
_COPY_CHUNK = 1 << 20


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
    media_path: Path | None = None  # where the media record points (for a folder's image: the folder)


@dataclass
class ExportPlan:
    items: list[ExportItem] = field(default_factory=list)
    left_out_unverified: int = 0  # instances not exported because they are not verified

    @property
    def num_instances(self) -> int:
        return sum(len(item.instances) for item in self.items)


def plan_export(
    store: ProjectStore,
    *,
    only_verified: bool = False,
    splits: Sequence[str] | None = None,
    keep: Callable[[list[Instance]], list[Instance]] | None = None,
) -> ExportPlan:
    """Choose frames and instances (see the module rules) and give every image a unique file name.

    ``keep`` (instead of ``only_verified``) chooses a frame's instances itself; a frame it leaves empty is
    not exported (a distillation job's choice: verified people, else the teacher's pre-labels)."""
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
        if keep is not None:
            kept = keep(instances)
        else:
            kept = [i for i in instances if i.extras["verified"]] if only_verified else instances
            plan.left_out_unverified += len(instances) - len(kept)
        m = media[frame.media_id]
        if (only_verified or keep is not None) and not kept:
            continue
        if not kept and m.kind != "image":
            continue
        media_path = source = files.resolve_stored(m.path, store.folder)
        if m.kind == "folder":
            source = _folder_image(media_path, frame.index, folders)
        name = _file_name(frame, m, source)
        # Unique by stem, not only by name: YOLO labels are named after the stem, so x.jpg and x.png would
        # otherwise write the same label file.
        if str(PurePosixPath(name).with_suffix("")) in used:
            parent, base = PurePosixPath(name).parent, PurePosixPath(name).name
            name = str(parent / f"{frame.id}_{base}") if str(parent) != "." else f"{frame.id}_{base}"
        used.add(str(PurePosixPath(name).with_suffix("")))
        width, height = (m.width, m.height) if m.kind == "image" else (None, None)
        index = frame.index if m.kind == "video" else None
        plan.items.append(ExportItem(frame, m, name, source, kept, index, width, height, media_path))
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
    """Every file the export reads must be there and be media the project owns; list every problem before
    anything is written (so a refused export leaves nothing behind).

    Owned means: the file the media record names, a regular file (not a device or a pipe), for a folder's
    image one that stays inside the folder (no symbolic link out of it), and an image by its header, of a
    size the image reader accepts (:func:`distilpose.video.image_size`). A project file is data: a media path
    that names ``/home/me/.ssh/id_rsa`` must not end up in a dataset."""
    missing: dict[str, list[int]] = {}  # source file -> the frames that need it (a video: all its frames)
    refused = []
    for item in plan.items:
        if not need_pixels and item.width is not None and item.height is not None:
            continue
        try:
            problem = _source_problem(item)
        except FileNotFoundError:
            key = str(item.source) if item.media.kind == "image" else item.media.path  # a video or folder: once
            missing.setdefault(key, []).append(item.frame.id)
            continue
        if problem:
            refused.append(f"frame {item.frame.id} (media {item.media.id}): {problem}")
    heads = []
    if missing:
        n = sum(len(v) for v in missing.values())
        heads.append(f"{n} image(s) of the export are missing (if the media moved, find them with "
                     "`distilpose project relink PROJECT --search FOLDER`, or Project > Relink Missing Media)")
    if refused:
        heads.append(f"{len(refused)} image(s) of the export are not images the project may export")
    if heads:
        gone = [f"{source} not found ({len(ids)} frame(s): {_ids(ids)})" for source, ids in missing.items()]
        listed = (gone + refused)[:50]
        raise DistilPoseError("; ".join(heads) + ":\n" + "\n".join(f"  - {m}" for m in listed))


def _ids(ids: list[int], shown: int = 5) -> str:
    """'frame 1, 2, 3, 4, 5 and 148 more' for a message."""
    head = ", ".join(str(i) for i in ids[:shown])
    return f"frame {head}" + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


def _source_problem(item: ExportItem) -> str | None:
    """Why the export may not read ``item.source`` (None: it may); FileNotFoundError when it is missing."""
    source = item.source
    try:
        st = source.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(source) from None
    except OSError as exc:
        return f"{source}: cannot read ({exc.strerror or exc})"
    if not stat.S_ISREG(st.st_mode):
        return f"{source} is not a regular file"
    if item.media.kind == "folder" and item.media_path is not None:
        folder = os.path.realpath(item.media_path)
        if not Path(os.path.realpath(source)).is_relative_to(folder):
            return f"{source} is a link to a file outside its image folder ({os.path.realpath(source)})"
    if item.video_index is not None:
        return None
    try:
        with open(source, "rb") as handle:
            image_size(handle, source)
    except MediaError as exc:
        return str(exc)
    except OSError as exc:
        return f"{source}: cannot read ({exc.strerror or exc})"
    return None


def clean_stale_temps(*folders: Path) -> None:
    """Temp files a killed export left in the folders this export writes (recursively)."""
    for folder in folders:
        remove_stale_temps(folder, recursive=True)


def materialise(plan: ExportPlan, images_dir: Path | None, mode: str = "copy") -> None:
    """Put each image under ``images_dir`` (``mode``: copy, link = hard link where possible, none) and fill in
    missing widths and heights from the pixels.

    Every image is a new file put in place by a rename: an existing file of that name (perhaps a hard link
    to a user's original, made by an earlier ``link`` export) is replaced, never written into; a failure
    (a full disk) leaves no partial image and names the file being written, not the one being read."""
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
                item.height, item.width = read_image(item.source).shape[:2]
        else:
            pixels = _video_frame(item.source, item.video_index)
            item.height, item.width = pixels.shape[:2]
            if target is not None:
                _write_image(pixels, target)


def _place_file(source: Path, target: Path, mode: str) -> None:
    with contextlib.suppress(OSError):
        if os.path.samefile(source, target):  # an earlier link export of this very file: nothing to do
            return
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode == "link" and replace_with_link(source, target):
        return
    _copy_new(source, target)


def _copy_new(source: Path, target: Path) -> None:
    """Copy into a new temp file renamed over ``target``: read errors name the source, write errors (a full
    disk) the target."""
    try:
        src = open(source, "rb")  # noqa: SIM115 - closed below, after the target is complete
    except OSError as exc:
        raise MediaError(f"{source}: cannot read ({exc.strerror or exc})") from None
    with src, atomic_open(target, "wb") as dst:
        while True:
            try:
                chunk = src.read(_COPY_CHUNK)
            except OSError as exc:
                raise MediaError(f"{source}: cannot read ({exc.strerror or exc})") from None
            if not chunk:
                break
            dst.write(chunk)


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

    ok, data = cv2.imencode(target.suffix or ".jpg", pixels, [int(cv2.IMWRITE_JPEG_QUALITY), 95])
    if not ok:
        raise MediaError(f"{target}: cannot encode the frame")
    atomic_write_bytes(target, data.tobytes())
