"""While the sample plays in the window with live inference, a person who walks in gets a skeleton within a
bounded number of frames (issue 25, defect 4): the real MainWindow, real weights, the app's live path
(player -> LiveController -> InferenceWorker -> the live pipeline), scored against every frame detected in
line (what a paused frame shows). The background detector runs on a clock of processed frames
(``LiveSettings.detection_pass_frames``), so the machine's load does not decide when a detection lands."""

from __future__ import annotations

import pytest

from distilpose.inference.coverage import Coverage, add_frame
from tests.unit.test_pipeline import SAMPLE, _use_real_cache

from .conftest import wait_idle

#: Processed frames one detector pass takes: 6, so a tiled detection (3 passes) lands 18 frames after it was
#: asked for, the app's pace measured on this machine (ADR 0020: the real thread's gaps are those of 18).
PASS_FRAMES = 6
#: Scored frames: a walker enters on the right at 38, a person crouches into view on the left at 198.
SCORED = [*range(30, 70), *range(190, 230)]
#: Bounds over SCORED (ADR 0020, amendment 2): the longest run of frames where a visible person has no
#: skeleton, and the person-frames without one. Measured: 14 and 22 now; 20 and 32 with the whole-frame pass
#: handed over only with the tiles; 28 and 64 with the schedule before early re-detection (session 3).
LONGEST, MISSING = 16, 26


@pytest.mark.slow
def test_people_walking_in_get_a_skeleton_soon_while_playing(qtbot, monkeypatch) -> None:
    from distilpose.app.main_window import MainWindow
    from distilpose.app.state import AppState
    from distilpose.detection import CenterNetDetector, make_detector
    from distilpose.inference.loading import load_predictor
    from distilpose.models.bundled import default_live_model
    from distilpose.pipeline import LivePipeline
    from distilpose.video import VideoReader
    from distilpose.zoo import is_cached

    _use_real_cache(monkeypatch)
    if not (is_cached("movenet-lightning") and CenterNetDetector.available()):
        pytest.skip("movenet-lightning / centernet not fetched (distilpose models fetch all)")
    errors: list[tuple[str, str]] = []
    win = MainWindow(AppState(), error_sink=lambda _p, title, text: errors.append((title, text)))
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    state = win.state
    # A named runtime ("auto" may re-time its choice under load) and the detector on the frame clock.
    win.live.update_settings(runtime="onnx-int8", detection_pass_frames=PASS_FRAMES)
    assert win.open_video(SAMPLE)
    win.live.set_enabled(True)
    wait_idle(qtbot, state, timeout=180_000)
    shown: dict[int, list] = {}

    def on_prediction() -> None:
        result = state.prediction
        if win.player.playing and result is not None and result.index == state.frame_index:
            shown[state.frame_index] = result.instances

    state.predictionsChanged.connect(on_prediction)
    win.player.rate = 0  # every frame through the model, in order: none dropped
    win.player.play()
    qtbot.waitUntil(lambda: not win.player.playing, timeout=600_000)
    assert not errors and state.frame_index == state.frame_count - 1
    assert set(SCORED) <= set(shown)  # every scored frame was shown with its own result

    predictor = load_predictor(default_live_model(), "onnx-int8", threads=1).predictor
    inline = LivePipeline(predictor, make_detector("auto"))  # a paused frame: detected in line
    coverage = Coverage()
    with VideoReader(SAMPLE, index_cache=None) as reader:
        for i in SCORED:
            add_frame(coverage, i, inline.process(reader.frame(i), index=None).instances, shown[i])
    assert coverage.visible >= 100  # one or two people on most scored frames
    # Before, a walker waited for the next tiled detection to start, then for all three of its passes.
    assert coverage.longest_gap() <= LONGEST, coverage.missing_frames
    assert coverage.missing <= MISSING, coverage.missing_frames
