"""The live pipeline without Qt: frame -> person boxes -> pose (-> teacher) -> smoothing, timed per stage.

The app's inference worker, ``distilpose bench --pipeline`` and batch export all run :class:`LivePipeline`, so
what the bench measures is what the app does, and an export from a script gives the same predictions.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from distilpose.coco import CocoDataset, CocoImage, KeypointResult, save_coco, save_keypoint_results
from distilpose.detection import PersonDetector, TrackFromKeypoints
from distilpose.errors import DistilPoseError
from distilpose.inference.predictor import Predictor
from distilpose.keypoints import NUM_KEYPOINTS
from distilpose.models.readiness import has_trained_weights
from distilpose.render import TEACHER_COLOR, H264Writer, draw_instances, fit_frame
from distilpose.smoothing import KeypointSmoother
from distilpose.tracking import PoseTracker
from distilpose.types import Instance
from distilpose.video import FrameSource, VideoReader

RUNTIME_CHOICES = ("torch", "torch-bf16", "onnx")
#: Seed for models without trained weights, so "random" is the same model in every run (and in the ONNX cache).
RANDOM_WEIGHTS_SEED = 0
STAGES = ("decode", "detect", "pose", "teacher", "draw")


# ------------------------------------------------------------------------------------------ model loading


@dataclass
class LoadedModel:
    """A ready predictor and what the user must know about it (trained weights or not)."""

    predictor: Predictor
    name: str  # registered name, or the checkpoint file name
    kind: str  # "regression" (student) or "heatmap" (teacher)
    runtime: str
    trained: bool  # False: random initial weights, predictions are meaningless
    weights: str  # where the weights came from, for the model panel
    load_s: float


def weights_digest(model) -> str:
    """sha256 of every tensor in the state dict (sorted by name): keys the ONNX cache to the exact weights."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode("utf-8"))
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def onnx_cache_dir() -> Path:
    from distilpose.zoo.fetch import cache_root  # the one place that knows the cache convention

    return cache_root() / "onnx"


def load_predictor(
    name_or_path: str | os.PathLike,
    runtime: str = "torch",
    flip: bool = False,
    threads: int | None = None,
    onnx_dir: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = None,
) -> LoadedModel:
    """Load a registered model or checkpoint on ``runtime``; ONNX files are exported once and cached.

    A registered name has no trained weights here: it is initialised with a fixed seed and reported as
    untrained, so the app can say so instead of presenting noise as a prediction.
    """
    import torch

    from distilpose.export import export_onnx
    from distilpose.inference.runtimes import OnnxRuntime, TorchRuntime
    from distilpose.models.bundled import bundled_weights
    from distilpose.models.checkpoint import load_model

    if runtime not in RUNTIME_CHOICES:
        raise DistilPoseError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIME_CHOICES)}")
    say = progress or (lambda _m: None)
    start = time.perf_counter()
    path = Path(os.fspath(name_or_path))
    trained = has_trained_weights(name_or_path)
    with torch.random.fork_rng():
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        model, spec = load_model(name_or_path)
    model.eval()
    name = path.name if path.is_file() else spec.name  # "default" reports the model it stands for
    if path.is_file():
        weights = str(path)
    elif trained and (shipped := bundled_weights(spec.name)) is not None:
        weights = f"bundled weights: {shipped}"
    elif trained:
        weights = f"pretrained {spec.family} weights from the model zoo cache"
    else:
        weights = f"random initialisation (seed {RANDOM_WEIGHTS_SEED}): not trained"
    if runtime == "onnx":
        folder = Path(onnx_dir) if onnx_dir is not None else onnx_cache_dir()
        onnx_path = folder / f"{spec.name}-{weights_digest(model)[:16]}.onnx"
        if not onnx_path.is_file():
            say(f"exporting {name} to ONNX (once; cached in {folder})")
            export_onnx(model, onnx_path)
        rt = OnnxRuntime(onnx_path, threads)
    else:
        rt = TorchRuntime(model, "bf16" if runtime == "torch-bf16" else "fp32", threads)
    predictor = Predictor(rt, spec, flip=flip)
    return LoadedModel(predictor, name, spec.kind, runtime, trained, weights, time.perf_counter() - start)


# ------------------------------------------------------------------------------------------ one frame


def keypoint_disagreement(a: Instance, b: Instance) -> np.ndarray:
    """Per-keypoint distance between two predictions of one person, divided by the box size sqrt(w*h).

    Normalising by the box makes the number comparable across people near and far (like OKS does).
    """
    box = a.bbox if a.bbox is not None else b.bbox
    if box is None:
        box = a.bbox_from_keypoints(0.0) or (0.0, 0.0, 1.0, 1.0)
    size = float(np.sqrt(max(box[2] * box[3], 1e-12)))
    return np.linalg.norm(a.keypoints[:, :2] - b.keypoints[:, :2], axis=1) / size


@dataclass
class FrameResult:
    """What one pass of the pipeline produced for one frame."""

    index: int | None
    image_size: tuple[int, int]  # (w, h)
    boxes: np.ndarray  # (M, 4) xywh the pose model ran on
    box_scores: np.ndarray
    instances: list[Instance]
    teacher: list[Instance] | None = None
    disagreement: np.ndarray | None = None  # (M, K), see keypoint_disagreement
    times_ms: dict[str, float] = field(default_factory=dict)
    detected: bool = True  # False when the boxes came from tracking
    source_name: str = ""


class LivePipeline:
    """Boxes -> pose -> optional teacher -> optional smoothing for a stream of frames.

    Frames given with consecutive ``index`` values are a stream: tracking and smoothing carry over. Any
    other index (a seek) starts both afresh.
    """

    def __init__(
        self,
        predictor: Predictor,
        detector: PersonDetector,
        *,
        teacher: Predictor | None = None,
        smoother: KeypointSmoother | None = None,
        heatmaps: bool = False,
        tracker: PoseTracker | None = None,
    ) -> None:
        self.predictor = predictor
        self.tracker = tracker  # person ids across frames (issue 18); keeps its tracks over dropped frames
        self.detector = detector
        self.teacher = teacher
        self.smoother = smoother
        self.heatmaps = heatmaps
        self._last_index: int | None = None

    def reset(self) -> None:
        self._last_index = None
        if isinstance(self.detector, TrackFromKeypoints):
            self.detector.reset()
        if self.smoother is not None:
            self.smoother.reset()

    def process(
        self,
        image_rgb: np.ndarray,
        index: int | None = None,
        t: float | None = None,
        boxes: np.ndarray | None = None,
    ) -> FrameResult:
        """Run every stage on one frame. ``t`` (seconds) drives smoothing; ``boxes`` overrides the detector."""
        stream = index is not None and self._last_index is not None and index == self._last_index + 1
        if not stream:
            self.reset()
        self._last_index = index
        times: dict[str, float] = {}
        h, w = image_rgb.shape[:2]

        start = time.perf_counter()
        if boxes is not None:
            box_arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
            box_scores = np.ones(len(box_arr))
            detected = True
        else:
            box_arr, box_scores = self.detector.detect(image_rgb)
            detected = getattr(self.detector, "last_detected", True)
        times["detect"] = _ms(start)

        start = time.perf_counter()
        raw = self.predictor.predict(image_rgb, box_arr, box_scores, return_heatmaps=self.heatmaps)
        times["pose"] = _ms(start)
        if isinstance(self.detector, TrackFromKeypoints) and boxes is None:
            self.detector.update(raw)

        teacher = disagreement = None
        if self.teacher is not None:
            start = time.perf_counter()
            teacher = self.teacher.predict(image_rgb, box_arr, box_scores, return_heatmaps=self.heatmaps)
            for inst in teacher:
                inst.source = "teacher"
            disagreement = np.array(
                [keypoint_disagreement(s, tch) for s, tch in zip(raw, teacher, strict=True)]
            )
            disagreement = disagreement.reshape(len(raw), NUM_KEYPOINTS)  # also when no one is there
            times["teacher"] = _ms(start)

        instances = raw
        if self.smoother is not None:
            t_s = t if t is not None else float(index or 0) / 30.0
            instances = self.smoother(raw, t_s)
        if self.tracker is not None and index is not None:
            self.tracker.update(index, instances)  # sets each person's track_id
        return FrameResult(
            index, (w, h), box_arr, box_scores, instances, teacher, disagreement, times, detected
        )


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def render_result(image_rgb: np.ndarray, result: FrameResult, threshold: float = 0.0) -> np.ndarray:
    """The frame with the result drawn: teacher (light grey, below) then the model's skeletons."""
    out = image_rgb
    if result.teacher:
        out = draw_instances(out, result.teacher, threshold, color=TEACHER_COLOR)
    return draw_instances(out, result.instances, threshold)


# ------------------------------------------------------------------------------------------ bench


@dataclass
class PipelineBench:
    """End-to-end numbers of the live pipeline on a video (median milliseconds per stage)."""

    video: str
    model: str
    runtime: str
    detector: str
    frames: int
    persons_mean: float
    stage_ms: dict[str, float]  # median per stage, plus "total" (median frame time)
    fps: float  # frames / wall seconds over the timed frames (every stage, one after the other)
    trained: bool = False
    detector_runs: int = 0  # timed frames on which the detector ran (the rest used tracked boxes)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


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


def bench_pipeline(
    video_path: str | os.PathLike,
    pipeline: LivePipeline,
    frames: int = 100,
    warmup: int = 3,
    progress: bool = True,
    model_name: str = "",
    runtime: str = "",
    trained: bool = False,
) -> PipelineBench:
    """Decode, detect, pose and draw ``frames`` consecutive frames of a video; the first ``warmup`` are
    run but not timed (first-call allocations). Stages are timed one after the other, as the app runs them."""
    from tqdm import tqdm

    if frames < 1:
        raise DistilPoseError(f"--frames must be at least 1, got {frames}")
    per_stage: dict[str, list[float]] = {s: [] for s in (*STAGES, "total")}
    persons: list[int] = []
    detector_runs = 0
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
            start = time.perf_counter()
            image = video.frame(i)
            decode = _ms(start)
            result = pipeline.process(image, index=i, t=video.time_of(i))
            start = time.perf_counter()
            render_result(image, result)
            draw = _ms(start)
            if i < warmup:
                continue
            times = {"decode": decode, "draw": draw, **result.times_ms}
            for s in STAGES:
                per_stage[s].append(times.get(s, 0.0))
            per_stage["total"].append(sum(times.get(s, 0.0) for s in STAGES))
            persons.append(len(result.instances))
            detector_runs += int(result.detected)
        assert wall_start is not None
        wall = time.perf_counter() - wall_start
    timed = len(persons)
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
        detector_runs=detector_runs,
    )


def format_pipeline_bench(b: PipelineBench) -> str:
    stages = "  ".join(f"{s} {v:.1f}" for s, v in b.stage_ms.items() if s != "total")
    weights = "trained" if b.trained else "random weights"
    return "\n".join(
        [
            f"pipeline  {Path(b.video).name}: {b.frames} frames, {b.persons_mean:.2f} persons/frame, "
            f"detector {b.detector} (ran on {b.detector_runs} frames)",
            f"model     {b.model} ({b.runtime}, {weights})",
            f"median ms {stages}  total {b.stage_ms['total']:.1f}",
            f"FPS       {b.fps:.1f} (wall clock, all stages in sequence)",
        ]
    )


# ------------------------------------------------------------------------------------------ export


class ExportCancelled(DistilPoseError):
    """The user cancelled an export; nothing was written."""


@dataclass
class ExportResult:
    results_path: Path
    images_path: Path
    video_path: Path | None
    frames: int
    instances: int


def images_path_for(results_path: str | os.PathLike) -> Path:
    """``out.json`` -> ``out.images.json``: the COCO images list that makes the results file usable."""
    p = Path(results_path)
    return p.with_name(p.stem + ".images.json")


def export_predictions(
    source: FrameSource,
    pipeline: LivePipeline,
    results_path: str | os.PathLike,
    *,
    video_path: str | os.PathLike | None = None,
    threshold: float = 0.0,
    frames: Sequence[int] | None = None,
    fps: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ExportResult:
    """Run the pipeline over ``frames`` (default: all) of ``source`` and write, only when every frame is done:

    - ``results_path``: COCO keypoint results (image_id = frame index + 1), and beside it
    - ``<stem>.images.json``: a COCO file listing those images (file names, sizes, frame numbers), so that
      ``COCO(images).loadRes(results)`` works and each result can be traced to its frame;
    - ``video_path`` (optional): the frames with the predictions drawn, H.264.

    ``should_stop`` is polled between frames; when it returns True, :class:`ExportCancelled` is raised and
    nothing is left on disk.
    """
    indices = list(range(len(source))) if frames is None else list(frames)
    if not indices:
        raise DistilPoseError(f"{source.name}: nothing to export (no frames)")
    results: list[KeypointResult] = []
    images: list[CocoImage] = []
    writer: H264Writer | None = None
    size_wh: tuple[int, int] | None = None
    n_instances = 0
    try:
        for done, index in enumerate(indices):
            if should_stop is not None and should_stop():
                raise ExportCancelled(
                    f"{source.name}: export cancelled after {done} of {len(indices)} frames"
                )
            image = source.frame(index)
            t = source.time_of(index) if isinstance(source, VideoReader) else index / (fps or 30.0)
            result = pipeline.process(image, index=index, t=t)
            h, w = image.shape[:2]
            image_id = index + 1
            extra = {"frame_index": index, "source": source.name}
            images.append(
                CocoImage(id=image_id, file_name=source.frame_name(index), width=w, height=h, extra=extra)
            )
            for inst in result.instances:
                results.append(KeypointResult.from_instance(inst, image_id))
            n_instances += len(result.instances)
            if video_path is not None:
                if writer is None:
                    size_wh = (w, h)
                    rate = fps or getattr(source, "fps", None) or (30.0 if source.kind == "video" else 5.0)
                    writer = H264Writer(video_path, rate, size_wh)
                assert size_wh is not None
                writer.write(fit_frame(render_result(image, result, threshold), size_wh))
            if progress is not None:
                progress(done + 1, len(indices))
        written_video = writer.close() if writer is not None else None
        results_path = Path(results_path)
        images_path = images_path_for(results_path)
        save_coco(CocoDataset(images=images, annotations=[]), images_path)
        save_keypoint_results(results, results_path)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return ExportResult(results_path, images_path, written_video, len(indices), n_instances)
