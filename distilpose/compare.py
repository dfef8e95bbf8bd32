"""Side-by-side accuracy and speed of several pose models on one validation set (AP, PCK@0.2, FPS).

After a distillation job the user has to decide whether the new student replaces the live model, so the new
student, the previous student and the teacher are scored on the same images and the same ground-truth boxes.
AP follows the COCO keypoint protocol of ``distilpose eval --boxes gt`` (rescoring, OKS-NMS, pycocotools);
PCK is reported beside it because on a small project split AP jumps in coarse steps. FPS is the median of
batch-1 calls on one fixed person: the rate the live view would get for one person, all models alike.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from distilpose.coco import CocoDataset, CocoImage, KeypointResult, load_coco
from distilpose.errors import DistilPoseError
from distilpose.inference.coco_run import GtPerson, gt_people  # noqa: F401  (re-exported)
from distilpose.keypoints import NUM_KEYPOINTS

#: PCK threshold as a fraction of the longer side of the person's box.
PCK_ALPHA = 0.2
#: File beside a job's run output that keeps its comparison, so reopening a project does not recompute it.
COMPARISON_FILE = "comparison.json"
WARMUP_CALLS = 3
TIMED_CALLS = 10

#: ``progress(label, images_done, images_total)``, called after each image of each model.
Progress = Callable[[str, int, int], None]


class ModelEntry(NamedTuple):
    """A model to compare: a display label and a registered model name or checkpoint path."""

    label: str
    model: str | os.PathLike


@dataclass
class ComparisonRow:
    """One model's scores; ``error`` set (and the numbers None) when it could not be loaded or run."""

    label: str
    model: str
    ap: float | None = None
    pck: float | None = None
    fps: float | None = None
    latency_ms: float | None = None
    instances: int = 0
    error: str | None = None


@dataclass
class Comparison:
    """What is persisted beside a job: the rows, the annotation file they were scored on, or a note
    explaining why there are none (no validation split)."""

    rows: list[ComparisonRow] = field(default_factory=list)
    ann: str | None = None
    note: str = ""


class ComparisonCancelled(DistilPoseError):
    """``should_stop`` said stop; no partial table is returned (a partial table would mislead)."""


# ---------------------------------------------------------------------------------------------- PCK
def pck_counts(
    pred_xy: np.ndarray, gt_keypoints: np.ndarray, boxes_xywh: np.ndarray, alpha: float = PCK_ALPHA
) -> tuple[int, int]:
    """(hits, labelled): labelled GT keypoints (v > 0) whose prediction lies within ``alpha`` x max(box w, h).

    Shapes: ``pred_xy`` (N, K, 2), ``gt_keypoints`` (N, K, 3), ``boxes_xywh`` (N, 4); a distance equal to the
    threshold counts as a hit. Counts rather than a fraction so several images can be summed exactly.
    """
    pred = np.asarray(pred_xy, dtype=np.float64)
    gt = np.asarray(gt_keypoints, dtype=np.float64)
    boxes = np.asarray(boxes_xywh, dtype=np.float64)
    if (
        pred.ndim != 3
        or pred.shape[2] != 2
        or gt.shape != (*pred.shape[:2], 3)
        or boxes.shape != (len(pred), 4)
    ):
        raise DistilPoseError(
            f"PCK: expected predictions (N, K, 2), ground truth (N, K, 3) and boxes (N, 4); got "
            f"{pred.shape}, {gt.shape} and {boxes.shape}"
        )
    labelled = gt[:, :, 2] > 0
    thresholds = alpha * np.maximum(boxes[:, 2], boxes[:, 3])
    distances = np.linalg.norm(pred - gt[:, :, :2], axis=-1)
    hits = labelled & (distances <= thresholds[:, None])
    return int(hits.sum()), int(labelled.sum())


def pck(
    pred_xy: np.ndarray, gt_keypoints: np.ndarray, boxes_xywh: np.ndarray, alpha: float = PCK_ALPHA
) -> float:
    """Fraction of labelled GT keypoints hit (see :func:`pck_counts`); NaN when none is labelled."""
    hits, labelled = pck_counts(pred_xy, gt_keypoints, boxes_xywh, alpha)
    return hits / labelled if labelled else math.nan


# ---------------------------------------------------------------------------------------------- scoring
class Scored(NamedTuple):
    """A model's scores on a set, and the predictions they came from (for :mod:`distilpose.ap_interval`)."""

    ap: float
    pck: float
    instances: int
    results: list[KeypointResult]


def evaluate_predictor(
    predictor,
    dataset: CocoDataset,
    images_dir: Path,
    people: list[tuple[CocoImage, list[GtPerson]]],
    *,
    label: str = "",
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Scored:
    """AP, PCK@0.2, number of people and the scored predictions of ``predictor`` on ``people`` (from
    :func:`gt_people`).

    The top-down post-processing and COCOeval are the library's (:func:`topdown_results`,
    :func:`evaluate_keypoints`), with the thresholds of :mod:`distilpose.inference.coco_run`, so the AP equals
    ``distilpose eval --boxes gt``; the loop is separate from ``predict_coco`` only to keep each prediction
    tied to its ground truth for PCK.
    """
    from distilpose.evaluation import evaluate_keypoints, topdown_results
    from distilpose.inference.coco_run import OKS_THR, VIS_THR, topdown_record
    from distilpose.video import read_image

    results_in: list[dict[str, Any]] = []
    hits = labelled = 0
    for done, (image, persons) in enumerate(people, start=1):
        _check(should_stop)
        rgb = read_image(images_dir / image.file_name)
        instances = predictor.predict(rgb, np.stack([p.box for p in persons]))
        results_in.extend(topdown_record(image.id, inst, 1.0) for inst in instances)
        h, n = pck_counts(
            np.stack([inst.keypoints[:, :2] for inst in instances]),
            np.stack([p.ann.keypoints.reshape(NUM_KEYPOINTS, 3) for p in persons]),
            np.array([p.ann.bbox for p in persons], dtype=np.float64),
        )
        hits, labelled = hits + h, labelled + n
        if progress is not None:
            progress(label, done, len(people))
    results = topdown_results(results_in, vis_thr=VIS_THR, nms_thr=OKS_THR)
    ap = evaluate_keypoints(dataset, results)["AP"]
    return Scored(ap, (hits / labelled if labelled else math.nan), len(results_in), results)


def measure_fps(
    predictor,
    image_rgb: np.ndarray,
    box_xywh: np.ndarray,
    warmup: int = WARMUP_CALLS,
    iters: int = TIMED_CALLS,
) -> tuple[float, float]:
    """(FPS, median ms) of ``predictor.predict`` on one person (crop, network, decoding: what a live frame
    with one person costs), after ``warmup`` untimed calls that absorb first-call allocations."""
    from distilpose.bench import time_calls

    box = np.asarray(box_xywh, dtype=np.float64).reshape(1, 4)
    median_ms = time_calls(lambda: predictor.predict(image_rgb, box), warmup, iters)
    return 1000.0 / max(median_ms, 1e-6), median_ms


def compare_models(
    models: Sequence[ModelEntry],
    ann: str | os.PathLike,
    images: str | os.PathLike,
    *,
    flip: bool = False,
    threads: int | None = 1,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    warmup: int = WARMUP_CALLS,
    iters: int = TIMED_CALLS,
    results_out: dict[str, list[KeypointResult]] | None = None,
) -> list[ComparisonRow]:
    """One row per model, in order, scored on the ground-truth boxes of ``ann`` (images under ``images``).

    A model that fails to load or run gets a row with ``error`` and the others are still scored; a bad
    annotation file or image folder raises (no model could be scored). ``should_stop`` is checked before
    each model and each image and raises :class:`ComparisonCancelled`. ``threads`` is the torch thread
    count (1 = what the app's live worker uses, so FPS matches the live view). ``results_out`` receives each
    scored model's predictions under its label.
    """
    from distilpose.inference.loading import load_predictor
    from distilpose.video import read_image

    dataset = load_coco(ann)
    images_dir = Path(images)
    if not images_dir.is_dir():
        raise DistilPoseError(f"{images_dir}: image folder not found")
    people = gt_people(dataset)
    if not people:
        raise DistilPoseError(f"{ann}: no person with labelled keypoints to evaluate on")
    first_image, first_people = people[0]
    timing_rgb = read_image(images_dir / first_image.file_name)
    rows = []
    for entry in models:
        _check(should_stop)
        row = ComparisonRow(entry.label, os.fspath(entry.model))
        try:
            predictor = load_predictor(entry.model, flip=flip, threads=threads).predictor
            scored = evaluate_predictor(
                predictor,
                dataset,
                images_dir,
                people,
                label=entry.label,
                progress=progress,
                should_stop=should_stop,
            )
            row.ap, row.pck, row.instances = scored.ap, scored.pck, scored.instances
            _check(should_stop)
            row.fps, row.latency_ms = measure_fps(predictor, timing_rgb, first_people[0].box, warmup, iters)
            if results_out is not None:  # only a row that was scored in full
                results_out[entry.label] = scored.results
        except ComparisonCancelled:
            raise
        except Exception as exc:  # this model's row says why; the others are still worth having
            row.ap = row.pck = row.fps = row.latency_ms = None
            row.error = _error_text(exc)
        rows.append(row)
    return rows


def _check(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise ComparisonCancelled("comparison cancelled")


def _error_text(exc: Exception) -> str:
    return str(exc) if isinstance(exc, DistilPoseError) else f"{type(exc).__name__}: {exc}"


def is_trained_student(name_or_path: str | os.PathLike) -> bool:
    """Whether a live-model choice is a student with trained weights (worth comparing a new student with):
    a checkpoint file naming a student architecture, or a registered student that ships its weights."""
    from distilpose.models import model_spec
    from distilpose.models.bundled import bundled_weights
    from distilpose.models.checkpoint import read_metadata

    path = Path(name_or_path)
    try:
        if path.is_file():
            arch = read_metadata(path).get("model")
            return arch is not None and not model_spec(arch).is_teacher
        name = os.fspath(name_or_path)
        return not model_spec(name).is_teacher and bundled_weights(name) is not None
    except Exception:  # unreadable file or unknown name: nothing to compare with
        return False


# ---------------------------------------------------------------------------------------------- output
def _number(value: float | None, fmt: str) -> str:
    return "—" if value is None or not math.isfinite(value) else format(value, fmt)


COLUMNS = ("Model", "AP", "PCK@0.2", "FPS", "Weights")


def row_cells(row: ComparisonRow) -> list[str]:
    """The texts of :data:`COLUMNS` for one row: AP as pycocotools' fraction, PCK in percent, FPS at batch 1;
    an error row shows dashes and the error beside its weights. Shared by the Markdown table and the app."""
    pck_text = "—" if row.pck is None or not math.isfinite(row.pck) else f"{100 * row.pck:.1f}%"
    source = f"{row.model} (error: {row.error})" if row.error else row.model
    return [row.label, _number(row.ap, ".3f"), pck_text, _number(row.fps, ".1f"), source]


def format_comparison(rows: Sequence[ComparisonRow]) -> str:
    """A Markdown table, one model a line (see :func:`row_cells`)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|---:|---:|---:|---|"]
    for r in rows:
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in row_cells(r)) + " |")
    return "\n".join(lines)
