"""Pre-labelling: run a model on frames of a project and store its people as predictions, optionally with
track ids. The one implementation behind the app's pre-label worker and ``distilpose project prelabel``.

Each frame is ONE store transaction (its old unverified predictions replaced by the new ones), so a cancel
(a flag the caller sets, or Ctrl-C) or a crash keeps every finished frame and nothing half-written.

Never a second copy. The people who stay on a frame (made or accepted by a person, imported, verified) are
matched to the new predictions (same track id, else box and pose alike, as the tracker's first stage); a
matched prediction is dropped, so pre-labelling again after accepting gives each person once. Each frame says
how many people were kept, predictions replaced and people added.

Tracking. With ``track=True`` the frames of each video (or image folder) are processed in frame order by one
:class:`~distilpose.tracking.PoseTracker`; a new tracker starts for the next media, so tracks never cross
videos. The tracker is first given the stored people of the nearest earlier frame of the video (those that
carry ids), so pre-labelling one frame, or the frames after a labelled one, continues the existing tracks;
new ids start after the largest id the video already uses. Images (one frame each) get no ids. Every stored
person of a tracked video has an id: a low-score person that matches no track is not stored (docs/tracking.md
measures this against giving it a tentative track).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from distilpose.errors import DistilPoseError
from distilpose.pipeline import FrameResult, LivePipeline
from distilpose.project import Edit, ProjectStore
from distilpose.project.batch import FRAME_CHOICES, select_frames  # noqa: F401  (part of this API)
from distilpose.project.records import PREDICTION_SOURCES, instance_fields
from distilpose.project.tracks import SEQUENCE_KINDS
from distilpose.similarity import box_iou, shared_oks
from distilpose.tracking import PoseTracker, TrackerConfig, greedy_match
from distilpose.types import Instance
from distilpose.video import FrameSource, ImageFile, ImageFolder, VideoReader

# --------------------------------------------------------------------------------------------- predictions


def prediction_to_store(
    inst: Instance,
    model: str,
    disagreement: np.ndarray | None = None,
    compared_with: str | None = None,
    threshold: float = 0.0,
) -> Instance:
    """A model's instance as the project keeps it: keypoints, box, scores, sigmas, the model's name, and the
    teacher's per-joint disagreement (the heatmaps and crop only live in memory).

    Keypoints scoring below ``threshold`` (the display threshold) are stored as not labelled (v=0): a guess
    the model itself doubts should not be exported as a visible joint unless a person places it. Their
    position and score stay, so the review queue lists them and pressing 2 brings them back.

    A live tracker's ``track_id`` is left behind: those ids number the people of one viewing session, not the
    project's tracks of the video (pre-labelling assigns project ids after this step)."""
    extras: dict = {"model": model}
    if disagreement is not None:
        extras["disagreement"] = [float(v) for v in np.asarray(disagreement, dtype=np.float64)]
        extras["compared_with"] = compared_with or "teacher"
    keypoints = inst.keypoints.copy()
    if inst.scores is not None and threshold > 0:
        keypoints[np.asarray(inst.scores) < threshold, 2] = 0
    return Instance(
        keypoints=keypoints,
        bbox=inst.bbox,
        scores=None if inst.scores is None else np.array(inst.scores, dtype=np.float64),
        sigmas=None if inst.sigmas is None else np.array(inst.sigmas, dtype=np.float64),
        score=inst.score,
        source=inst.source,
        extras=extras,
    )


def predictions_of(
    result: FrameResult, model: str, teacher: str | None = None, threshold: float = 0.0
) -> list[Instance]:
    """The instances of a pipeline result ready for the store, with the teacher's per-joint disagreement."""
    out = []
    for i, inst in enumerate(result.instances):
        values = result.disagreement[i] if result.disagreement is not None else None
        out.append(prediction_to_store(inst, model, values, teacher, threshold))
    return out


# --------------------------------------------------------------------------------------------- one frame


#: A prediction at least this similar to a person who stays on the frame (box IoU and keypoint OKS, half
#: each, as the tracker's first stage; IoU alone when they share fewer than 3 keypoints) is that person.
SAME_PERSON = 0.5


@dataclass
class FrameOutcome:
    """What pre-labelling wrote on one frame: the new instance ids, the predictions they replaced, and the
    people already there whom a prediction found again (kept as they are; the prediction was dropped)."""

    frame_id: int
    added: list[int] = field(default_factory=list)
    replaced: list[Instance] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    added_fields: dict[int, dict] = field(default_factory=dict)  # as written: undo deletes only these

    def undo_edits(self) -> list[Edit]:
        return [
            Edit("delete_instance", {"instance_id": i, "expect": self.added_fields.get(i)}) for i in self.added
        ] + [Edit("restore_instance", {"instance": inst}) for inst in self.replaced]


def outcome_counts(outcomes: Sequence[FrameOutcome]) -> str:
    """What a batch did, for the CLI and the app: 'N person(s) added, N prediction(s) replaced, N already there
    kept'."""
    added = sum(len(o.added) for o in outcomes)
    replaced = sum(len(o.replaced) for o in outcomes)
    kept = sum(len(o.kept) for o in outcomes)
    return f"{added} person(s) added, {replaced} prediction(s) replaced, {kept} already there kept"


def write_predictions(store: ProjectStore, frame_id: int, people: Sequence[Instance]) -> FrameOutcome:
    """Replace the frame's unverified model predictions by ``people`` in one transaction. People and
    verified instances stay, and a prediction of one of them (:func:`same_people`) is dropped rather than
    stored a second time; a new person whose track id one of them already holds loses that id (a track
    names one person per frame)."""
    outcome = FrameOutcome(frame_id)
    with store.transaction("prelabel", {"frame_id": frame_id, "instances": len(people)}):
        staying = []
        for old in store.instances(frame_id):
            if stays(old):
                staying.append(old)
            else:
                outcome.replaced.append(store.delete_instance(old.extras["id"]))
        pairs = same_people(staying, people)
        outcome.kept = [staying[i].extras["id"] for i, _ in pairs]
        found = {j for _, j in pairs}
        new = [inst for j, inst in enumerate(people) if j not in found]
        kept_tracks = {old.track_id for old in staying if old.track_id is not None}
        for inst in new:
            if inst.track_id in kept_tracks:
                inst.track_id = None
        outcome.added = [store.add_instance(frame_id, inst) for inst in new]
        outcome.added_fields = {i: instance_fields(store.instance(i)) for i in outcome.added}
    return outcome


def stays(inst: Instance) -> bool:
    """Whether a stored person stays when its frame is pre-labelled again: everyone but a model's prediction
    nobody accepted or verified."""
    return not (inst.source in PREDICTION_SOURCES and not inst.extras["verified"])


def same_people(existing: Sequence[Instance], predicted: Sequence[Instance]) -> list[tuple[int, int]]:
    """(existing index, predicted index) of the predictions that are a person already there: the same track
    id first, then the most similar pairs at least :data:`SAME_PERSON` alike; each person and prediction in
    one pair at most."""
    pairs = [
        (i, j)
        for i, old in enumerate(existing)
        for j, new in enumerate(predicted)
        if old.track_id is not None and old.track_id == new.track_id
    ]
    rest_old = [i for i in range(len(existing)) if i not in {a for a, _ in pairs}]
    rest_new = [j for j in range(len(predicted)) if j not in {b for _, b in pairs}]
    if rest_old and rest_new:
        sim = np.array([[_similarity(existing[i], predicted[j]) for j in rest_new] for i in rest_old])
        pairs += [(rest_old[r], rest_new[c]) for r, c in greedy_match(sim, SAME_PERSON)]
    return pairs


def _similarity(a: Instance, b: Instance) -> float:
    box_a, box_b = _box(a), _box(b)
    if box_a is None or box_b is None:
        return 0.0
    iou = float(box_iou(box_a, box_b)[0, 0])
    pose = shared_oks(_usable(a), _usable(b), box_a[2] * box_a[3])
    return iou if pose is None else 0.5 * iou + 0.5 * pose


def _box(inst: Instance) -> np.ndarray | None:
    box = inst.bbox if inst.bbox is not None else inst.bbox_from_keypoints(0.0)
    return None if box is None else np.asarray(box, dtype=np.float64)


def _usable(inst: Instance) -> np.ndarray:
    """Keypoints as (K, 3) with a third column 1 where labelled (what :func:`distilpose.similarity.shared_oks` takes)."""
    return np.column_stack([inst.keypoints[:, :2], (inst.keypoints[:, 2] > 0).astype(np.float64)])


class FrameReader:
    """Pixels of project frames, keeping one reader per media open (frames of a video come in order)."""

    def __init__(self, store: ProjectStore) -> None:
        self.store = store
        self._sources: dict[int, FrameSource] = {}

    def read(self, frame_id: int) -> np.ndarray:
        frame = self.store.frame(frame_id)
        source = self._sources.get(frame.media_id)
        if source is None:
            media = self.store.media(frame.media_id)
            path = self.store.media_path(media.id)
            kinds = {"image": ImageFile, "video": VideoReader, "folder": ImageFolder}
            source = kinds[media.kind](path)
            self._sources[frame.media_id] = source
        return source.frame(frame.index)

    def close(self) -> None:
        for source in self._sources.values():
            source.close()
        self._sources.clear()


# --------------------------------------------------------------------------------------------- a batch


@dataclass
class PrelabelStep:
    """One frame done: its outcome, or why it was skipped (an unreadable image does not stop the batch)."""

    done: int
    total: int
    frame_id: int
    outcome: FrameOutcome | None = None
    error: str | None = None


class Prelabeller:
    """Pre-labels frames of one open store with one pipeline; see the module docs."""

    def __init__(
        self,
        store: ProjectStore,
        pipeline: LivePipeline,
        model_name: str,
        teacher_name: str | None = None,
        *,
        threshold: float = 0.0,
        track: bool = False,
        tracker_config: TrackerConfig | None = None,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.model_name = model_name
        self.teacher_name = teacher_name
        self.threshold = threshold
        self.track = track
        self.tracker_config = tracker_config
        self._tracker: PoseTracker | None = None
        self._tracked_media: int | None = None

    def run(self, frame_ids: Sequence[int], should_stop: Callable[[], bool] = lambda: False) -> Iterator[PrelabelStep]:
        """Pre-label the frames (in frame order per video when tracking), yielding after each one; stops
        before the next frame once ``should_stop()`` is true."""
        ids = self.order(frame_ids) if self.track else list(frame_ids)
        reader = FrameReader(self.store)
        try:
            for done, frame_id in enumerate(ids, start=1):
                if should_stop():
                    return
                try:
                    image = reader.read(frame_id)
                except DistilPoseError as exc:
                    yield PrelabelStep(done, len(ids), frame_id, error=str(exc))
                    continue
                result = self.pipeline.process(image)
                people = predictions_of(result, self.model_name, self.teacher_name, self.threshold)
                if self.track:
                    people = self._assign_tracks(frame_id, people)
                outcome = write_predictions(self.store, frame_id, people)
                yield PrelabelStep(done, len(ids), frame_id, outcome=outcome)
        finally:
            reader.close()

    def order(self, frame_ids: Sequence[int]) -> list[int]:
        """By media, then frame index: the order a tracker needs."""
        frames = [self.store.frame(f) for f in frame_ids]
        return [f.id for f in sorted(frames, key=lambda f: (f.media_id, f.index))]

    def _assign_tracks(self, frame_id: int, people: list[Instance]) -> list[Instance]:
        """Give the people of a video frame their track ids; returns the people to store: every person of a
        tracked video has an id, so a low-score person the tracker left without one is not stored."""
        store = self.store
        frame = store.frame(frame_id)
        if store.media(frame.media_id).kind not in SEQUENCE_KINDS:
            return people
        if self._tracker is None or self._tracked_media != frame.media_id:
            self._tracker = PoseTracker(
                self.tracker_config,
                first_id=store.tracking.next_track_id(frame.media_id),
                taken=store.tracking.track_ids(frame.media_id),
            )
            self._tracked_media = frame.media_id
            self._seed(frame.media_id, frame.index)
        staying = [i for i in store.instances(frame_id) if i.track_id is not None and stays(i)]
        if staying:  # the people who stay on this frame keep their ids, and the tracker carries them on
            self._tracker.seed(frame.index - 1, staying)
        self._tracker.update(frame.index, people)
        return [p for p in people if p.track_id is not None]

    def _seed(self, media_id: int, index: int) -> None:
        """Give the tracker the tracked people of the nearest earlier frame of the video."""
        row = self.store.read.last_tracked_frame_before(media_id, index)
        if row is not None and self._tracker is not None:
            people = [i for i in self.store.instances(row[0]) if i.track_id is not None]
            self._tracker.seed(row[1], people)
