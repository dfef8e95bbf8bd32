"""Helpers for the training-job tests: a window on a project filled with a tiny synthetic COCO set, and a
heartbeat that measures how long the GUI thread went without running its timers."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer

from distilpose.app.jobs import manager as manager_module
from distilpose.training.synthetic import make_synthetic_coco

#: Frames (from the end) of the synthetic project moved to the val split.
VAL_FRAMES = 2


def open_window(qtbot, fake_loader, project: Path):
    """A shown window (errors in ``window.errors``) with ``project`` opened (created when missing)."""
    from distilpose.app.main_window import MainWindow
    from distilpose.app.state import AppState

    errors: list[tuple[str, str]] = []
    win = MainWindow(
        AppState(), error_sink=lambda _p, title, text: errors.append((title, text)), model_loader=fake_loader
    )
    win.errors = errors
    qtbot.addWidget(win)
    win.resize(1100, 800)
    win.show()
    qtbot.waitExposed(win)
    opened = win.project.open_project(project) if project.exists() else win.project.new_project(project)
    assert opened, win.errors
    return win


def fill_project(win, folder: Path, num_images: int = 6) -> None:
    """Import a synthetic COCO set (verified instances): the last VAL_FRAMES frames in 'val', the rest 'train'."""
    ann, images = make_synthetic_coco(folder, num_images=num_images)
    assert win.project.import_coco_file(ann, images), win.errors
    store = win.state.project
    frames = store.frames()
    assert len(frames) == num_images
    store.set_splits({f.id: "val" if i >= num_images - VAL_FRAMES else "train" for i, f in enumerate(frames)})


@pytest.fixture
def reap_jobs(monkeypatch):
    """Record every job process a test starts and SIGKILL its group afterwards (a failed test must not
    leave training processes behind)."""
    started: list[int] = []
    real_spawn = manager_module.spawn

    def spawn(argv, log_path):
        popen = real_spawn(argv, log_path)
        started.append(popen.pid)
        return popen

    monkeypatch.setattr(manager_module, "spawn", spawn)
    yield started
    for pid in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


class Heartbeat:
    """A 10 ms QTimer on the GUI thread; ``max_gap`` is the longest time between two of its ticks."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.last: float | None = None
        self.max_gap = 0.0
        self.ticks = 0

    def _tick(self) -> None:
        now = time.monotonic()
        if self.last is not None:
            self.max_gap = max(self.max_gap, now - self.last)
        self.last = now
        self.ticks += 1

    def start(self) -> None:
        self.last = None
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
