"""`distilpose bench`: batch-1 latency and FPS of models x runtimes, with ratios measured in the same run."""

from __future__ import annotations

import argparse
import json
import os

from distilpose.bench import format_table, rows_as_json, run_benchmark
from distilpose.inference.options import RUNTIME, add_inference_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmark models and runtimes (batch-1 latency, FPS, ratios)")
    p.add_argument(
        "--models",
        "--model",
        default=None,
        help="comma-separated model names or checkpoints (default distilpose-s; with --pipeline: the app's "
        "default live model)",
    )
    add_inference_args(
        p, runtime="list", detector=None, flip="time flip test too (batch of 2: image and its mirror)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="intra-op threads (default: all cores; with --pipeline: the app's live setting, 1)",
    )
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--iters", type=int, default=30, help="timed calls per window")
    p.add_argument("--windows", type=int, default=3, help="round-robin windows")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--pipeline",
        metavar="VIDEO",
        help="instead: end-to-end FPS of the live pipeline on VIDEO (decode, boxes, pose, draw), per stage",
    )
    p.add_argument("--frames", type=int, default=100, help="with --pipeline: frames to time (default 100)")
    add_inference_args(p.add_argument_group("with --pipeline"), runtime=None, detector="cli", flip=None)
    p.add_argument(
        "--labels",
        metavar="ANN.json",
        help="with --pipeline: keypoint labels of frames of VIDEO (distilpose pseudo-label --flip of it): "
        "each run's AP on the labelled frames it timed",
    )
    p.add_argument(
        "--variants",
        default="app",
        help="with --pipeline: comma-separated crowd policies to run each model with: app (the app's "
        "defaults), base (none), reuse (still people re-estimated every other frame), idle2 (the pose model "
        "on 2 threads while the detector is idle), whole (all crops in one call), tilesN (the tiled "
        "detector's tiles on every N-th periodic detection), or a '+' of them (reuse+idle2)",
    )
    p.add_argument(
        "--redetect-every",
        type=int,
        default=None,
        help="with --pipeline: boxes from the previous frame's keypoints, re-detected every N processed "
        "frames in the background, as the app does (default: the app's; 0: detect every frame, in line)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from distilpose.models.checkpoint import load_model

    if args.pipeline:
        from distilpose.cli.pipeline_bench import run_pipeline_bench

        return run_pipeline_bench(args)
    runtimes = RUNTIME.parse_list(args.runtime)
    names = [m.strip() for m in (args.models or "distilpose-s").split(",") if m.strip()]
    models = [(name, load_model(name)[0]) for name in names]
    threads = args.threads or os.cpu_count()
    rows, ratios = run_benchmark(
        models, runtimes, threads, args.warmup, args.iters, args.windows, args.flip, progress=not args.json
    )
    if args.json:
        meta = {"threads": threads, "flip": args.flip, "iters": args.iters, "windows": args.windows}
        print(json.dumps(rows_as_json(rows, ratios, meta)))
    else:
        print(format_table(rows, ratios))
    return 0
