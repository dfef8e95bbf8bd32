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
        assert gone.looked_at == tmp_path / "clips" / "walk.avi" and "not found at" in gone.describe()
        assert search([gone], [tmp_path / "other"]) == {}
        assert search([gone], [tmp_path]) == {media: moved}
        with pytest.raises(ProjectError, match="bytes, not the .* the project recorded: another file"):
            relink_edit(store, media, decoy)
        undo = relink_edit(store, media, moved).apply(store)
        assert store.media(media).path == "moved/deep/walk.avi" and missing_media(store) == []
        redo = undo.apply(store)  # back to the old path (its file is gone: undo does not check files)
        assert store.media(media).path == "clips/walk.avi" and len(missing_media(store)) == 1
        redo.apply(store)
        assert store.media(media).path == "moved/deep/walk.avi"
        with pytest.raises(EditConflictError, match="now points at moved/deep/walk.avi, not clips/walk.avi"):
            redo.apply(store)  # a stale edit (the path is no longer what it expects): refused, nothing changes
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
    assert "missing: media 1 (video) clips/walk.avi: not found at" in out.err
    assert "relink " + str(project) + " --search FOLDER" in out.err and "0 media relinked, 1 missing" in out.out
    assert main(["project", "relink", str(project), "--search", str(tmp_path / "moved")]) == 0
    assert "media 1: clips/walk.avi -> moved/deep/walk.avi" in capsys.readouterr().out
    with ProjectStore.open(project) as store:
        assert store.media_path(media) == moved
    assert main(["project", "relink", str(project), "--media", "1", str(tmp_path / "no.avi")]) == 2
    assert "cannot relink media 1 (moved/deep/walk.avi): " in capsys.readouterr().err  # and nothing changed


def test_a_job_and_an_export_name_the_moved_media_once_before_anything_starts(tmp_path):
    from distilpose.project.coco_io import export_coco
    from distilpose.training.project_job import check_project

    project, _media, _moved = _moved_project(tmp_path)
    with ProjectStore.open(project) as store:
        with pytest.raises(DistilPoseError, match=r"1 media file\(s\) with frames to train or score on are "
                           r"missing \(media 1 \(video\) clips/walk.avi: not found at .*project relink"):  # fmt: skip
            check_project(store)
        with pytest.raises(DistilPoseError) as info:
            export_coco(store, tmp_path / "out")
        text = str(info.value)
        assert "5 image(s) of the export are missing (if the media moved" in text
        assert text.count("walk.avi not found") == 1 and "(5 frame(s): frame 1, 2, 3, 4, 5)" in text
