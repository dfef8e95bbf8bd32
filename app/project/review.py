"""The review queue: which keypoints and frames a person should look at first.

Two signals of a likely mistake: a keypoint the model itself was unsure of (low score), and a keypoint where
the teacher and the student disagree (stored on a pre-labelled instance as ``extras['disagreement']``, the
distance divided by the box size; see :func:`distilpose.pipeline.keypoint_disagreement`). Verified instances
are left out: a person already checked them. Frame suggestions (uniform, low confidence, disagreement) are
stored on the frames with ``ProjectStore.set_suggested`` so they survive a restart.

Qt-free; asks the GUI thread's store (its read model, ``store.read``).
"""

from __future__ import annotations

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


def disagreement_items(store: ProjectStore, limit: int | None = 200) -> list[ReviewItem]:
    """Keypoints of unverified predictions by teacher-student disagreement, largest first."""
    items = [
        ReviewItem(d.frame_id, d.instance_id, k, float(d.values[k]))
        for d in store.read.disagreements()
        for k in range(NUM_KEYPOINTS)
        if np.isfinite(d.values[k])
    ]
    items.sort(key=lambda it: (-it.value, it.instance_id, it.k))
    return items if limit is None else items[:limit]


def person_positions(store: ProjectStore, frame_ids: list[int]) -> dict[int, int]:
    """Instance id -> the person's index in its frame (the order the canvas, the Instances dock and Tab use:
    the store's, by id), for the frames ``frame_ids``."""
    return store.read.person_positions(frame_ids)


def person_names(store: ProjectStore, frame_ids: list[int]) -> dict[int, str]:
    """Instance id -> what the Instances dock and the canvas call the person: ``track 3``, else ``person 1``
    (:func:`distilpose.app.words.person_name`), for the frames ``frame_ids``."""
    positions = person_positions(store, frame_ids)
    tracks = store.tracking.track_ids_of(sorted(positions))
    return {iid: person_name(position, tracks.get(iid)) for iid, position in positions.items()}


def frame_confidence(store: ProjectStore) -> dict[int, float]:
    """Mean keypoint score of each frame's unverified predictions (frames without any are absent)."""
    return store.read.mean_unverified_score()


def frame_disagreement(store: ProjectStore) -> dict[int, float]:
    """Mean per-joint disagreement of each frame's unverified predictions."""
    per_frame: dict[int, list[float]] = {}
    for d in store.read.disagreements():
        per_frame.setdefault(d.frame_id, []).append(float(np.nanmean(d.values)))
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
