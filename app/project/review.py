"""The review queue: which keypoints and frames a person should look at first.

Two signals of a likely mistake: a keypoint the model itself was unsure of (low score), and a keypoint where
the teacher and the student disagree (stored on a pre-labelled instance as ``extras['disagreement']``, the
distance divided by the box size; see :func:`distilpose.inference.live.keypoint_disagreement`). Verified instances
are left out: a person already checked them. Frame suggestions (uniform, low confidence, disagreement) are
stored on the frames with ``ProjectStore.set_suggested`` so they survive a restart.

Qt-free; read-only queries on the GUI thread's store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from distilpose.app.words import person_name
from distilpose.keypoints import NAMES, NUM_KEYPOINTS
from distilpose.project import ProjectStore

SUGGESTION_METHODS: tuple[str, ...] = ("uniform", "low confidence", "disagreement")
#: Keypoints scoring below this are listed by the confidence queue.
DEFAULT_CONFIDENCE_THRESHOLD = 0.5


@dataclass(frozen=True)
class ReviewItem:
    """One entry: a keypoint (instance_id and k set) or a whole frame (both None)."""

    frame_id: int
    instance_id: int | None
    k: int | None
    value: float  # score (confidence queue) or disagreement

    @property
    def joint(self) -> str:
        return NAMES[self.k] if self.k is not None else ""


def low_confidence_items(
    store: ProjectStore, threshold: float = DEFAULT_CONFIDENCE_THRESHOLD, limit: int | None = 200
) -> list[ReviewItem]:
    """Unverified scored keypoints below ``threshold``, least confident first."""
    return [
        ReviewItem(e.frame_id, e.instance_id, e.k, e.score)
        for e in store.low_confidence_keypoints(threshold, limit=limit)
    ]


def _disagreements(store: ProjectStore) -> list[tuple[int, int, np.ndarray]]:
    """(instance id, frame id, per-joint disagreement) of every unverified prediction that has one."""
    rows = store.conn.execute(
        "SELECT id, frame_id, extra FROM instances "
        "WHERE verified = 0 AND source IN ('student', 'teacher') AND extra LIKE '%disagreement%' ORDER BY id"
    ).fetchall()
    out = []
    for iid, frame_id, extra in rows:
        values = json.loads(extra or "{}").get("disagreement")
        if isinstance(values, list) and len(values) == NUM_KEYPOINTS:
            out.append((int(iid), int(frame_id), np.asarray(values, dtype=np.float64)))
    return out


def disagreement_items(store: ProjectStore, limit: int | None = 200) -> list[ReviewItem]:
    """Keypoints of unverified predictions by teacher-student disagreement, largest first."""
    items = [
        ReviewItem(frame_id, iid, k, float(values[k]))
        for iid, frame_id, values in _disagreements(store)
        for k in range(NUM_KEYPOINTS)
        if np.isfinite(values[k])
    ]
    items.sort(key=lambda it: (-it.value, it.instance_id, it.k))
    return items if limit is None else items[:limit]


def person_positions(store: ProjectStore, frame_ids: list[int]) -> dict[int, int]:
    """Instance id -> the person's index in its frame (the order the canvas, the Instances dock and Tab use:
    the store's, by id), for the frames ``frame_ids``."""
    ids = sorted(set(int(f) for f in frame_ids))
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = store.conn.execute(
        f"SELECT id, frame_id FROM instances WHERE frame_id IN ({marks}) ORDER BY frame_id, id", ids
    ).fetchall()
    out: dict[int, int] = {}
    count: dict[int, int] = {}
    for iid, frame_id in rows:
        out[int(iid)] = count.get(frame_id, 0)
        count[frame_id] = out[int(iid)] + 1
    return out


def person_names(store: ProjectStore, frame_ids: list[int]) -> dict[int, str]:
    """Instance id -> what the Instances dock and the canvas call the person: ``track 3``, else ``person 1``
    (:func:`distilpose.app.words.person_name`), for the frames ``frame_ids``."""
    positions = person_positions(store, frame_ids)
    if not positions:
        return {}
    ids = sorted(positions)
    marks = ",".join("?" * len(ids))
    tracks = dict(store.conn.execute(f"SELECT id, track_id FROM instances WHERE id IN ({marks})", ids))
    return {iid: person_name(position, tracks.get(iid)) for iid, position in positions.items()}


def frame_confidence(store: ProjectStore) -> dict[int, float]:
    """Mean keypoint score of each frame's unverified predictions (frames without any are absent)."""
    rows = store.conn.execute(
        "SELECT i.frame_id, AVG(k.score) FROM keypoints k JOIN instances i ON i.id = k.instance_id "
        "WHERE k.score IS NOT NULL AND i.verified = 0 GROUP BY i.frame_id"
    )
    return {int(f): float(s) for f, s in rows}


def frame_disagreement(store: ProjectStore) -> dict[int, float]:
    """Mean per-joint disagreement of each frame's unverified predictions."""
    per_frame: dict[int, list[float]] = {}
    for _, frame_id, values in _disagreements(store):
        per_frame.setdefault(frame_id, []).append(float(np.nanmean(values)))
    return {f: float(np.mean(v)) for f, v in per_frame.items()}


def suggest_frames(store: ProjectStore, method: str, count: int) -> list[tuple[int, str]]:
    """Up to ``count`` frames to review, each with the reason stored beside the flag; frames already suggested
    are skipped.

    - ``uniform``: evenly spread over the frame list (a first pass over a long video);
    - ``low confidence``: lowest mean score of their predictions;
    - ``disagreement``: largest mean teacher-student disagreement.
    """
    if method not in SUGGESTION_METHODS:
        raise ValueError(
            f"unknown suggestion method {method!r}; expected one of {', '.join(SUGGESTION_METHODS)}"
        )
    if count <= 0:
        return []
    frames = [f for f in store.frames() if not f.suggested]
    if method == "uniform":
        if not frames:
            return []
        picks = np.unique(np.round(np.linspace(0, len(frames) - 1, min(count, len(frames)))).astype(int))
        return [(frames[i].id, "uniform") for i in picks]
    open_ids = {f.id for f in frames}
    if method == "low confidence":
        scored = sorted((s, f) for f, s in frame_confidence(store).items() if f in open_ids)
        return [(f, f"low confidence (mean score {s:.2f})") for s, f in scored[:count]]
    scored = sorted(((-d, f) for f, d in frame_disagreement(store).items() if f in open_ids))
    return [(f, f"teacher and student disagree ({-d:.2f})") for d, f in scored[:count]]
