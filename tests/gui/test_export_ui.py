"""Batch export from the window: a worker thread with progress and cancel, files only when complete."""

from __future__ import annotations

import os
import stat

from PySide6.QtWidgets import QPushButton

from distilpose.coco import load_coco, load_keypoint_results
from distilpose.video import VideoReader

from .conftest import wait_idle


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_export_writes_results_images_and_video(qtbot, live_window, small_video, tmp_path) -> None:
    win = live_window
    assert win.open_video(small_video)
    out = tmp_path / "exports" / "clip_preds"  # no suffix: .json is added
    win.dialogs.save_file = lambda *_: str(out)
    with qtbot.waitSignal(win.predictions.finished, timeout=60_000) as done:
        win.export_action.trigger()
        assert win.predictions.dialog is not None and win.predictions.dialog.isVisible()
    assert done.args == [True]
    result = win.predictions.result
    assert result.results_path == out.with_suffix(".json")
    preds = load_keypoint_results(result.results_path)
    assert sorted(p.image_id for p in preds) == list(range(1, 13))  # one person per frame, full-frame boxes
    images = load_coco(result.images_path)
    assert [img.file_name for img in images.images][:2] == ["clip.mp4#frame=0", "clip.mp4#frame=1"]
    # The rendered video gets the mode a plain open() gives, like the JSON files (not mkstemp's 0600).
    modes = {stat.S_IMODE(p.stat().st_mode) for p in (result.results_path, result.images_path, result.video_path)}
    assert modes == {0o666 & ~_umask()}
    video = VideoReader(result.video_path, index_cache=None)
    assert len(video) == 12 and (video.width, video.height) == (160, 120)
    assert "Exported 12 predictions from 12 frames" in win.statusBar().currentMessage()
    wait_idle(qtbot, win.state)
    assert win.predictions.thread is None and win.predictions.dialog is None


def test_cancelled_export_writes_nothing(qtbot, live_window, small_video, fake_loader, tmp_path) -> None:
    win = live_window
    fake_loader.delay_s = 0.15  # slow enough to cancel mid-way
    assert win.open_video(small_video)
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    assert win.predictions.start(out_dir / "p.json")
    qtbot.waitUntil(lambda: win.predictions.dialog is not None and win.predictions.dialog.value() >= 1, timeout=20_000)
    with qtbot.waitSignal(win.predictions.finished, timeout=20_000) as done:
        win.predictions.dialog.findChild(QPushButton).click()  # the dialog's Cancel button
    assert done.args == [False]
    assert "export cancelled after" in win.statusBar().currentMessage()
    assert list(out_dir.iterdir()) == []
    assert win.state.pending.is_idle()


def test_export_needs_media(live_window, tmp_path) -> None:
    assert not live_window.predictions.start(tmp_path / "x.json")
    assert live_window.errors[-1][0] == "Nothing to export"
