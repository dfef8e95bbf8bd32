"""Latency benchmark of models x runtimes at batch 1, measured round-robin in windows.

These machines are shared and noisy, so every (model, runtime) pair is timed in each window, one after the other,
and ratios are taken within a window before the median over windows: a slow stretch hits both sides of a ratio.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from distilpose.errors import DistilPoseError
from distilpose.export import export_onnx, sample_batch
from distilpose.inference.runtimes import OnnxRuntime, TorchRuntime

RUNTIMES = ("torch", "torch-bf16", "torch-compile", "torch-bf16-compile", "onnx", "onnx-int8")


@dataclass
class BenchRow:
    model: str
    runtime: str
    median_ms: float  # median over windows of each window's median
    best_ms: float  # lowest window median: the uncontended estimate
    fps: float  # 1000 / median_ms
    window_ms: list[float]


def build_runtime(model, runtime: str, workdir: Path, threads: int | None):
    """A ready-to-run runtime; ONNX variants are exported (and checked) into ``workdir`` first."""
    if runtime == "torch":
        return TorchRuntime(model, "fp32", threads)
    if runtime == "torch-bf16":
        return TorchRuntime(model, "bf16", threads)
    if runtime in ("torch-compile", "torch-bf16-compile"):
        return TorchRuntime(model, "bf16" if "bf16" in runtime else "fp32", threads, compile=True)
    if runtime in ("onnx", "onnx-int8"):
        path = workdir / f"{model.spec.name}.onnx"
        if not path.exists() or (
            runtime == "onnx-int8" and not path.with_name(path.stem + ".int8.onnx").exists()
        ):
            export_onnx(model, path, int8=runtime == "onnx-int8")
        if runtime == "onnx-int8":
            return OnnxRuntime(path.with_name(path.stem + ".int8.onnx"), threads, name="onnx-int8")
        return OnnxRuntime(path, threads)
    raise DistilPoseError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")


def time_calls(fn: Callable[[], object], warmup: int, iters: int) -> float:
    """Median wall time of ``iters`` calls after ``warmup`` calls, in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(samples)


def run_benchmark(
    models: Iterable[tuple[str, object]],
    runtimes: list[str],
    threads: int | None = None,
    warmup: int = 5,
    iters: int = 30,
    windows: int = 3,
    flip: bool = False,
    progress: bool = True,
) -> tuple[list[BenchRow], dict[str, dict[str, float]]]:
    """Returns one row per (model, runtime) and, per runtime, the latency ratio of each model to the first."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    models = list(models)
    with tempfile.TemporaryDirectory(prefix="distilpose-bench-") as tmp:
        pairs = []
        for name, model in tqdm(models, desc="preparing", disable=not progress):
            batch = sample_batch(model.spec, batch=2 if flip else 1)
            for rt in runtimes:
                runtime = build_runtime(model, rt, Path(tmp), threads)
                pairs.append((name, rt, runtime, batch))
        per_window: dict[tuple[str, str], list[float]] = {(n, r): [] for n, r, _, _ in pairs}
        with tqdm(total=windows * len(pairs), desc="timing", disable=not progress) as bar:
            for _ in range(windows):
                for name, rt, runtime, batch in pairs:
                    per_window[(name, rt)].append(
                        time_calls(lambda r=runtime, b=batch: r.run(b), warmup, iters)
                    )
                    bar.update()
    rows = []
    for (name, rt), values in per_window.items():
        med = statistics.median(values)
        rows.append(BenchRow(name, rt, med, min(values), 1000.0 / med, values))
    ratios: dict[str, dict[str, float]] = {}
    base = models[0][0]
    for rt in runtimes:
        base_w = per_window[(base, rt)]
        ratios[rt] = {
            name: statistics.median(np.array(per_window[(name, rt)]) / np.array(base_w)) for name, _ in models
        }
    return rows, ratios


def format_table(rows: list[BenchRow], ratios: dict[str, dict[str, float]]) -> str:
    lines = [f"{'model':<24} {'runtime':<19} {'median ms':>10} {'best ms':>9} {'FPS':>7}  vs {rows[0].model}"]
    for r in rows:
        lines.append(
            f"{r.model:<24} {r.runtime:<19} {r.median_ms:>10.2f} {r.best_ms:>9.2f} {r.fps:>7.1f}"
            f"  x{ratios[r.runtime][r.model]:.2f}"
        )
    return "\n".join(lines)


def rows_as_json(rows: list[BenchRow], ratios: dict[str, dict[str, float]], meta: dict) -> dict:
    return {"rows": [asdict(r) for r in rows], "ratios_vs_first": ratios, **meta}
