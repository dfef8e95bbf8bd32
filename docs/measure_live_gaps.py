"""Frames where the live view leaves a visible person without a skeleton (ADR 0020 has the results).

    .venv/bin/python docs/measure_live_gaps.py VIDEO --reference /tmp/ref.json [--pass-frames 2 6] [--real 2] [--app 2] [--list] [--runtime R]

The reference is every frame detected in line (what a paused frame shows), cached in ``--reference``. The live
pipeline then plays the clip in three ways: with each background detector pass taking exactly ``--pass-frames``
processed frames (deterministic; the tiled detector makes three passes, so 2 = a detection landing 6 frames
after it was asked for), and ``--real`` times with the real background thread, unpaced (every frame
processed, as ``--play --play-rate 0``), and ``--app`` times in the real window (offscreen), unpaced, through
the app's live path. Each run prints visible person-frames, those without a
live skeleton, frames with someone missing, the longest such run of frames, stray (drifted) boxes and the
detections run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from distilpose.inference.coverage import Coverage, add_frame
from distilpose.types import Instance


def _load_predictor(runtime: str = "onnx-int8"):
    from distilpose.inference.loading import load_predictor
    from distilpose.models.bundled import default_live_model
    from distilpose.pipeline import LIVE_THREADS

    # A named runtime, not "auto": auto's cached choice may be re-timed under load between two runs.
    return load_predictor(default_live_model(), runtime, threads=LIVE_THREADS).predictor


def reference(video: str, cache: Path, frames: int, predictor) -> list[list[Instance]]:
    if cache.is_file():
        data = json.loads(cache.read_text())
        if data["video"] == str(video) and data["frames"] >= frames:
            return [[_instance(p) for p in people] for people in data["people"][:frames]]
    from distilpose.detection import make_detector
    from distilpose.pipeline import LivePipeline
    from distilpose.video import VideoReader

    pipeline = LivePipeline(predictor, make_detector("auto"))  # every frame detected in line
    out = []
    with VideoReader(video) as reader:
        for i in range(min(frames, len(reader))):
            out.append(pipeline.process(reader.frame(i), index=i).instances)
    cache.write_text(
        json.dumps(
            {
                "video": str(video),
                "frames": len(out),
                "people": [
                    [{"kp": p.keypoints.tolist(), "scores": p.scores.tolist(), "bbox": p.bbox} for p in people]
                    for people in out
                ],
            }
        )
    )
    return out


def _instance(p: dict) -> Instance:
    return Instance(np.array(p["kp"]), bbox=tuple(p["bbox"]), scores=np.array(p["scores"]), source="student")


def live(video: str, refs: list[list[Instance]], predictor, pass_frames: float | None) -> tuple[Coverage, int]:
    from distilpose.pipeline import make_live_pipeline
    from distilpose.video import VideoReader

    pipeline = make_live_pipeline(predictor, "auto", pass_frames=pass_frames)  # the app's and the bench's
    total = Coverage()
    try:
        with VideoReader(video) as reader:
            for i in range(len(refs)):
                add_frame(total, i, refs[i], pipeline.process(reader.frame(i), index=i).instances)
    finally:
        pipeline.close()
    return total, pipeline.detector.detections


def in_window(video: str, refs: list[list[Instance]], runtime: str) -> tuple[Coverage, int]:
    """The clip played once in the real window (offscreen unless QT_QPA_PLATFORM says otherwise), unpaced,
    through the app's live path with the real background thread: what a user sees, the load deciding the lag."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer

    from distilpose.app.main import application
    from distilpose.app.main_window import MainWindow
    from distilpose.app.state import AppState

    application()
    errors: list[str] = []
    win = MainWindow(AppState(), error_sink=lambda _p, title, text: errors.append(f"{title}: {text}"))
    win.resize(1280, 800)
    win.show()
    state, player = win.state, win.player
    win.live.update_settings(runtime=runtime)
    if not win.open_video(video):
        raise SystemExit(f"{video}: cannot be opened")
    win.live.set_enabled(True)
    shown: dict[int, list[Instance]] = {}

    def on_prediction() -> None:
        result = state.prediction
        if player.playing and result is not None and result.index == state.frame_index:
            shown[state.frame_index] = result.instances

    state.predictionsChanged.connect(on_prediction)
    player.rate = 0
    loop = QEventLoop()

    def start_when_ready() -> None:
        if errors:
            loop.quit()
        elif state.pending.is_idle() and win.live.status is not None:
            player.playingChanged.connect(lambda playing: None if playing else QTimer.singleShot(0, loop.quit))
            player.play()
        else:
            QTimer.singleShot(20, start_when_ready)

    QTimer.singleShot(0, start_when_ready)
    loop.exec()
    runs = win.live.playback_report()["detector_runs"]
    win.live.shutdown()
    win.close()
    if errors:
        raise SystemExit("; ".join(errors))
    total = Coverage()
    for i in range(1, len(refs)):  # frame 0 is shown paused, before Play
        add_frame(total, i, refs[i], shown.get(i, []))
    return total, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video")
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--pass-frames", type=float, nargs="*", default=[2.0], help="processed frames a pass takes")
    parser.add_argument("--real", type=int, default=1, help="runs with the real background thread")
    parser.add_argument("--app", type=int, default=0, help="runs in the real window (offscreen), unpaced")
    parser.add_argument("--list", action="store_true", help="also list the frames with someone missing")
    parser.add_argument("--runtime", default="onnx-int8", help="of the default student (what auto picks on 2 cores)")
    args = parser.parse_args()
    predictor = _load_predictor(args.runtime)
    refs = reference(args.video, args.reference, args.frames, predictor)
    runs = [(f"{p:g} frames a pass", p) for p in args.pass_frames]
    runs += [(f"real thread #{k + 1}", None) for k in range(args.real)]
    runs += [(f"window #{k + 1}", -1.0) for k in range(args.app)]
    print(f"{Path(args.video).name}: {len(refs)} frames")
    print(
        "| run | visible person-frames | without skeleton | frames with one missing | longest gap (frames) "
        "| pose off | stray boxes | detections |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, pass_frames in runs:
        if pass_frames == -1.0:
            cov, detections = in_window(args.video, refs, args.runtime)
        else:
            cov, detections = live(args.video, refs, predictor, pass_frames)
        d = cov.as_dict()
        print(
            f"| {name} | {d['visible']} | {d['missing']} | {d['frames_with_missing']} | {d['longest_gap']} "
            f"| {d['off_pose']} | {d['stray_boxes']} | {detections} |"
        )
        if args.list:
            print("  missing at", cov.missing_frames)


if __name__ == "__main__":
    main()
