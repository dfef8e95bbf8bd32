"""Read-only queries of the project store (a base class of ``ProjectStore``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from distilpose.project import files
from distilpose.project.base import StoreBase
from distilpose.project.errors import ProjectError
from distilpose.project.records import (
    INSTANCE_COLUMNS,
    KEYPOINT_COLUMNS,
    SPLITS,
    FrameRecord,
    HistoryEntry,
    LowConfidenceKeypoint,
    MediaRecord,
    instance_from_rows,
    integer,
    json_object,
)
from distilpose.types import Instance

PathLike = str | os.PathLike

_INSTANCE_SELECT = "SELECT " + ", ".join(INSTANCE_COLUMNS) + " FROM instances"
_KEYPOINT_SELECT = "SELECT " + ", ".join(KEYPOINT_COLUMNS) + " FROM keypoints"
_MEDIA_COLUMNS = "id, path, kind, size, hash, width, height, added, extra"
_FRAME_COLUMNS = "id, media_id, idx, split, suggested, suggest_reason, extra"


class StoreQueries(StoreBase):
    """The read side of the store."""

    def media(self, media_id: int) -> MediaRecord:
        row = self.conn.execute(
            f"SELECT {_MEDIA_COLUMNS} FROM media WHERE id = ?", (int(media_id),)
        ).fetchone()
        if row is None:
            raise ProjectError(f"{self.path}: no media {media_id} in this project")
        return self._decode("media", _media_record, row)

    def media_list(self, kind: str | None = None) -> list[MediaRecord]:
        sql = f"SELECT {_MEDIA_COLUMNS} FROM media" + (" WHERE kind = ?" if kind else "") + " ORDER BY id"
        return [self._decode("media", _media_record, r) for r in self.conn.execute(sql, (kind,) if kind else ())]

    def find_media(self, path: PathLike) -> MediaRecord | None:
        stored = files.to_stored(path, self.folder)
        row = self.conn.execute(f"SELECT {_MEDIA_COLUMNS} FROM media WHERE path = ?", (stored,)).fetchone()
        return None if row is None else self._decode("media", _media_record, row)

    def media_path(self, media_id: int) -> Path:
        """Where the media file is now, resolving a relative stored path against the project folder."""
        return files.resolve_stored(self.media(media_id).path, self.folder)

    def frame(self, frame_id: int) -> FrameRecord:
        row = self.conn.execute(
            f"SELECT {_FRAME_COLUMNS} FROM frames WHERE id = ?", (int(frame_id),)
        ).fetchone()
        if row is None:
            raise ProjectError(f"{self.path}: no frame {frame_id} in this project")
        return self._decode("frame", _frame_record, row)

    def frame_label(self, frame_id: int) -> str:
        """A frame as a user knows it, for messages: 'frame 12 of clips/walk.mp4' (never its row id alone)."""
        row = self.conn.execute(
            "SELECT f.idx, m.path FROM frames f JOIN media m ON m.id = f.media_id WHERE f.id = ?", (int(frame_id),)
        ).fetchone()
        return f"frame {frame_id} (no longer in the project)" if row is None else f"frame {row[0]} of {row[1]}"

    def frame_at(self, media_id: int, index: int) -> FrameRecord | None:
        row = self.conn.execute(
            f"SELECT {_FRAME_COLUMNS} FROM frames WHERE media_id = ? AND idx = ?", (media_id, index)
        ).fetchone()
        return None if row is None else self._decode("frame", _frame_record, row)

    def frames(self, media_id: int | None = None, split: str | None = None) -> list[FrameRecord]:
        """Frames of one media (by index) or of the whole project (by media, index), optionally of one
        split."""
        where, params = [], []
        if media_id is not None:
            where.append("media_id = ?")
            params.append(media_id)
        if split is not None:
            self._check_split(split)
            where.append("split = ?")
            params.append(split)
        sql = f"SELECT {_FRAME_COLUMNS} FROM frames" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self.conn.execute(sql + " ORDER BY media_id, idx", params)
        return [self._decode("frame", _frame_record, r) for r in rows]

    def instance(self, instance_id: int) -> Instance:
        row = self.conn.execute(f"{_INSTANCE_SELECT} WHERE id = ?", (int(instance_id),)).fetchone()
        if row is None:
            raise ProjectError(f"{self.path}: no instance {instance_id} in this project")
        kps = self.conn.execute(
            f"{_KEYPOINT_SELECT} WHERE instance_id = ? ORDER BY k", (int(instance_id),)
        ).fetchall()
        return self._decode("instance", instance_from_rows, row, kps)

    def instances(self, frame_id: int) -> list[Instance]:
        """The instances of a frame, oldest first, each with ``extras['id']``."""
        return self.instances_by_frame([frame_id]).get(frame_id, [])

    def instances_by_frame(self, frame_ids: list[int] | None = None) -> dict[int, list[Instance]]:
        """Instances grouped by frame in two queries (for export and batch work), for some frames or all."""
        if frame_ids is None:
            rows = self.conn.execute(f"{_INSTANCE_SELECT} ORDER BY id").fetchall()
            kps = self.conn.execute(f"{_KEYPOINT_SELECT} ORDER BY instance_id, k").fetchall()
        else:
            ids = [int(f) for f in frame_ids]
            marks = ", ".join("?" * len(ids))
            rows = self.conn.execute(
                f"{_INSTANCE_SELECT} WHERE frame_id IN ({marks}) ORDER BY id", ids
            ).fetchall()
            kps = self.conn.execute(
                f"{_KEYPOINT_SELECT} WHERE instance_id IN "
                f"(SELECT id FROM instances WHERE frame_id IN ({marks})) "
                "ORDER BY instance_id, k",
                ids,
            ).fetchall()
        by_instance: dict[int, list[tuple]] = {}
        for kp in kps:
            by_instance.setdefault(kp[0], []).append(kp)
        out: dict[int, list[Instance]] = {}
        for row in rows:
            inst = self._decode("instance", instance_from_rows, row, by_instance.get(row[0], []))
            out.setdefault(row[1], []).append(inst)
        return out

    def low_confidence_keypoints(
        self, threshold: float = 0.5, limit: int | None = 100, include_verified: bool = False
    ) -> list[LowConfidenceKeypoint]:
        """Scored keypoints below ``threshold``, least confident first: the review queue. Verified instances
        are left out unless asked for (a person already checked them)."""
        sql = (
            "SELECT k.instance_id, i.frame_id, k.k, k.score "
            "FROM keypoints k JOIN instances i ON i.id = k.instance_id "
            "WHERE k.score IS NOT NULL AND k.score < ?"
            + ("" if include_verified else " AND i.verified = 0")
            + " ORDER BY k.score, k.instance_id, k.k"
            + ("" if limit is None else " LIMIT ?")
        )
        params: list[Any] = [float(threshold)] + ([] if limit is None else [int(limit)])
        return [LowConfidenceKeypoint(*row) for row in self.conn.execute(sql, params)]

    def counts(self) -> dict[str, int]:
        """Sizes at a glance: media, frames, instances, verified instances, labelled keypoints (v > 0)."""
        q = self.conn.execute
        return {
            "media": q("SELECT COUNT(*) FROM media").fetchone()[0],
            "frames": q("SELECT COUNT(*) FROM frames").fetchone()[0],
            "instances": q("SELECT COUNT(*) FROM instances").fetchone()[0],
            "verified": q("SELECT COUNT(*) FROM instances WHERE verified = 1").fetchone()[0],
            "keypoints_labelled": q("SELECT COUNT(*) FROM keypoints WHERE v > 0").fetchone()[0],
        }

    def history(self, limit: int | None = None) -> list[HistoryEntry]:
        """The audit log, oldest first (the last ``limit`` entries when given)."""
        sql = "SELECT id, time, op, payload FROM history ORDER BY id DESC" + (
            "" if limit is None else " LIMIT ?"
        )
        rows = self.conn.execute(sql, () if limit is None else (int(limit),)).fetchall()
        return [self._decode("history entry", _history_entry, r) for r in reversed(rows)]

    def exists(self, table: str, row_id: int) -> bool:
        """Whether ``media``, ``frames``, ``instances`` or ``jobs`` holds this id."""
        if table not in ("media", "frames", "instances", "jobs"):
            raise ValueError(f"no id lookup for table {table!r}")
        return self.conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (int(row_id),)).fetchone() is not None

    def _check_split(self, split: str) -> None:
        if split not in SPLITS:
            raise ProjectError(f"{self.path}: unknown split {split!r}; expected one of {', '.join(SPLITS)}")


def _media_record(row: tuple) -> MediaRecord:
    mid, path, kind, size, digest, width, height, added, extra = row
    if not isinstance(path, str):
        raise ValueError(f"its path is {path!r}, not text")
    size, width, height = (None if v is None else integer(v) for v in (size, width, height))
    return MediaRecord(mid, path, kind, size, digest, width, height, added, extra=json_object(extra))


def _frame_record(row: tuple) -> FrameRecord:
    fid, media_id, idx, split, suggested, reason, extra = row
    return FrameRecord(fid, media_id, integer(idx), split, bool(suggested), reason, json_object(extra))


def _history_entry(row: tuple) -> HistoryEntry:
    return HistoryEntry(row[0], row[1], row[2], json_object(row[3]))
