"""`distilpose train CONFIG`: train a heatmap teacher or distil a DistilPose student.

The training engine lives in ``distilpose.training`` and is imported inside the command only: the
library never imports it at module level (see tests/unit/test_layers.py).
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a teacher or distil a student from a config file",
        description=(
            "Train a heatmap teacher (config without 'teacher') or distil a DistilPose student from a frozen "
            "teacher. Works alone or under `torchrun --nproc_per_node N` unchanged. SIGINT/SIGTERM write a "
            "final checkpoint and exit (code 128+signal); --resume continues exactly from it."
        ),
    )
    parser.add_argument(
        "config", metavar="CONFIG", help="config file (.json, or .yaml with PyYAML) or bundled name"
    )
    parser.add_argument("--out", metavar="DIR", help="run folder (default: runs/<config name>)")
    parser.add_argument(
        "--resume", action="store_true", help="continue from DIR/checkpoints/last.pt if present"
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available, else cpu")
    parser.add_argument(
        "--events",
        metavar="FILE|-",
        help="JSON-lines event stream: a file (appended) or '-' for stdout (default: DIR/events.jsonl)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value (JSON), repeatable: --set loss.sim_heatmap=0 --set run.epochs=6",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from distilpose.training.entry import train_main  # lazy: distilpose never imports training at import time

    return train_main(
        args.config,
        out=args.out,
        resume=args.resume,
        device=args.device,
        events=args.events,
        show_progress=False if args.no_progress else None,
        overrides=args.overrides,
    )
