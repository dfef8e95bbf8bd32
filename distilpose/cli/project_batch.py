"""`distilpose project add` and `distilpose project prelabel`: batch work on a server without a display, with
the same library code the app runs (:mod:`distilpose.project.adding`, :mod:`distilpose.prelabel`)."""

from __future__ import annotations

import argparse
import sys

from distilpose.inference.options import add_inference_args
from distilpose.project.batch import FRAME_CHOICES


def register_batch(sub: argparse._SubParsersAction) -> None:
    """Add the batch actions to ``distilpose project``'s subparsers."""
    p = sub.add_parser(
        "add",
        help="add images, folders of images or a video's frames to the project",
        description="Images become one frame each, every image of a folder an image, and a video every N-th "
        "frame. Files already in the project are skipped; every path is checked before anything is added.",
    )
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("media", nargs="+", metavar="MEDIA", help="images, folders of images, videos")
    p.add_argument("--every", type=int, default=1, metavar="N", help="every N-th video frame (default 1)")
    p.set_defaults(func=_add)

    p = sub.add_parser(
        "prelabel",
        help="run a model on frames of the project and store its people as predictions",
        description="Each frame is saved when it is done: Ctrl-C stops after the current frame and keeps "
        "every frame done. Verified people and people you placed are kept; earlier unverified predictions of "
        "a frame are replaced.",
    )
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("--model", required=True, metavar="M", help="model name or checkpoint (see `models list`)")
    add_inference_args(p, flip="average with the horizontally flipped crop (the teacher's best labels; slower)")
    p.add_argument(
        "--track", action="store_true", help="give each person of a video one track id across its frames"
    )
    p.add_argument(
        "--frames",
        default="all",
        choices=FRAME_CHOICES,
        help="all frames, or the unlabelled ones (no person yet); default all",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=0.0,
        help="keypoints scoring below it are stored as not labelled (default 0)",
    )
    p.set_defaults(func=_prelabel)


def _add(args: argparse.Namespace) -> int:
    from distilpose.cli.project_open import open_project
    from distilpose.project.adding import apply_additions, plan_additions

    with open_project(args.project) as store:
        plan = plan_additions(store, args.media, args.every)
        apply_additions(store, plan)
    for problem in plan.problems:
        print(f"warning: {problem}; only the frames that decode were added", file=sys.stderr)
    print(f"{args.project}: {plan.summary()}")
    return 0


def _prelabel(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from distilpose.cli.project_open import open_project
    from distilpose.detection import make_detector
    from distilpose.inference.loading import load_predictor
    from distilpose.models.readiness import has_trained_weights
    from distilpose.pipeline import LivePipeline
    from distilpose.prelabel import Prelabeller, outcome_counts
    from distilpose.project.batch import select_frames

    with open_project(args.project) as store:
        frame_ids = select_frames(store, args.frames)
        if not frame_ids:
            print(f"{args.project}: no {args.frames} frames to pre-label")
            return 0
        loaded = load_predictor(args.model, args.runtime, flip=args.flip)
        if not has_trained_weights(args.model):
            print(f"warning: {args.model} has no trained weights (random predictions)", file=sys.stderr)
        pipeline = LivePipeline(loaded.predictor, make_detector(args.detector))
        labeller = Prelabeller(store, pipeline, loaded.name, threshold=args.threshold, track=args.track)
        done = failed = 0
        outcomes = []
        bar = tqdm(total=len(frame_ids), unit="frame", desc="pre-labelling")
        try:
            for step in labeller.run(frame_ids):
                if step.error is not None:
                    failed += 1
                    tqdm.write(f"frame {step.frame_id} skipped: {step.error}", file=sys.stderr)
                elif step.outcome is not None:
                    done += 1
                    outcomes.append(step.outcome)
                bar.update(1)
        except KeyboardInterrupt:  # the frame being written rolled back; every finished frame is saved
            bar.close()
            print(f"{args.project}: cancelled after {done} frame(s): {outcome_counts(outcomes)}", file=sys.stderr)
            return 130
        bar.close()
    tracks = " with track ids" if args.track else ""
    skipped = f", {failed} frame(s) skipped" if failed else ""
    print(f"{args.project}: pre-labelled {done} frame(s){tracks}: {outcome_counts(outcomes)}{skipped}")
    return 0
