"""Runtimes run a pose network on a preprocessed batch and return named numpy outputs.

One small interface (``Runtime.run``) serves the Predictor, the benchmark and the app's live worker, so
PyTorch and ONNX Runtime are interchangeable everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from distilpose.errors import DistilPoseError
from distilpose.inference.onnx_service import cached_onnx, model_output_names, open_session
from distilpose.inference.options import RUNTIME, RUNTIMES


class Runtime(Protocol):
    name: str
    output_names: tuple[str, ...]

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Run on an (N, 3, H, W) float32 ImageNet-normalised batch."""
        ...


class TorchRuntime:
    """PyTorch, fp32 or bf16 autocast, eager or compiled. ``threads`` None keeps torch's global setting.

    ``compile=True`` uses inductor with frozen weights: 10-40 s of compilation (needs a C compiler) on the first
    call of each batch size, then the fastest CPU path measured here for transformer students.
    """

    def __init__(self, model, precision: str = "fp32", threads: int | None = None, compile: bool = False) -> None:
        import torch

        if precision not in ("fp32", "bf16"):
            raise DistilPoseError(f"unknown precision {precision!r}; expected fp32 or bf16")
        self._torch = torch
        self.model = model.eval()
        self.precision = precision
        self.threads = threads
        self.output_names = model_output_names(model)
        self.name = ("torch" if precision == "fp32" else "torch-bf16") + ("-compile" if compile else "")
        self._forward = model.forward_export
        if compile:
            import torch._inductor.config as inductor_config

            inductor_config.freezing = True
            self._forward = torch.compile(model.forward_export, dynamic=False)

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        torch = self._torch
        if self.threads is not None and torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        with (
            torch.inference_mode(),
            torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"),
        ):
            outs = self._forward(x)
        return {n: o.float().numpy() for n, o in zip(self.output_names, outs, strict=True)}


class OnnxRuntime:
    """ONNX Runtime on the CPU execution provider."""

    def __init__(self, path: str | Path, threads: int | None = None, name: str = "onnx") -> None:
        self.session = open_session(path, threads)
        self.path = Path(path)
        self.name = name
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = tuple(o.name for o in self.session.get_outputs())
        self._wide_session = None
        #: None: no wide session; True: :meth:`run` uses the session of :meth:`widen`'s thread count.
        self.wide: bool | None = None

    def widen(self, threads: int) -> None:
        """A second session on the same file with ``threads`` intra-op threads, used while :attr:`wide` is
        True (ORT fixes a session's thread count; the live pipeline sets it when the detector is idle)."""
        self._wide_session = open_session(self.path, threads)
        self.wide = False

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        session = self._wide_session if self.wide and self._wide_session is not None else self.session
        outs = session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})
        return dict(zip(self.output_names, outs, strict=True))


def build_runtime(
    model,
    runtime: str,
    threads: int | None = None,
    onnx_dir: str | os.PathLike | None = None,
    digest: str | None = None,
    progress=None,
) -> Runtime:
    """A ready runtime of :data:`RUNTIMES` for ``model``; ONNX variants come from :func:`cached_onnx`."""
    RUNTIME.check(runtime, RUNTIMES)
    if runtime.startswith("torch"):
        precision = "bf16" if "bf16" in runtime else "fp32"
        return TorchRuntime(model, precision, threads, compile=runtime.endswith("-compile"))
    int8 = runtime == "onnx-int8"
    path = cached_onnx(model, int8, onnx_dir, digest, progress)
    return OnnxRuntime(path, threads, name=runtime)

