"""Live inference in the window: feeds frames to the worker, shows its results, keeps the statistics.

The controller lives in the GUI thread. A frame shown while paused (a step, a seek, a new image) goes to the
:class:`InferenceWorker`'s one-frame slot (latest wins) and its result is drawn when it comes back, only if
that frame is still the one on screen. While a video plays with live inference on, the player hands each tick
to :meth:`LiveController.live_step`: the next frame, decoded ahead in a thread of its own
(:class:`~distilpose.read_ahead.ReadAhead`, never on the GUI thread), is given to the model, and the picture moves on
only when its result arrives (:meth:`AppState.show_frame`), so every skeleton on screen belongs to the frame on
screen. Frames the model cannot keep up with are dropped, never shown late. Work in flight is registered with
``state.pending`` so ``--screenshot`` waits for the model and the first result.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np
from PySide6.QtCore import QObject, Signal

from distilpose.app.live.workers import (
    FrameJob,
    InferenceWorker,
    LiveSettings,
    ModelLoader,
    ModelStatus,
    default_loader,
)
from distilpose.app.state import AppState
from distilpose.app.tasks import error_message
from distilpose.errors import MediaError
from distilpose.models import DEFAULT_ALIAS, default_choice
from distilpose.models.bundled import STILL_SOURCES, DefaultChoice, stands_in
from distilpose.pipeline import FrameResult
from distilpose.read_ahead import ReadAhead, read_ahead

#: Seconds of results the FPS is averaged over.
FPS_WINDOW_S = 2.0
#: Results the per-stage medians are taken over.
STAGE_WINDOW = 15
#: Stages of a shown frame in ``--stats-json``: the bench's, then what only the window does (PlaybackStats).
APP_STAGES = (
    "decode", "detect", "pose", "teacher", "worker", "starved", "hop", "image", "overlay", "views", "paint", "draw"
)  # fmt: skip


@dataclass
class LiveStats:
    """What the status bar shows."""

    fps: float = 0.0
    stage_ms: dict[str, float] = field(default_factory=dict)  # decode, detect, pose, teacher, draw (medians)
    processed: int = 0
    dropped: int = 0
    persons: int = 0
    detector_runs: int = 0

    def text(self) -> str:
        if self.processed == 0:
            return "live: waiting for the first result"
        order = ("decode", "detect", "pose", "teacher", "draw")
        stages = " · ".join(f"{s} {self.stage_ms[s]:.0f}" for s in order if s in self.stage_ms)
        rate = f"{self.fps:.1f} FPS" if self.fps > 0 else "– FPS"  # one result is no rate
        # "detect" is the time the frame waited for boxes; detections themselves run in the background.
        return f"{rate} · {stages} ms · dropped {self.dropped} · detections {self.detector_runs}"


@dataclass
class PlaybackStats:
    """One play-through with live inference (``distilpose-studio VIDEO --play --stats-json``)."""

    shown: list[float] = field(default_factory=list)  # monotonic time of each frame shown with a result
    #: The process's CPU seconds (all threads) at the first shown frame and when the player stopped: read twice
    #: a play, not per frame. Reading that clock sums every thread's time in the kernel: 6 ms at the median
    #: (p90 33 ms) on the GUI thread per read on 2 loaded cores, more than the window's own work (ADR 0020).
    cpu_first: float | None = None
    cpu_last: float | None = None
    own_result: int = 0  # shown frames whose result was computed on that very frame
    other_result: int = 0  # shown frames carrying a result of another frame (must stay 0)
    requested: int = 0  # frames decoded for the model
    dropped_start: int = 0
    detector_runs_start: int = 0
    #: Milliseconds per shown frame by stage: the bench's (decode, detect, pose, teacher) and the window's own
    #: (starved: the worker waiting for this frame after handing on the last result, i.e. the GUI thread had not
    #: decoded it yet; hop: the result waiting for the GUI thread; image: frame to QPixmap; overlay: the
    #: prediction's items; views: every other view following the frame; paint: the canvas repaint; draw:
    #: image + overlay + views).
    stages: dict[str, list[float]] = field(default_factory=dict)

    def cpu_ms_per_frame(self) -> float:
        if self.cpu_first is None or self.cpu_last is None or len(self.shown) < 2:
            return 0.0
        return (self.cpu_last - self.cpu_first) * 1000.0 / (len(self.shown) - 1)

    def as_dict(self, dropped: int, detector_runs: int, video_fps: float | None, rate: float | None) -> dict:
        intervals = np.diff(self.shown) * 1000.0 if len(self.shown) > 1 else np.zeros(0)
        span = self.shown[-1] - self.shown[0] if len(self.shown) > 1 else 0.0
        return {
            "fps": (len(self.shown) - 1) / span if span > 0 else 0.0,
            "frame_ms_p50": float(np.percentile(intervals, 50)) if len(intervals) else 0.0,
            "frame_ms_p99": float(np.percentile(intervals, 99)) if len(intervals) else 0.0,
            # CPU per shown frame, every thread: what the window costs the machine, beside the bench's figure
            # (wall-clock FPS on a shared machine follows the load; CPU time much less)
            "cpu_ms_per_frame": self.cpu_ms_per_frame(),
            "shown": len(self.shown),
            "shown_with_own_result": self.own_result,
            "shown_with_other_result": self.other_result,
            "requested": self.requested,
            "dropped": dropped - self.dropped_start,
            "detector_runs": detector_runs - self.detector_runs_start,
            "video_fps": video_fps,
            "play_rate": "video" if rate is None else ("unpaced" if rate == 0 else rate),
            # what the model lost waiting for frames over the play (its first frame waited for Play itself)
            "starved_ms": float(sum(self.stages.get("starved", [])[1:])),
            "stage_ms": {
                stage: {"p50": float(np.percentile(v, 50)), "p99": float(np.percentile(v, 99))}
                for stage in APP_STAGES
                if (v := self.stages.get(stage))
            },
        }


class LiveController(QObject):
    """Owns the inference worker; connects the state's frames to it and its results to the state."""

    enabledChanged = Signal(bool)
    settingsChanged = Signal(object)  # LiveSettings
    statusChanged = Signal(object)  # ModelStatus, or None while loading / after a failure
    statsChanged = Signal(object)  # LiveStats
    busyChanged = Signal(str)  # what the worker is doing ("" when idle)
    errorOccurred = Signal(str, str)  # title, text

    def __init__(self, state: AppState, loader: ModelLoader = default_loader, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self._loader = loader
        self.worker: InferenceWorker | None = None
        self.enabled = False
        self.settings = LiveSettings()
        self._model_chosen = False  # by the user; until then each source gets its default
        self._flip_by_default = False  # flip test switched on by a source default, not by the user
        self.status: ModelStatus | None = None
        self.stats = LiveStats()
        #: The worker's cumulative counters when the shown source was opened: the status bar counts per source.
        self._counts_base = (0, 0)
        self.playback = PlaybackStats()
        self.player = None
        self._job_id = 0
        self._done_job = 0  # the newest job that came back (result or failure)
        self._job_media: dict[int, int] = {}  # job id -> media generation it was taken from
        self._play_jobs: set[int] = set()  # jobs decoded by live_step: shown with their result
        self._cursor: int | None = None  # the last frame live_step gave the model
        self._reader: ReadAhead | None = None  # decodes the frames after the cursor while playing
        self._presenting = False
        self._media = 0
        self._request_id = 0
        self._frame_pending = False
        self._settings_pending = False
        self._result_times: deque[float] = deque()
        self._stage_history: deque[dict[str, float]] = deque(maxlen=STAGE_WINDOW)
        state.frameChanged.connect(self._on_frame_changed)
        state.mediaChanged.connect(self._on_media_changed)
        state.userBoxesChanged.connect(self._on_user_boxes_changed)

    # ---------------------------------------------------------------- control
    def attach_player(self, player) -> None:
        """Play videos through the model while live inference is on (see the module docstring)."""
        self.player = player
        player.playingChanged.connect(self._on_playing_changed)
        self._sync_player()

    def set_enabled(self, on: bool) -> None:
        """Start or stop live inference; starting loads the model (off the GUI thread) and runs the shown frame."""
        on = bool(on)
        if on == self.enabled:
            return
        self.enabled = on
        if on:
            self._ensure_worker()
            self._send_settings()
            self._submit_current()
        else:
            self._close_reader()
            self._end_frame_pending()
            self.state.set_prediction(None)
        self._sync_player()
        self.enabledChanged.emit(on)

    def update_settings(self, **changes: object) -> None:
        """Change settings (model, runtime, flip, teacher, detector, ...); applied before the next frame.

        Until a model is chosen (or after ``model="default"``), each opened source gets its default model
        (:func:`distilpose.models.default_choice`: stills the most accurate with flip, video the fastest)."""
        model = changes.get("model")
        if model == DEFAULT_ALIAS:
            self._model_chosen = False
            choice = default_choice(self.state.media_kind or "video")
            self._flip_by_default = choice.flip and not changes.get("flip")
            changes.update(model=choice.model, flip=bool(changes.get("flip")) or choice.flip)
        elif model is not None and model != self.settings.model:
            self._model_chosen = True
            if self._flip_by_default and "flip" not in changes:
                changes["flip"] = False  # the source default's flip test goes with its model
            self._flip_by_default = False
        elif "flip" in changes and changes["flip"] != self.settings.flip:
            self._flip_by_default = False  # the user's own choice
        self._apply(**changes)

    def model_reason(self) -> str:
        """Why the live model is this one, in words for the model panel."""
        if self._model_chosen:
            return "your pick"
        kind = "stills" if self.state.media_kind in STILL_SOURCES else "video"
        if stands_in(DefaultChoice(self.settings.model, self._flip_by_default)):
            return f"the default for {kind} while the model zoo is not fetched (its weights ship with the app)"
        return f"the default for {kind} ({'most accurate' if kind == 'stills' else 'keeps up live'})"

    def _apply(self, **changes: object) -> None:
        new = replace(self.settings, **changes)
        if new == self.settings:
            return
        other_model = new.model != self.settings.model
        self.settings = new
        if other_model:
            self.state.set_prediction(None)  # the old model's skeletons go at once, not when the new one loaded
        self.settingsChanged.emit(new)
        if self.enabled:
            self._send_settings()
            self._submit_current()

    def rerun(self) -> None:
        """Run the shown frame again (after a setting that changes predictions)."""
        if self.enabled:
            self._submit_current()

    def shutdown(self) -> None:
        """Stop the worker thread (window closing); pending work is released."""
        self._close_reader()
        self._end_frame_pending()
        self._end_settings_pending()
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.enabled = False
        self._sync_player()

    # ---------------------------------------------------------------- playback through the model
    def _sync_player(self) -> None:
        if self.player is not None:
            self.player.live_step = self.live_step if self.enabled and self.worker is not None else None

    def _in_flight(self) -> bool:
        return self._done_job < self._job_id

    def live_step(self) -> bool:
        """One player tick while playing with live inference: give the model the next frame (its result shows
        it). Frames are decoded ahead in the reader's thread, so a result that arrives is drawn at once, never
        after a decode (ADR 0020, amendment 4); a frame not decoded yet waits for the next tick. Unpaced (rate
        0), the next frame goes to the model as soon as it has taken the previous one, so decoding and drawing
        overlap the model's work and no frame is dropped. Returns False when the video is done (the last frame
        shown), which pauses the player."""
        state, player = self.state, self.player
        if state.media_kind not in ("video", "folder") or self.worker is None:
            return False
        if self._cursor is None:
            self._cursor = state.frame_index
        if player is not None and player.rate == 0 and self.worker.pending_job():
            return True  # unpaced: the model already has its next frame waiting, none is ever dropped
        index = self._cursor + 1
        if index >= state.frame_count:
            return self._in_flight()  # keep ticking until the last result is on screen
        if self._reader is None or self._reader.next_index != index:
            self._start_reader(index)  # the first tick, or the user moved the slider: read from there
        assert self._reader is not None
        reading = self._reader.running  # asked first: a reader that ends after this has buffered its frames
        try:
            decoded = self._reader.take()  # raises the error of a frame that cannot be decoded
            if decoded is None and not reading:  # the reader stopped short of this frame: nothing more comes
                raise MediaError(f"{getattr(state.source, 'path', state.source.name)}: frame {index} was not read")
        except Exception as exc:  # the window stays; the player pauses on the frame before
            self._close_reader()
            self.errorOccurred.emit("Cannot read the frame", error_message(exc))
            return False
        if decoded is None:
            return True  # still being decoded: the next tick takes it
        self._cursor = index
        self.playback.requested += 1
        self._submit(decoded.image, index, state.frame_time(index), decoded.decode_ms, play=True)
        return True

    def _start_reader(self, index: int) -> None:
        self._close_reader()
        self._reader = read_ahead(self.state.source, index)

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _on_playing_changed(self, playing: bool) -> None:
        self._cursor = None
        self._close_reader()
        live = playing and self.player is not None and self.player.live_step is not None
        if live and 0 <= self.state.frame_index < self.state.frame_count - 1:
            self._start_reader(self.state.frame_index + 1)  # decoding starts before the first tick
        if not playing and self.playback.shown:
            self.playback.cpu_last = time.process_time()
        if playing:
            counters = self.worker.counters if self.worker is not None else None
            self.playback = PlaybackStats(
                dropped_start=counters.dropped if counters else 0,
                detector_runs_start=counters.detector_runs if counters else 0,
            )

    def playback_report(self) -> dict:
        """The last play-through's figures (fps, frame_ms_p99, dropped, detector_runs, own results)."""
        counters = self.worker.counters if self.worker is not None else None
        source = self.state.source
        return self.playback.as_dict(
            counters.dropped if counters else 0,
            counters.detector_runs if counters else 0,
            getattr(source, "fps", None),
            getattr(self.player, "rate", None),
        )

    # ---------------------------------------------------------------- worker
    def _ensure_worker(self) -> None:
        if self.worker is not None:
            return
        worker = InferenceWorker(self._loader)
        worker.resultReady.connect(self._on_result)
        worker.jobTaken.connect(self._on_job_taken)
        worker.jobFailed.connect(self._on_job_failed)
        worker.settingsApplied.connect(self._on_settings_applied)
        worker.settingsFailed.connect(self._on_settings_failed)
        worker.status.connect(self._on_worker_status)
        worker.start()
        self.worker = worker

    def _send_settings(self) -> None:
        assert self.worker is not None
        self._request_id += 1
        settings = replace(self.settings, user_boxes=tuple(self.state.user_boxes))
        self.worker.configure(self._request_id, settings)
        self.status = None
        self.statusChanged.emit(None)
        if not self._settings_pending:
            self._settings_pending = True
            self.state.pending.begin("loading model")

    def _submit_current(self) -> None:
        state = self.state
        if not self.enabled or self.worker is None or state.image is None:
            return
        index = state.frame_index if state.frame_index >= 0 else None
        self._submit(state.image, index, state.frame_time(), state.decode_ms, play=False)

    def _submit(self, image: np.ndarray, index: int | None, t: float, decode_ms: float, play: bool) -> None:
        assert self.worker is not None
        self._job_id += 1
        self._job_media[self._job_id] = self._media
        if play:
            self._play_jobs.add(self._job_id)
        self.worker.submit(FrameJob(self._job_id, image, index, t, self._media, decode_ms))
        self.stats.dropped = self.worker.counters.dropped - self._counts_base[0]
        if not self._frame_pending:
            self._frame_pending = True
            self.state.pending.begin("inference")

    def _end_frame_pending(self) -> None:
        if self._frame_pending:
            self._frame_pending = False
            self.state.pending.end("inference")

    def _end_settings_pending(self) -> None:
        if self._settings_pending:
            self._settings_pending = False
            self.state.pending.end("loading model")

    # ---------------------------------------------------------------- state slots
    def _on_frame_changed(self) -> None:
        if self._presenting:
            return  # the frame a result was computed on, shown with it
        state = self.state
        shown = state.prediction
        if (
            shown is not None
            and state.media_kind in ("video", "folder")
            and shown.index is not None
            and shown.index != state.frame_index
        ):
            state.set_prediction(None)  # never a result of another frame over this one
        if self.player is not None and self.player.playing and self.player.live_step is not None:
            self._cursor = state.frame_index  # the user moved the slider: play on from there
            return  # playing through the model: live_step feeds it
        self._submit_current()

    def _on_media_changed(self) -> None:
        if self.state.source is None:
            return  # a camera stopped: its last frame stays, and so may the results for it
        self._media += 1  # results for frames of the previous media are dropped on arrival
        self._cursor = None
        self._close_reader()
        self._reset_stats()
        if not self._model_chosen:
            choice = default_choice(self.state.source.kind)
            self._flip_by_default = choice.flip
            self._apply(model=choice.model, flip=choice.flip)

    def _on_user_boxes_changed(self) -> None:
        if self.enabled and self.settings.detector == "user-boxes":
            self._send_settings()
            self._submit_current()

    # ---------------------------------------------------------------- worker slots (queued: GUI thread)
    def _on_job_taken(self) -> None:
        """Unpaced play: the model took its waiting frame, so hand it the next decoded one now (the player's
        timer is only the fallback for a frame still being decoded, and for the end of the video)."""
        player = self.player
        live = player is not None and player.playing and player.rate == 0 and player.live_step is not None
        if live and not self.live_step():
            player.pause()

    def _on_result(self, job_id: int, result: FrameResult) -> None:
        media = self._job_media.pop(job_id, None)
        for old in [j for j in self._job_media if j < job_id]:
            del self._job_media[old]  # replaced in the slot: never coming back
        play = job_id in self._play_jobs
        self._play_jobs = {j for j in self._play_jobs if j > job_id}
        self._done_job = max(self._done_job, job_id)
        if self.enabled and media == self._media:
            start = time.perf_counter()
            hop_ms = (start - result.handed_at) * 1000.0 if result.handed_at is not None else None
            shown = self._show(result, play)
            draw_ms = (time.perf_counter() - start) * 1000.0
            if shown:
                self._record(result, draw_ms, play, hop_ms)
        if job_id == self._job_id:
            self._end_frame_pending()
        player = self.player
        if play and player is not None and player.playing and player.rate == 0 and not self.live_step():
            player.pause()

    def _show(self, result: FrameResult, play: bool) -> bool:
        """Draw ``result`` only over the frame it was computed on; returns whether it was shown."""
        state = self.state
        if play and result.image is not None and result.index is not None:
            if result.index < state.frame_index:
                return False  # an older frame: never shown after a newer one
            self._presenting = True
            try:
                state.decode_ms = result.times_ms.get("decode", state.decode_ms)
                state.show_frame(result.index, result.image, result)
            finally:
                self._presenting = False
            return True
        if state.media_kind in ("video", "folder") and result.index != state.frame_index:
            return False  # the user moved on: this result belongs to another frame
        state.set_prediction(result)
        return True

    def _on_job_failed(self, job_id: int, message: str) -> None:
        self._job_media.pop(job_id, None)
        self._play_jobs.discard(job_id)
        self._done_job = max(self._done_job, job_id)
        if job_id == self._job_id:
            self._end_frame_pending()
            self.errorOccurred.emit("Live inference failed", message)
            if self.player is not None:
                self.player.pause()

    def _on_settings_applied(self, request_id: int, status: ModelStatus) -> None:
        if request_id != self._request_id:
            return
        self.status = status
        self.statusChanged.emit(status)
        self.busyChanged.emit("")
        self._end_settings_pending()
        if status.warning:
            self.errorOccurred.emit("Live inference", status.warning)

    def _on_settings_failed(self, request_id: int, message: str) -> None:
        if request_id != self._request_id:
            return
        self.busyChanged.emit("")
        self._end_settings_pending()
        self.errorOccurred.emit("Cannot load the model", message)

    def _on_worker_status(self, text: str) -> None:
        self.busyChanged.emit(text)

    # ---------------------------------------------------------------- statistics
    def _reset_stats(self) -> None:
        """Another source: the status bar's figures (dropped, detections, FPS) start again from zero."""
        counters = self.worker.counters if self.worker is not None else None
        self._counts_base = (counters.dropped, counters.detector_runs) if counters is not None else (0, 0)
        self._result_times.clear()
        self._stage_history.clear()
        self.stats = LiveStats()
        self.statsChanged.emit(self.stats)

    def _record(self, result: FrameResult, draw_ms: float, play: bool, hop_ms: float | None = None) -> None:
        now = time.monotonic()
        state = self.state
        views, state.view_ms = state.view_ms, {}
        if play:
            own = state.prediction is result and state.frame_index == result.index and state.image is result.image
            if not self.playback.shown:
                self.playback.cpu_first = time.process_time()
            self.playback.shown.append(now)
            if own:
                self.playback.own_result += 1
            else:
                self.playback.other_result += 1
            shown_ms = {**result.times_ms, **views, "draw": draw_ms}
            shown_ms["views"] = max(draw_ms - views.get("image", 0.0) - views.get("overlay", 0.0), 0.0)
            if hop_ms is not None:
                shown_ms["hop"] = hop_ms
            for stage in APP_STAGES:
                if stage in shown_ms:
                    self.playback.stages.setdefault(stage, []).append(shown_ms[stage])
        self._result_times.append(now)
        while self._result_times and now - self._result_times[0] > FPS_WINDOW_S:
            self._result_times.popleft()
        times = {"decode": state.decode_ms, **result.times_ms, "draw": draw_ms}
        self._stage_history.append(times)
        keys = [k for k in ("decode", "detect", "pose", "teacher", "draw") if k in times]
        stats = self.stats
        # over the results that ran the stage: results from before a comparison model was chosen count no
        # "teacher 0 ms"
        stats.stage_ms = {k: statistics.median(h[k] for h in self._stage_history if k in h) for k in keys}
        n = len(self._result_times)
        span = self._result_times[-1] - self._result_times[0] if n > 1 else 0.0
        stats.fps = (n - 1) / span if span > 0 else 0.0
        stats.processed += 1
        stats.persons = len(result.instances)
        if self.worker is not None:
            stats.dropped = self.worker.counters.dropped - self._counts_base[0]
            stats.detector_runs = self.worker.counters.detector_runs - self._counts_base[1]
        self.statsChanged.emit(stats)
