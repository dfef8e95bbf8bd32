"""Person identity across video frames: a ByteTrack-style tracker over pose instances.

Why this design. ByteTrack (Zhang et al., 2022) keeps low-confidence detections instead of dropping them: a
person half hidden behind another still scores low, and matching those low boxes to existing tracks in a
second stage keeps the identity through the occlusion instead of ending the track and starting a new one.
Here each frame is matched in two stages:

1. confident people (score >= ``high_score``) against every live or recently lost track, by a similarity that
   blends box IoU with keypoint OKS (the pose tells two people sharing one box apart; the box carries a
   person whose keypoints are mostly unseen);
2. the remaining low-confidence people against the tracks still unmatched, by box IoU alone with a stricter
   gate. (ByteTrack only offers them the tracks seen on the previous frame; here a lost track may take a
   low-confidence person too, since a person coming out from behind another is exactly that.)

Unmatched confident people start new tracks; a track unmatched for more than ``max_missed`` frames ends
(``max_missed`` counts video frames, so a detector miss or a short occlusion does not change an id, and
sampled frames, every N-th, are handled by their real indices). Track boxes move with a damped
constant-velocity prediction. The assignment is greedy, best pair first (scipy is not a dependency, and with
the handful of people of a frame greedy and Hungarian matching differ only on near ties).

The tracker knows nothing about projects or Qt: :meth:`PoseTracker.update` takes one frame's instances and
returns (and sets) their ``track_id``. One tracker follows ONE video; make a new one (or :meth:`reset`) for
the next, so tracks never cross videos.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from distilpose.similarity import box_iou, shared_oks
from distilpose.types import Instance

#: The largest id a project can store (SQLite's INTEGER is signed 64-bit): new ids never pass it.
MAX_TRACK_ID = 2**63 - 1


@dataclass(frozen=True)
class TrackerConfig:
    high_score: float = 0.3  # stage 1 / new tracks need at least this person score (box x pose score)
    low_score: float = 0.1  # people below it are ignored (left without an id)
    iou_weight: float = 0.5  # similarity = iou_weight * IoU + (1 - iou_weight) * OKS
    min_similarity: float = 0.2  # stage-1 gate
    min_iou_low: float = 0.4  # stage-2 gate (IoU only)
    max_missed: int = 30  # frames a track survives without a match
    keypoint_score: float = 0.3  # keypoints at least this confident shape the box and the OKS
    min_keypoints: int = 4  # fewer confident keypoints: the instance's own box is used
    velocity_smoothing: float = 0.5  # weight of the newest velocity measurement
    max_predict_frames: int = 10  # a lost track's box is extrapolated at most this far
    #: A low-confidence person that matches no track starts one (a tentative id) instead of staying without
    #: an id; people under ``low_score`` never get one. Off: they stay without an id (prelabelling then does
    #: not store them). docs/tracking.md measures both.
    low_starts_track: bool = False


@dataclass
class Track:
    """One identity: its last box (x, y, w, h), keypoints and where it was seen."""

    track_id: int
    box: np.ndarray
    keypoints: np.ndarray  # (K, 3): x, y, usable (1/0)
    last_frame: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # box centre, pixels per frame
    hits: int = 1

    def predicted(self, frame: int, max_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """The box and keypoints moved to ``frame`` by the velocity (at most ``max_frames`` ahead)."""
        dt = min(max(frame - self.last_frame, 0), max_frames)
        shift = self.velocity * dt
        box = self.box.copy()
        box[:2] += shift
        kp = self.keypoints.copy()
        kp[:, :2] += shift
        return box, kp


@dataclass
class _Person:
    index: int
    box: np.ndarray
    keypoints: np.ndarray  # (K, 3): x, y, usable
    score: float


class PoseTracker:
    """Assigns ``track_id`` to the people of consecutive (or sampled) frames of one video."""

    def __init__(self, config: TrackerConfig | None = None, first_id: int = 1, taken: Iterable[int] = ()) -> None:
        """New tracks take ids from ``first_id`` on, skipping ``taken`` (ids the video already uses) and
        starting again at 1 rather than pass :data:`MAX_TRACK_ID`."""
        self.config = config or TrackerConfig()
        self.first_id = int(first_id)
        self._given = frozenset(int(t) for t in taken)
        self.reset()

    def reset(self, first_id: int | None = None) -> None:
        """Forget every track (a seek, or the next video); ids restart at ``first_id``."""
        if first_id is not None:
            self.first_id = int(first_id)
        self.tracks: list[Track] = []
        self.next_id = self.first_id
        self.taken = set(self._given)
        self.last_frame: int | None = None

    def seed(self, frame_index: int, instances: Sequence[Instance]) -> None:
        """Start from people whose ids are known (a stored, already tracked frame): later frames continue
        their tracks, which replace any track of the same id. Instances without a ``track_id`` are
        ignored."""
        known = {int(inst.track_id) for inst in instances if inst.track_id is not None}
        self.tracks = [t for t in self.tracks if t.track_id not in known]
        for i, inst in enumerate(instances):
            if inst.track_id is None:
                continue
            person = self._person(i, inst, None)
            self.tracks.append(Track(int(inst.track_id), person.box, person.keypoints, int(frame_index)))
            self.next_id = max(self.next_id, int(inst.track_id) + 1)
            self.taken.add(int(inst.track_id))
        self.last_frame = int(frame_index) if self.last_frame is None else max(self.last_frame, int(frame_index))

    def update(
        self, frame_index: int, instances: Sequence[Instance], boxes: np.ndarray | None = None
    ) -> list[int | None]:
        """Match one frame's people to the tracks; set and return each one's ``track_id`` (None for a
        low-confidence person that matched nothing, see ``low_starts_track``). ``boxes`` (N x 4, xywh) override the instances' own."""
        cfg = self.config
        frame = int(frame_index)
        if self.last_frame is not None and frame <= self.last_frame:
            self.reset()  # going backwards (a seek): these are not the same tracks any more
        people = [self._person(i, inst, None if boxes is None else boxes[i]) for i, inst in enumerate(instances)]
        ids: list[int | None] = [None] * len(instances)
        high = [p for p in people if p.score >= cfg.high_score]
        low = [p for p in people if cfg.low_score <= p.score < cfg.high_score]

        self.tracks = [t for t in self.tracks if frame - t.last_frame - 1 <= cfg.max_missed]
        pool = list(self.tracks)
        matched = self._match(frame, pool, high, stage=1)
        for track, person in matched:
            self._renew(track, person, frame)
            ids[person.index] = track.track_id
        taken = {id(t) for t, _ in matched}
        rest = [t for t in pool if id(t) not in taken]
        for track, person in self._match(frame, rest, low, stage=2):
            self._renew(track, person, frame)
            ids[person.index] = track.track_id
        placed = {p.index for p in people if ids[p.index] is not None}
        for person in high + (low if cfg.low_starts_track else []):
            if person.index not in placed:
                track = Track(self._new_id(), person.box.copy(), person.keypoints.copy(), frame)
                self.tracks.append(track)
                ids[person.index] = track.track_id
        self.last_frame = frame
        for inst, tid in zip(instances, ids, strict=True):
            inst.track_id = tid
        return ids

    # ----------------------------------------------------------------------------------------- internals

    def _new_id(self) -> int:
        while self.next_id > MAX_TRACK_ID or self.next_id in self.taken:
            self.next_id = 1 if self.next_id > MAX_TRACK_ID else self.next_id + 1
        self.taken.add(self.next_id)
        self.next_id += 1
        return self.next_id - 1

    def _person(self, index: int, inst: Instance, box: np.ndarray | None) -> _Person:
        cfg = self.config
        scores = (
            np.asarray(inst.scores, dtype=np.float64)
            if inst.scores is not None
            else (inst.keypoints[:, 2] > 0).astype(np.float64)
        )
        usable = (inst.keypoints[:, 2] > 0) & (scores >= cfg.keypoint_score)
        kp = np.column_stack([inst.keypoints[:, :2], usable.astype(np.float64)])
        if box is None:
            if usable.sum() >= cfg.min_keypoints:
                pts = inst.keypoints[usable, :2]
                x0, y0 = pts.min(axis=0)
                x1, y1 = pts.max(axis=0)
                box = np.array([x0, y0, max(x1 - x0, 1.0), max(y1 - y0, 1.0)])
            elif inst.bbox is not None:
                box = np.asarray(inst.bbox, dtype=np.float64)
            else:
                fallback = inst.bbox_from_keypoints(0.0) or (0.0, 0.0, 1.0, 1.0)
                box = np.asarray(fallback, dtype=np.float64)
        if inst.score is not None:
            score = float(inst.score)
        else:
            labelled = inst.keypoints[:, 2] > 0
            score = float(scores[labelled].mean()) if labelled.any() else 0.0
        return _Person(index, np.asarray(box, dtype=np.float64).copy(), kp, score)

    def _match(
        self, frame: int, tracks: list[Track], people: list[_Person], stage: int
    ) -> list[tuple[Track, _Person]]:
        if not tracks or not people:
            return []
        cfg = self.config
        sim = np.zeros((len(tracks), len(people)))
        for r, track in enumerate(tracks):
            box, kp = track.predicted(frame, cfg.max_predict_frames)
            for c, person in enumerate(people):
                iou = float(box_iou(box, person.box)[0, 0])
                if stage == 1:
                    o = shared_oks(kp, person.keypoints, box[2] * box[3])
                    sim[r, c] = iou if o is None else cfg.iou_weight * iou + (1 - cfg.iou_weight) * o
                else:
                    sim[r, c] = iou
        gate = cfg.min_similarity if stage == 1 else cfg.min_iou_low
        return [(tracks[r], people[c]) for r, c in greedy_match(sim, gate)]

    def _renew(self, track: Track, person: _Person, frame: int) -> None:
        cfg = self.config
        dt = max(frame - track.last_frame, 1)
        moved = (_centre(person.box) - _centre(track.box)) / dt
        a = cfg.velocity_smoothing
        track.velocity = moved if track.hits == 1 else a * moved + (1 - a) * track.velocity
        track.box = person.box.copy()
        # keep the last known position of a keypoint that is not seen now (OKS compares what both see)
        kp = track.keypoints.copy()
        seen = person.keypoints[:, 2] > 0
        kp[seen] = person.keypoints[seen]
        kp[~seen, :2] += moved * dt
        track.keypoints = kp
        track.last_frame = frame
        track.hits += 1


def greedy_match(similarity: np.ndarray, gate: float) -> list[tuple[int, int]]:
    """(row, column) pairs, most similar first, each row and column used once, none below ``gate``."""
    order = np.argsort(-similarity, axis=None, kind="stable")
    rows_used: set[int] = set()
    cols_used: set[int] = set()
    pairs = []
    for flat in order:
        r, c = divmod(int(flat), similarity.shape[1])
        if similarity[r, c] < gate:
            break
        if r not in rows_used and c not in cols_used:
            rows_used.add(r)
            cols_used.add(c)
            pairs.append((r, c))
    return pairs


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([box[0] + box[2] / 2.0, box[1] + box[3] / 2.0])


# --------------------------------------------------------------------------------------------- quality


@dataclass(frozen=True)
class IdErrors:
    """Identity errors of a tracker against ids checked by a person, over the same detections."""

    frames: int
    switches: int  # a person's id changed from the id it had last
    fragmentations: int  # a person's id was lost (no id) and later given again
    people: int = 0  # detections of true people
    unassigned: int = 0  # of those, left without an id

    def per_100(self, count: int) -> float:
        return 100.0 * count / max(self.frames, 1)


def id_errors(truth: Sequence[Sequence[Hashable | None]], predicted: Sequence[Sequence[int | None]]) -> IdErrors:
    """Count id switches and fragmentations. ``truth[f][i]`` is the true identity of detection ``i`` of frame
    ``f`` (None: not a person to track, e.g. a false detection), ``predicted[f][i]`` the tracker's id."""
    last: dict[Hashable, int] = {}  # true identity -> predicted id it had last
    lost: dict[Hashable, bool] = {}  # true identity -> seen without an id since it last had one
    switches = fragmentations = people = unassigned = 0
    for gt_frame, pred_frame in zip(truth, predicted, strict=True):
        for g, p in zip(gt_frame, pred_frame, strict=True):
            if g is None:
                continue
            people += 1
            if p is None:
                unassigned += 1
                if g in last:
                    lost[g] = True
                continue
            if g in last and last[g] != p:
                switches += 1
            if lost.get(g):
                fragmentations += 1
                lost[g] = False
            last[g] = p
    return IdErrors(len(truth), switches, fragmentations, people, unassigned)
