"""Moving through a video or an image folder: play/pause, frame steps, a seek bar and jump-to-frame, and the
camera feed.

Playback paces itself with a timer at the video's frame rate. Without live inference it decodes on the GUI
thread (1-3 ms a frame, sequential reads never seek); with it, each tick goes to the live view, which decodes
ahead in a thread of its own and runs inference in the worker, dropping frames it cannot keep up with.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QSpinBox, QToolButton, QWidget

from distilpose.app.live.workers import CameraThread
from distilpose.app.state import AppState
from distilpose.errors import DistilPoseError
from distilpose.video import Camera

#: Frames per second when stepping through a folder of images.
FOLDER_FPS = 5.0
#: Unpaced play with live inference: the model is handed its next frame when it takes one (the worker's
#: `jobTaken`); this timer only catches a frame that was still being decoded then, and the end of the video.
#: A 1 ms poll woke the GUI thread ~16 times per frame at 60 FPS (ADR 0020 amendment 5).
UNPACED_LIVE_POLL_MS = 4


class Player(QObject):
    """Play/pause and stepping for the state's video or folder."""

    playingChanged = Signal(bool)
    errorOccurred = Signal(str, str)  # title, text

    def __init__(self, state: AppState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        #: Set by the live view while inference is on: each tick is handed to it instead (it decodes the next
        #: frame for the model and shows it with its result); it returns False once the video is done.
        self.live_step: Callable[[], bool] | None = None
        #: Frames per second to play at (None: the video's own rate; 0: as fast as frames can be shown).
        self.rate: float | None = None
        state.mediaChanged.connect(self._on_media_changed)

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def can_step(self) -> bool:
        return self.state.media_kind in ("video", "folder") and self.state.frame_count > 1

    def play(self) -> None:
        if not self.can_step() or self.playing:
            return
        if self.state.frame_index >= self.state.frame_count - 1:
            self.seek(0)  # play again from the start
        fps = self.rate if self.rate is not None else getattr(self.state.source, "fps", None) or FOLDER_FPS
        if fps > 0:
            self.timer.start(max(1, round(1000.0 / fps)))
        else:  # unpaced: live inference refills the model when it takes a frame; the timer is the fallback
            self.timer.start(UNPACED_LIVE_POLL_MS if self.live_step is not None else 1)
        self.playingChanged.emit(True)

    def pause(self) -> None:
        if self.playing:
            self.timer.stop()
            self.playingChanged.emit(False)

    def toggle(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def step(self, delta: int) -> None:
        if not self.can_step():
            return
        self.pause()
        self.seek(self.state.frame_index + delta)

    def seek(self, index: int) -> bool:
        """Show frame ``index`` (clamped); a decoding problem is reported and playback stops."""
        if not self.can_step():
            return False
        index = min(max(int(index), 0), self.state.frame_count - 1)
        try:
            self.state.set_frame(index)
        except DistilPoseError as exc:
            self.pause()
            self.errorOccurred.emit("Cannot read the frame", str(exc))
            return False
        return True

    def _tick(self) -> None:
        if self.live_step is not None:
            if not self.live_step():
                self.pause()
            return
        if self.state.frame_index >= self.state.frame_count - 1:
            self.pause()
            return
        if not self.seek(self.state.frame_index + 1):
            self.pause()

    def _on_media_changed(self) -> None:
        self.pause()


class TransportBar(QWidget):
    """Play/pause, step buttons, a seek slider, the frame number and the time."""

    def __init__(self, state: AppState, player: Player, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.player = player
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        self.back_button = QToolButton(text="◀|")
        self.back_button.setToolTip("Previous frame (Left)")
        self.back_button.clicked.connect(self._back)
        self.play_button = QToolButton(text="▶")
        self.play_button.setToolTip("Play / pause (K)")
        self.play_button.clicked.connect(player.toggle)
        self.forward_button = QToolButton(text="|▶")
        self.forward_button.setToolTip("Next frame (Right)")
        self.forward_button.clicked.connect(self._forward)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setTracking(True)
        self.slider.valueChanged.connect(self._slider_moved)
        self.frame_box = QSpinBox()
        self.frame_box.setKeyboardTracking(False)
        self.frame_box.setToolTip("Jump to frame (Ctrl+G)")
        self.frame_box.valueChanged.connect(self._frame_typed)
        self.total_label = QLabel()
        self.time_label = QLabel()
        for w in (self.back_button, self.play_button, self.forward_button):
            layout.addWidget(w)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.frame_box)
        layout.addWidget(self.total_label)
        layout.addWidget(self.time_label)
        self._updating = False
        state.mediaChanged.connect(self._on_media)
        state.frameChanged.connect(self._on_frame)
        player.playingChanged.connect(self._on_playing)
        self._on_media()

    def _back(self) -> None:
        self.player.step(-1)

    def _forward(self) -> None:
        self.player.step(1)

    def _on_media(self) -> None:
        n = self.state.frame_count
        steppable = self.state.media_kind in ("video", "folder") and n > 0
        self.setVisible(steppable)
        self._updating = True
        self.slider.setRange(0, max(0, n - 1))
        self.frame_box.setRange(0, max(0, n - 1))
        self.total_label.setText(f"/ {n - 1}" if n else "")
        self._updating = False
        self._on_frame()

    def _on_frame(self) -> None:
        i = max(0, self.state.frame_index)
        self._updating = True
        self.slider.setValue(i)
        self.frame_box.setValue(i)
        self._updating = False
        if self.state.media_kind == "video":
            t = self.state.frame_time(i)
            self.time_label.setText(f"{int(t // 60):02d}:{t % 60:05.2f}")
        else:
            self.time_label.setText(self.state.image_path.name if self.state.image_path else "")

    def _on_playing(self, playing: bool) -> None:
        self.play_button.setText("❚❚" if playing else "▶")

    def _slider_moved(self, value: int) -> None:
        if not self._updating and value != self.state.frame_index:
            self.player.seek(value)

    def _frame_typed(self, value: int) -> None:
        if not self._updating and value != self.state.frame_index:
            self.player.pause()
            self.player.seek(value)


class CameraFeed(QObject):
    """Shows a camera's frames in the state, the latest one each time the GUI gets to it."""

    errorOccurred = Signal(str, str)
    runningChanged = Signal(bool)

    def __init__(self, state: AppState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.thread: CameraThread | None = None
        self._waiting_first = False  # registered with state.pending until the first frame shows

    @property
    def running(self) -> bool:
        return self.thread is not None

    def start(self, camera: Camera) -> None:
        self.stop()
        self.state.open_camera(camera)
        thread = CameraThread(camera)
        thread.frameReady.connect(self._on_frame)
        thread.failed.connect(self._on_failed)
        self.thread = thread
        self._waiting_first = True
        self.state.pending.begin("camera")
        thread.start()
        self.runningChanged.emit(True)

    def stop(self) -> None:
        if self.thread is None:
            return
        thread, self.thread = self.thread, None
        thread.stop()
        self._first_frame_done()
        self.state.close_media()
        self.runningChanged.emit(False)

    def _on_frame(self) -> None:
        if self.thread is None:
            return
        frame = self.thread.take()
        if frame is not None:
            self.state.push_frame(frame)
            self._first_frame_done()

    def _first_frame_done(self) -> None:
        if self._waiting_first:
            self._waiting_first = False
            self.state.pending.end("camera")

    def _on_failed(self, message: str) -> None:
        self.stop()
        self.errorOccurred.emit("Camera stopped", message)
