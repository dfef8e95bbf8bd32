"""What the window does per played frame that the bench does not (issue 27, ADR 0020): Qt's fills stay on the
GUI thread on a machine with few cores, and the window title does not change with every played frame."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from distilpose.app.display import NO_GUI_THREADPOOL, paint_on_gui_thread

from .conftest import wait_idle, write_video

# Paints what a played frame's overlay paints (a long antialiased limb, the fills Qt hands to its pool when
# allowed), then prints the process's thread names. argv[1] == "app": the QApplication comes from the app's
# `application()` on a 2-core machine; otherwise a bare one (the control: Qt's own default).
PAINT = """
import os, sys
os.cpu_count = lambda: 2
from PySide6.QtCore import QLineF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
if sys.argv[1] == "app":
    from distilpose.app.main import application
    app = application()
else:
    from PySide6.QtWidgets import QApplication
    app = QApplication(sys.argv[:1])
image = QImage(900, 600, QImage.Format.Format_RGB32)
painter = QPainter(image)
painter.setRenderHint(QPainter.RenderHint.Antialiasing)
pen = QPen(QColor(255, 0, 0, 200), 3)
pen.setCapStyle(Qt.PenCapStyle.RoundCap)
painter.setPen(pen)
for i in range(20):
    painter.drawLine(QLineF(10 + 20 * i, 10, 300 + 20 * i, 580))
painter.end()
print("|".join(open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")))
"""


def _threads_after_painting(how: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != NO_GUI_THREADPOOL}
    env["QT_QPA_PLATFORM"] = "offscreen"
    done = subprocess.run(
        [sys.executable, "-c", PAINT, how], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].split("|")


def test_few_cores_paint_on_the_gui_thread_and_a_users_choice_wins() -> None:
    env: dict[str, str] = {}
    assert paint_on_gui_thread(env, cores=2) and env == {NO_GUI_THREADPOOL: "1"}
    env = {}
    assert not paint_on_gui_thread(env, cores=16) and env == {}  # cores to spare: Qt splits large fills
    env = {NO_GUI_THREADPOOL: ""}
    assert not paint_on_gui_thread(env, cores=2) and env == {NO_GUI_THREADPOOL: ""}


@pytest.mark.slow  # two fresh processes importing the app: ~10 s, more under load
def test_the_app_paints_without_qts_thread_pool_on_two_cores() -> None:
    # The control: left to itself Qt hands these fills to pool threads and waits for them...
    assert any("pooled" in name for name in _threads_after_painting("bare"))
    # ...the app's QApplication paints them on its own thread: no pool thread was ever started.
    assert not any("pooled" in name for name in _threads_after_painting("app"))


# Converts a 1088x1920 played frame to the canvas's pixels (`shared_pixmap`, on the GUI thread), then prints
# how many threads the conversion started. argv[1] == "app": the app's `application()` on a 2-core machine.
CONVERT = """
import os, sys
os.cpu_count = lambda: 2
import numpy as np
from distilpose.app.canvas import shared_pixmap
from distilpose.app.main import application
from PySide6.QtWidgets import QApplication
app = application() if sys.argv[1] == "app" else QApplication(sys.argv[:1])
before = len(os.listdir("/proc/self/task"))
shared_pixmap(np.zeros((1920, 1088, 3), np.uint8))
print(len(os.listdir("/proc/self/task")) - before)
"""


def _threads_started_converting(how: str) -> int:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", CONVERT, how], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # two fresh processes importing the app: ~10 s, more under load
def test_the_app_converts_frames_without_opencvs_thread_pool_on_two_cores() -> None:
    """OpenCV split a frame's conversion with a pool thread and waited for it to get a core (ADR 0020,
    amendment 4)."""
    assert _threads_started_converting("bare") >= 1  # the control: OpenCV starts its pool for a large frame
    assert _threads_started_converting("app") == 0  # the app's process converts on the calling thread


def test_the_title_keeps_still_while_playing(qtbot, live_window, tmp_path, fake_loader) -> None:
    win, state = live_window, live_window.state
    assert win.open_video(write_video(tmp_path / "clip.mp4", 12))
    win.live.set_enabled(True)
    wait_idle(qtbot, state)
    assert win.windowTitle().startswith("clip.mp4 [0/11]")
    titles: list[str] = []
    state.predictionsChanged.connect(lambda: titles.append(win.windowTitle()) if win.player.playing else None)
    win.player.rate = 0  # unpaced: every frame shown with its result
    win.player.play()
    qtbot.waitUntil(lambda: not win.player.playing, timeout=30_000)
    # Each shown frame would have set a new title (a request to the window system per frame); while playing
    # the title is the file's, and the frame number is back once the player stops.
    assert len(titles) == 11 and set(titles) == {"clip.mp4 — DistilPose Studio"}
    assert win.windowTitle().startswith("clip.mp4 [11/11]")
    assert state.frame_index == 11 and not win.errors


def test_the_process_cpu_clock_is_read_twice_a_play_not_per_frame(
    qtbot, live_window, tmp_path, fake_loader, monkeypatch
) -> None:
    from distilpose.app.live import controller as live

    reads: list[float] = []
    clock = live.time.process_time

    def counted() -> float:
        reads.append(clock())
        return reads[-1]

    win, state = live_window, live_window.state
    assert win.open_video(write_video(tmp_path / "clip.mp4", 12))
    win.live.set_enabled(True)
    wait_idle(qtbot, state)
    monkeypatch.setattr(live.time, "process_time", counted)
    win.player.rate = 0
    win.player.play()
    qtbot.waitUntil(lambda: not win.player.playing, timeout=30_000)
    report = win.live.playback_report()
    # That clock sums every thread's time in the kernel (6 ms a read on 2 loaded cores): once at the first
    # shown frame and once when the player stops, still giving the CPU time per frame.
    assert report["shown"] == 11 and len(reads) == 2
    assert report["cpu_ms_per_frame"] == (reads[1] - reads[0]) * 1000.0 / 10 > 0


def test_unpaced_live_play_hands_the_model_its_next_frame_when_it_takes_one_not_on_a_poll(
    qtbot, live_window, tmp_path, fake_loader
) -> None:
    from distilpose.app.live.transport import UNPACED_LIVE_POLL_MS

    win, state = live_window, live_window.state
    assert win.open_video(write_video(tmp_path / "clip.mp4", 24))
    win.live.set_enabled(True)
    wait_idle(qtbot, state)
    taken: list[int] = []
    win.live.worker.jobTaken.connect(lambda: taken.append(win.player.timer.interval()))
    win.player.rate = 0
    win.player.play()
    # a 1 ms poll woke the GUI thread ~16 times per frame at 60 FPS; the worker's signal now refills its slot
    assert win.player.timer.interval() == UNPACED_LIVE_POLL_MS >= 4
    qtbot.waitUntil(lambda: not win.player.playing, timeout=30_000)
    report = win.live.playback_report()
    assert report["shown"] == 23 and report["dropped"] == 0 and len(taken) >= 23
    assert state.frame_index == 23 and not win.errors


def test_the_window_repaints_outside_python() -> None:
    # An event() override wraps every event of the window, its repaint and flush included, in a Python call
    # that holds the GIL; the worker's Python steps waited behind it. WindowUnblocked is an event filter's.
    from distilpose.app.main_window import MainWindow

    assert "event" not in vars(MainWindow)
