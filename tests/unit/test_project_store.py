"""Store operations: what each edit does (hand-computed), what it returns for undo, and the queries."""

from __future__ import annotations

import os

import numpy as np
import pytest

from distilpose.project.edits import EDIT_OPS, Edit, operation
from distilpose.project.errors import ProjectError
from distilpose.project.store import ProjectStore
from distilpose.types import Instance
from tests.unit.test_project_support import dump_tables, person, write_jpeg


@pytest.fixture
def store(tmp_path):
    write_jpeg(tmp_path / "media" / "a.jpg", 64, 48)
    (tmp_path / "proj").mkdir()
    with ProjectStore.create(tmp_path / "proj" / "p.dpproj") as s:
        yield s


def _image_frame(store: ProjectStore) -> int:
    media = store.add_media(store.folder.parent / "media" / "a.jpg")
    return store.add_frame(media)


def test_media_paths_are_relative_to_the_project_and_hashed(store, tmp_path):
    media_id = store.add_media(tmp_path / "media" / "a.jpg")
    rec = store.media(media_id)
    assert rec.path == "../media/a.jpg" and rec.kind == "image"
    assert rec.size == os.path.getsize(tmp_path / "media" / "a.jpg")
    assert rec.hash.startswith("sha256:") and len(rec.hash) == 7 + 64
    assert store.media_path(media_id) == (tmp_path / "media" / "a.jpg").resolve()
    assert store.find_media(tmp_path / "media" / ".." / "media" / "a.jpg").id == media_id
    with pytest.raises(ProjectError, match=f"already in the project \\(media {media_id}\\)"):
        store.add_media(tmp_path / "media" / "a.jpg")
    with pytest.raises(ProjectError, match="file not found"):
        store.add_media(tmp_path / "media" / "nope.jpg")
    with pytest.raises(ProjectError, match="not an image, a video or a folder"):
        store.add_media(tmp_path / "notes.txt", must_exist=False)
    folder_id = store.add_media(tmp_path / "media")
    assert store.media(folder_id).kind == "folder" and store.media(folder_id).size is None


def test_frames_of_media(store, tmp_path):
    video = store.add_media(tmp_path / "clip.mp4", must_exist=False)
    assert store.media(video).kind == "video"
    ids = [store.add_frame(video, i) for i in (30, 10, 20)]
    assert [f.index for f in store.frames(video)] == [10, 20, 30]
    assert store.frame_at(video, 20).id == ids[2]
    assert store.frame_at(video, 21) is None
    with pytest.raises(ProjectError, match="already has a frame 10"):
        store.add_frame(video, 10)
    image = store.add_media(tmp_path / "media" / "a.jpg")
    with pytest.raises(ProjectError, match="is an image: its only frame index is 0, not 3"):
        store.add_frame(image, 3)
    with pytest.raises(ProjectError, match="no media 999"):
        store.add_frame(999)


def test_instance_round_trip_and_extras(store):
    frame = _image_frame(store)
    inst = person(source="student", scores=True, bbox=(1.0, 2.0, 3.0, 4.0), score=0.75, track_id=4)
    inst.extras = {"heatmaps": np.zeros((17, 8, 8)), "crop": object(), "note": {"a": [1, 2]}}
    iid = store.add_instance(frame, inst)
    back = store.instance(iid)
    np.testing.assert_array_equal(back.keypoints, inst.keypoints)
    np.testing.assert_array_equal(back.scores, inst.scores)
    np.testing.assert_array_equal(back.sigmas, inst.sigmas)
    assert (back.bbox, back.score, back.source, back.track_id) == ((1.0, 2.0, 3.0, 4.0), 0.75, "student", 4)
    # the predictor's runtime-only extras are not stored; JSON extras are; the store adds its bookkeeping
    assert set(back.extras) == {"note", "id", "frame_id", "verified", "created", "updated"}
    assert (
        back.extras["note"] == {"a": [1, 2]} and back.extras["id"] == iid and back.extras["frame_id"] == frame
    )
    assert [i.extras["id"] for i in store.instances(frame)] == [iid]
    bad = person()
    bad.extras = {"thing": object()}
    with pytest.raises(ProjectError, match="instance extras cannot be stored as JSON"):
        store.add_instance(frame, bad)
    nan = person()
    nan.keypoints[3, 0] = np.nan
    with pytest.raises(ProjectError, match="coordinates must be finite numbers; not so for left_ear"):
        store.add_instance(frame, nan)
    three = person()
    three.keypoints[0, 2] = 3
    with pytest.raises(ProjectError, match="visibility must be 0, 1 or 2"):
        store.add_instance(frame, three)
    assert len(store.instances(frame)) == 1


def test_keypoint_edits_return_the_previous_instance(store):
    frame = _image_frame(store)
    inst = person()
    inst.keypoints[5] = (0.0, 0.0, 0)  # left shoulder not labelled
    iid = store.add_instance(frame, inst)
    first = store.instance(iid)

    before = store.move_keypoint(iid, 0, 100.5, 200.25)
    assert before.extras == first.extras and np.array_equal(before.keypoints, first.keypoints)
    assert tuple(store.instance(iid).keypoints[0]) == (100.5, 200.25, 2.0)

    store.move_keypoint(iid, 5, 7.0, 8.0)  # placing an unlabelled keypoint labels it
    assert tuple(store.instance(iid).keypoints[5]) == (7.0, 8.0, 2.0)

    store.set_visibility(iid, 5, 0)  # the position is kept for when it is shown again
    assert tuple(store.instance(iid).keypoints[5]) == (7.0, 8.0, 0.0)
    store.set_visibility(iid, 5, 1)
    assert tuple(store.instance(iid).keypoints[5]) == (7.0, 8.0, 1.0)

    store.set_keypoint(iid, 16, -1.0, 3.0, 1)
    assert tuple(store.instance(iid).keypoints[16]) == (-1.0, 3.0, 1.0)
    with pytest.raises(ProjectError, match="keypoint index must be 0..16, got 17"):
        store.move_keypoint(iid, 17, 0, 0)
    with pytest.raises(ProjectError, match="visibility must be 0, 1 or 2, got 5"):
        store.set_visibility(iid, 1, 5)
    with pytest.raises(ProjectError, match="must be finite"):
        store.move_keypoint(iid, 1, float("inf"), 0)
    with pytest.raises(ProjectError, match="no instance 12345"):
        store.move_keypoint(12345, 1, 0, 0)

    store.replace_instance(first)  # the inverse of all of the above at once
    again = store.instance(iid)
    assert np.array_equal(again.keypoints, first.keypoints) and again.extras == first.extras


def test_move_instance_scales_about_the_box_centre(store):
    frame = _image_frame(store)
    inst = person(x0=10.0, y0=20.0, bbox=(10.0, 20.0, 20.0, 40.0))  # centre (20, 40)
    inst.sigmas = np.full((17, 2), 2.0)
    inst.keypoints[1, 2] = 0
    inst.keypoints[1, :2] = 0.0
    inst.extras = {
        "coco": {"area": 100.0, "iscrowd": 0, "extra": {"segmentation": [[10.0, 20.0, 30.0, 60.0]]}}
    }
    iid = store.add_instance(frame, inst)
    store.move_instance(iid, dx=5.0, dy=-1.0, scale=2.0)
    moved = store.instance(iid)
    # x' = 20 + 2 (x - 20) + 5, y' = 40 + 2 (y - 40) - 1
    assert tuple(moved.keypoints[0]) == (5.0, -1.0, 2.0)  # from (10, 20)
    assert tuple(moved.keypoints[2]) == (9.0, 7.0, 2.0)  # from (12, 24)
    assert tuple(moved.keypoints[1]) == (0.0, 0.0, 0.0)  # an unlabelled keypoint stays put
    assert moved.bbox == (5.0, -1.0, 40.0, 80.0)
    np.testing.assert_array_equal(moved.sigmas, np.full((17, 2), 4.0))
    assert moved.extras["coco"]["area"] == 400.0
    assert moved.extras["coco"]["extra"]["segmentation"] == [[5.0, -1.0, 45.0, 79.0]]
    store.move_instance(iid, dx=1.0, scale=0.5, center=(0.0, 0.0))
    assert tuple(store.instance(iid).keypoints[0]) == (3.5, -0.5, 2.0)
    with pytest.raises(ProjectError, match="scale > 0"):
        store.move_instance(iid, scale=0.0)


def test_rle_mask_is_dropped_when_moved(store):
    frame = _image_frame(store)
    inst = person(bbox=(0.0, 0.0, 10.0, 10.0))
    inst.extras = {
        "coco": {"area": 9.0, "iscrowd": 1, "extra": {"segmentation": {"counts": [1, 2], "size": [4, 4]}}}
    }
    iid = store.add_instance(frame, inst)
    store.move_instance(iid, dx=1.0)
    assert "segmentation" not in store.instance(iid).extras["coco"]["extra"]
    assert store.instance(iid).extras["coco"]["area"] == 9.0


def test_delete_then_restore_gives_the_same_id_and_times(store):
    frame = _image_frame(store)
    iid = store.add_instance(frame, person(), verified=True)
    other = store.add_instance(frame, person(x0=50))
    before = dump_tables(store.path, skip=("history",))
    removed = store.delete_instance(iid)
    assert removed.extras["id"] == iid and removed.extras["verified"] is True
    assert [i.extras["id"] for i in store.instances(frame)] == [other]
    assert store.add_instance(frame, person()) not in (iid, other)  # ids are never reused
    store.delete_instance(store.instances(frame)[-1].extras["id"])
    store.restore_instance(removed)
    after = dump_tables(store.path, skip=("history",))
    assert after["instances"] == before["instances"] and after["keypoints"] == before["keypoints"]
    with pytest.raises(ProjectError, match=f"cannot restore instance {iid}: the id is in use"):
        store.restore_instance(removed)


def test_accept_and_reject_predictions(store):
    frame = _image_frame(store)
    student = store.add_instance(frame, person(source="student", scores=True))
    teacher = store.add_instance(frame, person(source="teacher", scores=True))
    user = store.add_instance(frame, person(source="user"))
    before = store.accept_prediction(student)
    assert before.source == "student" and not before.extras["verified"]
    accepted = store.instance(student)
    assert accepted.source == "user" and accepted.extras["verified"] is True
    assert accepted.extras["accepted_from"] == "student"
    rejected = store.reject_prediction(teacher)
    assert rejected.source == "teacher"
    assert [i.extras["id"] for i in store.instances(frame)] == [student, user]
    with pytest.raises(ProjectError, match=f"cannot reject instance {user}: it is not a model prediction"):
        store.reject_prediction(user)
    with pytest.raises(ProjectError, match="cannot accept"):
        store.accept_prediction(student)  # now a user instance


def test_frame_flags_and_splits(store):
    frame = _image_frame(store)
    assert store.set_split(frame, "val") == "none"
    assert store.set_split(frame, "train") == "val"
    assert store.frame(frame).split == "train"
    with pytest.raises(ProjectError, match="unknown split 'dev'"):
        store.set_split(frame, "dev")
    assert store.set_suggested(frame, True, "low confidence") == (False, None)
    assert (store.frame(frame).suggested, store.frame(frame).suggest_reason) == (True, "low confidence")
    assert store.set_suggested(frame, False) == (True, "low confidence")
    assert store.frame(frame).suggest_reason is None


def test_low_confidence_queue_and_counts(store):
    frame = _image_frame(store)
    a = person(source="student")
    a.scores = np.full(17, 0.9)
    a.scores[[3, 7]] = (0.2, 0.1)
    b = person(source="teacher")
    b.scores = np.full(17, 0.8)
    b.scores[0] = 0.15
    c = person(source="student")
    c.scores = np.full(17, 0.01)  # verified: a person already looked at it
    ia, ib = store.add_instance(frame, a), store.add_instance(frame, b)
    store.add_instance(frame, c, verified=True)
    store.add_instance(frame, person())  # no scores at all
    queue = store.low_confidence_keypoints(threshold=0.5)
    assert [(q.instance_id, q.k, q.score) for q in queue] == [(ia, 7, 0.1), (ib, 0, 0.15), (ia, 3, 0.2)]
    assert queue[0].name == "left_elbow" and queue[0].frame_id == frame
    assert len(store.low_confidence_keypoints(threshold=0.5, include_verified=True)) == 3 + 17
    assert len(store.low_confidence_keypoints(threshold=0.5, limit=2)) == 2
    assert store.counts() == {
        "media": 1,
        "frames": 1,
        "instances": 4,
        "verified": 1,
        "keypoints_labelled": 68,
    }


def test_history_records_each_edit(store):
    frame = _image_frame(store)
    iid = store.add_instance(frame, person())
    store.move_keypoint(iid, 2, 1.0, 2.0)
    ops = [h.op for h in store.history()]
    assert ops == ["add_media", "add_frame", "add_instance", "move_keypoint"]
    last = store.history(limit=1)[0]
    assert last.payload == {"instance_id": iid, "k": 2, "x": 1.0, "y": 2.0, "v": 2}


def test_delete_media_and_restore_bring_back_the_whole_subtree(store, tmp_path):
    video = store.add_media(tmp_path / "clip.mp4", must_exist=False)
    f1, f2 = store.add_frame(video, 1), store.add_frame(video, 2)
    store.add_instance(f1, person())
    store.add_instance(f2, person(x0=3))
    state = ("history", "sqlite_sequence")  # the audit log and id counters only ever grow
    before = dump_tables(store.path, skip=state)
    snap = store.delete_media(video)
    assert store.counts()["frames"] == 0 and store.counts()["instances"] == 0  # cascaded
    store.restore(snap)
    assert dump_tables(store.path, skip=state) == before


def test_jobs_are_recorded_and_updated(store):
    job = store.job_records.add("train", {"model": "distilpose-s", "epochs": 2}, paths={"workdir": "runs/1"})
    store.job_records.update(job, status="running", pid=4242)
    store.job_records.update(job, metrics={"AP": 0.5}, paths={"log": "runs/1/log.jsonl"})
    rec = store.job_records.get(job)
    assert (rec.kind, rec.status, rec.pid) == ("train", "running", 4242)
    assert rec.paths == {"workdir": "runs/1", "log": "runs/1/log.jsonl"} and rec.metrics == {"AP": 0.5}
    store.job_records.update(job, status="done", pid=None)
    assert store.job_records.get(job).pid is None and [j.id for j in store.job_records.all("done")] == [job]
    with pytest.raises(ProjectError, match="unknown job status 'exploded'"):
        store.job_records.update(job, status="exploded")


def test_job_records_are_a_part_that_asks_the_live_store(store):
    """``store.job_records`` (docs/adr/0025): one part per store, bookkeeping that the audit log never sees,
    and it reaches the connection through the store, so a closed project says so instead of failing in
    SQLite."""
    assert store.job_records is store.job_records
    logged = store.history()
    job = store.job_records.add("export", {"format": "onnx"})
    store.job_records.update(job, status="done")
    assert store.history() == logged
    store.close()
    with pytest.raises(ProjectError, match=r"p\.dpproj: the project is closed"):
        store.job_records.get(job)
    with pytest.raises(ProjectError, match="the project is closed"):
        store.job_records.add("train", {})


def test_edits_as_data_undo_and_redo(store):
    frame = _image_frame(store)
    add = Edit("add_instance", {"frame_id": frame, "instance": person()})
    undo = add.apply(store)
    iid = undo.args["instance_id"]
    assert undo.op == "delete_instance"
    redo = undo.apply(store)
    assert store.instances(frame) == [] and redo.op == "restore_instance"
    assert redo.apply(store).op == "delete_instance"
    assert [i.extras["id"] for i in store.instances(frame)] == [iid]  # the same id came back
    assert (
        Edit("move_keypoint", {"instance_id": iid, "k": 9, "x": 0, "y": 0}).text == "Move keypoint left_wrist"
    )
    with pytest.raises(ProjectError, match="unknown edit 'explode'"):
        Edit("explode").apply(store)
    for op in EDIT_OPS:  # on the store or on the part it lives on (store.tracking), one place only
        assert callable(operation(store, op)) and hasattr(store, op) != hasattr(store.tracking, op), op


def test_a_failed_edit_changes_nothing(store, monkeypatch):
    frame = _image_frame(store)
    iid = store.add_instance(frame, person())
    before = dump_tables(store.path)
    real = store._write_changes

    def write_then_fail(*args, **kwargs):
        with store.transaction():
            real(*args, **kwargs)
            raise OSError("disk full")

    monkeypatch.setattr(store, "_write_changes", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        store.move_keypoint(iid, 0, 1.0, 1.0)
    assert dump_tables(store.path) == before


def test_instance_keypoints_shape_is_enforced_by_the_shared_type():
    with pytest.raises(ValueError, match="keypoints must have shape"):
        Instance(keypoints=np.zeros((16, 3)))


def test_replace_instance_overwrites_every_field(store):
    frame = _image_frame(store)
    iid = store.add_instance(frame, person(source="student", scores=True, score=0.3, track_id=2))
    new = person(x0=99.0, source="teacher", bbox=(5.0, 6.0, 7.0, 8.0), score=0.9, track_id=None)
    new.keypoints[4] = (1.0, 2.0, 1)
    new.extras = {"id": iid, "verified": True, "updated": "2030-01-01T00:00:00.000Z", "note": 1}
    before = store.replace_instance(new)
    assert before.source == "student" and before.score == 0.3
    got = store.instance(iid)
    np.testing.assert_array_equal(got.keypoints, new.keypoints)
    assert (got.source, got.bbox, got.score, got.track_id, got.scores, got.sigmas) == (
        "teacher",
        (5.0, 6.0, 7.0, 8.0),
        0.9,
        None,
        None,
        None,
    )
    assert got.extras["verified"] is True and got.extras["note"] == 1
    assert (
        got.extras["updated"] == "2030-01-01T00:00:00.000Z"
        and got.extras["created"] == before.extras["created"]
    )
    new.extras["frame_id"] = frame + 1
    with pytest.raises(ProjectError, match="moving an instance between frames is delete \\+ add"):
        store.replace_instance(new)


def test_numpy_ids_and_track_ids_are_accepted(store, tmp_path):
    # ids often come out of numpy arrays (a tracker, a table model); sqlite3 cannot bind numpy integers itself
    media = store.add_media(tmp_path / "clip.mp4", must_exist=False)
    frame = store.add_frame(np.int64(media), np.int64(4))
    iid = store.add_instance(np.int64(frame), person(track_id=np.int64(7)), instance_id=np.int64(500))
    assert iid == 500 and store.instance(np.int64(iid)).track_id == 7
    store.set_track(np.int64(iid), np.int32(9))
    assert store.instance(iid).track_id == 9
    assert store.frame(np.int64(frame)).index == 4


def test_a_batch_is_one_transaction_and_one_history_entry(store):
    # pseudo-labelling thousands of frames: one commit (one fsync) and one audit entry, all or nothing
    frame = _image_frame(store)
    payload = {"model": "teacher"}
    with store.transaction("pseudo_label", payload):
        ids = [store.add_instance(frame, person(x0=i, source="teacher", scores=True)) for i in range(5)]
        payload["count"] = len(ids)
    assert len(store.instances(frame)) == 5
    assert store.history()[-1].op == "pseudo_label" and store.history()[-1].payload == {
        "model": "teacher",
        "count": 5,
    }
    assert [h.op for h in store.history()].count("add_instance") == 0
    with pytest.raises(ProjectError, match="no frame 4242"), store.transaction("pseudo_label"):
        store.add_instance(frame, person(source="teacher"))
        store.add_instance(4242, person(source="teacher"))
    assert len(store.instances(frame)) == 5  # the first add of the failed batch was rolled back too
