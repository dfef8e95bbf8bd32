"""Track ids are a rule of the project, and ids from files never overflow (issue 23, defects 4 and 5).

The attack: an import accepted two people with one track id in one frame, ``check`` said "no damage found",
later track edits blamed the edit and named the frame by its row id, and ``track_instances`` dropped one of the
two; a ``track_id`` of 2^63-1 was accepted and the next ``split_track`` or ``prelabel --track`` died with
OverflowError. An annotation or image id of 2^63-1 made every later add fail ("database or disk is full")."""

from __future__ import annotations

import sqlite3

import pytest

from distilpose.errors import CocoFormatError
from distilpose.project import ProjectError, ProjectStore
from distilpose.project.coco_io import import_coco
from distilpose.project.integrity import check_project
from distilpose.project.schema import TRACK_CLASH_MESSAGE
from distilpose.tracking import PoseTracker
from tests.unit.coco_factory import make_coco_doc
from tests.unit.test_project_support import dump_tables, person, write_coco_images, write_json

BIGGEST = 2**63 - 1


def clip_project(folder, *people, verified: bool = False) -> tuple:
    """``folder/p.dpproj``: a video ``clip.mp4`` whose frame 3 holds ``people``; (path, media, frame, ids)."""
    path = folder / "p.dpproj"
    with ProjectStore.create(path) as store:
        media = store.add_media(folder / "clip.mp4", "video", must_exist=False)
        frame = store.add_frame(media, 3)
        ids = [store.add_instance(frame, p, verified=verified) for p in people]
    return path, media, frame, ids


@pytest.fixture
def video(tmp_path):
    """A project with a video frame 3 holding two people (track ids 1 and 2)."""
    path, media, frame, (a, b) = clip_project(tmp_path, person(track_id=1), person(x0=90.0, track_id=2))
    return path, media, frame, a, b


def _coco(tmp_path, edit) -> tuple:
    doc = make_coco_doc(seed=3)
    edit(doc)
    (tmp_path / "src").mkdir(exist_ok=True)
    images = write_coco_images(doc, tmp_path / "src" / "images")
    return doc, write_json(tmp_path / "src" / "ann.json", doc), images


# --------------------------------------------------------------------------------------------- defect 4


def test_import_refuses_two_people_with_one_track_id_in_one_image(tmp_path):
    def same_track(doc):
        anns = [a for a in doc["annotations"] if a["image_id"] == doc["images"][1]["id"]]
        anns.append({**anns[0], "id": 999})  # a second person of that image, same track
        doc["annotations"].append(anns[-1])
        anns[0]["track_id"] = anns[-1]["track_id"] = 5

    doc, ann, images = _coco(tmp_path, same_track)
    with ProjectStore.create(tmp_path / "p.dpproj") as store:
        before = dump_tables(store.path)
        with pytest.raises(CocoFormatError) as info:
            import_coco(store, ann, images)
        assert dump_tables(store.path) == before
    text = str(info.value)
    image = doc["images"][1]
    assert str(ann) in text and f'image id {image["id"]} ("{image["file_name"]}")' in text
    assert "all have track_id 5; a track names one person per image" in text


def test_import_into_a_frame_whose_person_has_the_track_id_is_refused(tmp_path):
    def tracked(doc):
        for a in doc["annotations"]:
            a["track_id"] = 7 if a["image_id"] == doc["images"][0]["id"] and a["id"] == 100 else None

    doc, ann, images = _coco(tmp_path, tracked)
    with ProjectStore.create(tmp_path / "p.dpproj") as store:
        media = store.add_media(images / doc["images"][0]["file_name"], "image")
        store.add_instance(store.add_frame(media), person(track_id=7))
        before = dump_tables(store.path)
        with pytest.raises(ProjectError) as info:
            import_coco(store, ann, images)
        assert dump_tables(store.path) == before
    assert f"frame 0 of src/images/{doc['images'][0]['file_name']} already has a person with track id 7" in str(
        info.value
    )


def test_the_file_itself_refuses_a_second_person_with_a_track_id(video):
    path, _media, frame, a, _b = video
    conn = sqlite3.connect(str(path))
    with pytest.raises(sqlite3.IntegrityError, match=TRACK_CLASH_MESSAGE):
        conn.execute("UPDATE instances SET track_id = 2 WHERE id = ?", (a,))
    conn.close()
    with ProjectStore.open(path) as store:
        with pytest.raises(ProjectError, match="frame 3 of clip.mp4 already has a person with track id 2"):
            store.set_track(a, 2)
        with pytest.raises(ProjectError, match="frame 3 of clip.mp4 already has a person with track id 1"):
            store.add_instance(frame, person(track_id=1))
        with pytest.raises(ProjectError, match="frame 3 of clip.mp4 would hold two people with track id 2"):
            store.tracking.set_tracks({a: 2})
        # a swap inside the frame passes through no duplicate
        assert store.tracking.swap_tracks(store.frame(frame).media_id, 1, 2) == {a: 1, _b: 2}
        assert store.instance(a).track_id == 2 and check_project(store) == []


def _break_the_rule_as_an_older_version_could(path) -> None:
    """Two people of frame 3 with track id 1, in a version 3 file (before the rule was the file's)."""
    conn = sqlite3.connect(str(path))
    conn.execute("DROP TRIGGER instances_one_track_insert")
    conn.execute("DROP TRIGGER instances_one_track_update")
    conn.execute("UPDATE instances SET track_id = 1")
    conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()


def test_check_names_frames_an_older_import_gave_two_people_one_track_id(video):
    path, media, frame, a, b = video
    _break_the_rule_as_an_older_version_could(path)
    with ProjectStore.open(path) as store:  # the upgrade keeps the data and adds the rule for what comes next
        assert store.schema_version == 4
        problems = check_project(store)
        assert len(problems) == 1
        assert f"frame 3 of clip.mp4: persons {a} and {b} share track id 1" in problems[0]
        with pytest.raises(ProjectError) as info:  # an edit touching them says what is wrong, by frame index
            store.tracking.swap_tracks(media, 1, 9)
        assert f"frame 3 of clip.mp4 already gives persons {a}, {b} one track id 1" in str(info.value)
        assert f"frame {frame} " not in str(info.value)  # never the frame's row id
        with pytest.raises(ProjectError, match="frame 3 of clip.mp4 gives two people track id 1"):
            store.tracking.interpolate_track(media, 1, 0, 5)  # never one of the two picked silently
        store.tracking.set_tracks({b: 2})  # the fix: give one of them another id
        assert check_project(store) == []
        assert sorted(store.tracking.track_instances(media, 1)) == [3] and sorted(store.tracking.track_instances(media, 2)) == [3]


# --------------------------------------------------------------------------------------------- defect 5


def test_the_largest_track_id_imports_and_the_next_ids_never_overflow(tmp_path):
    def huge(doc):
        for a in doc["annotations"]:
            a["track_id"] = BIGGEST if a["id"] == 100 else None

    doc, ann, images = _coco(tmp_path, huge)
    with ProjectStore.create(tmp_path / "p.dpproj") as store:
        import_coco(store, ann, images)
        frame = store.frame(doc["images"][0]["id"])
        assert store.instance(100).track_id == BIGGEST
        # the images of a COCO file are single images; make the frame's media a sequence, as a video is
        store.conn.raw.execute("UPDATE media SET kind = 'folder' WHERE id = ?", (frame.media_id,))
        assert store.tracking.next_track_id(frame.media_id) == 1
        store.set_track(store.instances(frame.id)[1].extras["id"], 1)
        assert store.tracking.next_track_id(frame.media_id) == 2
        assert store.tracking.split_track(frame.media_id, BIGGEST, 0) == {100: BIGGEST}  # no OverflowError
        assert store.instance(100).track_id == 2
        # the pre-label tracker: seeded with the largest id, new people take free ids that fit
        store.set_track(100, BIGGEST)
        tracker = PoseTracker(first_id=store.tracking.next_track_id(frame.media_id), taken=store.tracking.track_ids(frame.media_id))
        tracker.seed(0, [store.instance(100)])
        new = tracker.update(1, [person(x0=300.0, score=0.9), person(x0=500.0, score=0.9)])
        assert new == [2, 3] and all(0 < t <= BIGGEST for t in new)
        with pytest.raises(ProjectError, match="track id must be an integer in SQLite's 64-bit range"):
            store.add_instance(frame.id, person(track_id=BIGGEST + 1))


def test_a_track_id_past_the_64_bit_range_is_refused_by_the_import(tmp_path):
    def past(doc):
        doc["annotations"][0]["track_id"] = BIGGEST + 1

    _doc, ann, images = _coco(tmp_path, past)
    with ProjectStore.create(tmp_path / "p.dpproj") as store, pytest.raises(CocoFormatError) as info:
        import_coco(store, ann, images)
    assert str(ann) in str(info.value) and "'track_id' is 9223372036854775808, outside the 64-bit" in str(info.value)


def test_the_largest_ids_from_a_file_leave_room_for_new_rows(tmp_path):
    """Image and annotation ids become row ids: at SQLite's largest integer, AUTOINCREMENT has nothing left
    ("database or disk is full"); new rows take the lowest free id instead."""

    def huge(doc):
        doc["images"][0]["id"] = BIGGEST
        for a in doc["annotations"]:
            if a["image_id"] == 10:
                a["image_id"] = BIGGEST
        doc["annotations"][0]["id"] = BIGGEST

    _doc, ann, images = _coco(tmp_path, huge)
    with ProjectStore.create(tmp_path / "p.dpproj") as store:
        import_coco(store, ann, images)
        assert store.exists("frames", BIGGEST) and store.exists("instances", BIGGEST)
        new = store.add_instance(BIGGEST, person(x0=1.0))
        assert 0 < new < BIGGEST and store.instance(new).extras["frame_id"] == BIGGEST
        media = store.add_media(tmp_path / "more.mp4", "video", must_exist=False)
        first = store.add_frame(media, 0)
        assert 0 < first < BIGGEST and store.add_frame(media, 1) == first + 1  # the largest below + 1
        store.add_frame(media, 2, frame_id=BIGGEST - 1)  # nothing free just below the largest: a free gap
        gap = store.add_frame(media, 3)
        assert 0 < gap < BIGGEST - 1 and store.frame(gap).index == 3
        assert check_project(store) == []
