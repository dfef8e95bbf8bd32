"""The live inference worker: latest frame wins under a slow model, results arrive in the GUI thread, clean
stop, model swap without restarting (loading off the GUI thread), failures, and --screenshot's pending hook."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QObject, QThread, Slot
from PySide6.QtWidgets import QApplication

from distilpose.app.live.workers import FrameJob, InferenceWorker, LiveSettings
from distilpose.inference.loading import LoadedModel, load_predictor

from .conftest import SleepyRuntime, wait_idle

SETTINGS = LiveSettings(model="distilpose-t", runtime="torch", detector="full-frame", tracking=False)
IMAGE = np.zeros((120, 160, 3), np.uint8)


def slow_loader(delay_s: float):
    """The real distilpose-t, made slow by sleeping before each run."""

    def load(name: str, runtime: str, flip: bool) -> LoadedModel:
        loaded = load_predictor(name, runtime, flip=flip, threads=1)
        loaded.predictor.runtime = SleepyRuntime(loaded.predictor.runtime, delay_s)
        return loaded

    return load


class Collector(QObject):
    """Receives the worker's signals in the GUI thread (a QObject slot, not a lambda)."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list[tuple[int, object]] = []
        self.failures: list[tuple[int, str]] = []
        self.applied: list[tuple[int, object]] = []
        self.threads: set[QThread] = set()

    @Slot(int, object)
    def on_result(self, job_id: int, result: object) -> None:
        self.threads.add(QThread.currentThread())
        self.results.append((job_id, result))

    @Slot(int, str)
    def on_failure(self, job_id: int, message: str) -> None:
        self.failures.append((job_id, message))

    @Slot(int, object)
    def on_applied(self, request_id: int, status: object) -> None:
        self.applied.append((request_id, status))


@pytest.fixture
def slow_worker(qtbot):
    worker = InferenceWorker(slow_loader(0.3))
    collector = Collector()
    worker.resultReady.connect(collector.on_result)
    worker.jobFailed.connect(collector.on_failure)
    worker.settingsApplied.connect(collector.on_applied)
    worker.start()
    worker.configure(1, SETTINGS)
    qtbot.waitUntil(lambda: bool(collector.applied), timeout=30_000)
    yield worker, collector
    worker.stop()


def test_latest_frame_wins_under_a_slow_model(qtbot, slow_worker) -> None:
    worker, collector = slow_worker
    for i in range(10):  # a burst: far faster than the 0.3 s model
        worker.submit(FrameJob(i + 1, IMAGE, i, i / 30))
    qtbot.waitUntil(lambda: any(job == 10 for job, _ in collector.results), timeout=20_000)
    # The worker counts a job before it emits its result, and job 10 was the last submitted: the counters are
    # final once its result is here (no wait decides them).
    counters = worker.counters
    assert counters.submitted == 10
    assert counters.processed <= 2  # at most the frame it was already on, then the newest
    assert counters.dropped >= 8 and counters.processed + counters.dropped == 10
    assert collector.results[-1][0] == 10 and collector.results[-1][1].index == 9
    assert not worker.pending_job()
    assert collector.threads == {QApplication.instance().thread()}  # slots ran in the GUI thread


def test_stop_while_a_frame_is_running_is_clean(qtbot, slow_worker) -> None:
    worker, collector = slow_worker
    worker.submit(FrameJob(1, IMAGE, 0, 0.0))
    qtbot.waitUntil(lambda: not worker.pending_job(), timeout=5_000)  # the worker took it and is sleeping
    worker.submit(FrameJob(2, IMAGE, 1, 0.1))  # waiting in the slot: discarded by stop
    assert worker.stop()
    assert worker.isFinished() and not worker.isRunning()
    QApplication.sendPostedEvents()  # deliver whatever the finished thread emitted
    assert [job for job, _ in collector.results] in ([], [1])
    assert worker.counters.processed <= 1
    worker.submit(FrameJob(3, IMAGE, 2, 0.2))  # after stop: ignored, no crash
    QApplication.sendPostedEvents()
    assert 3 not in [job for job, _ in collector.results] and worker.isFinished()


def test_closing_the_window_stops_inference(qtbot, live_window, small_video, fake_loader) -> None:
    fake_loader.delay_s = 0.3
    assert live_window.open_video(small_video)
    live_window.live.set_enabled(True)
    wait_idle(qtbot, live_window.state)
    worker = live_window.live.worker
    live_window.player.step(1)  # a frame in flight
    live_window.close()
    assert live_window.live.worker is None and worker.isFinished()
    assert live_window.state.pending.is_idle()


def test_model_swap_without_restarting(qtbot, live_window, figure_files, fake_loader) -> None:
    win = live_window
    assert win.open_image(figure_files.image)
    win.live.set_enabled(True)
    wait_idle(qtbot, win.state)
    worker = win.live.worker
    assert fake_loader.loaded == [("distilpose-t", "torch", False)]
    first = win.state.prediction
    assert first is not None and len(first.instances) == 1
    fake_loader.load_delay_s = 0.5
    panel = win.model_panel
    panel.model_combo.setCurrentIndex(panel.model_combo.findData("distilpose-s"))
    # update_settings returned at once: the load runs in the worker, the GUI thread is free meanwhile.
    assert ("distilpose-s", "torch", False) not in fake_loader.loaded
    assert not win.state.pending.is_idle() and "loading model" in win.state.pending.describe()
    wait_idle(qtbot, win.state)
    assert fake_loader.loaded[-1] == ("distilpose-s", "torch", False)
    assert win.live.worker is worker and worker.isRunning()  # same thread, new model
    assert win.live.status.model == "distilpose-s"
    assert "Running distilpose-s" in panel.status_label.text()
    assert fake_loader.runtimes[-1].calls >= 2  # warm-up and the shown frame ran on the new model
    assert win.state.prediction is not first
    # Runtime and flip are part of the model: changing them reloads too.
    panel.runtime_combo.setCurrentIndex(panel.runtime_combo.findData("onnx"))
    panel.flip_box.setChecked(True)
    wait_idle(qtbot, win.state)
    assert fake_loader.loaded[-1] == ("distilpose-s", "onnx", True)
    assert win.errors == []


def test_a_model_that_fails_to_load_is_reported_and_the_app_stays_usable(
    qtbot, live_window, figure_files, fake_loader
) -> None:
    win = live_window
    fake_loader.fail = {"distilpose-l"}
    assert win.open_image(figure_files.image)
    win.live.update_settings(model="distilpose-l")
    win.live.set_enabled(True)
    wait_idle(qtbot, win.state)  # pending released although nothing loaded
    titles = [t for t, _ in win.errors]
    assert "Cannot load the model" in titles
    assert any("distilpose-l: not a readable checkpoint (test)" in text for _, text in win.errors)
    assert win.state.prediction is None
    win.live.update_settings(model="distilpose-t")  # pick another: it works
    wait_idle(qtbot, win.state)
    qtbot.waitUntil(lambda: win.state.prediction is not None, timeout=10_000)
    assert win.live.status.model == "distilpose-t"


def test_screenshot_waits_for_the_model_and_the_first_result(
    qtbot, live_window, figure_files, fake_loader, tmp_path
) -> None:
    from distilpose.app.screenshot import take_screenshot

    fake_loader.load_delay_s = 0.4
    fake_loader.delay_s = 0.3
    win = live_window

    def load() -> None:
        win.state.open_image(figure_files.image)
        win.live.set_enabled(True)

    assert take_screenshot(win, win.state.pending, tmp_path / "shot.png", load=load) == 0
    assert win.state.prediction is not None  # the picture was taken after the result arrived
    assert win.canvas.prediction_layer is not None and win.canvas.prediction_layer.keypoints


def test_status_bar_shows_fps_latency_and_dropped(qtbot, live_window, small_video) -> None:
    win = live_window
    assert win.open_video(small_video)
    win.live.set_enabled(True)
    wait_idle(qtbot, win.state)
    for _ in range(4):
        win.player.step(1)
        wait_idle(qtbot, win.state)
    text = win.live_label.text()
    assert "FPS" in text and "decode" in text and "detect" in text and "pose" in text and "draw" in text
    assert "dropped 0" in text
    assert win.live.stats.processed == 5
