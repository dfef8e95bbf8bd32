"""Latency benchmark of models x runtimes at batch 1, measured round-robin in windows.

These machines are shared and noisy, so every (model, runtime) pair is timed in each window, one after the other,
and ratios are taken within a window before the median over windows: a slow stretch hits both sides of a ratio.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm import tqdm

from distilpose.errors import DistilPoseError
from distilpose.inference.onnx_service import sample_batch
from distilpose.inference.options import AUTO
from distilpose.inference.runtimes import build_runtime


@dataclass
class BenchRow:
    model: str
    runtime: str
    median_ms: float | None  # median over windows of each window's median; None when the pair failed
    best_ms: float | None  # lowest window median: the uncontended estimate
    fps: float | None  # 1000 / median_ms
    window_ms: list[float] = field(default_factory=list)
    error: str | None = None  # why this (model, runtime) could not be measured
    chosen: str | None = None  # for runtime "auto": the runtime it chose for this model


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
    """Returns one row per (model, runtime) and, per runtime, the latency ratio of each model to the first.

    A pair that cannot be built or run (an export that fails its parity check, a missing compiler) becomes a
    row with its ``error``; the other pairs are measured. ONNX files come from the shared, weight-keyed cache.
    """
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    models = list(models)
    pairs = []
    failed: dict[tuple[str, str], str] = {}
    chosen: dict[tuple[str, str], str] = {}
    for name, model in tqdm(models, desc="preparing", disable=not progress):
        batch = sample_batch(model.spec, batch=2 if flip else 1)
        for rt in runtimes:
            try:
                concrete = rt
                if rt == AUTO:
                    from distilpose.inference.auto import choose_runtime

                    concrete = chosen[(name, rt)] = choose_runtime(model, threads=threads).runtime
                runtime = build_runtime(model, concrete, threads)
                runtime.run(batch)  # a runtime that builds but cannot run fails here, not mid-table
            except Exception as exc:
                failed[(name, rt)] = _error_text(exc)
                continue
            pairs.append((name, rt, runtime, batch))
    per_window: dict[tuple[str, str], list[float]] = {(n, r): [] for n, r, _, _ in pairs}
    with tqdm(total=windows * len(pairs), desc="timing", disable=not progress) as bar:
        for _ in range(windows):
            for name, rt, runtime, batch in pairs:
                if (name, rt) in failed:
                    continue
                try:
                    per_window[(name, rt)].append(time_calls(lambda r=runtime, b=batch: r.run(b), warmup, iters))
                except Exception as exc:
                    failed[(name, rt)] = _error_text(exc)
                bar.update()
    rows = []
    for name, _ in models:
        for rt in runtimes:
            values = per_window.get((name, rt), [])
            if (name, rt) in failed or not values:
                rows.append(BenchRow(name, rt, None, None, None, [], failed.get((name, rt), "not measured")))
                continue
            med = statistics.median(values)
            rows.append(BenchRow(name, rt, med, min(values), 1000.0 / med, values, None, chosen.get((name, rt))))
    ratios: dict[str, dict[str, float]] = {}
    base = models[0][0]
    for rt in runtimes:
        base_w = per_window.get((base, rt))
        if (base, rt) in failed or not base_w:
            continue
        ratios[rt] = {
            name: statistics.median(np.array(per_window[(name, rt)]) / np.array(base_w))
            for name, _ in models
            if (name, rt) not in failed and per_window.get((name, rt))
        }
    return rows, ratios


def _error_text(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, DistilPoseError) else f"{type(exc).__name__}: {exc}"
    return text.splitlines()[0] if text else type(exc).__name__


def format_table(rows: list[BenchRow], ratios: dict[str, dict[str, float]]) -> str:
    lines = [f"{'model':<24} {'runtime':<19} {'median ms':>10} {'best ms':>9} {'FPS':>7}  vs {rows[0].model}"]
    for r in rows:
        if r.error is not None or r.median_ms is None or r.best_ms is None or r.fps is None:
            lines.append(f"{r.model:<24} {r.runtime:<19} failed: {r.error}")
            continue
        label = f"auto:{r.chosen}" if r.chosen else r.runtime
        ratio = ratios.get(r.runtime, {}).get(r.model)
        lines.append(
            f"{r.model:<24} {label:<19} {r.median_ms:>10.2f} {r.best_ms:>9.2f} {r.fps:>7.1f}"
            + (f"  x{ratio:.2f}" if ratio is not None else "")
        )
    return "\n".join(lines)


def rows_as_json(rows: list[BenchRow], ratios: dict[str, dict[str, float]], meta: dict) -> dict:
    return {"rows": [asdict(r) for r in rows], "ratios_vs_first": ratios, **meta}
