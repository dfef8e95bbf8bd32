"""`distilpose project`: create, import/export COCO (and YOLO-pose), split and show statistics."""

from __future__ import annotations

import argparse
import json
import sys

from distilpose.cli.project_batch import register_batch
from distilpose.cli.project_distil import register_distil
from distilpose.cli.project_relink import register_relink
from distilpose.project.records import SPLITS
from distilpose.project.splits import SPLIT_UNITS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "project",
        help="manage an annotation project (SQLite file): create, import/export COCO, split, stats",
        description="An annotation project is one SQLite file; every change is saved when it is made.",
    )
    sub = parser.add_subparsers(dest="project_command", metavar="ACTION", required=True)

    p = sub.add_parser("create", help="create an empty project file")
    p.add_argument("project", metavar="PROJECT", help="the new project file (e.g. poses.dpproj)")
    p.set_defaults(func=_create)

    p = sub.add_parser(
        "import-coco",
        help="merge a COCO person-keypoint file into the project",
        description="Images become media (matched by path), annotations verified instances with source "
        "'import'. The file is checked completely first: a file with problems changes nothing.",
    )
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("annotations", metavar="ANN.json")
    p.add_argument("--images", required=True, metavar="DIR", help="folder the file names are relative to")
    p.set_defaults(func=_import_coco)

    from distilpose.project.formats import EXPORTERS

    for fmt in EXPORTERS.values():  # one command per registered format: export-coco, export-yolo, ...
        p = sub.add_parser(f"export-{fmt.name}", help=fmt.help, description=fmt.description)
        p.add_argument("project", metavar="PROJECT")
        p.add_argument("out_dir", metavar="OUT_DIR")
        p.add_argument("--only-verified", action="store_true", help="only instances a person verified")
        p.add_argument("--split", action="append", choices=SPLITS, help="only frames of this split (repeatable)")
        p.add_argument(
            "--images", default=fmt.image_modes[0], choices=fmt.image_modes, help=f"default: {fmt.image_modes[0]}"
        )
        for option in fmt.options:
            p.add_argument(f"--{option.name.replace('_', '-')}", action="store_true", help=option.help)
        p.add_argument("--force", action="store_true", help="overwrite an existing export")
        p.set_defaults(func=_export, export_format=fmt.name)

    p = sub.add_parser(
        "check",
        help="check the project file for damage and say what is damaged",
        description="SQLite's integrity and foreign-key checks plus checks of every typed and JSON value. "
        "Exit status 0: no damage found; 1: damage found (listed); 2: the file cannot be opened at all.",
    )
    p.add_argument("project", metavar="PROJECT")
    p.set_defaults(func=_check)

    p = sub.add_parser("stats", help="counts of frames, instances, splits and keypoints per joint")
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_stats)

    p = sub.add_parser(
        "split",
        help="assign train/val/test splits (seeded)",
        description="Splits the dataset frames (images, and video frames holding an instance). "
        "--by media keeps all frames of a video in one split, so near-identical frames do not leak from "
        "train into val; --by time holds out the last part of each video (val, then test) after a gap of at "
        "least one second of frames, which are left unsplit.",
    )
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("--val", type=float, default=0.2, help="fraction of frames for val (default 0.2)")
    p.add_argument("--test", type=float, default=0.0, help="fraction of frames for test (default 0)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--by", choices=SPLIT_UNITS, default="frame", help="split unit (default frame)")
    p.set_defaults(func=_split)

    register_batch(sub)  # add, prelabel (distilpose.cli.project_batch)
    register_distil(sub)  # distil (distilpose.cli.project_distil)
    register_relink(sub)  # relink (distilpose.cli.project_relink)


def _create(args: argparse.Namespace) -> int:
    from distilpose.project.store import ProjectStore

    ProjectStore.create(args.project).close()
    print(f"created {args.project}")
    return 0


def _import_coco(args: argparse.Namespace) -> int:
    from distilpose.cli.project_open import open_project
    from distilpose.project.coco_io import import_coco

    with open_project(args.project) as store:
        report = import_coco(store, args.annotations, args.images)
    print(f"imported {args.annotations}: {report.summary()}")
    if report.missing_image_files:
        shown = ", ".join(report.missing_image_files[:5]) + (
            " ..." if len(report.missing_image_files) > 5 else ""
        )
        count = len(report.missing_image_files)
        print(f"warning: {count} image file(s) not found under {args.images}: {shown}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from distilpose.cli.project_open import open_project
    from distilpose.project.formats import dataset_format

    fmt = dataset_format(args.export_format)
    options = {o.name: getattr(args, o.name) for o in fmt.options}
    with open_project(args.project, read_only=True) as store:
        report = fmt.export(
            store,
            args.out_dir,
            only_verified=args.only_verified,
            splits=args.split,
            images=args.images,
            overwrite=args.force,
            options=options,
        )
    print(f"exported {report.summary()}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    from distilpose.cli.project_open import open_project
    from distilpose.project.stats import project_stats

    with open_project(args.project, read_only=True) as store:
        stats = project_stats(store)
    print(json.dumps(stats.to_dict()) if args.json else stats.format())
    return 0


def _check(args: argparse.Namespace) -> int:
    from distilpose.cli.project_open import open_project
    from distilpose.project.integrity import check_project

    with open_project(args.project, read_only=True) as store:
        problems = check_project(store)
    if not problems:
        print(f"{args.project}: no damage found")
        return 0
    print(f"{args.project}: {len(problems)} problem(s):")
    for problem in problems:
        print(f"  - {problem}")
    return 1


def _split(args: argparse.Namespace) -> int:
    from distilpose.cli.project_open import open_project
    from distilpose.project.splits import split_project

    with open_project(args.project) as store:
        split_project(store, val=args.val, test=args.test, seed=args.seed, by=args.by)
        counts = {s: len(store.frames(split=s)) for s in SPLITS}
    print("frames per split: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0
