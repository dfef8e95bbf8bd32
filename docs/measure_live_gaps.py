"""Frames where the live view leaves a visible person without a skeleton (ADR 0020 has the results).

    .venv/bin/python docs/measure_live_gaps.py VIDEO --reference /tmp/ref.json [--lag 6] [--real 2] [--list] [--runtime R]

The reference is every frame detected in line (what a paused frame shows), cached in ``--reference``. The live
pipeline then plays the clip in two ways: with each background detection landing exactly ``--lag``
frames after it was asked for (deterministic), and ``--real`` times with the real background thread, unpaced
(every frame processed, as ``--play --play-rate 0``). Each run prints visible person-frames, those without a
live skeleton, frames with someone missing, the longest such run of frames, stray (drifted) boxes and the
detections run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from distilpose.inference.coverage import Coverage, LaggedDetector, add_frame, play_lagged
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


def live(video: str, refs: list[list[Instance]], predictor, lag: int | None) -> tuple[Coverage, int]:
    from distilpose.detection import TrackFromKeypoints, make_detector
    from distilpose.pipeline import REDETECT_EVERY, LivePipeline
    from distilpose.video import VideoReader

    base = make_detector("auto")
    detector = LaggedDetector(base, lag) if lag else base
    tracker = TrackFromKeypoints(detector, REDETECT_EVERY, background=True)
    pipeline = LivePipeline(predictor, tracker)
    total = Coverage()
    try:
        with VideoReader(video) as reader:
            frames = ((i, reader.frame(i)) for i in range(len(refs)))
            results = play_lagged(pipeline, frames, lag) if lag else (pipeline.process(im, index=i) for i, im in frames)
            for i, result in enumerate(results):
                add_frame(total, i, refs[i], result.instances)
    finally:
        pipeline.close()
    return total, tracker.detections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video")
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--lag", type=int, default=6)
    parser.add_argument("--real", type=int, default=1, help="runs with the real background thread")
    parser.add_argument("--list", action="store_true", help="also list the frames with someone missing")
    parser.add_argument("--runtime", default="onnx-int8", help="of the default student (what auto picks on 2 cores)")
    args = parser.parse_args()
    predictor = _load_predictor(args.runtime)
    refs = reference(args.video, args.reference, args.frames, predictor)
    runs = [(f"lag {args.lag}", args.lag)] + [(f"real thread #{k + 1}", None) for k in range(args.real)]
    print(f"{Path(args.video).name}: {len(refs)} frames")
    print(
        "| run | visible person-frames | without skeleton | frames with one missing | longest gap (frames) "
        "| pose off | stray boxes | detections |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, lag in runs:
        cov, detections = live(args.video, refs, predictor, lag)
        d = cov.as_dict()
        print(
            f"| {name} | {d['visible']} | {d['missing']} | {d['frames_with_missing']} | {d['longest_gap']} "
            f"| {d['off_pose']} | {d['stray_boxes']} | {detections} |"
        )
        if args.list:
            print("  missing at", cov.missing_frames)


if __name__ == "__main__":
    main()
