"""End-to-end numbers of the live pipeline on a video: decode, boxes, pose, draw, one frame after another.

``distilpose bench --pipeline`` runs this on :func:`~distilpose.pipeline.make_live_pipeline`, the
pipeline the app's live view runs, so its FPS is what the app can show.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from distilpose.coco import CocoDataset, CocoImage, KeypointResult
from distilpose.detection import PersonDetector, TrackFromKeypoints
from distilpose.errors import DistilPoseError
from distilpose.inference.predictor import Predictor
from distilpose.pipeline import STAGES, LivePipeline, render_result
from distilpose.types import Instance
from distilpose.video import VideoReader


@dataclass
class PipelineBench:
    """End-to-end numbers of the live pipeline on a video (median milliseconds per stage)."""

    video: str
    model: str
    runtime: str
    detector: str
    frames: int
    persons_mean: float
    stage_ms: dict[str, float]  # median per stage, plus "total" (median of the stages' sum)
    fps: float  # frames / wall seconds over the timed frames (every stage, one after the other)
    trained: bool = False
    detector_runs: int = 0  # detector passes during the timed frames (the rest used tracked boxes)
    frame_ms_p50: float = 0.0  # wall time per frame, decode to draw
    frame_ms_p99: float = 0.0
    detector_ms: float = 0.0  # median time of one detection (in the background thread when tracking)
    cpu_ms_per_frame: float = 0.0  # the process's CPU time (every thread) per timed frame: steadier under load
    persons_found: int = 0  # people posed over the timed frames (a run that loses people looks faster)
    pose_ms_per_person: float = 0.0  # pose stage time over the timed frames / persons_found
    ap: float | None = None  # keypoint AP against ``labels`` (the labelled frames among the timed ones)
    labelled_frames: int = 0  # timed frames that had labels

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class FrameLabels:
    """Keypoint labels of some frames of the benched video (``distilpose pseudo-label`` of that video: each
    image records its ``frame_index``), to score what the live pipeline found on those frames."""

    def __init__(self, path: str | os.PathLike) -> None:
        from distilpose.coco import load_coco

        self.path = Path(path)
        self.dataset = load_coco(self.path)
        self.by_frame: dict[int, CocoImage] = {}
        for image in self.dataset.images:
            index = image.extra.get("frame_index")
            if isinstance(index, int):
                self.by_frame[index] = image
        if not self.by_frame:
            raise DistilPoseError(f"{self.path}: no image records a frame_index (make it with distilpose pseudo-label)")
        self.results: list[KeypointResult] = []
        self.frames: list[int] = []

    def add(self, index: int, image_wh: tuple[int, int], instances: Sequence[Instance]) -> None:
        """Keep the predictions of frame ``index`` when it is labelled (scaled to the stored image's size)."""
        image = self.by_frame.get(index)
        if image is None:
            return
        self.frames.append(index)
        factor = image.width / image_wh[0]
        for inst in instances:
            result = KeypointResult.from_instance(inst, image.id)
            result.keypoints[:, :2] *= factor
            self.results.append(result)

    def ap(self) -> float | None:
        """COCO keypoint AP over the labelled frames seen (None when none was)."""
        from distilpose.evaluation import evaluate_keypoints

        if not self.frames:
            return None
        seen = {self.by_frame[i].id for i in self.frames}
        subset = CocoDataset(
            images=[im for im in self.dataset.images if im.id in seen],
            annotations=[a for a in self.dataset.annotations if a.image_id in seen],
        )
        return evaluate_keypoints(subset, self.results)["AP"]


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else 0.0


def warm_up(
    detector: PersonDetector | None, predictors: Sequence[Predictor], image: np.ndarray, rounds: int = 2
) -> None:
    """Run the detector and the models on ``image`` a few times so no measured or live frame pays for
    first-call set-up (graph planning, allocations: the zoo's CenterNet takes ~1 s on each of its first two
    calls, ~55 ms after). The detector behind a tracker is called directly, leaving the tracker untouched."""
    inner = getattr(detector, "detector", detector)
    box = np.array([[image.shape[1] * 0.3, image.shape[0] * 0.1, image.shape[1] * 0.2, image.shape[0] * 0.8]])
    for _ in range(rounds):
        if inner is not None:
            inner.detect(image)
        for predictor in predictors:
            predictor.predict(image, box)
            predictor.predict(image, np.repeat(box, 2, axis=0))  # the batch of two people, too


def _detector_runs(pipeline: LivePipeline) -> int | None:
    return pipeline.detector.detections if isinstance(pipeline.detector, TrackFromKeypoints) else None


def bench_pipeline(
    video_path: str | os.PathLike,
    pipeline: LivePipeline,
    frames: int = 100,
    warmup: int = 3,
    progress: bool = True,
    model_name: str = "",
    runtime: str = "",
    trained: bool = False,
    labels: FrameLabels | None = None,
) -> PipelineBench:
    """Decode, detect, pose and draw ``frames`` consecutive frames of a video; the first ``warmup`` are
    run but not timed (first-call allocations). Stages are timed one after the other, as the app runs them.
    With ``labels``, the predictions of the labelled timed frames are scored (keypoint AP)."""
    from tqdm import tqdm

    if frames < 1:
        raise DistilPoseError(f"--frames must be at least 1, got {frames}")
    per_stage: dict[str, list[float]] = {s: [] for s in (*STAGES, "total")}
    frame_ms: list[float] = []
    persons: list[int] = []
    detected_frames = 0
    runs_before = 0
    with VideoReader(video_path) as video:
        warm_up(
            pipeline.detector,
            [p for p in (pipeline.predictor, pipeline.teacher) if p is not None],
            video.frame(0),
        )
        n = min(frames + warmup, len(video))
        if n <= warmup:
            warmup = 0
        wall_start = None
        for i in tqdm(range(n), desc="pipeline", unit="frame", disable=not progress):
            if i == warmup:
                wall_start = time.perf_counter()
                cpu_start = time.process_time()
                runs_before = _detector_runs(pipeline) or 0
            start = time.perf_counter()
            image = video.frame(i)
            decode = _ms(start)
            result = pipeline.process(image, index=i, t=video.time_of(i))
            draw_start = time.perf_counter()
            render_result(image, result)
            draw = _ms(draw_start)
            if i < warmup:
                continue
            frame_ms.append(_ms(start))
            times = {"decode": decode, "draw": draw, **result.times_ms}
            for s in STAGES:
                per_stage[s].append(times.get(s, 0.0))
            per_stage["total"].append(sum(times.get(s, 0.0) for s in STAGES))
            persons.append(len(result.instances))
            detected_frames += int(result.detected)
            if labels is not None:
                labels.add(i, result.image_size, result.instances)
        assert wall_start is not None
        wall = time.perf_counter() - wall_start
        cpu = time.process_time() - cpu_start
    runs = _detector_runs(pipeline)
    timed = len(persons)
    detector = pipeline.detector
    det_ms = detector.detection_ms[1:] if isinstance(detector, TrackFromKeypoints) else per_stage["detect"]
    stage_ms = {
        s: statistics.median(v) for s, v in per_stage.items() if v and (s != "teacher" or pipeline.teacher)
    }
    return PipelineBench(
        video=str(video_path),
        model=model_name,
        runtime=runtime,
        detector=pipeline.detector.name,
        frames=timed,
        persons_mean=float(np.mean(persons)) if persons else 0.0,
        stage_ms=stage_ms,
        fps=timed / wall if wall > 0 else float("inf"),
        trained=trained,
        detector_runs=detected_frames if runs is None else runs - runs_before,
        frame_ms_p50=percentile(frame_ms, 50),
        frame_ms_p99=percentile(frame_ms, 99),
        detector_ms=statistics.median(det_ms) if det_ms else 0.0,
        cpu_ms_per_frame=cpu * 1000.0 / timed if timed else 0.0,
        persons_found=int(sum(persons)),
        pose_ms_per_person=sum(per_stage["pose"]) / sum(persons) if sum(persons) else 0.0,
        ap=labels.ap() if labels is not None else None,
        labelled_frames=len(labels.frames) if labels is not None else 0,
    )


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def format_pipeline_bench(b: PipelineBench) -> str:
    stages = "  ".join(f"{s} {v:.1f}" for s, v in b.stage_ms.items() if s != "total")
    weights = "trained" if b.trained else "random weights"
    return "\n".join(
        [
            f"pipeline  {Path(b.video).name}: {b.frames} frames, {b.persons_mean:.2f} persons/frame, "
            f"detector {b.detector} (ran {b.detector_runs} times)",
            f"model     {b.model} ({b.runtime}, {weights})",
            f"median ms {stages}  total {b.stage_ms['total']:.1f}",
            f"frame ms  p50 {b.frame_ms_p50:.1f}  p99 {b.frame_ms_p99:.1f}  (one detection {b.detector_ms:.0f} ms)",
            f"FPS       {b.fps:.1f} (wall clock, all stages in sequence)",
            f"people    {b.persons_found} found, pose {b.pose_ms_per_person:.1f} ms per person"
            + (f", AP {b.ap:.3f} on {b.labelled_frames} labelled frames" if b.ap is not None else ""),
        ]
    )


def format_pipeline_table(reports: Sequence[PipelineBench], failures: Sequence[tuple[str, str, str]] = ()) -> str:
    """One row per run (model x runtime x FPS x p99), then each failed (model, runtime) with its error."""
    lines = [
        f"{'model':<24} {'runtime':<12} {'FPS':>7} {'p50 ms':>8} {'p99 ms':>8} {'det':>5} {'persons':>8} "
        f"{'found':>6} {'ms/pers':>8} {'AP':>6}"
    ]
    for b in reports:
        ap = f"{b.ap:>6.3f}" if b.ap is not None else f"{'-':>6}"
        lines.append(
            f"{b.model:<24} {b.runtime:<12} {b.fps:>7.1f} {b.frame_ms_p50:>8.1f} {b.frame_ms_p99:>8.1f} "
            f"{b.detector_runs:>5} {b.persons_mean:>8.2f} {b.persons_found:>6} {b.pose_ms_per_person:>8.2f} {ap}"
        )
    for model, runtime, error in failures:
        lines.append(f"{model:<24} {runtime:<12} failed: {error}")
    return "\n".join(lines)
