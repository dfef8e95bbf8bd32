"""`distilpose` command line. Each subcommand lives in its own module with a ``register(subparsers)``.

Subcommands are thin: parse arguments, call the library, print.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from distilpose import __version__
from distilpose.errors import DistilPoseError

#: Modules under distilpose.cli that contribute subcommands, in help order.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "info",
    "export",
    "bench",
    "eval",
    "train",
    "models",
    "project",
    "pseudolabel",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distilpose",
        description="DistilPose Studio command line: models, zoo, export, benchmarks, evaluation, training and projects.",
    )
    parser.add_argument("--version", action="version", version=f"distilpose {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"distilpose.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except DistilPoseError as exc:
        print(f"distilpose {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a folder we may not write: the file and the reason, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"distilpose {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"distilpose {args.command}: cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
