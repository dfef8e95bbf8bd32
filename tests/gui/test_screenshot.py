"""``distilpose-studio --screenshot``: what lands in the PNG, waiting for pending work, and clean failures."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QTimer

from distilpose.app.main import main, parse_size
from distilpose.app.main_window import MainWindow
from distilpose.app.pending import PendingWork
from distilpose.app.screenshot import ScreenshotError, take_screenshot, wait_until_idle
from distilpose.app.state import AppState
from distilpose.keypoints import KEYPOINT_COLORS

from .conftest import FIGURE_BG_RGB, FIGURE_SIZE, PERSON_A, PERSON_B


def _read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"{path} is not a readable image"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _image_rect_on_screen(shot: np.ndarray) -> tuple[float, float, float]:
    """Where the figure image landed in the screenshot: (left, top, scale), found from its unique background."""
    mask = (np.abs(shot.astype(int) - FIGURE_BG_RGB) <= 6).all(axis=2).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    assert n > 1, "the image is not visible in the screenshot"
    biggest = 1 + int(
        np.argmax(stats[1:, cv2.CC_STAT_AREA])
    )  # icons may share the colour; the image is largest
    left, top, w, h = (int(v) for v in stats[biggest, :4])
    assert stats[biggest, cv2.CC_STAT_AREA] > 0.8 * w * h, "the image region is not a filled rectangle"
    right, bottom = left + w, top + h
    sx, sy = (right - left) / FIGURE_SIZE[0], (bottom - top) / FIGURE_SIZE[1]
    assert sx == pytest.approx(sy, rel=0.02)
    return float(left), float(top), (sx + sy) / 2


def test_screenshot_shows_keypoints_in_their_colours_where_they_belong(qapp, figure_files, tmp_path) -> None:
    plain = tmp_path / "plain.png"
    annotated = tmp_path / "annotated.png"
    size = ["--size", "800x600"]
    assert main([str(figure_files.image), "--screenshot", str(plain), *size]) == 0
    assert (
        main([str(figure_files.image), "--ann", str(figure_files.ann), "--screenshot", str(annotated), *size])
        == 0
    )
    shot_plain, shot = _read_rgb(plain), _read_rgb(annotated)
    assert shot.shape == shot_plain.shape == (600, 800, 3)
    left, top, scale = _image_rect_on_screen(shot_plain)
    assert scale > 1.5  # the 240 px image is fitted into a ~500 px high canvas

    def screen(x: float, y: float) -> tuple[int, int]:
        return int(left + x * scale), int(top + y * scale)

    checked = 0
    for person in (PERSON_A, PERSON_B):
        for k, (x, y, v) in enumerate(person):
            if v != 2:
                continue
            sx, sy = screen(x, y)
            colour = shot[sy, sx].astype(int)
            assert np.abs(colour - KEYPOINT_COLORS[k]).max() <= 12, (k, tuple(colour), KEYPOINT_COLORS[k])
            assert np.abs(shot_plain[sy, sx].astype(int) - KEYPOINT_COLORS[k]).max() > 40
            checked += 1
    assert checked == 15 + 3
    # The unlabelled left wrist (v=0) is not drawn: the annotated render equals the plain one around it.
    wx, wy = screen(*PERSON_A[9, :2])
    patch = np.s_[wy - 6 : wy + 7, wx - 6 : wx + 7]
    assert np.abs(shot[patch].astype(int) - shot_plain[patch].astype(int)).max() <= 2


def test_screenshot_waits_for_pending_work(qtbot, figure_files, tmp_path) -> None:
    """Work finished by a timer after load() returned still makes it into the picture."""
    state = AppState()
    window = MainWindow(state)
    qtbot.addWidget(window)
    window.resize(640, 480)
    out = tmp_path / "later.png"

    def load() -> None:
        state.pending.begin("slow load")

        def finish() -> None:
            state.open_image(figure_files.image)
            state.pending.end("slow load")

        QTimer.singleShot(300, finish)

    assert take_screenshot(window, state.pending, out, load=load) == 0
    assert state.pending.is_idle()
    _image_rect_on_screen(_read_rgb(out))  # the image loaded by the deferred work is visible


def test_wait_until_idle_times_out_naming_the_work(qapp) -> None:
    pending = PendingWork()
    pending.begin("inference")
    pending.begin("inference")
    with pytest.raises(ScreenshotError, match=r"waiting for: inference x2"):
        wait_until_idle(pending, timeout_s=0.2)
    pending.end("inference")
    pending.end("inference")
    wait_until_idle(pending, timeout_s=0.2)
    with pytest.raises(RuntimeError, match="without a matching begin"):
        pending.end("inference")


def test_missing_image_fails_with_a_message_and_no_file(qapp, tmp_path, capsys) -> None:
    out = tmp_path / "shot.png"
    missing = tmp_path / "missing.jpg"
    assert main([str(missing), "--screenshot", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"screenshot not written: {missing}: file not found" in err
    assert not out.exists()


def test_broken_annotations_fail_listing_the_problems(qapp, figure_files, tmp_path, capsys) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"images": [], "annotations": []}', encoding="utf-8")
    out = tmp_path / "shot.png"
    assert main([str(figure_files.image), "--ann", str(bad), "--screenshot", str(out)]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "categories" in err
    assert not out.exists()


def test_unwritable_output_fails_cleanly(qapp, figure_files, tmp_path, capsys) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = blocker / "shot.png"
    assert main([str(figure_files.image), "--screenshot", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{out}: cannot write the screenshot" in err
    assert blocker.read_text() == "not a folder"


def test_size_argument() -> None:
    assert parse_size("1280x800") == (1280, 800)
    assert parse_size("64X48") == (64, 48)
    for bad in ("1280", "0x10", "axb", "10x10x10", "-5x10"):
        with pytest.raises(Exception, match="size must"):
            parse_size(bad)
    with pytest.raises(SystemExit) as info:
        main(["--size", "wide", "--screenshot", "x.png"])
    assert info.value.code == 2


VIRIDIS_LOW = (68, 1, 84)  # the colormap's lowest value: the heatmap dock's background


def _near(shot: np.ndarray, rgb: tuple[int, int, int], tol: int = 12) -> int:
    return int((np.abs(shot.astype(int) - rgb) <= tol).all(axis=2).sum())


def _colourful(shot: np.ndarray) -> int:
    """Saturated pixels: the test video is grey, so on the canvas only overlays are colourful."""
    s = shot.astype(int)
    return int((s.max(axis=2) - s.min(axis=2) > 60).sum())


@pytest.mark.slow
def test_screenshot_of_a_video_frame_with_live_inference_and_heatmaps(qapp, tmp_path) -> None:
    from .conftest import write_video

    clip = write_video(tmp_path / "clip.mp4", 6)
    plain, live = tmp_path / "plain.png", tmp_path / "live.png"
    common = [str(clip), "--frame", "3", "--size", "1000x700"]
    assert main([*common, "--screenshot", str(plain)]) == 0
    args = ["--model", "distilpose-t", "--detector", "full-frame", "--heatmaps", "--threshold", "0"]
    assert main([*common, *args, "--screenshot", str(live)]) == 0
    shot_plain, shot = _read_rgb(plain), _read_rgb(live)
    assert _near(shot_plain, VIRIDIS_LOW) == 0
    assert _near(shot, VIRIDIS_LOW) > 2000  # the heatmap image is in the picture
    # The first inference result was waited for: coloured markers are drawn on the grey frame (the canvas is
    # the left half of the window; the docks are on the right).
    canvas = np.s_[60:640, :450]
    assert _colourful(shot_plain[canvas]) < 50  # the transport's blue slider at most
    assert _colourful(shot[canvas]) - _colourful(shot_plain[canvas]) > 300


def test_bad_live_arguments_fail_before_any_window(qapp, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--model", "distilpose-x", "--screenshot", str(tmp_path / "x.png")])
    assert info.value.code == 2
    assert "unknown model 'distilpose-x'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--teacher", str(tmp_path / "missing.safetensors"), "--screenshot", str(tmp_path / "x.png")])
    assert "missing.safetensors: no such checkpoint file" in capsys.readouterr().err


def test_screenshot_of_a_missing_frame_or_camera_fails_cleanly(qapp, tmp_path, capsys) -> None:
    from .conftest import write_video

    clip = write_video(tmp_path / "clip.mp4", 4)
    out = tmp_path / "shot.png"
    assert main([str(clip), "--frame", "9", "--screenshot", str(out)]) == 1
    assert "clip.mp4: frame 9 out of range (0..3)" in capsys.readouterr().err
    assert main(["--camera", "99", "--screenshot", str(out)]) == 1
    assert "camera 99: cannot be opened" in capsys.readouterr().err
    assert not out.exists()
