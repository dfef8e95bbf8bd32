"""`distilpose project add` and `distilpose project prelabel` (real zoo model, real sample video), with the
Ctrl-C cancel that keeps the frames already done."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from distilpose.cli import main
from distilpose.project import ProjectStore
from tests.conftest import require_zoo_model
from tests.unit.test_project_support import write_jpeg
from tests.unit.test_project_tracks import write_avi

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples"


@pytest.fixture
def project(tmp_path) -> Path:
    path = tmp_path / "p.dpproj"
    assert main(["project", "create", str(path)]) == 0
    return path


def test_add_images_folders_and_every_nth_video_frame(project, tmp_path, capsys):
    write_jpeg(tmp_path / "one.jpg", 32, 24)
    for name in ("b10.jpg", "b2.jpg"):
        write_jpeg(tmp_path / "folder" / name, 32, 24)
    video = write_avi(tmp_path / "clip.avi", 10)
    args = ["project", "add", str(project), str(tmp_path / "one.jpg"), str(tmp_path / "folder"), str(video)]
    assert main([*args, "--every", "3"]) == 0
    assert "4 new media, 7 frame(s) added, 0 already" in capsys.readouterr().out
    with ProjectStore.open(project) as store:
        media = {Path(m.path).name: m for m in store.media_list()}
        assert [m.kind for m in media.values()] == ["image", "image", "image", "video"]
        assert list(media)[:3] == ["one.jpg", "b2.jpg", "b10.jpg"]  # a folder in natural order
        assert [f.index for f in store.frames(media["clip.avi"].id)] == [0, 3, 6, 9]
    assert main([*args, "--every", "2"]) == 0  # frames 2, 4, 8 are new; 0 and 6 were there
    assert "0 new media, 3 frame(s) added, 5 already" in capsys.readouterr().out


def test_add_lists_every_bad_path_and_adds_nothing(project, tmp_path, capsys):
    write_jpeg(tmp_path / "ok.jpg", 32, 24)
    (tmp_path / "notes.txt").write_text("hello")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    code = main(["project", "add", str(project), str(tmp_path / "ok.jpg"), str(tmp_path / "notes.txt"),
                 str(broken), str(tmp_path / "gone.jpg")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "notes.txt: not an image" in err and "broken.mp4" in err and "gone.jpg: not found" in err
    with ProjectStore.open(project) as store:
        assert store.counts()["media"] == 0


def _sample_project(project: Path, tmp_path: Path) -> None:
    shutil.copy(SAMPLE / "sports2d-demo-640.mp4", tmp_path / "demo.mp4")
    shutil.copy(SAMPLE / "astronaut.jpg", tmp_path / "astronaut.jpg")
    args = ["project", "add", str(project), str(tmp_path / "demo.mp4"), str(tmp_path / "astronaut.jpg")]
    assert main([*args, "--every", "4"]) == 0
    with ProjectStore.open(project) as store:
        media = store.find_media(tmp_path / "demo.mp4").id
        for frame in store.frames(media):
            if frame.index > 12:  # keep four video frames (0, 4, 8, 12): a fast test
                store.delete_frame(frame.id)


def test_prelabel_with_tracks_gives_video_people_ids_and_images_none(project, tmp_path, capsys):
    require_zoo_model("movenet-lightning")
    _sample_project(project, tmp_path)
    code = main(["project", "prelabel", str(project), "--model", "movenet-lightning", "--track",
                 "--detector", "full-frame", "--frames", "unlabelled"])  # fmt: skip
    assert code == 0 and "pre-labelled 5 frame(s) with track ids" in capsys.readouterr().out
    with ProjectStore.open(project) as store:
        media = store.find_media(tmp_path / "demo.mp4").id
        video_people = [i for f in store.frames(media) for i in store.instances(f.id)]
        assert len(video_people) == 4 and {p.track_id for p in video_people} == {1}  # one walker, one id
        still = store.find_media(tmp_path / "astronaut.jpg").id
        assert [i.track_id for i in store.instances(store.frames(still)[0].id)] == [None]
    # nothing unlabelled is left
    assert main(["project", "prelabel", str(project), "--model", "movenet-lightning", "--frames", "unlabelled"]) == 0
    assert "no unlabelled frames" in capsys.readouterr().out


def test_ctrl_c_keeps_the_frames_already_done(project, tmp_path, monkeypatch, capsys):
    require_zoo_model("movenet-lightning")
    _sample_project(project, tmp_path)
    from distilpose.pipeline import LivePipeline

    real = LivePipeline.process
    calls = []

    def interrupted(self, image, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C while the third frame runs
        return real(self, image, *args, **kwargs)

    monkeypatch.setattr(LivePipeline, "process", interrupted)
    code = main(["project", "prelabel", str(project), "--model", "movenet-lightning", "--track",
                 "--detector", "full-frame"])  # fmt: skip
    assert code == 130 and "cancelled after 2 frame(s)" in capsys.readouterr().err
    with ProjectStore.open(project) as store:
        held = [f for f in store.frames() if store.instances(f.id)]
        assert len(held) == 2 and store.history()[-1].op == "prelabel"


@pytest.mark.parametrize("suffix", [".ts", ".mts", ".m2ts"])
def test_a_transport_stream_is_added_as_a_video_with_the_right_pictures(project, tmp_path, capsys, suffix):
    """Camcorders write .mts / .m2ts and broadcast captures .ts: they are videos to `project add` (before, "not
    an image"), and the frames the project stores show the pictures of those frame numbers."""
    from distilpose.video import VideoReader
    from tests.unit.test_video import read_number, write_numbered_video

    video = tmp_path / f"clip{suffix}"
    write_numbered_video(video, 24)
    assert main(["project", "add", str(project), str(video), "--every", "5"]) == 0
    assert "1 new media, 5 frame(s) added" in capsys.readouterr().out
    with ProjectStore.open(project) as store:
        (media,) = store.media_list()
        assert media.kind == "video"
        indices = [f.index for f in store.frames(media.id)]
    assert indices == [0, 5, 10, 15, 20]
    with VideoReader(video, index_cache=None) as reader:
        assert [read_number(reader.frame(i)) for i in reversed(indices)] == indices[::-1]
