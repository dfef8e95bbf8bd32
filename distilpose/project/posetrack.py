"""PoseTrack 2018 fields of a COCO export: which video an image is a frame of, and which frame.

PoseTrack 2018 writes COCO files whose ``images`` carry ``vid_id`` (the video, a 6-digit string), ``frame_id``
(``1`` + vid_id + the frame index in 4 digits, e.g. 10003420000; PoseTrack's image ``id`` equals it),
``nframes`` (the video's length) and ``is_labeled``, and whose annotations carry ``track_id`` (the person,
unique within one video). An export adds these image fields to the frames of every video (or image folder)
of the project that holds at least one tracked person; a project without tracks exports exactly as before.
The image ``id`` stays the project's frame id (the export's stable-id rule), so ``frame_id`` is extra data
here. A frame index of 10,000 or more widens the index part for the whole video (still unique).

Import needs nothing special: image fields the project has no column for are kept with the frame and
written back unchanged, and ``track_id`` is an instance column, so an export of an import gives the same
file.
"""

from __future__ import annotations

from pathlib import Path

from distilpose.errors import DistilPoseError
from distilpose.project.exporting import ExportPlan
from distilpose.project.tracks import SEQUENCE_KINDS


def posetrack_frame_id(media_id: int, index: int, nframes: int) -> int:
    """PoseTrack's frame id of frame ``index`` of video ``media_id``."""
    width = max(4, len(str(max(int(nframes) - 1, int(index)))))
    return int(f"1{int(media_id):06d}{int(index):0{width}d}")


def posetrack_image_fields(plan: ExportPlan) -> dict[int, dict]:
    """Frame id -> the PoseTrack image fields, for the frames of tracked videos in ``plan``."""
    tracked = {
        item.media.id
        for item in plan.items
        if item.media.kind in SEQUENCE_KINDS and any(i.track_id is not None for i in item.instances)
    }
    lengths: dict[int, int] = {}
    out: dict[int, dict] = {}
    for item in plan.items:
        media = item.media
        if media.id not in tracked:
            continue
        if media.id not in lengths:
            lengths[media.id] = _sequence_length(item.source, media.kind)
        nframes = lengths[media.id]
        out[item.frame.id] = {
            "vid_id": f"{media.id:06d}",
            "frame_id": posetrack_frame_id(media.id, item.frame.index, nframes),
            "nframes": nframes,
            "is_labeled": any(i.num_labelled for i in item.instances),
        }
    return out


def _sequence_length(source: Path, kind: str) -> int:
    """Frames of a video, or images of a folder (for a folder frame ``source`` is its image)."""
    from distilpose.video import ImageFolder, VideoReader

    try:
        if kind == "video":
            with VideoReader(source) as reader:
                return len(reader)
        return len(ImageFolder(source.parent).files)
    except DistilPoseError as exc:
        raise DistilPoseError(f"{source}: cannot count the frames for the PoseTrack fields: {exc}") from None
