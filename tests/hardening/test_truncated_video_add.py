"""A truncated video is never added without a word (issue 23, defect 7). Found by the attack: a faststart MP4
cut at 30 % was added with 61 of its 230 declared frames, and frames 58-60 of those could not be decoded
later. ``project add`` now decodes every frame once, adds the frames that decode and says the video is
truncated; the reader no longer loses the frames the decoder holds back (B-frames) when a packet is cut; and
the app says so when it opens such a video."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from distilpose.cli import main
from distilpose.errors import MediaError
from distilpose.project import ProjectStore
from distilpose.video import VideoReader

pytestmark = pytest.mark.timeout(120)

DECLARED = 230


def _textured_video(path: Path) -> Path:
    """A faststart H.264 MP4 (header first, B-frames) of noise scrolling sideways: the frame data, not the
    header, is most of the file, so a cut at 30 % keeps a quarter of the frames."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = {"x264-params": "keyint=30:bframes=2", "crf": "23"}
        for i in range(DECLARED):
            frame = av.VideoFrame.from_ndarray(np.roll(base, i, axis=1), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def cut_video(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("video")
    whole = _textured_video(folder / "whole.mp4")
    cut = folder / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.3)])
    return cut


def _decodable(path: Path) -> list[int]:
    """Frames the reader gives, asked one by one in order and then backwards (seeks)."""
    good = []
    with VideoReader(path, index_cache=None) as video:
        for k in [*range(len(video)), *range(len(video) - 1, -1, -1)]:
            try:
                video.frame(k)
            except MediaError as exc:
                assert str(exc).startswith(f"{path}: frame {k} ")
                continue
            good.append(k)
    return sorted(set(good))


def test_project_add_adds_the_frames_that_decode_and_says_the_video_is_truncated(tmp_path, cut_video, capsys):
    project = tmp_path / "p.dpproj"
    ProjectStore.create(project).close()
    assert main(["project", "add", str(project), str(cut_video)]) == 0
    captured = capsys.readouterr()
    good = _decodable(cut_video)
    with VideoReader(cut_video, index_cache=None) as video:
        held = len(video)
    assert len(good) < held < DECLARED  # the cut left packets that do not decode
    warning = captured.err.strip()
    assert warning.startswith(
        f"warning: {cut_video}: the file looks truncated: {len(good)} of {DECLARED} frames"
    )
    assert "only the frames that decode were added" in warning
    with ProjectStore.open(project) as store:
        (media,) = store.media_list()
        added = sorted(f.index for f in store.frames(media.id))
    assert added == good  # every added frame decodes, none that decodes is left out
    assert f"{len(good)} frame(s) added" in captured.out


def test_the_frames_held_back_for_reordering_are_read(cut_video):
    """Found with defect 7: a packet cut short ended decoding, and the B-frames the decoder still held were
    lost (frames 58 and 59 of 61); only the cut frame itself is unreadable now."""
    with VideoReader(cut_video, index_cache=None) as video:
        held = len(video)
        check = video.check_frames()
    assert check.undecodable == (held - 1,)
    assert _decodable(cut_video) == list(range(held - 1))


def test_the_check_is_cached_with_the_frame_index(tmp_path, cut_video, monkeypatch):
    with VideoReader(cut_video, index_cache=tmp_path) as video:
        first = video.check_frames()
    with VideoReader(cut_video, index_cache=tmp_path) as video:
        monkeypatch.setattr(VideoReader, "_seek", lambda *a: pytest.fail("decoded again"))
        assert video.check_frames() == first and video.problem() == first.problem(cut_video)


def test_the_app_says_so_when_it_opens_a_truncated_video(qtbot, cut_video):
    from distilpose.app.main_window import MainWindow
    from distilpose.app.state import AppState

    errors: list[tuple[str, str]] = []
    window = MainWindow(AppState(), error_sink=lambda _parent, title, text: errors.append((title, text)))
    qtbot.addWidget(window)
    assert window.open_video(cut_video)
    title, text = errors[-1]
    good = len(_decodable(cut_video))
    assert title == "Video is incomplete"
    assert text.startswith(f"{cut_video}: the file looks truncated: {good} of {DECLARED} frames are readable")
    assert "cannot be decoded" in text


def test_a_sound_video_is_added_whole_without_a_word(tmp_path, capsys):
    video = _textured_video(tmp_path / "whole.mp4")
    project = tmp_path / "p.dpproj"
    ProjectStore.create(project).close()
    assert main(["project", "add", str(project), str(video), "--every", "10"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    with ProjectStore.open(project) as store:
        (media,) = store.media_list()
        assert sorted(f.index for f in store.frames(media.id)) == list(range(0, DECLARED, 10))
