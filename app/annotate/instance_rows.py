"""The people of the shown frame as rows for the Instances dock: one :class:`PersonRow` per person with its
17 :class:`KeypointRow` s.

Qt-free and fed only from the state's ``instances`` (project people, or a COCO file's), so a new column is a
field here plus one entry in the dock's column list: the track id is already on the row for the identity
tools (tracks) to show and filter on.
"""

from __future__ import annotations

from dataclasses import dataclass

from distilpose.app.annotate.canvas_items import is_prediction
from distilpose.app.words import FROM_FILE, LABELLED, TO_CHECK, VERIFIED, person_name
from distilpose.keypoints import NAMES
from distilpose.types import Instance

#: What a visibility value means, as the dock shows it (COCO's v).
VISIBILITY = {0: "not labelled", 1: "occluded", 2: "visible"}


@dataclass(frozen=True)
class KeypointRow:
    k: int
    v: int
    score: float | None

    @property
    def name(self) -> str:
        return NAMES[self.k]

    @property
    def visibility(self) -> str:
        return VISIBILITY.get(self.v, str(self.v))


@dataclass(frozen=True)
class PersonRow:
    """One person: ``position`` is its index in the frame (what the dock and the Review dock call it)."""

    position: int
    instance_id: int | None  # None for a COCO file's person (read-only)
    status: str  # to check, labelled or verified (app/words.py), or "from file" for a COCO file's person
    score: float | None
    source: str
    track_id: int | None
    keypoints: tuple[KeypointRow, ...]
    accepted_from: str | None = None  # the model whose prediction was accepted

    @property
    def title(self) -> str:
        """``track 3`` or ``person 2``, as the canvas captions say (:func:`person_name`)."""
        return person_name(self.position, self.track_id)

    @property
    def accepted(self) -> bool:
        """A model's prediction a person accepted (verified; said in the tooltip)."""
        return self.status == VERIFIED and self.source == "user" and self.accepted_from is not None

    @property
    def labelled(self) -> int:
        return sum(1 for kp in self.keypoints if kp.v > 0)


def person_status(inst: Instance) -> str:
    """One word of :mod:`distilpose.app.words`, the same the Frames list uses for frames."""
    if inst.extras.get("id") is None:
        return FROM_FILE
    if is_prediction(inst):
        return TO_CHECK
    if inst.extras.get("verified"):
        return VERIFIED
    return LABELLED


def person_rows(instances: list[Instance]) -> list[PersonRow]:
    """Rows in the frame's order (the order of ``state.instances``, which the canvas and Tab follow)."""
    rows = []
    for i, inst in enumerate(instances):
        scores = inst.scores
        keypoints = tuple(
            KeypointRow(
                k,
                int(inst.keypoints[k, 2]),
                None if scores is None or scores[k] != scores[k] else float(scores[k]),
            )
            for k in range(len(inst.keypoints))
        )
        rows.append(
            PersonRow(
                position=i,
                instance_id=inst.extras.get("id"),
                status=person_status(inst),
                score=None if inst.score is None else float(inst.score),
                source=str(inst.source or ""),
                track_id=inst.track_id,
                keypoints=keypoints,
                accepted_from=inst.extras.get("accepted_from") or None,
            )
        )
    return rows


def person_position(instances: list[Instance], instance_id: int) -> int | None:
    """The index in the frame of project person ``instance_id`` (the Review dock's Person column)."""
    for i, inst in enumerate(instances):
        if inst.extras.get("id") == instance_id:
            return i
    return None
