"""Undo never reverts another writer (issue 23, defect 1).

The attack: two windows on one project; A moves a keypoint, B unverifies the person and sets its track id, A
undoes: B's flag and track id were gone (5 of 5), because undo wrote back the person's whole earlier state.
Undo (and redo) now set back only the fields their edit changed, and only while those still hold what the edit
wrote; otherwise they are refused (EditConflictError, naming what changed) and nothing changes."""

from __future__ import annotations

import numpy as np
import pytest

from distilpose.project import Edit, EditConflictError, ProjectStore
from tests.hardening.test_track_ids import clip_project
from tests.unit.test_project_support import dump_tables, person

LEFT_WRIST = 9


@pytest.fixture
def two_windows(tmp_path):
    """Two stores (two windows, or the app and the CLI) on one project holding a verified person."""
    path, _media, _frame, (iid,) = clip_project(tmp_path, person(bbox=(1.0, 2.0, 30.0, 40.0)), verified=True)
    a, b = ProjectStore.open(path), ProjectStore.open(path)
    yield a, b, iid
    a.close()
    b.close()


def test_undo_keeps_what_another_window_changed_on_the_same_person(two_windows):
    """The issue's exact scenario: B's verified flag and track id survive A's undo of a keypoint move, which
    sets back the keypoint only."""
    a, b, iid = two_windows
    before = a.instance(iid)
    undo = Edit("move_keypoint", {"instance_id": iid, "k": LEFT_WRIST, "x": 55.0, "y": 66.0}).apply(a)
    b.set_verified(iid, False)
    b.set_track(iid, 7)

    redo = undo.apply(a)

    after = a.instance(iid)
    assert after.extras["verified"] is False and after.track_id == 7, "A's undo reverted B's edits"
    np.testing.assert_array_equal(after.keypoints, before.keypoints)  # A's keypoint is back where it was
    assert undo.op == "patch_instance" and set(undo.args["fields"]) == {LEFT_WRIST, "updated"}
    # and A can redo it: the keypoint still holds what the undo wrote
    redo.apply(a)
    assert tuple(a.instance(iid).keypoints[LEFT_WRIST]) == (55.0, 66.0, 2.0)
    assert a.instance(iid).track_id == 7


def test_undo_of_a_field_another_window_changed_is_refused_and_changes_nothing(two_windows):
    a, b, iid = two_windows
    undo = Edit("move_keypoint", {"instance_id": iid, "k": LEFT_WRIST, "x": 55.0, "y": 66.0}).apply(a)
    b.move_keypoint(iid, LEFT_WRIST, 70.0, 80.0)
    state = dump_tables(a.path)
    with pytest.raises(EditConflictError) as info:
        undo.apply(a)
    text = str(info.value)
    assert text.startswith(f"{a.path}: another window changed this person")
    assert "left_wrist" in text and "frame 3 of clip.mp4" in text
    assert dump_tables(a.path) == state
    assert tuple(a.instance(iid).keypoints[LEFT_WRIST]) == (70.0, 80.0, 2.0)  # B's move stays


def test_redo_after_another_window_changed_the_field_is_refused(two_windows):
    a, b, iid = two_windows
    undo = Edit("set_bbox", {"instance_id": iid, "bbox": (5.0, 5.0, 10.0, 10.0)}).apply(a)
    redo = undo.apply(a)
    b.set_bbox(iid, (9.0, 9.0, 9.0, 9.0))
    with pytest.raises(EditConflictError, match="its box no longer holds"):
        redo.apply(a)
    assert a.instance(iid).bbox == (9.0, 9.0, 9.0, 9.0)


def test_undo_of_an_add_keeps_a_person_another_window_changed(two_windows):
    a, b, iid = two_windows
    frame = a.instance(iid).extras["frame_id"]
    undo = Edit("add_instance", {"frame_id": frame, "instance": person(x0=200.0)}).apply(a)
    new = undo.args["instance_id"]
    b.set_verified(new, True)
    with pytest.raises(EditConflictError, match="verified flag"):
        undo.apply(a)
    assert b.instance(new).extras["verified"] is True  # the person B verified is still there


def test_undo_of_a_track_edit_keeps_an_id_another_window_changed(two_windows):
    a, b, iid = two_windows
    undo = Edit("set_tracks", {"changes": {iid: 4}}).apply(a)
    b.set_track(iid, 9)
    with pytest.raises(EditConflictError, match=r"track id of person \d+ on frame 3 of clip.mp4"):
        undo.apply(a)
    assert a.instance(iid).track_id == 9


def test_undo_of_an_added_frame_keeps_people_another_window_put_there(two_windows):
    a, b, iid = two_windows
    media = a.frame(a.instance(iid).extras["frame_id"]).media_id
    undo = Edit("add_frame", {"media_id": media, "index": 8}).apply(a)
    b.add_instance(undo.args["frame_id"], person())
    with pytest.raises(EditConflictError, match="frame 8 of clip.mp4"):
        undo.apply(a)
    assert len(a.instances(undo.args["frame_id"])) == 1


def test_undo_of_a_split_keeps_a_split_another_window_set(two_windows):
    a, b, iid = two_windows
    frame = a.instance(iid).extras["frame_id"]
    undo = Edit("set_split", {"frame_id": frame, "split": "train"}).apply(a)
    b.set_split(frame, "test")
    with pytest.raises(EditConflictError, match="split of frame 3 of clip.mp4"):
        undo.apply(a)
    assert a.frame(frame).split == "test"


def test_undo_alone_still_gives_back_the_exact_earlier_state(two_windows):
    """With no other writer, undo is exact (the updated time included) and redo replays it."""
    a, _b, iid = two_windows
    start = dump_tables(a.path, skip=("history", "sqlite_sequence"))
    undo = Edit("move_instance", {"instance_id": iid, "dx": 3.0, "dy": -2.0, "scale": 1.5}).apply(a)
    moved = dump_tables(a.path, skip=("history", "sqlite_sequence"))
    redo = undo.apply(a)
    assert dump_tables(a.path, skip=("history", "sqlite_sequence")) == start
    redo.apply(a)
    assert dump_tables(a.path, skip=("history", "sqlite_sequence")) == moved
    assert [e.op for e in a.history()][-3:] == ["move_instance", "patch_instance", "patch_instance"]


def test_undo_of_a_delete_whose_frame_another_window_removed_is_a_conflict(two_windows):
    a, b, iid = two_windows
    frame = a.instance(iid).extras["frame_id"]
    undo = Edit("delete_instance", {"instance_id": iid}).apply(a)
    b.delete_frame(frame)
    with pytest.raises(EditConflictError, match=f"cannot restore person {iid}: another window removed the frame"):
        undo.apply(a)


def test_undo_of_a_track_edit_on_a_person_another_window_deleted_is_a_conflict(two_windows):
    a, b, iid = two_windows
    undo = Edit("set_tracks", {"changes": {iid: 4}}).apply(a)
    b.delete_instance(iid)
    with pytest.raises(EditConflictError, match=rf"track id of person {iid} \(deleted\)"):
        undo.apply(a)
