"""Measure the pose tracker on real multi-person footage (docs/tracking.md has the results and the commands).

    .venv/bin/python docs/measure_tracking.py detect VIDEO --start S --frames N --out people.json
    .venv/bin/python docs/measure_tracking.py sheet people.json VIDEO --out sheet.jpg [--every 5]
    .venv/bin/python docs/measure_tracking.py score people.json truth.json

``detect`` runs the app's pipeline (CenterNet boxes, then the pose model) on N frames from S and stores every
person found (box, keypoints, scores) once, so tracker variants are compared on the same detections.
``sheet`` draws the tracker's ids onto every k-th frame in one contact sheet to check by eye. ``score`` counts
id switches and fragmentations per 100 frames against ``truth.json`` for our tracker and simpler alternatives.
The truth file lists, per frame index, the box and identity of each real person as a person checked them
(``{"frames": {"40": [[x, y, w, h, "A"], ...]}}``); a detection overlapping no true box (IoU < 0.5) is a false
detection and is not scored.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from distilpose.tracking import PoseTracker, TrackerConfig, box_iou, greedy_match, id_errors
from distilpose.types import Instance

#: Our tracker and the alternatives it is compared with.
VARIANTS: dict[str, TrackerConfig] = {
    "ours: 2-stage IoU+OKS, 30-frame memory": TrackerConfig(),
    "IoU only (no OKS)": TrackerConfig(iou_weight=1.0),
    "unmatched low-score people start a (tentative) track": TrackerConfig(low_starts_track=True),
    "no low-score stage": replace(TrackerConfig(), low_score=TrackerConfig().high_score),
    "no memory (a miss ends a track)": TrackerConfig(max_missed=0),
    "frame-to-frame IoU only (all of the above off)": TrackerConfig(
        iou_weight=1.0, low_score=0.3, max_missed=0, velocity_smoothing=0.0
    ),
}


def detect(args: argparse.Namespace) -> None:
    from distilpose.detection import make_detector
    from distilpose.inference.loading import load_predictor
    from distilpose.pipeline import LivePipeline
    from distilpose.video import VideoReader

    model = load_predictor(args.model)
    pipeline = LivePipeline(model.predictor, make_detector("centernet"))
    frames = []
    with VideoReader(args.video) as reader:
        end = min(args.start + args.frames, len(reader))
        for f in range(args.start, end):
            result = pipeline.process(reader.frame(f))
            frames.append(
                {
                    "index": f,
                    "people": [
                        {
                            "bbox": list(map(float, inst.bbox)) if inst.bbox is not None else None,
                            "keypoints": inst.keypoints.tolist(),
                            "scores": None if inst.scores is None else np.asarray(inst.scores).tolist(),
                            "score": inst.score,
                        }
                        for inst in result.instances
                    ],
                }
            )
            print(f"\rframe {f} ({len(result.instances)} people)", end="", file=sys.stderr)
    print(file=sys.stderr)
    Path(args.out).write_text(json.dumps({"video": Path(args.video).name, "model": model.name, "frames": frames}))


def _people(frame: dict) -> list[Instance]:
    return [
        Instance(
            keypoints=np.array(p["keypoints"]),
            bbox=None if p["bbox"] is None else tuple(p["bbox"]),
            scores=None if p["scores"] is None else np.array(p["scores"]),
            score=p["score"],
            source="student",
        )
        for p in frame["people"]
    ]


def track(doc: dict, config: TrackerConfig) -> list[list[int | None]]:
    tracker = PoseTracker(config)
    return [tracker.update(frame["index"], _people(frame)) for frame in doc["frames"]]


def sheet(args: argparse.Namespace) -> None:
    from distilpose.render import draw_instances
    from distilpose.video import VideoReader

    doc = json.loads(Path(args.people).read_text())
    ids = track(doc, TrackerConfig())
    tiles = []
    with VideoReader(args.video) as reader:
        for frame, frame_ids in list(zip(doc["frames"], ids, strict=True))[:: args.every]:
            image = reader.frame(frame["index"])
            people = _people(frame)
            image = draw_instances(image, people, 0.3)
            for n, (inst, tid) in enumerate(zip(people, frame_ids, strict=True)):
                x, y = (inst.bbox[0], inst.bbox[1]) if inst.bbox is not None else (5, 20)
                label = f"{tid if tid is not None else '-'}/d{n}"
                cv2.putText(image, label, (int(x), int(y) + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 4)
                cv2.putText(image, label, (int(x), int(y) + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 0), 2)
            cv2.putText(image, f"#{frame['index']}", (5, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
            tiles.append(cv2.resize(image, (args.width, int(image.shape[0] * args.width / image.shape[1]))))
    cols = args.cols
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)]
    cv2.imwrite(args.out, cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
    print(args.out)


def true_ids(doc: dict, truth: dict) -> list[list[str | None]]:
    """The checked identity of each detection: the true box it overlaps (IoU >= 0.5), else None."""
    out = []
    for frame in doc["frames"]:
        boxes = truth["frames"].get(str(frame["index"]), [])
        people = frame["people"]
        sim = np.array([[box_iou(np.array(p["bbox"]), np.array(b[:4])) for b in boxes] for p in people])
        ids: list[str | None] = [None] * len(people)
        if sim.size:
            for r, c in greedy_match(sim, 0.5):
                ids[r] = boxes[c][4]
        out.append(ids)
    return out


def score(args: argparse.Namespace) -> None:
    doc = json.loads(Path(args.people).read_text())
    truth = true_ids(doc, json.loads(Path(args.truth).read_text()))
    n = len(doc["frames"])
    people = len({g for frame in truth for g in frame if g is not None})
    print(f"{doc['video']}: {n} frames, {sum(len(f['people']) for f in doc['frames'])} detections, {people} people")
    print(
        "| tracker | id switches / 100 frames | fragmentations / 100 frames | ids used | true detections "
        "without id | detections without id |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, config in VARIANTS.items():
        predicted = track(doc, config)
        e = id_errors(truth, predicted)
        used = len({p for frame in predicted for p in frame if p is not None})
        without = sum(p is None for frame in predicted for p in frame)
        print(
            f"| {name} | {e.per_100(e.switches):.1f} ({e.switches}) | "
            f"{e.per_100(e.fragmentations):.1f} ({e.fragmentations}) | {used} | {e.unassigned} of {e.people} | "
            f"{without} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("detect")
    p.add_argument("video")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--model", default="movenet-thunder")
    p.add_argument("--out", required=True)
    p.set_defaults(func=detect)
    p = sub.add_parser("sheet")
    p.add_argument("people")
    p.add_argument("video")
    p.add_argument("--out", required=True)
    p.add_argument("--every", type=int, default=5)
    p.add_argument("--cols", type=int, default=5)
    p.add_argument("--width", type=int, default=320)
    p.set_defaults(func=sheet)
    p = sub.add_parser("score")
    p.add_argument("people")
    p.add_argument("truth")
    p.set_defaults(func=score)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
