"""Property: any sequence of store edits, undone in reverse, restores the exact previous state of every table;
redone, it reaches the exact same states again (what a QUndoStack does). Checked with hypothesis on a small
project holding every kind of row (image and video media, user/student/teacher/import instances, scores,
sigmas, COCO extras with a polygon)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distilpose.keypoints import NUM_KEYPOINTS
from distilpose.project.edits import Edit
from distilpose.project.records import SPLITS
from distilpose.project.store import ProjectStore
from distilpose.types import SOURCES, Instance
from tests.unit.test_project_support import dump_tables, person, write_jpeg

#: Rows that are state. ``history`` (the audit log) and ``sqlite_sequence`` (id counters: ids are never
#: reused, by design) only ever grow, undo included.
STATE_SKIP = ("history", "sqlite_sequence")
ALWAYS_CHANGES = {
    "add_media",
    "add_frame",
    "add_instance",
    "delete_instance",
    "delete_frame",
    "delete_media",
    "reject_prediction",
    "accept_prediction",
}

coords = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
unit = st.floats(0.0, 1.0, allow_nan=False)
positive = st.floats(0.0, 500.0, allow_nan=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    write_jpeg(folder / "a.jpg", 32, 24)
    path = folder / "p.dpproj"
    with ProjectStore.create(path) as store:
        image = store.add_frame(store.add_media(folder / "a.jpg"))
        video = store.add_media(folder / "clip.mp4", must_exist=False)
        f3, f7 = store.add_frame(video, 3, split="train"), store.add_frame(video, 7)
        store.add_instance(image, person(bbox=(1.0, 2.0, 30.0, 40.0), track_id=1))
        store.add_instance(f3, person(x0=5.5, source="student", scores=True, score=0.6))
        imported = person(x0=2.25, source="import", bbox=(0.0, 0.0, 9.0, 9.0))
        imported.extras = {
            "coco": {"area": 50.0, "iscrowd": 0, "extra": {"segmentation": [[0.0, 0.0, 9.0, 0.0, 9.0, 9.0]]}}
        }
        store.add_instance(f7, imported, verified=True)
        store.add_instance(image, person(x0=0.5, source="teacher", scores=True))
        store.set_suggested(f7, True, "disagreement")
    return path


@st.composite
def instances(draw) -> Instance:
    kp = np.zeros((NUM_KEYPOINTS, 3))
    kp[:, 0] = draw(st.lists(coords, min_size=NUM_KEYPOINTS, max_size=NUM_KEYPOINTS))
    kp[:, 1] = draw(st.lists(coords, min_size=NUM_KEYPOINTS, max_size=NUM_KEYPOINTS))
    kp[:, 2] = draw(st.lists(st.sampled_from([0, 1, 2]), min_size=NUM_KEYPOINTS, max_size=NUM_KEYPOINTS))
    bbox = draw(st.none() | st.tuples(coords, coords, positive, positive))
    scores = draw(st.none() | st.lists(unit, min_size=NUM_KEYPOINTS, max_size=NUM_KEYPOINTS))
    sigmas = draw(st.none() | st.lists(positive, min_size=2 * NUM_KEYPOINTS, max_size=2 * NUM_KEYPOINTS))
    extras = draw(st.sampled_from([{}, {"coco": {"area": 12.5, "iscrowd": 0, "extra": {}}}, {"note": "x"}]))
    return Instance(
        keypoints=kp,
        bbox=bbox,
        scores=None if scores is None else np.array(scores),
        sigmas=None if sigmas is None else np.array(sigmas).reshape(NUM_KEYPOINTS, 2),
        score=draw(st.none() | unit),
        source=draw(st.sampled_from(SOURCES)),
        track_id=draw(st.none() | st.integers(0, 1000)),
        extras=dict(extras),
    )


def _draw_edit(data: st.DataObject, store: ProjectStore, step: int) -> Edit:
    """One valid edit for the project as it is now."""
    frames = store.frames()
    insts = [i for f in frames for i in store.instances(f.id)]
    media = store.media_list()
    choices = (
        [
            "add_media",
            "add_instance",
            "add_frame",
            "set_split",
            "set_splits",
            "set_suggested",
            "delete_frame",
            "delete_media",
        ]
        if frames
        else ["add_media"]
    )
    if insts:
        choices += [
            "move_keypoint",
            "set_visibility",
            "set_keypoint",
            "move_instance",
            "set_bbox",
            "set_track",
            "set_verified",
            "delete_instance",
            "replace_instance",
        ]
    preds = [i for i in insts if i.source in ("student", "teacher")]
    if preds:
        choices += ["accept_prediction", "reject_prediction"]
    op = data.draw(st.sampled_from(choices), label="op")
    k = st.integers(0, NUM_KEYPOINTS - 1)
    pick_inst = st.sampled_from([i.extras["id"] for i in insts]) if insts else None
    pick_frame = st.sampled_from([f.id for f in frames]) if frames else None
    if op == "add_media":
        return Edit(op, {"path": store.folder / f"new_{step}.png", "must_exist": False})
    if op == "add_instance":
        frame_id = data.draw(pick_frame)
        inst = data.draw(instances())
        if inst.track_id in {i.track_id for i in store.instances(frame_id)}:
            inst.track_id = None  # a track id names one person per frame (the store refuses a second)
        return Edit(op, {"frame_id": frame_id, "instance": inst, "verified": data.draw(st.booleans())})
    if op == "add_frame":
        videos = [m.id for m in media if m.kind == "video"]
        if not videos:
            return Edit("add_media", {"path": store.folder / f"v_{step}.mp4", "must_exist": False})
        media_id = data.draw(st.sampled_from(videos))
        used = {f.index for f in store.frames(media_id)}
        index = data.draw(st.integers(0, 50).filter(lambda i: i not in used))
        return Edit(op, {"media_id": media_id, "index": index, "split": data.draw(st.sampled_from(SPLITS))})
    if op == "set_split":
        return Edit(op, {"frame_id": data.draw(pick_frame), "split": data.draw(st.sampled_from(SPLITS))})
    if op == "set_splits":
        chosen = data.draw(st.lists(pick_frame, min_size=1, unique=True))
        return Edit(op, {"splits": {f: data.draw(st.sampled_from(SPLITS)) for f in chosen}})
    if op == "set_suggested":
        return Edit(
            op,
            {
                "frame_id": data.draw(pick_frame),
                "suggested": data.draw(st.booleans()),
                "reason": data.draw(st.none() | st.text(max_size=10)),
            },
        )
    if op == "delete_frame":
        return Edit(op, {"frame_id": data.draw(pick_frame)})
    if op == "delete_media":
        return Edit(op, {"media_id": data.draw(st.sampled_from([m.id for m in media]))})
    if op == "move_keypoint":
        return Edit(
            op,
            {
                "instance_id": data.draw(pick_inst),
                "k": data.draw(k),
                "x": data.draw(coords),
                "y": data.draw(coords),
            },
        )
    if op == "set_visibility":
        return Edit(
            op,
            {
                "instance_id": data.draw(pick_inst),
                "k": data.draw(k),
                "v": data.draw(st.sampled_from([0, 1, 2])),
            },
        )
    if op == "set_keypoint":
        return Edit(
            op,
            {
                "instance_id": data.draw(pick_inst),
                "k": data.draw(k),
                "x": data.draw(coords),
                "y": data.draw(coords),
                "v": data.draw(st.sampled_from([0, 1, 2])),
            },
        )
    if op == "move_instance":
        center = data.draw(st.none() | st.tuples(coords, coords))
        return Edit(
            op,
            {
                "instance_id": data.draw(pick_inst),
                "dx": data.draw(coords),
                "dy": data.draw(coords),
                "scale": data.draw(st.floats(0.1, 10.0)),
                "center": center,
            },
        )
    if op == "set_bbox":
        return Edit(
            op,
            {
                "instance_id": data.draw(pick_inst),
                "bbox": data.draw(st.none() | st.tuples(coords, coords, positive, positive)),
            },
        )
    if op == "set_track":
        iid = data.draw(pick_inst)
        taken = {i.track_id for i in store.instances(store.instance(iid).extras["frame_id"]) if i.extras["id"] != iid}
        track = data.draw(st.none() | st.integers(0, 99).filter(lambda t: t not in taken))
        return Edit(op, {"instance_id": iid, "track_id": track})
    if op == "set_verified":
        return Edit(op, {"instance_id": data.draw(pick_inst), "verified": data.draw(st.booleans())})
    if op == "delete_instance":
        return Edit(op, {"instance_id": data.draw(pick_inst)})
    if op == "replace_instance":
        new = data.draw(instances())
        new.extras["id"] = iid = data.draw(pick_inst)
        others = store.instances(store.instance(iid).extras["frame_id"])
        if new.track_id in {i.track_id for i in others if i.extras["id"] != iid}:
            new.track_id = None
        return Edit(op, {"instance": new})
    return Edit(op, {"instance_id": data.draw(st.sampled_from([i.extras["id"] for i in preds]))})


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_undo_restores_and_redo_replays_every_state(template, data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.dpproj"
        shutil.copyfile(template, path)
        with ProjectStore.open(path) as store:
            states = [dump_tables(path, skip=STATE_SKIP)]
            undos = []
            for step in range(data.draw(st.integers(1, 4), label="steps")):
                edit = _draw_edit(data, store, step)
                undos.append(edit.apply(store))
                states.append(dump_tables(path, skip=STATE_SKIP))
                if edit.op in ALWAYS_CHANGES:
                    assert states[-1] != states[-2], edit.op
            redos = []
            for i in range(len(undos), 0, -1):
                redos.append(undos[i - 1].apply(store))
                assert dump_tables(path, skip=STATE_SKIP) == states[i - 1], f"undo of step {i}"
            for i, redo in enumerate(reversed(redos), start=1):
                redo.apply(store)
                assert dump_tables(path, skip=STATE_SKIP) == states[i], f"redo of step {i}"
            assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
