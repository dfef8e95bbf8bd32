"""The questions the app, training and pre-label ask of a project, as typed answers (docs/adr/0025).

A composed part of the store (``store.read``), not a base class: it holds the store and asks through its
connection, so nothing outside this package writes SQL or touches ``conn``. Each answer is one aggregate
query: the frame list and the review docks are refreshed after every edit, and a project may hold tens of
thousands of frames. Read-only, on the thread that opened the store (as every store call).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from distilpose.keypoints import NUM_KEYPOINTS
from distilpose.project.base import StoreBase
from distilpose.project.records import PREDICTION_SOURCES

_PREDICTIONS = "(" + ", ".join(f"'{s}'" for s in PREDICTION_SOURCES) + ")"

_FRAME_SUMMARIES = f"""
SELECT f.id, f.media_id, f.idx, f.split, f.suggested, f.suggest_reason, m.path, m.kind,
       COUNT(i.id),
       COALESCE(SUM(i.verified), 0),
       COALESCE(SUM(CASE WHEN i.verified = 0 AND i.source IN {_PREDICTIONS} THEN 1 ELSE 0 END), 0)
FROM frames f JOIN media m ON m.id = f.media_id LEFT JOIN instances i ON i.frame_id = f.id
GROUP BY f.id ORDER BY f.media_id, f.idx
"""


@dataclass(frozen=True)
class FrameSummary:
    """A frame with the counts of its people, as the frame list shows it."""

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


@dataclass(frozen=True)
class Disagreement:
    """An unverified prediction's teacher-student disagreement per joint (``extras['disagreement']``)."""

    instance_id: int
    frame_id: int
    values: np.ndarray  # NUM_KEYPOINTS floats, NaN where a joint has none


class ReadModel:
    """The read-only questions of ``store.read``; see the module docs."""

    def __init__(self, store: StoreBase) -> None:
        self._store = store

    def frame_summaries(self) -> list[FrameSummary]:
        """Every frame in list order (by media, then frame index) with its people counted."""
        rows = self._store.conn.execute(_FRAME_SUMMARIES)
        return [
            FrameSummary(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7], r[8], r[9], r[10]) for r in rows
        ]

    def frame_before(self, media_id: int, index: int) -> int | None:
        """The id of the project frame before (media, index) in list order: the previous frame of the same
        media, else the last frame of the media before it; None at the first frame."""
        row = self._store.conn.execute(
            "SELECT id FROM frames WHERE media_id < ? OR (media_id = ? AND idx < ?) "
            "ORDER BY media_id DESC, idx DESC LIMIT 1",
            (int(media_id), int(media_id), int(index)),
        ).fetchone()
        return None if row is None else int(row[0])

    def last_tracked_frame_before(self, media_id: int, index: int) -> tuple[int, int] | None:
        """(frame id, frame index) of the nearest frame of the media before ``index`` holding a tracked
        person, or None."""
        row = self._store.conn.execute(
            "SELECT f.id, f.idx FROM frames f JOIN instances i ON i.frame_id = f.id "
            "WHERE f.media_id = ? AND f.idx < ? AND i.track_id IS NOT NULL ORDER BY f.idx DESC LIMIT 1",
            (int(media_id), int(index)),
        ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    def person_positions(self, frame_ids: Iterable[int]) -> dict[int, int]:
        """Instance id -> the person's index in its frame (the store's order, by id), for these frames."""
        ids = sorted({int(f) for f in frame_ids})
        out: dict[int, int] = {}
        count: dict[int, int] = {}
        for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
            chunk = ids[start : start + 500]
            rows = self._store.conn.execute(
                f"SELECT id, frame_id FROM instances WHERE frame_id IN ({', '.join('?' * len(chunk))}) "
                "ORDER BY frame_id, id",
                chunk,
            )
            for iid, frame_id in rows:
                out[int(iid)] = count.get(frame_id, 0)
                count[frame_id] = out[int(iid)] + 1
        return out

    def disagreements(self) -> list[Disagreement]:
        """Every unverified prediction that carries a per-joint disagreement, by instance id."""
        rows = self._store.conn.execute(
            f"SELECT id, frame_id, extra FROM instances WHERE verified = 0 AND source IN {_PREDICTIONS} "
            "AND extra LIKE '%disagreement%' ORDER BY id"
        ).fetchall()
        out = []
        for iid, frame_id, extra in rows:
            values = json.loads(extra or "{}").get("disagreement")
            if isinstance(values, list) and len(values) == NUM_KEYPOINTS:
                out.append(Disagreement(int(iid), int(frame_id), np.asarray(values, dtype=np.float64)))
        return out

    def mean_unverified_score(self) -> dict[int, float]:
        """Frame id -> mean keypoint score of its unverified people (frames without scored ones are absent)."""
        rows = self._store.conn.execute(
            "SELECT i.frame_id, AVG(k.score) FROM keypoints k JOIN instances i ON i.id = k.instance_id "
            "WHERE k.score IS NOT NULL AND i.verified = 0 GROUP BY i.frame_id"
        )
        return {int(f): float(s) for f, s in rows}

    def verified_per_split(self) -> dict[str, int]:
        """Verified people per split (``none`` for unsplit frames); splits without any are absent."""
        rows = self._store.conn.execute(
            "SELECT f.split, COUNT(i.id) FROM instances i JOIN frames f ON f.id = i.frame_id "
            "WHERE i.verified = 1 GROUP BY f.split"
        ).fetchall()
        return {str(split): int(n) for split, n in rows}

    def instances_edited_by(self, ops: Sequence[str]) -> set[int]:
        """Ids of the instances that the audit log says one of these operations changed (some may be gone)."""
        if not ops:
            return set()
        rows = self._store.conn.execute(
            "SELECT DISTINCT json_extract(payload, '$.instance_id') FROM history "
            f"WHERE op IN ({', '.join('?' * len(ops))})",
            tuple(ops),
        ).fetchall()
        return {int(r[0]) for r in rows if r[0] is not None}
