"""Media that moved: found once, by name and content, relinked as one undoable edit (distilpose.project.relink,
`distilpose project relink`), and named before a job or an export starts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from distilpose.cli import main
from distilpose.errors import DistilPoseError
from distilpose.project import ProjectStore
from distilpose.project.edits import Edit
from distilpose.project.errors import EditConflictError, ProjectError
from distilpose.project.relink import missing_media, relink_edit, search
from tests.unit.test_project_support import person
from tests.unit.test_project_tracks import write_avi


def _moved_project(tmp_path: Path) -> tuple[Path, int, Path]:
    """A project with one video at ``clips/walk.avi`` (5 frames), then the video moved to ``moved/deep/``."""
    clips = tmp_path / "clips"
    clips.mkdir()
    video = write_avi(clips / "walk.avi", 5)
    project = tmp_path / "p.dpproj"
    with ProjectStore.create(project) as store:
        media = store.add_media(video)
        for i in range(5):
            frame = store.add_frame(media, i, split="train" if i < 3 else "val")
            store.add_instance(frame, person(), verified=True)
    target = tmp_path / "moved" / "deep"
    target.mkdir(parents=True)
    shutil.move(video, target / "walk.avi")
    return project, media, target / "walk.avi"


def test_a_moved_video_is_found_by_name_and_content_and_the_relink_undoes(tmp_path):
    project, media, moved = _moved_project(tmp_path)
    decoy = tmp_path / "other" / "walk.avi"  # the same name, another clip: never linked
    decoy.parent.mkdir()
    write_avi(decoy, 7)
    with ProjectStore.open(project) as store:
        [gone] = missing_media(store)
        assert gone.record.id == media and gone.name == "walk.avi"
        assert gone.looked_at == tmp_path / "clips" / "walk.avi"
        assert gone.describe() == f"clips/walk.avi (video): not found at {gone.looked_at}"
        assert search([gone], [tmp_path / "other"]).found == {}
        assert search([gone], [tmp_path]).found == {media: moved}
        assert (
            search([gone], [tmp_path], taken=[moved]).found == {}
        )  # a file that is media already: never twice
        with pytest.raises(ProjectError, match="bytes, not the .* the project recorded: another file"):
            relink_edit(store, media, decoy)
        undo = relink_edit(store, media, moved).apply(store)
        assert store.media(media).path == "moved/deep/walk.avi" and missing_media(store) == []
        redo = undo.apply(store)  # back to the old path (its file is gone: undo does not check files)
        assert store.media(media).path == "clips/walk.avi" and len(missing_media(store)) == 1
        redo.apply(store)
        assert store.media(media).path == "moved/deep/walk.avi"
        with pytest.raises(
            EditConflictError, match="another window relinked this media to moved/deep/walk.avi"
        ):
            redo.apply(
                store
            )  # a stale edit (the path is no longer what it expects): refused, nothing changes
        assert store.media(media).path == "moved/deep/walk.avi"
        assert Edit("relink_media", {"media_id": media, "stored": "x.avi"}).text == "Relink media"


def test_same_name_and_size_but_other_content_is_refused(tmp_path):
    project, media, moved = _moved_project(tmp_path)
    with ProjectStore.open(project) as store:
        impostor = tmp_path / "impostor.avi"
        data = bytearray(moved.read_bytes())
        data[-10] ^= 0xFF  # one byte differs: same size
        impostor.write_bytes(bytes(data))
        with pytest.raises(ProjectError, match="same name and size but other content"):
            relink_edit(store, media, impostor)
        with pytest.raises(ProjectError, match="not a file"):
            relink_edit(store, media, tmp_path / "nowhere.avi")


def test_the_cli_relinks_what_it_finds_and_says_what_is_still_missing(tmp_path, capsys):
    project, media, moved = _moved_project(tmp_path)
    assert main(["project", "relink", str(project)]) == 1
    out = capsys.readouterr()
    assert "missing: clips/walk.avi (video): not found at" in out.err
    assert (
        "relink " + str(project) + " --search FOLDER" in out.err and "0 media relinked, 1 missing" in out.out
    )
    assert main(["project", "relink", str(project), "--search", str(tmp_path / "moved")]) == 0
    assert "clips/walk.avi -> moved/deep/walk.avi" in capsys.readouterr().out
    with ProjectStore.open(project) as store:
        assert store.media_path(media) == moved
    assert main(["project", "relink", str(project), "--media", "1", str(tmp_path / "no.avi")]) == 2
    assert "cannot relink moved/deep/walk.avi: " in capsys.readouterr().err
    with ProjectStore.open(project) as store:
        assert store.media_path(media) == moved  # nothing changed


def test_a_job_and_an_export_name_the_moved_media_once_before_anything_starts(tmp_path):
    from distilpose.project.coco_io import export_coco
    from distilpose.training.project_job import check_project

    project, _media, _moved = _moved_project(tmp_path)
    with ProjectStore.open(project) as store:
        with pytest.raises(DistilPoseError, match=r"1 media file\(s\) with frames to train or score on are "
                           r"missing \(clips/walk.avi \(video\): not found at .*project relink .*p.dpproj --search"):  # fmt: skip
            check_project(store)
        with pytest.raises(DistilPoseError) as info:
            export_coco(store, tmp_path / "out")
        text = str(info.value)
        assert "5 image(s) of the export are missing (if the media moved" in text
        assert text.count("clips/walk.avi not found") == 1 and "(5 frame(s): frame 1, 2, 3, 4, 5)" in text


def test_listing_does_not_write_the_project(tmp_path, capsys):
    from tests.unit.test_project_store import dump_tables

    project, _media, _moved = _moved_project(tmp_path)
    before = dump_tables(project)
    assert main(["project", "relink", str(project)]) == 1
    assert dump_tables(project) == before  # not even the edit history
    capsys.readouterr()


def test_a_folder_needs_the_images_its_frames_point_at(tmp_path):
    from distilpose.project.relink import replacement_problem

    images = tmp_path / "shots"
    images.mkdir()
    for i in range(3):
        (images / f"{i:03d}.jpg").write_bytes(b"\xff\xd8")
    project = tmp_path / "p.dpproj"
    with ProjectStore.create(project) as store:
        media = store.add_media(images, kind="folder")
        store.add_frame(media, 0)
        store.add_frame(media, 2)  # the third image: the folder must hold three
    shutil.move(images, tmp_path / "moved-shots")
    (tmp_path / "elsewhere" / "shots").mkdir(parents=True)  # same name, empty: not it
    (tmp_path / "moved").mkdir()
    shutil.move(tmp_path / "moved-shots", tmp_path / "moved" / "shots")
    with ProjectStore.open(project) as store:
        [gone] = missing_media(store)
        assert gone.images_needed == 3
        assert "0 image(s), but the project's frames of this folder need 3" in replacement_problem(
            gone.record, tmp_path / "elsewhere" / "shots", 3
        )
        assert search([gone], [tmp_path]).found == {media: tmp_path / "moved" / "shots"}


def test_two_media_of_one_name_with_nothing_recorded_are_matched_by_their_folders_or_reported(tmp_path):
    project = tmp_path / "p.dpproj"
    with ProjectStore.create(project) as store:  # added before the files existed: no size, no hash
        a = store.add_media(tmp_path / "a" / "x.jpg", must_exist=False)
        b = store.add_media(tmp_path / "b" / "x.jpg", must_exist=False)
    for sub in ("new/a", "new/b", "loose"):
        (tmp_path / sub).mkdir(parents=True)
        (tmp_path / sub / "x.jpg").write_bytes(b"\xff\xd8" + sub.encode())
    with ProjectStore.open(project) as store:
        missing = missing_media(store)
        result = search(missing, [tmp_path / "new"])
        assert result.found == {a: tmp_path / "new" / "a" / "x.jpg", b: tmp_path / "new" / "b" / "x.jpg"}
        store.apply_edits([relink_edit(store, m, p) for m, p in result.found.items()])
        assert missing_media(store) == []
    with ProjectStore.create(tmp_path / "q.dpproj") as store:
        c = store.add_media(tmp_path / "c" / "x.jpg", must_exist=False)
        result = search(missing_media(store), [tmp_path / "new", tmp_path / "loose"])
        assert result.found == {} and len(result.ambiguous[c]) == 3  # three equally good: never a guess


def test_a_search_stops_at_its_cap_and_says_so(tmp_path, monkeypatch):
    import distilpose.project.relink as relink

    project, media, _moved = _moved_project(tmp_path)
    for i in range(30):
        (tmp_path / "aaa" / f"d{i}").mkdir(parents=True)
    monkeypatch.setattr(relink, "MAX_SEARCHED", 10)
    with ProjectStore.open(project) as store:
        result = search(missing_media(store), [tmp_path / "aaa", tmp_path / "moved"])
        assert result.stopped and result.found == {}


def test_a_search_reports_each_folder_it_looked_through_and_stops_when_the_caller_raises(tmp_path):
    """The app runs a search off the GUI thread with a Cancel button: the hook sees every folder walked, with a
    count that only grows, and an exception from it ends the search with nothing returned."""
    project, media, moved = _moved_project(tmp_path)
    for name in ("a", "b", "c"):
        (tmp_path / "noise" / name).mkdir(parents=True)
    seen: list[tuple[int, Path]] = []
    with ProjectStore.open(project) as store:
        [gone] = missing_media(store)
        result = search([gone], [tmp_path], progress=lambda n, folder: seen.append((n, folder)))
        assert result.found == {media: moved}
        counts = [n for n, _ in seen]
        assert counts == sorted(counts) and counts[-1] >= 8
        assert {tmp_path, moved.parent, tmp_path / "noise" / "b"} <= {folder for _, folder in seen}

        class Stop(Exception):
            pass

        def stop_at_second(n: int, folder: Path) -> None:
            seen.append((n, folder))
            if len(seen) == 2:
                raise Stop(folder)

        seen.clear()
        with pytest.raises(Stop):
            search([gone], [tmp_path], progress=stop_at_second)
        assert len(seen) == 2  # no folder walked after the hook raised
        assert store.media(media).path == "clips/walk.avi"  # nothing relinked


def test_a_candidate_that_cannot_be_read_is_not_it_and_the_search_goes_on(tmp_path, monkeypatch):
    """One unreadable same-named file (no permission, a dropped share) ended the whole search with an OSError;
    now it is skipped and the readable one is found."""
    from distilpose.project import files

    project, media, moved = _moved_project(tmp_path)
    unreadable = tmp_path / "aaa" / "walk.avi"
    unreadable.parent.mkdir()
    shutil.copy(moved, unreadable)
    real = files.file_digest

    def digest(path, *args, **kwargs):
        if Path(path) == unreadable:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(files, "file_digest", digest)
    with ProjectStore.open(project) as store:
        [gone] = missing_media(store)
        found = search([gone], [tmp_path], progress=None).found
    assert found == {media: moved}
    assert search([], [tmp_path], progress=lambda *_: pytest.fail("walked with nothing to find")).found == {}
