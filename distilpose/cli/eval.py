"""`distilpose eval`: COCO keypoint AP of a results file (or, later, of a model run) against annotations."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from distilpose.errors import DistilPoseError
from distilpose.evaluation import METRIC_NAMES, evaluate_keypoints, format_metrics
from distilpose.inference.options import add_inference_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="COCO keypoint AP of predictions against annotations",
        description=(
            "Score keypoint predictions with the COCO keypoint benchmark (pycocotools): either a results file "
            "(--results) or a model run on a folder of images (--model with --images)."
        ),
    )
    parser.add_argument("--ann", required=True, metavar="FILE", help="COCO person-keypoint annotation file")
    parser.add_argument("--results", metavar="RESULTS.json", help="COCO keypoint results file to score")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    model = parser.add_argument_group("model evaluation (instead of --results)")
    model.add_argument("--model", metavar="NAME_OR_CHECKPOINT", help="model to run on the images")
    model.add_argument("--images", metavar="DIR", help="folder holding the annotated images")
    model.add_argument(
        "--boxes",
        default="gt",
        metavar="gt|DETECTIONS.json",
        help="person boxes: 'gt' for the annotated boxes, or a COCO detections file (default: gt)",
    )
    add_inference_args(model, detector=None, flip="average with the horizontally flipped image")
    model.add_argument("--out", metavar="RESULTS.json", help="also save the model's results here")
    det = parser.add_argument_group("person detector evaluation (instead of a pose model)")
    add_inference_args(det, runtime=None, detector="eval", flip=None)
    det.description = (
        "--detector runs a detector on --images and scores its person boxes (COCO box AP); --out saves them "
        "as a detections file usable as --boxes"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if sum(bool(x) for x in (args.results, args.model, args.detector)) > 1:
        raise DistilPoseError("give one of --results, --model or --detector")
    if args.detector:
        return _run_detector(args)
    runtime = None
    if args.model:
        results, runtime = _run_model(args)
    elif args.results:
        results = args.results
    else:
        raise DistilPoseError("nothing to evaluate: give --results RESULTS.json (or --model with --images)")
    metrics = evaluate_keypoints(args.ann, results)
    if args.json:
        # the runtime that produced the numbers (what --runtime auto chose), so every AP can say what ran
        extra = {} if runtime is None else {"runtime": runtime}
        print(json.dumps({**{name: metrics[name] for name in METRIC_NAMES}, **extra}))
    else:
        print(format_metrics(metrics))
    return 0


def _run_model(args: argparse.Namespace):
    from distilpose.coco import load_coco, save_keypoint_results
    from distilpose.inference.coco_run import predict_coco
    from distilpose.inference.loading import load_predictor

    if not args.images:
        raise DistilPoseError("--model needs --images DIR (the folder holding the annotated images)")
    dataset = load_coco(args.ann)
    predictor = load_predictor(args.model, args.runtime, flip=args.flip).predictor
    results = predict_coco(predictor, dataset, args.images, boxes=args.boxes, progress=not args.json)
    if args.out:
        save_keypoint_results(results, args.out)
    return results, predictor.runtime.name


def _run_detector(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from distilpose.coco import Detection, load_coco, save_detections
    from distilpose.detection import make_detector
    from distilpose.evaluation import evaluate_boxes
    from distilpose.video import read_image

    if not args.images:
        raise DistilPoseError("--detector needs --images DIR (the folder holding the annotated images)")
    dataset = load_coco(args.ann)
    detector = make_detector(args.detector)
    detections: list[Detection] = []
    for image in tqdm(dataset.images, desc="detecting", unit="image", disable=args.json):
        boxes, scores = detector.detect(read_image(Path(args.images) / image.file_name))
        detections += [Detection(image.id, tuple(b), float(s)) for b, s in zip(boxes, scores, strict=True)]
    if args.out:
        save_detections(detections, args.out)
    metrics = evaluate_boxes(dataset, detections)
    print(json.dumps({name: metrics[name] for name in METRIC_NAMES}) if args.json else format_metrics(metrics))
    return 0
