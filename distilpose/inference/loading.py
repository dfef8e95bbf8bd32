"""Loading a model for inference: a registered name or checkpoint -> a ready :class:`Predictor` on a runtime.

Every front end (app, ``bench --pipeline``, ``eval``, pseudo-labelling) loads through :func:`load_predictor`,
so "auto" picks the same checked runtime everywhere and the ONNX cache is shared.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from distilpose.inference.onnx_service import weights_digest
from distilpose.inference.options import AUTO, REFERENCE_RUNTIME, RUNTIME
from distilpose.inference.predictor import Predictor
from distilpose.inference.runtimes import build_runtime
from distilpose.models.readiness import has_trained_weights

__all__ = [
    "RANDOM_WEIGHTS_SEED",
    "LoadedModel",
    "has_trained_weights",
    "load_predictor",
    "weights_digest",
]

#: Seed for models without trained weights, so "random" is the same model in every run (and in the ONNX cache).
RANDOM_WEIGHTS_SEED = 0

@dataclass
class LoadedModel:
    """A ready predictor and what the user must know about it (trained weights or not)."""

    predictor: Predictor
    name: str  # registered name, or the checkpoint file name
    kind: str  # "regression" (student) or "heatmap" (teacher)
    runtime: str  # the runtime it runs on (what "auto" chose, when asked for auto)
    trained: bool  # False: random initial weights, predictions are meaningless
    weights: str  # where the weights came from, for the model panel
    load_s: float
    runtime_note: str = ""  # why "auto" chose this runtime


def load_predictor(
    name_or_path: str | os.PathLike,
    runtime: str = REFERENCE_RUNTIME,
    flip: bool = False,
    threads: int | None = None,
    onnx_dir: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = None,
) -> LoadedModel:
    """Load a registered model or checkpoint on ``runtime`` (``auto``: the fastest runtime checked against
    PyTorch on this machine, see :mod:`distilpose.inference.auto`); ONNX files are exported once and cached.

    A registered name has no trained weights here: it is initialised with a fixed seed and reported as
    untrained, so the app can say so instead of presenting noise as a prediction.
    """
    import torch

    from distilpose.inference import multipose
    from distilpose.models.bundled import bundled_weights
    from distilpose.models.checkpoint import load_model

    RUNTIME.check(runtime)
    start = time.perf_counter()
    if os.fspath(name_or_path) == multipose.NAME:  # single-stage: its own graph, no runtime choice
        predictor = multipose.MultiPosePredictor.from_cache()
        weights = "pretrained MoveNet MultiPose weights from the model zoo cache"
        return LoadedModel(
            predictor, multipose.NAME, "multipose", "torch", True, weights, time.perf_counter() - start  # type: ignore[arg-type]
        )
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
    digest = weights_digest(model)
    note = ""
    if runtime == AUTO:
        from distilpose.inference.auto import choose_runtime

        choice = choose_runtime(model, digest=digest, threads=threads, onnx_dir=onnx_dir, progress=progress)
        runtime, note = choice.runtime, choice.note()
    rt = build_runtime(model, runtime, threads, onnx_dir, digest, progress)
    predictor = Predictor(rt, spec, flip=flip)
    return LoadedModel(
        predictor, name, spec.kind, runtime, trained, weights, time.perf_counter() - start, note
    )
