"""The project's frames with their status (instances, verified, predictions to check, split), for the frame
list and navigation.

One aggregate query instead of loading every instance: the frame list is refreshed after each edit, and a
project may hold tens of thousands of frames. Read-only use of the store's connection (it belongs to the
thread that opened the store: call from the GUI thread).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from distilpose.app.words import EMPTY, LABELLED, TO_CHECK, VERIFIED
from distilpose.project import ProjectStore

_ROWS_SQL = """
SELECT f.id, f.media_id, f.idx, f.split, f.suggested, f.suggest_reason, m.path, m.kind,
       COUNT(i.id),
       COALESCE(SUM(i.verified), 0),
       COALESCE(SUM(CASE WHEN i.verified = 0 AND i.source IN ('student', 'teacher') THEN 1 ELSE 0 END), 0)
FROM frames f JOIN media m ON m.id = f.media_id LEFT JOIN instances i ON i.frame_id = f.id
GROUP BY f.id ORDER BY f.media_id, f.idx
"""


@dataclass(frozen=True)
class FrameRow:
    """One line of the frame list."""

    frame_id: int
    media_id: int
    index: int
    split: str
    suggested: bool
    suggest_reason: str | None
    media_path: str  # as stored (relative to the project folder)
    kind: str  # media kind: image, video or folder
    instances: int
    verified: int
    predictions: int  # unverified model instances still to accept or reject

    @property
    def name(self) -> str:
        """What the list shows: the image's file name, or ``clip.mp4 #120`` for a video frame."""
        base = PurePosixPath(self.media_path).name
        return base if self.kind == "image" else f"{base} #{self.index}"

    @property
    def to_check(self) -> bool:
        """Worth a person's look: predictions to accept or reject, or suggested and not verified yet."""
        return bool(self.predictions) or (self.suggested and self.status != "verified")

    @property
    def status(self) -> str:
        """The least-checked person's status (:data:`distilpose.app.words.FRAME_RULE`)."""
        if self.instances == 0:
            return EMPTY
        if self.predictions:
            return TO_CHECK
        if self.verified == self.instances:
            return VERIFIED
        return LABELLED


def frame_rows(store: ProjectStore) -> list[FrameRow]:
    """Every frame in list order (by media, then frame index)."""
    return [
        FrameRow(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7], r[8], r[9], r[10])
        for r in store.conn.execute(_ROWS_SQL)
    ]


def next_to_check(rows: list[FrameRow], position: int | None) -> int | None:
    """Position of the first row after ``position`` (wrapping around; from the top when None) that is
    :attr:`FrameRow.to_check`, or None when no row is."""
    n = len(rows)
    start = -1 if position is None else position
    for step in range(1, n + 1):
        i = (start + step) % n
        if rows[i].to_check and i != position:
            return i
    return None


def previous_frame_id(store: ProjectStore, media_id: int, index: int) -> int | None:
    """The project frame before (media, index) in list order: the previous labelled frame of the same video,
    else the last frame of the media before it (images are one media each)."""
    row = store.conn.execute(
        "SELECT id FROM frames WHERE media_id < ? OR (media_id = ? AND idx < ?) "
        "ORDER BY media_id DESC, idx DESC LIMIT 1",
        (int(media_id), int(media_id), int(index)),
    ).fetchone()
    return None if row is None else int(row[0])
