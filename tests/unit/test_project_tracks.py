"""Tracks in the project: undoable id edits (change, swap, merge, split), one-step interpolation, tracks
scoped to one video, and the PoseTrack 2018 fields of a COCO export with an exact round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from distilpose.project import Edit, ProjectError, ProjectStore
from distilpose.project.coco_io import ANNOTATION_FILE, export_coco, import_coco
from distilpose.project.posetrack import posetrack_frame_id
from tests.unit.test_project_support import dump_tables, person


def write_avi(path: Path, frames: int, size: tuple[int, int] = (64, 48)) -> Path:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), (i * 20) % 255, dtype=np.uint8))
    writer.release()
    return path


@pytest.fixture
def store(tmp_path):
    with ProjectStore.create(tmp_path / "p.dpproj") as s:
        yield s


def _video_with_tracks(store: ProjectStore, video: Path, frames: range, people: dict[int, float]) -> dict:
    """A video media whose ``frames`` each hold one person per track (track -> x offset); returns
    {(frame index, track): instance id}."""
    media = store.add_media(video)
    ids = {}
    for f in frames:
        frame_id = store.add_frame(media, f)
        for track, x in people.items():
            ids[(f, track)] = store.add_instance(frame_id, person(x0=x + f, y0=5.0, track_id=track))
    return ids


def _tracks_by_frame(store: ProjectStore, ids: dict) -> dict:
    return {key: store.instance(iid).track_id for key, iid in ids.items()}


def _stable(path: Path) -> dict:
    """Table rows without the edit times (undo restores ids and data, ``updated`` is the time of the undo)."""
    tables = dump_tables(path, skip=("history", "sqlite_sequence"))
    tables["instances"] = sorted((r[:10] for r in tables["instances"]), key=repr)
    return tables


def test_id_edits_are_undoable_and_refuse_two_people_with_one_id(store, tmp_path):
    ids = _video_with_tracks(store, write_avi(tmp_path / "a.avi", 10), range(6), {1: 0.0, 2: 30.0})
    media = store.media_list()[0].id
    before = _stable(store.path)

    undo = Edit("swap_tracks", {"media_id": media, "a": 1, "b": 2, "from_index": 3}).apply(store)
    got = _tracks_by_frame(store, ids)
    assert [got[(f, 1)] for f in range(6)] == [1, 1, 1, 2, 2, 2]
    assert [got[(f, 2)] for f in range(6)] == [2, 2, 2, 1, 1, 1]
    redo = undo.apply(store)
    assert _stable(store.path) == before
    redo.apply(store)
    assert _tracks_by_frame(store, ids) == got

    with pytest.raises(ProjectError, match="two people with track id 2"):
        store.tracking.set_tracks({ids[(0, 1)]: 2})
    with pytest.raises(ProjectError, match="both in frame"):
        store.tracking.merge_tracks(media, 1, 2)
    assert _tracks_by_frame(store, ids) == got  # a refused edit changes nothing

    undo = Edit("split_track", {"media_id": media, "track_id": 2, "at_index": 4}).apply(store)
    assert [store.instance(ids[(f, 1)]).track_id for f in range(6)] == [1, 1, 1, 2, 3, 3]
    assert [(t.track_id, t.first, t.last, t.frames) for t in store.tracking.tracks(media)] == [
        (1, 0, 5, 6), (2, 0, 3, 4), (3, 4, 5, 2)
    ]  # fmt: skip
    undo.apply(store)
    assert _tracks_by_frame(store, ids) == got


def test_merge_joins_a_track_the_tracker_broke_in_two(store, tmp_path):
    ids = _video_with_tracks(store, write_avi(tmp_path / "a.avi", 10), range(6), {1: 0.0})
    media = store.media_list()[0].id
    store.tracking.split_track(media, 1, 3)  # frames 3.. become track 2
    assert store.tracking.next_track_id(media) == 3
    undo = Edit("merge_tracks", {"media_id": media, "keep": 1, "other": 2}).apply(store)
    assert {store.instance(i).track_id for i in ids.values()} == {1}
    assert store.tracking.track_frames(media, 1) == [store.frame_at(media, f).id for f in range(6)]
    undo.apply(store)
    assert [store.instance(ids[(f, 1)]).track_id for f in range(6)] == [1, 1, 1, 2, 2, 2]


def test_tracks_never_cross_videos(store, tmp_path):
    a = _video_with_tracks(store, write_avi(tmp_path / "a.avi", 5), range(3), {1: 0.0})
    b = _video_with_tracks(store, write_avi(tmp_path / "b.avi", 5), range(3), {1: 0.0})
    media_a, media_b = (m.id for m in store.media_list())
    store.tracking.split_track(media_a, 1, 1)
    assert {store.instance(i).track_id for i in b.values()} == {1}  # the other video's track 1 is untouched
    assert [store.instance(a[(f, 1)]).track_id for f in range(3)] == [1, 2, 2]
    assert store.tracking.next_track_id(media_b) == 2 and len(store.tracking.track_frames(media_b, 1)) == 3
    with pytest.raises(ProjectError, match="no track 5"):
        store.tracking.merge_tracks(media_b, 1, 5)


def test_interpolation_fills_the_gap_in_one_undoable_step(store, tmp_path):
    media = store.add_media(write_avi(tmp_path / "a.avi", 12))
    first = store.add_frame(media, 2)
    last = store.add_frame(media, 6)
    store.add_instance(first, person(x0=0.0, y0=0.0, track_id=5))
    store.add_instance(last, person(x0=40.0, y0=8.0, track_id=5))
    mid = store.add_frame(media, 4)  # a frame already there, holding a model guess of the same person
    guess = store.add_instance(mid, person(x0=99.0, source="student", scores=True, track_id=5))
    other = store.add_instance(mid, person(x0=300.0, track_id=6))  # someone else: untouched
    before = dump_tables(store.path, skip=("history", "sqlite_sequence"))

    assert store.tracking.frames_between(media, 2, 6) == (1, 2)  # frame 4 is in the project, 3 and 5 are not
    args = {"media_id": media, "track_id": 5, "start_index": 2, "end_index": 6, "add_frames": True}
    undo = Edit("interpolate_track", args).apply(store)
    by_index = store.tracking.track_instances(media, 5)
    assert sorted(by_index) == [2, 3, 4, 5, 6]
    for idx in (3, 4, 5):
        inst = by_index[idx]
        t = (idx - 2) / 4
        np.testing.assert_allclose(inst.keypoints[0, :2], (40.0 * t, 8.0 * t))
        assert inst.extras["interpolated"] and not inst.extras["verified"] and inst.scores is None
    assert by_index[4].extras["id"] == guess  # the model's guess was replaced in place
    assert store.instance(other).keypoints[0, 0] == 300.0

    redo = undo.apply(store)  # ONE edit undoes the whole interpolation, frames it added included
    assert dump_tables(store.path, skip=("history", "sqlite_sequence")) == before
    assert store.frame_at(media, 3) is None
    redo.apply(store)
    again = store.tracking.track_instances(media, 5)
    assert {i: x.extras["id"] for i, x in again.items()} == {i: x.extras["id"] for i, x in by_index.items()}


def test_interpolation_keeps_verified_keyframes_between_and_explains_what_is_missing(store, tmp_path):
    media = store.add_media(write_avi(tmp_path / "a.avi", 12))
    for idx, x in ((0, 0.0), (4, 100.0), (8, 0.0)):
        store.add_instance(store.add_frame(media, idx), person(x0=x, track_id=1), verified=True)
    store.tracking.interpolate_track(media, 1, 0, 8, add_frames=True)
    xs = {i: inst.keypoints[0, 0] for i, inst in store.tracking.track_instances(media, 1).items()}
    assert xs == {0: 0.0, 1: 25.0, 2: 50.0, 3: 75.0, 4: 100.0, 5: 75.0, 6: 50.0, 7: 25.0, 8: 0.0}
    with pytest.raises(ProjectError, match="no person on frame"):
        store.tracking.interpolate_track(media, 1, 0, 10)
    with pytest.raises(ProjectError, match="strictly between"):
        store.tracking.interpolate_track(media, 1, 3, 4)


def test_interpolation_fills_only_project_frames_unless_asked(store, tmp_path):
    media = store.add_media(write_avi(tmp_path / "a.avi", 12))
    for idx, x in ((0, 0.0), (8, 80.0)):
        store.add_instance(store.add_frame(media, idx), person(x0=x, track_id=1), verified=True)
    for idx in (2, 4):
        store.add_frame(media, idx)
    assert store.tracking.frames_between(media, 0, 8) == (2, 5)
    undo = Edit("interpolate_track", {"media_id": media, "track_id": 1, "start_index": 0, "end_index": 8}).apply(
        store
    )
    assert sorted(store.tracking.track_instances(media, 1)) == [0, 2, 4, 8]  # the project did not grow
    assert [f.index for f in store.frames(media)] == [0, 2, 4, 8]
    undo.apply(store)
    assert sorted(store.tracking.track_instances(media, 1)) == [0, 8]


def test_interpolation_replaces_the_same_person_under_another_id_and_never_touches_verified(store, tmp_path):
    """The tracker called the person 3 between two keyframes the user fixed to id 1: interpolating track 1
    replaces those predictions instead of adding a second copy; a verified person there is kept as is."""
    media = store.add_media(write_avi(tmp_path / "a.avi", 12))
    frames = {idx: store.add_frame(media, idx) for idx in range(5)}
    store.add_instance(frames[0], person(x0=0.0, track_id=1), verified=True)
    store.add_instance(frames[4], person(x0=40.0, track_id=1), verified=True)
    guess = store.add_instance(frames[1], person(x0=11.0, source="student", scores=True, track_id=3))
    unnamed = store.add_instance(frames[2], person(x0=19.0, source="student", scores=True))
    checked = store.add_instance(frames[3], person(x0=31.0, track_id=3), verified=True)
    far = store.add_instance(frames[2], person(x0=200.0, source="student", scores=True, track_id=2))
    before = dump_tables(store.path, skip=("history", "sqlite_sequence"))

    undo = Edit("interpolate_track", {"media_id": media, "track_id": 1, "start_index": 0, "end_index": 4}).apply(
        store
    )
    assert [len(store.instances(frames[i])) for i in range(5)] == [1, 1, 2, 1, 1]  # nobody twice
    got = store.tracking.track_instances(media, 1)
    assert sorted(got) == [0, 1, 2, 4]
    assert (got[1].extras["id"], got[2].extras["id"]) == (guess, unnamed)  # replaced in place
    np.testing.assert_allclose(got[2].keypoints[0, 0], 20.0)
    kept = store.instance(checked)
    assert (kept.track_id, kept.extras["verified"], kept.keypoints[0, 0]) == (3, True, 31.0)
    assert store.instance(far).track_id == 2  # someone else
    undo.apply(store)
    assert dump_tables(store.path, skip=("history", "sqlite_sequence")) == before


def test_the_timeline_says_what_each_track_is_on_each_frame(store, tmp_path):
    media = store.add_media(write_avi(tmp_path / "a.avi", 12))
    frames = {idx: store.add_frame(media, idx) for idx in (0, 3, 6, 9)}
    store.add_instance(frames[0], person(x0=0.0, track_id=2), verified=True)
    store.add_instance(frames[9], person(x0=90.0, track_id=2))
    store.add_instance(frames[3], person(x0=50.0, source="student", scores=True, track_id=1))
    store.add_instance(frames[6], person(x0=50.0, source="student", scores=True))  # no track: not shown
    store.tracking.interpolate_track(media, 2, 0, 9)
    timeline = store.tracking.track_timeline(media)
    assert timeline.frames == (0, 3, 6, 9)
    assert timeline.marks == {
        1: {3: "predicted"},
        2: {0: "verified", 3: "interpolated", 6: "interpolated", 9: "keyframe"},
    }


# --------------------------------------------------------------------------------------------- COCO


def test_coco_export_writes_posetrack_fields_and_the_round_trip_is_exact(store, tmp_path):
    video = write_avi(tmp_path / "walk.avi", 9)
    ids = _video_with_tracks(store, video, range(0, 9, 4), {1: 0.0, 2: 20.0})
    image = tmp_path / "still.jpg"
    from tests.unit.test_project_support import write_jpeg

    write_jpeg(image, 32, 24)
    still = store.add_frame(store.add_media(image), 0)
    store.add_instance(still, person(x0=1.0))
    export_coco(store, tmp_path / "out1")
    doc = json.loads((tmp_path / "out1" / ANNOTATION_FILE).read_text())

    media = store.find_media(video).id
    frames = {img["id"]: img for img in doc["images"]}
    first = frames[store.frame_at(media, 4).id]
    assert first["vid_id"] == f"{media:06d}" and first["nframes"] == 9 and first["is_labeled"] is True
    assert first["frame_id"] == posetrack_frame_id(media, 4, 9) == int(f"1{media:06d}0004")
    assert set(frames[still]) == {"id", "file_name", "width", "height"}  # not a video frame
    tracks = {a["id"]: a.get("track_id") for a in doc["annotations"]}
    assert all(tracks[iid] == track for (_f, track), iid in ids.items())
    assert "track_id" not in next(a for a in doc["annotations"] if a["image_id"] == still)

    with ProjectStore.create(tmp_path / "again.dpproj") as copy:
        import_coco(copy, tmp_path / "out1" / ANNOTATION_FILE, tmp_path / "out1" / "images")
        assert copy.instance(ids[(8, 2)]).track_id == 2
        export_coco(copy, tmp_path / "out2")
    assert json.loads((tmp_path / "out2" / ANNOTATION_FILE).read_text()) == doc


def test_posetrack_frame_ids_stay_unique_past_frame_9999():
    assert posetrack_frame_id(342, 0, 100) == 10003420000  # PoseTrack 2018's own example
    long = {posetrack_frame_id(1, i, 20000) for i in (0, 9999, 10000, 19999)}
    assert len(long) == 4 and posetrack_frame_id(1, 10000, 20000) == int("1000001" + "10000")


def test_a_version_2_project_gains_the_track_index_and_keeps_its_ids(tmp_path):
    import sqlite3

    from distilpose.project import schema

    path = tmp_path / "old.dpproj"
    conn = sqlite3.connect(str(path), isolation_level=None)
    schema.migrate(conn, 0, up_to=2)
    conn.execute("INSERT INTO media (id, path, kind, added) VALUES (1, 'a.avi', 'video', 't')")
    conn.execute("INSERT INTO frames (id, media_id, idx) VALUES (1, 1, 0)")
    conn.execute(
        "INSERT INTO instances (id, frame_id, source, track_id, created, updated) VALUES (5, 1, 'user', 4, 't', 't')"
    )
    conn.close()
    with ProjectStore.open(path) as store:
        assert store.schema_version == schema.CURRENT_VERSION >= 3
        names = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "instances_track" in names
        assert [(t.track_id, t.frames) for t in store.tracking.tracks(1)] == [(4, 1)]
    assert (tmp_path / "old.dpproj.v2.bak").exists()
