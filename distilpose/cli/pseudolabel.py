"""`distilpose pseudo-label`: a teacher labels raw videos and photos into a COCO set for distillation."""

from __future__ import annotations

import argparse
import json

from distilpose.inference.options import DEFAULT_TEACHER, add_inference_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pseudo-label",
        help="label videos/images with a teacher into a COCO dataset (images/, person_keypoints.json, sources.json)",
    )
    p.add_argument("inputs", nargs="+", help="videos, images or folders of images")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--teacher", default=DEFAULT_TEACHER, help=f"teacher model or checkpoint (default {DEFAULT_TEACHER})"
    )
    add_inference_args(
        p, flip="teacher labels averaged with the mirrored crop (flip test: better labels, twice the time)"
    )
    p.add_argument("--every", type=int, default=5, help="take every N-th video frame (default 5)")
    p.add_argument(
        "--keypoint-threshold",
        type=float,
        default=0.3,
        help="teacher score below which a keypoint is unlabelled",
    )
    p.add_argument("--min-keypoints", type=int, default=6, help="drop people with fewer confident keypoints")
    p.add_argument(
        "--max-side",
        type=int,
        default=None,
        help="store images at most this many pixels on their longest side",
    )
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from distilpose.detection import make_detector
    from distilpose.inference.loading import load_predictor
    from distilpose.pipeline import LivePipeline
    from distilpose.pseudolabel import pseudo_label

    loaded = load_predictor(args.teacher, args.runtime, flip=args.flip)
    if not loaded.trained:
        from distilpose.errors import DistilPoseError

        raise DistilPoseError(f"{args.teacher}: has no trained weights; a teacher must be trained")
    detector = make_detector(args.detector)
    bar = tqdm(total=0, unit="frame", desc="pseudo-labelling")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    stats = pseudo_label(
        args.inputs,
        args.out,
        pipeline=LivePipeline(loaded.predictor, detector),
        teacher_name=loaded.name + (" (flip)" if args.flip else ""),
        every=args.every,
        keypoint_threshold=args.keypoint_threshold,
        min_keypoints=args.min_keypoints,
        max_side=args.max_side,
        progress=progress,
    )
    bar.close()
    summary = {
        "images": stats.images,
        "instances": stats.instances,
        "dropped": stats.dropped,
        "out": args.out,
    }
    print(
        json.dumps(summary) if args.json else f"{stats.images} images, {stats.instances} people -> {args.out}"
    )
    return 0
