"""Plain records the store returns, and the conversion between :class:`Instance` and table rows.

An :class:`Instance` read from a project carries its identity and bookkeeping in ``extras``: ``id``,
``frame_id``, ``verified``, ``created`` and ``updated`` (see :data:`RESERVED_EXTRAS`). Everything else in
``extras`` that is JSON (``coco`` fields kept for exact round trips, ``accepted_from``, ...) is stored in the
instance's ``extra`` column. Runtime-only values a predictor attaches (:data:`TRANSIENT_EXTRAS`) are not
stored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distilpose.keypoints import NAMES, NUM_KEYPOINTS
from distilpose.types import Instance

#: ``extras`` keys that mirror table columns: set by the store on read, never stored in ``extra``.
RESERVED_EXTRAS: tuple[str, ...] = ("id", "frame_id", "verified", "created", "updated")
#: ``extras`` keys that only live in memory (the predictor's heatmaps and crop geometry).
TRANSIENT_EXTRAS: tuple[str, ...] = ("heatmaps", "crop")

SPLITS: tuple[str, ...] = ("train", "val", "test", "none")
MEDIA_KINDS: tuple[str, ...] = ("image", "video", "folder")
#: The instance sources that are a model's predictions (a person accepts or rejects them).
PREDICTION_SOURCES: tuple[str, ...] = ("student", "teacher")
JOB_STATUSES: tuple[str, ...] = ("queued", "running", "done", "failed", "cancelled")

INSTANCE_COLUMNS: tuple[str, ...] = (
    "id", "frame_id", "source", "track_id", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "score", "verified",
    "created", "updated", "extra",
)  # fmt: skip
#: The instance columns an edit may change (identity and creation time never change).
EDITABLE_INSTANCE_COLUMNS: tuple[str, ...] = tuple(
    c for c in INSTANCE_COLUMNS if c not in ("id", "frame_id", "created")
)
KEYPOINT_COLUMNS: tuple[str, ...] = ("instance_id", "k", "x", "y", "v", "score", "sigma_x", "sigma_y")
#: SQLite's INTEGER range (signed 64-bit): a larger Python int cannot be stored at all.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class MediaRecord:
    id: int
    path: str  # as stored: relative to the project folder, '/' separators
    kind: str
    size: int | None
    hash: str | None
    width: int | None
    height: int | None
    added: str
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FrameRecord:
    id: int
    media_id: int
    index: int
    split: str
    suggested: bool
    suggest_reason: str | None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LowConfidenceKeypoint:
    """One entry of the review queue: a predicted keypoint whose score is below the threshold."""

    instance_id: int
    frame_id: int
    k: int
    score: float

    @property
    def name(self) -> str:
        return NAMES[self.k]


@dataclass(frozen=True)
class JobRecord:
    id: int
    kind: str
    status: str
    config: dict
    pid: int | None
    paths: dict
    metrics: dict
    created: str | None
    updated: str | None


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    time: str
    op: str
    payload: dict


@dataclass(frozen=True)
class Snapshot:
    """Rows removed by a delete, in foreign-key order, so that restoring them brings back the same ids.

    ``rows`` maps a table name to (column names, row tuples)."""

    table: str  # the table of the deleted root row: 'media' or 'frames'
    id: int
    rows: dict[str, tuple[tuple[str, ...], list[tuple]]]


# --------------------------------------------------------------------------------------------- JSON columns


def to_json(value: Any, what: str) -> str:
    """Compact, key-sorted JSON (stable dumps, exact comparisons); ValueError names ``what`` when
    impossible."""
    try:
        return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} cannot be stored as JSON: {exc}") from None


def from_json(text: str | None) -> Any:
    return json.loads(text) if text else {}


def json_object(text: str | None) -> dict:
    """A JSON-object column (``extra``, job config, history payload); ValueError for broken JSON or another
    JSON type (a damaged file)."""
    value = from_json(text)
    if not isinstance(value, dict):
        raise ValueError(f"a JSON column holds {type(value).__name__}, not an object")
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


# --------------------------------------------------------------------------------------------- instances


def stored_extras(extras: dict) -> dict:
    """The part of ``extras`` that goes into the ``extra`` column."""
    return {k: v for k, v in extras.items() if k not in RESERVED_EXTRAS and k not in TRANSIENT_EXTRAS}


def check_instance(inst: Instance) -> None:
    """Refuse what would corrupt an export later: non-finite coordinates, visibilities outside 0/1/2, a bad
    box, a track id SQLite cannot store."""
    kp = inst.keypoints
    if not np.isfinite(kp[:, :2]).all():
        bad = [NAMES[k] for k in range(NUM_KEYPOINTS) if not np.isfinite(kp[k, :2]).all()]
        raise ValueError(f"keypoint coordinates must be finite numbers; not so for {', '.join(bad)}")
    if not np.isin(kp[:, 2], (0, 1, 2)).all():
        raise ValueError(f"visibility must be 0, 1 or 2, got {sorted(set(kp[:, 2].tolist()) - {0, 1, 2})}")
    if inst.bbox is not None:
        if len(inst.bbox) != 4 or not all(math.isfinite(float(b)) for b in inst.bbox):
            raise ValueError(f"bbox must be 4 finite numbers [x, y, w, h], got {inst.bbox!r}")
        if inst.bbox[2] < 0 or inst.bbox[3] < 0:
            raise ValueError(f"bbox width and height must be >= 0, got {inst.bbox!r}")
    if inst.track_id is not None and not (
        isinstance(inst.track_id, (int, np.integer)) and INT64_MIN <= int(inst.track_id) <= INT64_MAX
    ):
        raise ValueError(f"track id must be an integer in SQLite's 64-bit range, got {inst.track_id!r}")
    if inst.score is not None and not math.isfinite(float(inst.score)):
        raise ValueError(f"score must be a finite number, got {inst.score!r}")
    for name, arr, width in (("scores", inst.scores, 1), ("sigmas", inst.sigmas, 2)):
        if arr is not None and np.asarray(arr).size != NUM_KEYPOINTS * width:
            raise ValueError(f"{name} must hold {NUM_KEYPOINTS * width} values, got {np.asarray(arr).size}")


def instance_values(inst: Instance) -> dict[str, Any]:
    """The editable columns of an instance's row (:data:`EDITABLE_INSTANCE_COLUMNS`), as stored: ``verified``
    and ``updated`` come from ``extras``. ValueError when ``extras`` cannot be stored as JSON."""
    bbox = (None,) * 4 if inst.bbox is None else tuple(float(b) for b in inst.bbox)
    return {
        "source": inst.source,
        "track_id": None if inst.track_id is None else int(inst.track_id),  # numpy ints cannot be bound
        "bbox_x": bbox[0], "bbox_y": bbox[1], "bbox_w": bbox[2], "bbox_h": bbox[3],
        "score": None if inst.score is None else float(inst.score),
        "verified": int(bool(inst.extras.get("verified", False))),
        "updated": inst.extras.get("updated"),
        "extra": to_json(stored_extras(inst.extras), "instance extras"),
    }  # fmt: skip


def keypoint_rows(instance_id: int, inst: Instance) -> list[tuple]:
    """The 17 keypoint rows of an instance (every joint has a row, labelled or not)."""
    scores = None if inst.scores is None else np.asarray(inst.scores, dtype=np.float64).reshape(NUM_KEYPOINTS)
    sigmas = (
        None if inst.sigmas is None else np.asarray(inst.sigmas, dtype=np.float64).reshape(NUM_KEYPOINTS, 2)
    )
    rows = []
    for k in range(NUM_KEYPOINTS):
        x, y, v = inst.keypoints[k]
        rows.append(
            (
                instance_id,
                k,
                float(x),
                float(y),
                int(v),
                _opt(scores[k]) if scores is not None else None,
                _opt(sigmas[k, 0]) if sigmas is not None else None,
                _opt(sigmas[k, 1]) if sigmas is not None else None,
            )
        )
    return rows


#: Field keys of :func:`instance_fields`: an instance column name, or a keypoint index (its whole row).
FieldKey = str | int

_FIELD_WORDS = {
    "source": "source", "track_id": "track id", "bbox_x": "box", "bbox_y": "box", "bbox_w": "box",
    "bbox_h": "box", "score": "score", "verified": "verified flag", "extra": "extra data",
}  # fmt: skip


def instance_fields(inst: Instance) -> dict[FieldKey, Any]:
    """Everything an edit may change of one stored instance, as stored: the editable columns by name and each
    keypoint's row (x, y, v, score, sigma_x, sigma_y) by its index. Undo compares and sets these
    (:meth:`ProjectStore.patch_instance <distilpose.project.store.ProjectStore.patch_instance>`)."""
    fields: dict[FieldKey, Any] = dict(instance_values(inst))
    fields.update({row[1]: row[2:] for row in keypoint_rows(0, inst)})
    return fields


def field_words(keys: list[FieldKey]) -> str:
    """The fields ``keys`` in a user's words, each once: 'left_wrist, track id and verified flag'."""
    words = list(dict.fromkeys(NAMES[k] if isinstance(k, int) else _FIELD_WORDS.get(k, k) for k in keys))
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _opt(value: float) -> float | None:
    """NaN means 'no value' (SQLite would store NaN as NULL anyway)."""
    return None if math.isnan(value) else float(value)


def instance_from_rows(row: tuple, kp_rows: list[tuple]) -> Instance:
    """Rebuild an Instance from its ``instances`` row (INSTANCE_COLUMNS order) and its keypoint rows
    (KEYPOINT_COLUMNS order, sorted by k)."""
    (iid, frame_id, source, track_id, bx, by, bw, bh, score, verified, created, updated, extra) = row
    keypoints = np.zeros((NUM_KEYPOINTS, 3), dtype=np.float64)
    scores = np.full(NUM_KEYPOINTS, np.nan)
    sigmas = np.full((NUM_KEYPOINTS, 2), np.nan)
    for _, k, x, y, v, s, sx, sy in kp_rows:
        if not (type(k) is int and 0 <= k < NUM_KEYPOINTS and v in (0, 1, 2)):
            raise ValueError(f"keypoint row k={k!r}, v={v!r} is not a keypoint (k 0..16, v 0, 1 or 2)")
        keypoints[k] = (x, y, v)
        scores[k] = np.nan if s is None else s
        sigmas[k] = (np.nan if sx is None else sx, np.nan if sy is None else sy)
    extras = json_object(extra)
    extras.update(id=iid, frame_id=frame_id, verified=bool(verified), created=created, updated=updated)
    return Instance(
        keypoints=keypoints,
        bbox=None if bx is None else (number(bx), number(by), number(bw), number(bh)),
        scores=None if np.isnan(scores).all() else scores,
        sigmas=None if np.isnan(sigmas).all() else sigmas,
        score=None if score is None else number(score),
        source=source,
        track_id=None if track_id is None else integer(track_id),
        extras=extras,
    )


def number(value: Any) -> float:
    """A stored REAL as a float; ValueError for text or bytes in a number column (a damaged file)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"{value!r} where a number belongs")


def integer(value: Any) -> int:
    """A stored INTEGER as an int; ValueError for anything else (a damaged file)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"{value!r} where an integer belongs")
