"""`distilpose bench --pipeline VIDEO`: end-to-end FPS of the app's live pipeline, without the window.

Each (model, runtime) pair runs the same frames of the video in turn (decode, boxes, pose, draw) on the
pipeline the app builds (:func:`~distilpose.pipeline.make_live_pipeline`), so a student's and a
teacher's numbers come out side by side from one command. A pair that fails is reported with its error and
the others are still measured.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os

from distilpose.errors import DistilPoseError

#: ``--variants`` words: the app's defaults, none of the crowd policies, still people every other frame, 2 pose
#: threads while the detector idles, all crops in one runtime call (instead of the live batches of 4), the
#: tiles on every N-th periodic detection (``tilesN``, N >= 1; ADR 0033).
VARIANTS = ("app", "base", "reuse", "idle2", "whole", "tilesN")


def parse_variant(text: str) -> tuple[str, dict]:
    """A ``--variants`` entry -> (its label, make_live_pipeline keyword arguments); app = the app's defaults."""
    parts = [p.strip() for p in text.strip().split("+")]
    tiles = [p for p in parts if p.startswith("tiles") and p[5:].isdigit() and int(p[5:]) >= 1]
    unknown = [p for p in parts if p not in VARIANTS and p not in tiles]
    if unknown:
        raise DistilPoseError(f"unknown variant {text!r}; use {', '.join(VARIANTS)} or a '+' of them")
    if parts == ["app"]:
        return "app", {}
    policy = {"reuse_static": "reuse" in parts, "idle_threads": 2 if "idle2" in parts else None}
    if "whole" in parts:
        policy["max_batch"] = 0
    if tiles:
        policy["tiles_every"] = int(tiles[-1][5:])
    return "+".join(parts), policy


def run_pipeline_bench(args: argparse.Namespace) -> int:
    import torch

    from distilpose.cpu_pools import opencv_on_calling_thread
    from distilpose.inference.loading import load_predictor
    from distilpose.inference.options import AUTO, RUNTIME
    from distilpose.inference.pipeline_bench import (
        FrameLabels,
        bench_pipeline,
        format_pipeline_bench,
        format_pipeline_table,
    )
    from distilpose.models.bundled import default_live_model
    from distilpose.pipeline import LIVE_THREADS, REDETECT_EVERY, make_live_pipeline

    if not os.path.isfile(args.pipeline):
        raise DistilPoseError(f"{args.pipeline}: video not found")
    runtimes = RUNTIME.parse_list(args.runtime)
    threads = args.threads or LIVE_THREADS
    torch.set_num_threads(threads)
    opencv_on_calling_thread()  # as the app does: the bench measures the threads the window runs
    redetect = REDETECT_EVERY if args.redetect_every is None else args.redetect_every
    names = [m.strip() for m in (args.models or default_live_model()).split(",") if m.strip()]
    variants = [parse_variant(v) for v in getattr(args, "variants", "app").split(",") if v.strip()]
    labels = getattr(args, "labels", None)
    if labels:
        FrameLabels(labels)  # a missing or unusable file stops here, named, before any model loads
    reports, failures = [], []
    for name, runtime, (label, policy) in itertools.product(names, runtimes, variants):
        pipeline = None
        try:
            loaded = load_predictor(name, runtime, flip=args.flip, threads=threads)
            pipeline = make_live_pipeline(
                loaded.predictor, args.detector, tracking=redetect > 0, redetect_every=redetect, **policy
            )
            report = bench_pipeline(
                args.pipeline,
                pipeline,
                frames=args.frames,
                progress=not args.json,
                model_name=loaded.name if label == "app" else f"{loaded.name} [{label}]",
                runtime=loaded.runtime if runtime != AUTO else f"auto:{loaded.runtime}",
                trained=loaded.trained,
                labels=FrameLabels(labels) if labels else None,
            )
        except DistilPoseError as exc:
            if len(names) * len(runtimes) == 1:
                raise
            failures.append((name, runtime, str(exc).splitlines()[0]))
            continue
        finally:
            if pipeline is not None:
                pipeline.close()
        reports.append(report)
        if not args.json:
            print(format_pipeline_bench(report))
            print()
    if args.json:
        doc = {
            "threads": threads,
            "flip": args.flip,
            "runs": [r.as_dict() for r in reports],
            "failed": [{"model": m, "runtime": r, "error": e} for m, r, e in failures],
        }
        print(json.dumps(doc))
    else:
        print(format_pipeline_table(reports, failures))
    return 0 if reports else 2
