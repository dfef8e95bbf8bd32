"""Runtime ``auto``: per model, the fastest runtime whose outputs agree with PyTorch on this machine.

Each candidate is built (ONNX variants exported once into the cache), its outputs on real crops are compared
with eager PyTorch fp32, and the ones that agree are timed round-robin (the machine is shared and noisy). The
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
from distilpose.inference.runtimes import TorchRuntime, build_runtime, weights_digest

#: Tried in this order; the reference (eager fp32) is always allowed.
CANDIDATES = ("torch", "onnx", "onnx-int8")
REFERENCE = "torch"
#: Largest |runtime - torch| per output allowed for each candidate (crop-normalised coordinates, scores,
#: heatmaps). fp32 must match like the export check; int8 may move a keypoint by 1 % of the crop (~2 px).
TOLERANCE = {"torch": 0.0, "onnx": 1e-4, "onnx-int8": 0.01}
CACHE_VERSION = 1


@dataclass
class RuntimeChoice:
    runtime: str
    median_ms: dict[str, float] = field(default_factory=dict)  # per checked candidate, batch of 2 crops
    rejected: dict[str, str] = field(default_factory=dict)  # candidate -> why (disagreed, failed to build)
    cached: bool = False

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
    """Two real crops (the shipped astronaut photo and its mirror) normalised for ``spec``; random input when
    the sample is missing. Real pixels matter: on noise, argmax decoders sit on near-ties."""
    from distilpose.inference.predictor import Predictor
    from distilpose.resources import resources_root
    from distilpose.video import read_image

    sample = resources_root() / "samples" / "astronaut.jpg"
    if not sample.is_file():
        from distilpose.onnx_export import sample_batch

        return sample_batch(spec, batch=2)
    image = read_image(sample)
    h, w = image.shape[:2]
    boxes = np.array([[0.2 * w, 0.0, 0.6 * w, float(h)], [0.0, 0.0, float(w), float(h)]])
    batch, _, _ = Predictor(_NoRuntime(), spec).crops(image, boxes)
    return batch.astype(np.float32)


class _NoRuntime:
    name = "none"
    output_names = ()

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:  # pragma: no cover - crops only
        raise NotImplementedError


def disagreement(reference: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> float:
    return max(float(np.max(np.abs(reference[k] - got[k]))) for k in reference)


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
    built: dict[str, object] = {}
    choice = RuntimeChoice(REFERENCE)
    for name in candidates:
        try:
            runtime = build_runtime(model, name, threads, onnx_dir, digest, progress)
            diff = disagreement(reference, runtime.run(batch))
        except Exception as exc:  # an export that fails its check, a missing compiler: not a candidate
            choice.rejected[name] = str(exc) if isinstance(exc, DistilPoseError) else f"{type(exc).__name__}: {exc}"
            continue
        if diff > TOLERANCE.get(name, 0.0):
            choice.rejected[name] = f"disagrees with PyTorch by {diff:.3g} (> {TOLERANCE.get(name, 0.0)})"
            continue
        built[name] = runtime
    samples: dict[str, list[float]] = {name: [] for name in built}
    for _ in range(rounds):  # round-robin: a slow stretch of the shared machine hits every candidate
        for name, runtime in built.items():
            runtime.run(batch)
            start = time.perf_counter()
            for _ in range(iters):
                runtime.run(batch)
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
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
