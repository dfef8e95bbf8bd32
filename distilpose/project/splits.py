"""Train/val/test splits: seeded, and by media when frames of one video must not leak across splits.

Frames of one video are near-duplicates: splitting them at random puts the same person in train and val and
inflates the val score. ``by='media'`` keeps every frame of a media in one split, choosing media so the val
and test frame counts come as close as possible to the asked fractions.

``by='time'`` holds out the last part of each video (val, then test at the very end) and leaves a gap of at
least one second of frames (from the video's frame rate) before each held-out part, set to 'none' so nothing
trains on it: the frames just before the cut show the same people in nearly the same poses. Image folders
are split the same way by order (no frame rate: a gap of one frame); single images, which have no order, get
a seeded random split.

What gets a split: the frames a dataset export would take (every image's frame, and video/folder frames
holding an instance); other frames are set to 'none'.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from distilpose.errors import DistilPoseError
from distilpose.project.store import ProjectStore

SPLIT_UNITS: tuple[str, ...] = ("frame", "media", "time")
#: ``by='time'``: seconds of frames left out (split 'none') before each held-out part of a video.
TIME_GAP_S = 1.0
#: A folder of images has no frame rate: the gap before its held-out part, in frames.
FOLDER_GAP_FRAMES = 1


def dataset_frames(store: ProjectStore) -> list[tuple[int, int]]:
    """(frame id, media id) of the frames that belong in a dataset, by frame id."""
    rows = store.conn.execute(
        "SELECT f.id, f.media_id FROM frames f JOIN media m ON m.id = f.media_id "
        "WHERE m.kind = 'image' OR EXISTS (SELECT 1 FROM instances i WHERE i.frame_id = f.id) ORDER BY f.id"
    ).fetchall()
    return [(int(f), int(m)) for f, m in rows]


def compute_splits(
    store: ProjectStore,
    val: float = 0.2,
    test: float = 0.0,
    seed: int = 0,
    by: str = "frame",
    fps_of: Callable[[int], float | None] | None = None,
) -> dict[int, str]:
    """The split of every frame (nothing is written): ``round(val * n)`` val frames and ``round(test * n)``
    test frames for ``by='frame'``; whole media chosen greedily towards those counts for ``by='media'``;
    the last part of each video for ``by='time'`` (``fps_of(media_id)``: its frame rate, default read from
    the file)."""
    if by not in SPLIT_UNITS:
        raise DistilPoseError(f"unknown split unit {by!r}; expected one of {', '.join(SPLIT_UNITS)}")
    if not (0.0 <= val <= 1.0 and 0.0 <= test <= 1.0 and val + test <= 1.0):
        raise DistilPoseError(
            f"val ({val}) and test ({test}) must be fractions in [0, 1] adding up to at most 1"
        )
    chosen = dataset_frames(store)
    out = {f.id: "none" for f in store.frames()}
    rng = np.random.default_rng(seed)
    n = len(chosen)
    n_val, n_test = round(val * n), round(test * n)
    if by == "time":
        return _time_splits(store, chosen, out, val, test, rng, fps_of or (lambda m: video_fps(store, m)))
    if by == "frame":
        order = rng.permutation(n)
        for rank, i in enumerate(order):
            out[chosen[i][0]] = "val" if rank < n_val else "test" if rank < n_val + n_test else "train"
        return out
    members: dict[int, list[int]] = {}
    for frame_id, media_id in chosen:
        members.setdefault(media_id, []).append(frame_id)
    media_ids = sorted(members)
    counts = {"val": 0, "test": 0}
    targets = {"val": n_val, "test": n_test}
    for i in rng.permutation(len(media_ids)):
        frames = members[media_ids[i]]
        split = "train"
        for name in ("val", "test"):
            # take the media when it brings the count closer to the target
            if abs(counts[name] + len(frames) - targets[name]) < abs(counts[name] - targets[name]):
                split = name
                counts[name] += len(frames)
                break
        for frame_id in frames:
            out[frame_id] = split
    return out


def video_fps(store: ProjectStore, media_id: int) -> float | None:
    """The frame rate of a video media from its file (None for images and folders, or an unreadable file)."""
    from distilpose.video import VideoReader

    media = store.media(media_id)
    if media.kind != "video":
        return None
    try:
        with VideoReader(store.media_path(media_id)) as reader:
            return reader.fps
    except DistilPoseError:
        return None


def _time_splits(
    store: ProjectStore,
    chosen: list[tuple[int, int]],
    out: dict[int, str],
    val: float,
    test: float,
    rng: np.random.Generator,
    fps_of: Callable[[int], float | None],
) -> dict[int, str]:
    """``by='time'`` (see the module docs): per video or folder, train | gap | val | gap | test by frame index."""
    kinds = {m.id: m.kind for m in store.media_list()}
    index = {f.id: f.index for f in store.frames()}
    members: dict[int, list[int]] = {}
    for frame_id, media_id in chosen:
        members.setdefault(media_id, []).append(frame_id)
    for media_id, frames in members.items():
        if kinds[media_id] == "image":
            continue
        frames.sort(key=lambda f: index[f])
        fps = fps_of(media_id)
        gap = FOLDER_GAP_FRAMES if not fps else max(1, math.ceil(TIME_GAP_S * fps))
        n = len(frames)
        n_test, n_val = round(test * n), round(val * n)
        parts = [("val", n - n_test - n_val, n - n_test), ("test", n - n_test, n)]
        split_of = dict.fromkeys(frames, "train")
        for name, start, end in parts:
            for f in frames[start:end]:
                split_of[f] = name
        for name, start, end in parts:
            if end <= start:
                continue
            cut = index[frames[start]]
            for f in frames[:start]:  # the gap: frames less than `gap` + 1 indices before the cut
                if split_of[f] != name and cut - index[f] <= gap:
                    split_of[f] = "none"
        out.update(split_of)
    images = [f for f, m in chosen if kinds[m] == "image"]
    order = rng.permutation(len(images))
    n_val, n_test = round(val * len(images)), round(test * len(images))
    for rank, i in enumerate(order):
        out[images[i]] = "val" if rank < n_val else "test" if rank < n_val + n_test else "train"
    return out


def split_project(
    store: ProjectStore, val: float = 0.2, test: float = 0.0, seed: int = 0, by: str = "frame"
) -> dict[int, str]:
    """Compute and store the splits (one transaction); returns the previous split of every frame (for
    undo)."""
    return store.set_splits(compute_splits(store, val=val, test=test, seed=seed, by=by))
