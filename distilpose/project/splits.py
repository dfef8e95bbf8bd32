"""Train/val/test splits: seeded, and by media when frames of one video must not leak across splits.

Frames of one video are near-duplicates: splitting them at random puts the same person in train and val and
inflates the val score. ``by='media'`` keeps every frame of a media in one split, choosing media so the val
and test frame counts come as close as possible to the asked fractions.

What gets a split: the frames a dataset export would take (every image's frame, and video/folder frames
holding an instance); other frames are set to 'none'.
"""

from __future__ import annotations

import numpy as np

from distilpose.errors import DistilPoseError
from distilpose.project.store import ProjectStore

SPLIT_UNITS: tuple[str, ...] = ("frame", "media")


def dataset_frames(store: ProjectStore) -> list[tuple[int, int]]:
    """(frame id, media id) of the frames that belong in a dataset, by frame id."""
    rows = store.conn.execute(
        "SELECT f.id, f.media_id FROM frames f JOIN media m ON m.id = f.media_id "
        "WHERE m.kind = 'image' OR EXISTS (SELECT 1 FROM instances i WHERE i.frame_id = f.id) ORDER BY f.id"
    ).fetchall()
    return [(int(f), int(m)) for f, m in rows]


def compute_splits(
    store: ProjectStore, val: float = 0.2, test: float = 0.0, seed: int = 0, by: str = "frame"
) -> dict[int, str]:
    """The split of every frame (nothing is written): ``round(val * n)`` val frames and ``round(test * n)``
    test frames for ``by='frame'``; whole media chosen greedily towards those counts for ``by='media'``."""
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


def split_project(
    store: ProjectStore, val: float = 0.2, test: float = 0.0, seed: int = 0, by: str = "frame"
) -> dict[int, str]:
    """Compute and store the splits (one transaction); returns the previous split of every frame (for
    undo)."""
    return store.set_splits(compute_splits(store, val=val, test=test, seed=seed, by=by))
