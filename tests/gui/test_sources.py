"""Sources in the window: videos (stepping, seeking, playing), folders, cameras, recent files, drops, and
damaged inputs that are reported while the app stays usable."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QMimeData, QUrl

from .conftest import write_video

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "sports2d-demo-640.mp4"


def grey(window) -> float:
    return float(window.state.image[60, 80].mean())


def test_video_stepping_seeking_and_playing(qtbot, live_window, small_video) -> None:
    win = live_window
    assert win.open_video(small_video)
    assert win.state.media_kind == "video" and win.state.frame_count == 12
    assert win.transport.isVisible()
    assert (win.transport.slider.minimum(), win.transport.slider.maximum()) == (0, 11)
    assert abs(grey(win) - 0) <= 4
    win.next_frame_action.trigger()
    assert win.state.frame_index == 1 and abs(grey(win) - 10) <= 4
    win.transport.frame_box.setValue(7)  # jump to frame
    assert win.state.frame_index == 7 and abs(grey(win) - 70) <= 4
    win.transport.slider.setValue(3)  # the seek bar
    assert win.state.frame_index == 3 and abs(grey(win) - 30) <= 4
    assert win.transport.frame_box.value() == 3
    win.prev_frame_action.trigger()
    assert win.state.frame_index == 2
    win.forward_action.trigger()
    assert win.state.frame_index == 11  # clamped to the last frame
    assert win.windowTitle().startswith("clip.mp4 [11/11]")
    win.transport.frame_box.setValue(8)
    win.play_action.trigger()
    assert win.player.playing and win.transport.play_button.text() == "❚❚"
    qtbot.waitUntil(lambda: not win.player.playing, timeout=10_000)  # stops at the end
    assert win.state.frame_index == 11 and abs(grey(win) - 110) <= 4
    assert win.errors == []


def test_an_avi_with_b_frames_plays_and_seeks_to_the_right_pictures(qtbot, live_window, tmp_path) -> None:
    """H.264 in AVI (no presentation times: stamps in decode order): opening and playing it reported 'frame N
    is missing from the file' for frames that decode. Each frame shown is the one its number says, played
    through and sought."""
    from tests.unit.test_video import read_number, write_numbered_video

    win, state = live_window, live_window.state
    clip = tmp_path / "numbered.avi"
    write_numbered_video(clip, 30)
    assert win.open_video(clip)
    assert state.media_kind == "video" and state.frame_count == 30
    shown: list[tuple[int, int]] = []
    state.frameChanged.connect(lambda: shown.append((state.frame_index, read_number(state.image))))
    win.player.rate = 0  # as fast as frames can be shown
    win.play_action.trigger()
    qtbot.waitUntil(lambda: not win.player.playing, timeout=20_000)
    assert shown == [(i, i) for i in range(1, 30)]
    for i in (17, 4, 3, 25, 0, 9):
        win.transport.slider.setValue(i)
        assert state.frame_index == i and read_number(state.image) == i
    assert win.errors == []


def test_live_inference_follows_the_video(qtbot, live_window, small_video) -> None:
    win = live_window
    assert win.open_video(small_video)
    win.live.set_enabled(True)
    qtbot.waitUntil(win.state.pending.is_idle, timeout=10_000)
    win.transport.frame_box.setValue(5)
    qtbot.waitUntil(
        lambda: win.state.prediction is not None and win.state.prediction.index == 5, timeout=10_000
    )
    assert len(win.state.prediction.instances) == 1  # full-frame box


def test_truncated_and_corrupt_videos_are_reported_and_the_app_stays_usable(
    qtbot, live_window, small_video, tmp_path
) -> None:
    win = live_window
    assert win.open_video(small_video)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(SAMPLE.read_bytes()[:200_000])  # the sample without its index (moov) at the end
    assert not win.open_video(cut)
    title, text = win.errors[-1]
    assert title == "Cannot open video" and text.startswith(f"{cut}: not a readable video")
    assert win.statusBar().currentMessage() == text
    garbage = tmp_path / "noise.mp4"
    garbage.write_bytes(np.random.default_rng(2).bytes(20_000))
    assert not win.open_path(garbage)
    assert "not a readable video" in win.errors[-1][1]
    assert win.state.source.path == small_video and win.state.frame_count == 12  # still showing the old one
    win.next_frame_action.trigger()
    assert win.state.frame_index == 1
    assert win.open_video(SAMPLE)  # and a good file opens afterwards
    assert win.state.frame_count == 230


def test_a_streamable_video_cut_short_opens_with_a_warning(live_window, tmp_path) -> None:
    import av

    whole = tmp_path / "whole.mp4"
    with av.open(str(SAMPLE)) as inp, av.open(str(whole), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert live_window.open_video(cut)
    title, text = live_window.errors[-1]
    assert title == "Video is incomplete"
    n = live_window.state.frame_count  # packets held; the last may be cut short (issue 23: decoded to count)
    readable = n - len(live_window.state.source.check_frames().undecodable)
    assert 50 < readable <= n < 230 and f"{readable} of 230 frames are readable" in text


def test_unreadable_image_and_failing_camera_are_reported(live_window, figure_files, tmp_path) -> None:
    win = live_window
    assert win.open_image(figure_files.image)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff not a jpeg")
    assert not win.open_image(bad)
    assert win.errors[-1] == (
        "Cannot open image",
        f"{bad}: not a readable image (corrupt file or unsupported format)",
    )
    assert not win.open_camera(99)
    assert win.errors[-1] == (
        "Cannot open camera",
        "camera 99: cannot be opened (no such device, or it is in use)",
    )
    assert win.state.image_path == figure_files.image and win.canvas.has_image()  # unchanged, usable
    assert win.open_image(figure_files.image)


def test_camera_frames_flow_and_a_disconnect_is_reported(qtbot, live_window, tmp_path) -> None:
    """OpenCV opens a file like a device: the camera path end to end without hardware."""
    win = live_window
    clip = write_video(tmp_path / "camera.mp4", 8)
    win.live.set_enabled(True)
    assert win.open_camera(str(clip))
    assert win.state.media_kind == "camera" and not win.transport.isVisible()
    qtbot.waitUntil(lambda: win.camera.thread is None, timeout=10_000)  # the "device" ran out of frames
    assert win.errors[-1][0] == "Camera stopped" and "no frame" in win.errors[-1][1]
    assert win.state.frame_index >= 0 and win.state.image is not None  # the last frame stays on screen
    qtbot.waitUntil(win.state.pending.is_idle, timeout=10_000)
    assert win.state.prediction is not None  # live inference ran on camera frames
    assert win.live.worker.counters.submitted >= 1


def test_folder_of_images_with_annotations(qtbot, live_window, figure_files, tmp_path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    shutil.copy(figure_files.image, folder / "figure.png")
    assert cv2.imwrite(str(folder / "a_first.png"), np.zeros((50, 60, 3), np.uint8))
    win = live_window
    assert win.open_annotations(figure_files.ann)
    win.dialogs.folder = lambda *_: str(folder)
    win.open_folder_action.trigger()
    assert win.state.media_kind == "folder" and win.state.frame_count == 2
    assert win.state.image_path.name == "a_first.png" and win.state.instances == []
    win.next_frame_action.trigger()
    assert win.state.image_path.name == "figure.png"
    assert len(win.canvas.instance_items) == 2  # the folder's image is matched in the annotations
    assert win.size_label.text() == "240 × 240"


def test_recent_files_and_dropping_a_video(qtbot, live_window, small_video, figure_files) -> None:
    from distilpose.app.recent import RecentFiles

    win = live_window
    assert win.open_image(figure_files.image)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(small_video))])
    from .test_main_window import _drag_and_drop

    assert _drag_and_drop(win, mime)
    assert win.state.media_kind == "video"
    assert win.recent.entries[:2] == [small_video.resolve(), figure_files.image.resolve()]
    win._fill_recent_menu()
    actions = [a for a in win.recent_menu.actions() if a.data()]
    assert [a.data() for a in actions] == [str(small_video.resolve()), str(figure_files.image.resolve())]
    actions[1].trigger()
    assert win.state.media_kind == "image"
    assert RecentFiles(win.recent.path).entries[0] == figure_files.image.resolve()  # persisted
