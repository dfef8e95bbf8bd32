"""`distilpose bench`: batch-1 latency and FPS of models x runtimes, with ratios measured in the same run."""

from __future__ import annotations

import argparse
import json
import os

from distilpose.bench import RUNTIMES, format_table, rows_as_json, run_benchmark
from distilpose.inference.runtimes import parse_runtime_list


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmark models and runtimes (batch-1 latency, FPS, ratios)")
    p.add_argument("--models", default="distilpose-s", help="comma-separated model names or checkpoints")
    p.add_argument("--runtime", default="torch,onnx", help=f"comma-separated, from {', '.join(RUNTIMES)}")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: all cores)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--iters", type=int, default=30, help="timed calls per window")
    p.add_argument("--windows", type=int, default=3, help="round-robin windows")
    p.add_argument(
        "--flip", action="store_true", help="time flip test too (batch of 2: image and its mirror)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from distilpose.models.checkpoint import load_model

    runtimes = parse_runtime_list(args.runtime, RUNTIMES)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
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
