"""The project's frames with their status (instances, verified, predictions to check, split), for the frame
list and navigation.

The counts come from the store's read model (:meth:`ReadModel.frame_summaries
<distilpose.project.read_model.ReadModel.frame_summaries>`, one aggregate query); this module adds what the
list shows and the navigation over it. Call from the GUI thread (the store belongs to the thread that opened
it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from distilpose.app.words import EMPTY, LABELLED, TO_CHECK, VERIFIED
from distilpose.project import ProjectStore
from distilpose.project.read_model import FrameSummary


@dataclass(frozen=True)
class FrameRow(FrameSummary):
    """One line of the frame list: a frame's summary with the words the list shows."""

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
    return [FrameRow(**vars(summary)) for summary in store.read.frame_summaries()]


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
    return store.read.frame_before(media_id, index)
