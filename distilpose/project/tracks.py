"""Person identity in videos: track queries and the undoable track edits of the store (a composed part,
``store.tracking``, docs/adr/0025).

A track is the set of instances of ONE media (a video, or an image folder played as one) that share a
``track_id``: the same number in two videos names two different people, so every operation here takes the
media, and tracks never cross videos. Within a frame a track id names at most one person; the edits refuse
(and change nothing) when they would break that.

Every edit returns what undoes it, as the other store edits do: the id changes return the previous
``track_id`` of each instance they touched (inverse: :meth:`Tracking.set_tracks`), an interpolation the
list of edits that remove what it added and restore what it replaced (inverse: the store's ``apply_edits``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from distilpose.interpolation import INTERPOLATED, interpolate_pose, is_keyframe, person_kind
from distilpose.project.connection import now
from distilpose.project.edits import Edit
from distilpose.project.errors import EditConflictError, ProjectError
from distilpose.project.queries import StoreQueries
from distilpose.project.records import INT64_MAX
from distilpose.similarity import box_iou, shared_oks
from distilpose.types import Instance

#: The media kinds whose frames form a sequence, and so can hold tracks (an image is one frame).
SEQUENCE_KINDS: tuple[str, ...] = ("video", "folder")

_TRACK_ROWS = (
    "SELECT i.id, f.id, f.idx, i.track_id FROM instances i JOIN frames f ON f.id = i.frame_id "
    "WHERE f.media_id = ?"
)


#: Two poses this similar (OKS over the joints both label, else box IoU) are one person on one frame.
SAME_PERSON = 0.5


def same_person(a: Instance, b: Instance) -> float | None:
    """How similar two people of one frame are (OKS, or box IoU with under 3 joints in common) when they are
    one person (at least :data:`SAME_PERSON`), else None."""
    box_a = a.bbox or a.bbox_from_keypoints(0.0)
    box_b = b.bbox or b.bbox_from_keypoints(0.0)
    if box_a is None or box_b is None:
        return None
    ka, kb = a.keypoints.copy(), b.keypoints.copy()
    ka[:, 2], kb[:, 2] = ka[:, 2] > 0, kb[:, 2] > 0
    value = shared_oks(ka, kb, box_a[2] * box_a[3])
    if value is None:
        value = float(box_iou(box_a, box_b)[0, 0])
    return value if value >= SAME_PERSON else None


@dataclass(frozen=True)
class TrackSummary:
    """One track of a media: its id, first and last frame index and how many frames hold it."""

    track_id: int
    first: int
    last: int
    frames: int


@dataclass(frozen=True)
class TrackTimeline:
    """The tracks of one media over its project frames, for a timeline view: ``frames`` are the indices of
    the media's project frames (sorted); ``marks[track][index]`` says what the track's person on that frame
    is (:func:`distilpose.interpolation.person_kind`)."""

    frames: tuple[int, ...]
    marks: dict[int, dict[int, str]]


class Tracking:
    """Track queries and edits of ``store.tracking``; see the module docs. The media, frame and instance edits
    it makes go through :class:`Edit` on the store (which returns their inverses), so this part needs no more
    of the store than its queries."""

    def __init__(self, store: StoreQueries) -> None:
        self._store = store

    @property
    def path(self) -> Path:
        """The project file, which every message names."""
        return self._store.path

    # ----------------------------------------------------------------------------------------- queries

    def tracks(self, media_id: int) -> list[TrackSummary]:
        """The tracks of a media, by id."""
        rows = self._store.conn.execute(
            "SELECT i.track_id, MIN(f.idx), MAX(f.idx), COUNT(*) FROM instances i "
            "JOIN frames f ON f.id = i.frame_id WHERE f.media_id = ? AND i.track_id IS NOT NULL "
            "GROUP BY i.track_id ORDER BY i.track_id",
            (int(media_id),),
        ).fetchall()
        return [TrackSummary(*r) for r in rows]

    def track_timeline(self, media_id: int) -> TrackTimeline:
        """Every track of a media frame by frame, in two queries (a timeline redraws after each edit)."""
        frames = self._store.conn.execute(
            "SELECT idx FROM frames WHERE media_id = ? ORDER BY idx", (int(media_id),)
        ).fetchall()
        rows = self._store.conn.execute(
            "SELECT i.track_id, f.idx, i.source, i.verified, json_extract(i.extra, ?) FROM instances i "
            "JOIN frames f ON f.id = i.frame_id WHERE f.media_id = ? AND i.track_id IS NOT NULL",
            (f"$.{INTERPOLATED}", int(media_id)),
        ).fetchall()
        marks: dict[int, dict[int, str]] = {}
        for track, idx, source, verified, interpolated in rows:
            kind = person_kind(source, bool(verified), bool(interpolated))
            marks.setdefault(int(track), {})[int(idx)] = kind
        return TrackTimeline(tuple(int(r[0]) for r in frames), dict(sorted(marks.items())))

    def next_track_id(self, media_id: int) -> int:
        """An id no instance of the media uses yet: the largest + 1 (1 for a media without tracks), or, when
        the largest is SQLite's largest integer (a file brought it in), the lowest free id >= 1."""
        row = self._store.conn.execute(
            "SELECT MAX(i.track_id) FROM instances i JOIN frames f ON f.id = i.frame_id WHERE f.media_id = ?",
            (int(media_id),),
        ).fetchone()
        if row[0] is None:
            return 1
        if row[0] < INT64_MAX:
            return int(row[0]) + 1
        return lowest_free_id(self.track_ids(media_id))

    def track_ids(self, media_id: int) -> set[int]:
        """Every track id the media uses."""
        rows = self._store.conn.execute(
            "SELECT DISTINCT i.track_id FROM instances i JOIN frames f ON f.id = i.frame_id "
            "WHERE f.media_id = ? AND i.track_id IS NOT NULL",
            (int(media_id),),
        ).fetchall()
        return {r[0] for r in rows}

    def track_frames(self, media_id: int, track_id: int) -> list[int]:
        """Ids of the frames of the media that hold the track, by frame index."""
        rows = self._store.conn.execute(
            _TRACK_ROWS + " AND i.track_id = ? ORDER BY f.idx", (int(media_id), int(track_id))
        ).fetchall()
        return [r[1] for r in rows]

    def track_instances(self, media_id: int, track_id: int) -> dict[int, Instance]:
        """The track's instances by frame index."""
        rows = self._store.conn.execute(
            _TRACK_ROWS + " AND i.track_id = ? ORDER BY f.idx", (int(media_id), int(track_id))
        ).fetchall()
        return {idx: self._store.instance(iid) for iid, _fid, idx, _t in rows}

    # ----------------------------------------------------------------------------------------- id edits

    def set_tracks(
        self, changes: Mapping[int, int | None], expect: Mapping[int, int | None] | None = None
    ) -> dict[int, int | None]:
        """Give instances new track ids (None: no track) in one transaction; returns each one's previous id.
        Refused when two people of one frame would share an id, and (``expect``, the undo of a track edit)
        when an instance no longer holds the id given there. Only ``track_id`` and ``updated`` change."""
        changes = {int(i): (None if t is None else int(t)) for i, t in changes.items()}
        if not changes:
            return {}
        stamp = now()
        payload = {"changes": {str(k): v for k, v in changes.items()}}
        with self._store.transaction("set_tracks", payload) as conn:
            previous = self.track_ids_of(changes)  # under the write lock: nobody changes them meanwhile
            if expect is not None:  # first: a person another window deleted is a conflict, not a bad id
                self._expect_tracks(previous, {int(i): t for i, t in expect.items()})
            missing = [i for i in changes if i not in previous]
            if missing:
                raise ProjectError(f"{self.path}: no instance {missing[0]} in this project")
            self._refuse_track_clash(changes)
            # two steps, so that a swap inside one frame never holds a duplicate half-way (the schema refuses it)
            conn.executemany("UPDATE instances SET track_id = NULL WHERE id = ?", [(i,) for i in changes])
            conn.executemany(
                "UPDATE instances SET track_id = ?, updated = ? WHERE id = ?",
                [(t, stamp, i) for i, t in changes.items()],
            )
        return previous

    def track_ids_of(self, instance_ids: Sequence[int]) -> dict[int, int | None]:
        """The track id of each of these instances that exists."""
        ids = [int(i) for i in instance_ids]
        out: dict[int, int | None] = {}
        for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
            chunk = ids[start : start + 500]
            rows = self._store.conn.execute(
                f"SELECT id, track_id FROM instances WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            ).fetchall()
            out.update({r[0]: r[1] for r in rows})
        return out

    def _expect_tracks(self, current: dict[int, int | None], expect: dict[int, int | None]) -> None:
        changed = [i for i, t in expect.items() if current.get(i, t) != t or i not in current]
        if changed:
            where = []
            for iid in changed[:3]:
                if iid in current:
                    frame_id = self._store.instance(iid).extras["frame_id"]
                    where.append(f"person {iid} on {self._store.frame_label(frame_id)}")
                else:
                    where.append(f"person {iid} (deleted)")
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            raise EditConflictError(
                f"{self.path}: another window changed the track id of {', '.join(where)}{more} since this edit; "
                "nothing was changed"
            )

    def _refuse_track_clash(self, changes: dict[int, int | None]) -> None:
        """Refuse (naming the frame by media and index) track ids that two people of one frame would share."""
        frames: dict[int, dict[int, int | None]] = {}
        ids = list(changes)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._store.conn.execute(
                "SELECT i.id, i.frame_id, i.track_id FROM instances i WHERE i.frame_id IN "
                f"(SELECT frame_id FROM instances WHERE id IN ({', '.join('?' * len(chunk))}))",
                chunk,
            ).fetchall()
            for iid, fid, tid in rows:
                frames.setdefault(fid, {})[iid] = tid
        for fid, people in frames.items():
            after = {iid: changes.get(iid, tid) for iid, tid in people.items()}
            holders: dict[int, list[int]] = {}
            for iid, tid in after.items():
                if tid is not None:
                    holders.setdefault(tid, []).append(iid)
            for tid, both in holders.items():
                if len(both) > 1 and any(i in changes for i in both):
                    before = {people[i] for i in both}
                    raise ProjectError(
                        f"{self.path}: {self._store.frame_label(fid)} "
                        + (
                            f"already gives persons {', '.join(map(str, sorted(both)))} one track id "
                            f"{before.pop()} (`distilpose project check` lists such frames); give one of them "
                            "another id first"
                            if len(before) == 1 and None not in before
                            else f"would hold two people with track id {tid}; a track names one person per "
                            "frame (swap or split the tracks instead)"
                        )
                    )

    def swap_tracks(self, media_id: int, a: int, b: int, from_index: int = 0) -> dict[int, int | None]:
        """Exchange track ids ``a`` and ``b`` in the media's frames from ``from_index`` on (the tracker
        swapped two people there); returns the previous ids."""
        rows = self._rows(media_id, from_index, (a, b))
        if not rows:
            raise ProjectError(
                f"{self.path}: neither track {a} nor {b} appears from frame {from_index} on in media {media_id}"
            )
        return self.set_tracks({iid: (b if t == a else a) for iid, _idx, t in rows})

    def merge_tracks(self, media_id: int, keep: int, other: int) -> dict[int, int | None]:
        """Track ``other`` becomes part of track ``keep`` (one person the tracker had split in two);
        refused when a frame holds both."""
        if int(keep) == int(other):
            raise ProjectError(f"{self.path}: cannot merge track {keep} with itself")
        rows = self._rows(media_id, 0, (keep, other))
        frames: dict[int, set[int]] = {}
        for _iid, idx, t in rows:
            frames.setdefault(idx, set()).add(t)
        both = sorted(idx for idx, ts in frames.items() if len(ts) == 2)
        if both:
            shown = ", ".join(str(i) for i in both[:10]) + (" ..." if len(both) > 10 else "")
            raise ProjectError(
                f"{self.path}: tracks {keep} and {other} are both in frame(s) {shown} of media {media_id}: "
                "they are two people there; fix those frames first (change or swap an id)"
            )
        moved = {iid: int(keep) for iid, _idx, t in rows if t == int(other)}
        if not moved:
            raise ProjectError(f"{self.path}: media {media_id} has no track {other}")
        return self.set_tracks(moved)

    def split_track(
        self, media_id: int, track_id: int, at_index: int, new_track_id: int | None = None
    ) -> dict[int, int | None]:
        """From frame ``at_index`` on, track ``track_id`` becomes a new track (the tracker carried an id over
        to another person); ``new_track_id`` defaults to the media's next free id."""
        rows = self._rows(media_id, at_index, (track_id,))
        if not rows:
            raise ProjectError(
                f"{self.path}: track {track_id} has no frame from {at_index} on in media {media_id}"
            )
        new = self.next_track_id(media_id) if new_track_id is None else int(new_track_id)
        return self.set_tracks({iid: new for iid, _idx, _t in rows})

    def _rows(self, media_id: int, from_index: int, track_ids: Sequence[int]) -> list[tuple[int, int, int]]:
        """(instance id, frame index, track id) of the given tracks in the media from ``from_index`` on."""
        if not self._store.exists("media", media_id):
            raise ProjectError(f"{self.path}: no media {media_id} in this project")
        ids = [int(t) for t in track_ids]
        marks = ", ".join("?" * len(ids))
        rows = self._store.conn.execute(
            _TRACK_ROWS + f" AND f.idx >= ? AND i.track_id IN ({marks}) ORDER BY f.idx",
            (int(media_id), int(from_index), *ids),
        ).fetchall()
        return [(iid, idx, t) for iid, _fid, idx, t in rows]

    # ----------------------------------------------------------------------------------------- interpolation

    def frames_between(self, media_id: int, start_index: int, end_index: int) -> tuple[int, int]:
        """(project frames, video frames not in the project) strictly between two frame indices of a media:
        what an interpolation would fill, and what it would add when asked to."""
        inside = self._store.conn.execute(
            "SELECT COUNT(*) FROM frames WHERE media_id = ? AND idx > ? AND idx < ?",
            (int(media_id), int(start_index), int(end_index)),
        ).fetchone()[0]
        return int(inside), max(int(end_index) - int(start_index) - 1 - int(inside), 0)

    def interpolate_track(
        self, media_id: int, track_id: int, start_index: int, end_index: int, add_frames: bool = False
    ) -> list[Edit]:
        """Fill the project frames strictly between ``start_index`` and ``end_index`` with the track's pose
        interpolated from its keyframes (the two ends, and any keyframe in between: see
        :func:`distilpose.interpolation.is_keyframe`); with ``add_frames`` the video frames not in the
        project yet are added and filled too.

        On each frame the person is written once: the track's own instance there (a model prediction, an
        earlier interpolation) is replaced, and so is an unverified prediction of the same person under
        another id or none (the pose overlaps: :func:`same_person`), which the tracker gave a different id;
        a frame where a verified or hand-placed person overlaps is left alone (never touched, never
        duplicated). One transaction; returns the edits that undo it."""
        media = self._store.media(media_id)
        if media.kind not in SEQUENCE_KINDS:
            raise ProjectError(f"{self.path}: media {media_id} is an image: there is nothing to interpolate")
        start, end = int(start_index), int(end_index)
        if end - start < 2:
            raise ProjectError(
                f"{self.path}: no frame lies strictly between frames {start} and {end} to interpolate"
            )
        shared = self._store.conn.execute(
            "SELECT MIN(f.id) FROM instances i JOIN frames f ON f.id = i.frame_id WHERE f.media_id = ? "
            "AND i.track_id = ? AND f.idx BETWEEN ? AND ? GROUP BY f.id HAVING COUNT(*) > 1 LIMIT 1",
            (int(media_id), int(track_id), start, end),
        ).fetchone()
        if shared is not None:  # an older import let it in: say so rather than pick one of the two
            raise ProjectError(
                f"{self.path}: {self._store.frame_label(shared[0])} gives two people track id {track_id}; "
                "give one of them another id first (`distilpose project check` lists such frames)"
            )
        have = {i: inst for i, inst in self.track_instances(media_id, track_id).items() if start <= i <= end}
        missing = [i for i in (start, end) if i not in have]
        if missing:
            raise ProjectError(
                f"{self.path}: track {track_id} has no person on frame(s) {', '.join(map(str, missing))} of "
                f"media {media_id}: interpolation needs the person in both keyframes"
            )
        keys = sorted(i for i, inst in have.items() if i in (start, end) or is_keyframe(inst))
        undo: list[Edit] = []
        payload = {"media_id": media_id, "track_id": track_id, "start": start, "end": end}
        payload["add_frames"] = bool(add_frames)
        with self._store.transaction("interpolate_track", payload):
            for ka, kb in zip(keys[:-1], keys[1:], strict=True):
                for idx in range(ka + 1, kb):
                    frame = self._store.frame_at(media_id, idx)
                    if frame is None and not add_frames:
                        continue
                    pose = interpolate_pose(have[ka], have[kb], ka, kb, idx)
                    if not pose.num_labelled:
                        raise ProjectError(
                            f"{self.path}: track {track_id} has no keypoint labelled in both frames {ka} and "
                            f"{kb}: nothing to interpolate"
                        )
                    existing = have.get(idx)
                    if existing is None and frame is not None:
                        existing = self._same_person_on(frame.id, pose, track_id)
                        if existing is not None and is_keyframe(existing):
                            continue  # a person checked by hand is there already: keep it, add no copy
                    undo += self._put_interpolated(media_id, idx, pose, existing)
        return undo[::-1]

    def _same_person_on(self, frame_id: int, pose: Instance, track_id: int) -> Instance | None:
        """The person of another (or no) track on the frame whose pose is ``pose``'s, the most similar."""
        found = [
            (similarity, inst)
            for inst in self._store.instances(frame_id)
            if inst.track_id != track_id and (similarity := same_person(pose, inst)) is not None
        ]
        return max(found, key=lambda pair: pair[0])[1] if found else None

    def _put_interpolated(self, media_id: int, index: int, pose: Instance, existing: Instance | None) -> list[Edit]:
        """Write the pose on the frame (replacing ``existing``, else as a new person, adding the frame when it
        is not in the project); returns the inverses, in the order they were made."""
        store = self._store
        if existing is not None:
            pose.extras.update(id=existing.extras["id"], verified=False)
            return [Edit("replace_instance", {"instance": pose}).apply(store)]  # type: ignore[arg-type]
        undo: list[Edit] = []
        frame = store.frame_at(media_id, index)
        if frame is None:
            undo.append(Edit("add_frame", {"media_id": media_id, "index": index}).apply(store))  # type: ignore[arg-type]
        frame_id = undo[-1].args["frame_id"] if frame is None else frame.id  # the inverse names the added frame
        undo.append(Edit("add_instance", {"frame_id": frame_id, "instance": pose}).apply(store))  # type: ignore[arg-type]
        return undo


def lowest_free_id(taken: set[int]) -> int:
    """The smallest id >= 1 not in ``taken``."""
    candidate = 1
    for tid in sorted(t for t in taken if t >= 1):
        if tid != candidate:
            break
        candidate += 1
    return candidate
