"""Runtime ``auto``: per model, the fastest runtime whose outputs agree with PyTorch on this machine.

Each candidate is built (ONNX variants exported once into the cache), its keypoints on >= 32 real crops are
compared with eager PyTorch fp32 in pixels (for a prior student: against the size of what its head learned),
and the ones that agree are timed round-robin (the machine is shared and noisy). The
choice is cached as JSON under the zoo cache folder, keyed to the exact weights, the thread count and the
library versions, so the app pays for the check once per model, not per start.

``torch-compile`` is not a candidate: it compiles once per batch size, and the live batch is the number of
people in the frame, so a person entering would stall the view for 10-40 s (ADR 0010).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from distilpose.atomic import atomic_write_json
from distilpose.errors import DistilPoseError
from distilpose.inference.onnx_service import weights_digest
from distilpose.inference.runtimes import TorchRuntime, build_runtime

#: Tried in this order; the reference (eager fp32) is always allowed.
CANDIDATES = ("torch", "onnx", "onnx-int8")
REFERENCE = "torch"
#: How far each candidate's keypoints may move from eager PyTorch's, in crop PIXELS: the
#: ``PARITY_PERCENTILE``-th percentile of the per-joint distance over the parity crops (>= 32 real people).
PIXEL_TOLERANCE = {"torch": 0.0, "onnx": 0.01, "onnx-int8": 0.25}
#: Largest |runtime - torch| of the other outputs (scores, sigmas, heatmaps), per candidate.
TOLERANCE = {"torch": 0.0, "onnx": 1e-4, "onnx-int8": 0.01}
PARITY_PERCENTILE = 95
#: A student that adds learned corrections to a fixed prior must keep them: its pixel tolerance is at most
#: this fraction of its median correction on the parity crops (ADR 0014: per-tensor int8 erased them while
#: passing a 0.01 normalised check), and never below ``MIN_PIXEL_TOLERANCE`` (fp32 rounding).
CORRECTION_FRACTION = 0.25
MIN_PIXEL_TOLERANCE = 0.01
#: People in the sample video the parity crops are cut from (made once with CenterNet; see samples/README).
PARITY_BOXES = "parity-boxes.json"
CACHE_VERSION = 2


@dataclass
class RuntimeChoice:
    runtime: str
    median_ms: dict[str, float] = field(default_factory=dict)  # per checked candidate, batch of 2 crops
    rejected: dict[str, str] = field(default_factory=dict)  # candidate -> why (disagreed, failed to build)
    cached: bool = False
    parity_px: dict[str, float] = field(default_factory=dict)  # candidate -> keypoint distance to PyTorch
    tolerance_px: dict[str, float] = field(default_factory=dict)  # candidate -> what it was allowed
    parity_crops: int = 0

    def note(self) -> str:
        timings = ", ".join(f"{k} {v:.1f} ms" for k, v in sorted(self.median_ms.items(), key=lambda kv: kv[1]))
        out = f"auto chose {self.runtime} ({timings})"
        if self.rejected:
            out += "; not used: " + "; ".join(f"{k}: {v}" for k, v in self.rejected.items())
        return out


def choice_cache_file(model, digest: str, threads: int | None) -> Path:
    from distilpose.zoo.fetch import cache_root

    return cache_root() / "runtimes" / f"{model.spec.name}-{digest[:16]}-t{threads or 0}.json"


def _versions() -> dict[str, str]:
    import onnxruntime
    import torch

    return {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "cpus": str(os.cpu_count())}


def parity_batch(spec) -> np.ndarray:
    """Real crops normalised for ``spec``: every person of :data:`PARITY_BOXES` in the shipped sample video
    (49 people on 38 frames) and the astronaut photo twice; random input when the samples are missing.
    Real pixels matter: on noise, argmax decoders sit on near-ties; and many people, because a runtime that
    drops a small correction shows on every joint, not on two crops of one photo."""
    import json

    from distilpose.inference.preprocess import crop_batch
    from distilpose.resources import resources_root
    from distilpose.video import open_source, read_image

    samples = resources_root() / "samples"
    photo, video, listed = samples / "astronaut.jpg", samples / "sports2d-demo-640.mp4", samples / PARITY_BOXES
    if not (photo.is_file() and video.is_file() and listed.is_file()):
        from distilpose.inference.onnx_service import sample_batch

        return sample_batch(spec, batch=2)
    image = read_image(photo)
    h, w = image.shape[:2]
    boxes = np.array([[0.2 * w, 0.0, 0.6 * w, float(h)], [0.0, 0.0, float(w), float(h)]])
    crops = [crop_batch(image, boxes, spec.input_size_wh)[0]]
    people = json.loads(listed.read_text(encoding="utf-8"))
    source = open_source(video)
    for frame in sorted({p["frame"] for p in people}):
        frame_boxes = np.array([p["bbox"] for p in people if p["frame"] == frame], dtype=np.float64)
        crops.append(crop_batch(source.frame(frame), frame_boxes, spec.input_size_wh)[0])
    return np.concatenate(crops).astype(np.float32)


def _pixels(coords: np.ndarray, spec) -> np.ndarray:
    return coords * np.array(spec.input_size_wh, dtype=np.float64)


def keypoint_shift_px(reference: dict[str, np.ndarray], got: dict[str, np.ndarray], spec) -> float:
    """The :data:`PARITY_PERCENTILE`-th percentile of each joint's distance between two runs, in crop pixels
    (0 for a model without coordinates)."""
    if "coords" not in reference:
        return 0.0
    dist = np.linalg.norm(_pixels(got["coords"] - reference["coords"], spec), axis=-1)
    return float(np.percentile(dist, PARITY_PERCENTILE))


def learned_correction_px(model, batch: np.ndarray, reference: dict[str, np.ndarray]) -> float | None:
    """The median distance (crop px) between a prior student's keypoints and its prior's: what distillation
    taught it. None for a model without a prior."""
    prior_coords = getattr(model, "prior_coords", None)
    if prior_coords is None or "coords" not in reference:
        return None
    import torch

    with torch.inference_mode():
        prior = prior_coords(torch.from_numpy(batch))
    if prior is None:
        return None
    return float(np.median(np.linalg.norm(_pixels(reference["coords"] - prior.float().numpy(), model.spec), axis=-1)))


def pixel_tolerance(name: str, correction_px: float | None) -> float:
    """How far ``name`` may move keypoints: its fixed tolerance, and for a prior student at most
    :data:`CORRECTION_FRACTION` of its learned correction (never below :data:`MIN_PIXEL_TOLERANCE`)."""
    fixed = PIXEL_TOLERANCE.get(name, 0.0)
    if correction_px is None or name == REFERENCE:
        return fixed
    return min(fixed, max(MIN_PIXEL_TOLERANCE, CORRECTION_FRACTION * correction_px))


def disagreement(
    reference: dict[str, np.ndarray], got: dict[str, np.ndarray], skip: tuple[str, ...] = ()
) -> float:
    """Largest |got - reference| over every output (but ``skip``)."""
    return max((float(np.max(np.abs(reference[k] - got[k]))) for k in reference if k not in skip), default=0.0)


def choose_runtime(
    model,
    *,
    digest: str | None = None,
    threads: int | None = None,
    onnx_dir: str | os.PathLike | None = None,
    candidates: Sequence[str] = CANDIDATES,
    rounds: int = 5,
    iters: int = 5,
    refresh: bool = False,
    progress: Callable[[str], None] | None = None,
) -> RuntimeChoice:
    """The fastest candidate that agrees with eager PyTorch on real crops; cached per weights and threads."""
    digest = digest or weights_digest(model)
    cache = choice_cache_file(model, digest, threads)
    if not refresh:
        cached = _read_choice(cache)
        if cached is not None and cached.runtime in candidates:
            return cached
    if progress is not None:
        progress(f"choosing the fastest checked runtime for {model.spec.name} (once)")
    batch = parity_batch(model.spec)
    reference = TorchRuntime(model, "fp32", threads).run(batch)
    correction = learned_correction_px(model, batch, reference)
    built: dict[str, object] = {}
    choice = RuntimeChoice(REFERENCE, parity_crops=len(batch))
    for name in candidates:
        try:
            runtime = build_runtime(model, name, threads, onnx_dir, digest, progress)
            got = runtime.run(batch)
        except Exception as exc:  # an export that fails its check, a missing compiler: not a candidate
            choice.rejected[name] = str(exc) if isinstance(exc, DistilPoseError) else f"{type(exc).__name__}: {exc}"
            continue
        shift, limit = keypoint_shift_px(reference, got, model.spec), pixel_tolerance(name, correction)
        diff = disagreement(reference, got, skip=("coords",))
        choice.parity_px[name], choice.tolerance_px[name] = shift, limit
        if shift > limit:
            why = f" (a quarter of the {correction:.3g} px the head learned)" if correction is not None else ""
            choice.rejected[name] = (
                f"disagrees with PyTorch: moves keypoints {shift:.3g} px ({PARITY_PERCENTILE}th percentile, "
                f"{len(batch)} crops; > {limit:.3g} px{why})"
            )
            continue
        if diff > TOLERANCE.get(name, 0.0):
            choice.rejected[name] = f"disagrees with PyTorch by {diff:.3g} (> {TOLERANCE.get(name, 0.0)})"
            continue
        built[name] = runtime
    timing = batch[:2]  # the live batch: a person or two
    samples: dict[str, list[float]] = {name: [] for name in built}
    for _ in range(rounds):  # round-robin: a slow stretch of the shared machine hits every candidate
        for name, runtime in built.items():
            runtime.run(timing)
            start = time.perf_counter()
            for _ in range(iters):
                runtime.run(timing)
            samples[name].append((time.perf_counter() - start) * 1000.0 / iters)
    choice.median_ms = {name: statistics.median(v) for name, v in samples.items()}
    if choice.median_ms:
        choice.runtime = min(choice.median_ms, key=choice.median_ms.__getitem__)
    with contextlib.suppress(OSError):  # a read-only cache only costs the check again next time
        atomic_write_json(cache, {"version": CACHE_VERSION, "env": _versions(), **asdict(choice)}, indent=1)
    return choice


def _read_choice(path: Path) -> RuntimeChoice | None:
    import json

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("version") != CACHE_VERSION or doc.get("env") != _versions():
            return None
        return RuntimeChoice(
            str(doc["runtime"]),
            {str(k): float(v) for k, v in doc["median_ms"].items()},
            {str(k): str(v) for k, v in doc["rejected"].items()},
            cached=True,
            parity_px={str(k): float(v) for k, v in doc["parity_px"].items()},
            tolerance_px={str(k): float(v) for k, v in doc["tolerance_px"].items()},
            parity_crops=int(doc["parity_crops"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
