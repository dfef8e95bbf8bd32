"""`distilpose bench --pipeline VIDEO`: end-to-end FPS of the app's live pipeline, without the window.

Each model in ``--models`` runs the same frames of the video in turn (decode, boxes, pose, draw), so a
student's and a teacher's numbers come out side by side from one command.
"""

from __future__ import annotations

import argparse
import json
import os

from distilpose.errors import DistilPoseError


def run_pipeline_bench(args: argparse.Namespace) -> int:
    import torch

    from distilpose.detection import make_detector
    from distilpose.pipeline import (
        RUNTIME_CHOICES,
        LivePipeline,
        bench_pipeline,
        format_pipeline_bench,
        load_predictor,
    )

    if not os.path.isfile(args.pipeline):
        raise DistilPoseError(f"{args.pipeline}: video not found")
    runtime = (args.runtime or "torch").strip()
    if runtime not in RUNTIME_CHOICES:
        raise DistilPoseError(f"--pipeline runs one runtime; choose from {', '.join(RUNTIME_CHOICES)}")
    if args.detector not in ("auto", "centernet", "full-frame"):
        raise DistilPoseError(f"unknown detector {args.detector!r}; choose auto, centernet or full-frame")
    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    reports = []
    for name in names:
        loaded = load_predictor(name, runtime, flip=args.flip, threads=threads)
        detector = make_detector(
            args.detector, tracking=args.redetect_every > 0, redetect_every=max(1, args.redetect_every)
        )
        pipeline = LivePipeline(loaded.predictor, detector)
        report = bench_pipeline(
            args.pipeline,
            pipeline,
            frames=args.frames,
            progress=not args.json,
            model_name=loaded.name,
            runtime=runtime,
            trained=loaded.trained,
        )
        reports.append(report)
        if not args.json:
            print(format_pipeline_bench(report))
            print()
    if args.json:
        print(json.dumps({"threads": threads, "flip": args.flip, "runs": [r.as_dict() for r in reports]}))
    return 0
