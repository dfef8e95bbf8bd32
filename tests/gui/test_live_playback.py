"""Playing a video with live inference: every skeleton on screen belongs to the frame on screen (the picture
moves on only with its result; a slow model drops frames, never shows them late), a result that comes back
after the user moved on is not drawn, and ``--play --stats-json`` measures the window itself."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from .conftest import wait_idle, write_video


def _grey(image: np.ndarray) -> float:
    return float(image.mean())


class Gate:
    """Holds the fake model inside its run until the test opens the gate: a model as slow as the test says,
    with explicit steps instead of a delay racing the clock."""

    def __init__(self, runtime) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()  # the model is running a frame
        inner = runtime.run

        def run(batch):
            self.entered.set()
            self.opened.wait(30)
            return inner(batch)

        runtime.run = run

    def open(self) -> None:
        self.opened.set()


def test_playing_shows_each_frame_with_its_own_result(qtbot, live_window, tmp_path, fake_loader) -> None:
    win, state = live_window, live_window.state
    video = write_video(tmp_path / "clip.mp4", 20)  # 10 fps, frame i is grey 10*i
    assert win.open_video(video)
    win.live.set_enabled(True)
    wait_idle(qtbot, state)
    gate = Gate(fake_loader.runtimes[-1])  # the model holds its first frame while the video plays on
    seen: list[tuple[int, int | None, float]] = []

    def on_prediction() -> None:
        if state.prediction is not None:
            seen.append((state.frame_index, state.prediction.index, _grey(state.image)))

    state.predictionsChanged.connect(on_prediction)
    try:
        win.player.play()
        # Frames keep coming every 100 ms while the model is held: the one waiting is replaced (dropped).
        qtbot.waitUntil(lambda: win.live.playback_report()["dropped"] > 0, timeout=10_000)
    finally:
        gate.open()
    qtbot.waitUntil(lambda: not win.player.playing, timeout=30_000)
    assert seen, "no result was shown while playing"
    for frame, result_frame, grey in seen:
        assert result_frame == frame  # never an older result over a newer frame
        assert abs(grey - 10 * frame) < 4  # and the picture is that frame's (grey level = 10 x index)
    assert seen[-1][0] == 19  # played to the end, and the last frame was shown with its result
    report = win.live.playback_report()
    assert report["dropped"] > 0 and report["shown"] == report["shown_with_own_result"] == len(seen)
    assert report["shown_with_other_result"] == 0
    assert state.frame_index == 19 and not win.errors


def test_a_result_that_comes_back_after_a_step_is_not_drawn(qtbot, live_window, small_video, fake_loader) -> None:
    win, state = live_window, live_window.state
    assert win.open_video(small_video)
    win.live.set_enabled(True)
    wait_idle(qtbot, state)
    gate = Gate(fake_loader.runtimes[-1])
    try:
        win.player.step(1)  # frame 1 goes to the model...
        qtbot.waitUntil(gate.entered.is_set, timeout=10_000)
        win.player.step(1)  # ...and the user is on frame 2 before its result is back
        assert state.prediction is None  # frame 0's result went with frame 0
    finally:
        gate.open()
    wait_idle(qtbot, state)
    assert state.frame_index == 2 and state.prediction is not None and state.prediction.index == 2


def test_play_writes_the_windows_own_figures(qtbot, tmp_path: Path) -> None:
    from distilpose.app.main import main

    video = write_video(tmp_path / "clip.mp4", 8)
    out = tmp_path / "stats.json"
    args = [str(video), "--model", "distilpose-t", "--runtime", "torch", "--detector", "full-frame"]
    assert main([*args, "--play", "--play-rate", "0", "--stats-json", str(out)]) == 0
    stats = json.loads(out.read_text())
    assert stats["model"] == "distilpose-t" and stats["runtime"] == "torch" and stats["errors"] == []
    # Unpaced: frame 0 was inferred before Play, then frames 1..7, each shown with its own result.
    assert stats["shown"] == stats["shown_with_own_result"] == 7 and stats["dropped"] == 0
    assert stats["fps"] > 0 and stats["frame_ms_p99"] >= stats["frame_ms_p50"] > 0
    assert 1 <= stats["detector_runs"] <= 7 and stats["play_rate"] == "unpaced"  # tracked frames need none
    # Per stage, the bench's and the window's own, so the window's cost is explained stage by stage.
    stages = stats["stage_ms"]
    assert {"decode", "detect", "pose", "starved", "hop", "image", "overlay", "views", "paint", "draw"} <= set(stages)
    assert stats["starved_ms"] >= 0  # the model's wait for frames the window had not decoded yet
    assert all(0 <= s["p50"] <= s["p99"] for s in stages.values())
    assert stages["draw"]["p50"] >= stages["image"]["p50"]  # drawing a frame includes its picture


def test_a_played_video_is_decoded_off_the_gui_thread(qtbot, live_window, tmp_path, fake_loader, monkeypatch) -> None:
    """A decode on the GUI thread made a result that arrived meanwhile wait for it before it was drawn (the
    pose2sim clip's p99, ADR 0020 amendment 4): while playing, every frame is decoded by the reader's thread."""
    from distilpose.video import VideoReader

    win, state = live_window, live_window.state
    video = write_video(tmp_path / "clip.mp4", 15)
    assert win.open_video(video)
    win.live.set_enabled(True)
    wait_idle(qtbot, state)
    decoded: list[tuple[int, str]] = []
    frame = VideoReader.frame

    def record(self, index):
        decoded.append((index, threading.current_thread().name))
        return frame(self, index)

    monkeypatch.setattr(VideoReader, "frame", record)
    win.player.rate = 0
    win.player.play()
    qtbot.waitUntil(lambda: not win.player.playing, timeout=30_000)
    assert [i for i, _ in decoded] == list(range(1, 15))  # each frame once, in order
    assert {name for _, name in decoded} == {"frame-reader"}  # never on the GUI thread
    report = win.live.playback_report()
    assert report["shown"] == report["shown_with_own_result"] == 14 and report["dropped"] == 0
    assert abs(_grey(state.image) - 140) < 4 and not win.errors  # the last frame, with its own result
    assert win.live._reader is None  # the reader stopped with the player


def test_moving_the_slider_while_playing_reads_on_from_there(qtbot, live_window, tmp_path, fake_loader) -> None:
    win, state = live_window, live_window.state
    video = write_video(tmp_path / "clip.mp4", 20)
    assert win.open_video(video)
    win.live.set_enabled(True)
    wait_idle(qtbot, state)
    gate = Gate(fake_loader.runtimes[-1])  # the model holds a frame while the user moves the slider
    shown: list[tuple[int, float]] = []
    state.predictionsChanged.connect(
        lambda: shown.append((state.frame_index, _grey(state.image))) if state.prediction is not None else None
    )
    win.player.rate = 0
    try:
        win.player.play()
        qtbot.waitUntil(gate.entered.is_set, timeout=10_000)
        win.transport.slider.setValue(12)  # a seek while frame 1 is in the model
        assert state.frame_index == 12
    finally:
        gate.open()
    qtbot.waitUntil(lambda: not win.player.playing, timeout=30_000)
    after = [frame for frame, _ in shown if frame > 1]
    assert after == list(range(13, 20))  # on from the slider's frame, in order, none skipped
    assert all(abs(grey - 10 * frame) < 4 for frame, grey in shown)  # each with its own picture
    assert not win.errors


def test_a_frame_that_cannot_be_read_while_playing_pauses_with_a_message(
    qtbot, live_window, tmp_path, fake_loader, monkeypatch
) -> None:
    """The reader's error reaches the window at its frame, after the frames before it were shown; an
    unexpected one (a bug) too: the player pauses, the window stays, and nothing ticks on without frames."""
    from distilpose.errors import MediaError
    from distilpose.video import VideoReader

    win, state = live_window, live_window.state
    frame = VideoReader.frame
    for bad, error, words in (
        (5, MediaError("clip.mp4: frame 5 cannot be decoded (corrupt or truncated file)"), "frame 5 cannot be"),
        (3, RuntimeError("decoder blew up"), "unexpected error: RuntimeError: decoder blew up"),
    ):
        video = write_video(tmp_path / f"clip{bad}.mp4", 10)
        assert win.open_video(video)
        win.live.set_enabled(True)
        wait_idle(qtbot, state)

        def broken(self, index, bad=bad, error=error):
            if index == bad:
                raise error
            return frame(self, index)

        monkeypatch.setattr(VideoReader, "frame", broken)
        win.errors.clear()
        win.player.rate = 0
        win.player.play()
        qtbot.waitUntil(lambda: not win.player.playing, timeout=30_000)
        assert [title for title, _ in win.errors] == ["Cannot read the frame"]
        assert words in win.errors[0][1]
        wait_idle(qtbot, state)
        assert state.frame_index == bad - 1 and state.prediction.index == bad - 1  # the frames before, shown
        monkeypatch.setattr(VideoReader, "frame", frame)
