"""Runtimes run a pose network on a preprocessed batch and return named numpy outputs.

One small interface (``Runtime.run``) serves the Predictor, the benchmark and the app's live worker, so
PyTorch and ONNX Runtime are interchangeable everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from distilpose.errors import DistilPoseError

#: Every runtime a model can run on, in one list (the CLI, the app and the bench offer these). "auto" is not a
#: runtime but a choice among them: see :mod:`distilpose.inference.auto`.
RUNTIMES = ("torch", "torch-bf16", "torch-compile", "torch-bf16-compile", "onnx", "onnx-int8")
AUTO = "auto"

REGRESSION_OUTPUTS = ("coords", "scores", "sigmas")
HEATMAP_OUTPUTS = ("heatmaps",)


def output_names_for(kind: str) -> tuple[str, ...]:
    """Names of the tensors ``forward_export`` returns for a model kind."""
    if kind == "regression":
        return REGRESSION_OUTPUTS
    if kind == "heatmap":
        return HEATMAP_OUTPUTS
    raise DistilPoseError(f"unknown model kind {kind!r}")


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
        self.output_names = getattr(model, "output_names", None) or output_names_for(model.spec.kind)
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


def onnx_session_options(threads: int | None = None):
    """ORT options for a process that also runs PyTorch and Qt: no spinning threads (they starve torch)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    opts.inter_op_num_threads = 1
    return opts


class OnnxRuntime:
    """ONNX Runtime on the CPU execution provider."""

    def __init__(self, path: str | Path, threads: int | None = None, name: str = "onnx") -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise DistilPoseError(f"{path}: ONNX model not found")
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=onnx_session_options(threads), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own exception types for corrupt files
            raise DistilPoseError(f"{path}: not a loadable ONNX model ({exc})") from exc
        self.path = path
        self.name = name
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = tuple(o.name for o in self.session.get_outputs())
        self._wide_session = None
        #: None: no wide session; True: :meth:`run` uses the session of :meth:`widen`'s thread count.
        self.wide: bool | None = None

    def widen(self, threads: int) -> None:
        """A second session on the same file with ``threads`` intra-op threads, used while :attr:`wide` is
        True (ORT fixes a session's thread count; the live pipeline sets it when the detector is idle)."""
        import onnxruntime as ort

        self._wide_session = ort.InferenceSession(
            str(self.path), sess_options=onnx_session_options(threads), providers=["CPUExecutionProvider"]
        )
        self.wide = False

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        session = self._wide_session if self.wide and self._wide_session is not None else self.session
        outs = session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})
        return dict(zip(self.output_names, outs, strict=True))


def check_runtime(runtime: str, allow_auto: bool = True) -> str:
    """``runtime`` when it is one of :data:`RUNTIMES` (or ``auto``), else a DistilPoseError listing them."""
    allowed = (AUTO, *RUNTIMES) if allow_auto else RUNTIMES
    if runtime not in allowed:
        raise DistilPoseError(f"unknown runtime {runtime!r}; choose from {', '.join(allowed)}")
    return runtime


def weights_digest(model) -> str:
    """sha256 of every tensor in the state dict (sorted by name): keys cached files to the exact weights."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode("utf-8"))
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def onnx_cache_dir() -> Path:
    from distilpose.zoo.fetch import cache_root  # the one place that knows the cache convention

    return cache_root() / "onnx"


def cached_onnx(
    model,
    int8: bool = False,
    folder: str | os.PathLike | None = None,
    digest: str | None = None,
    progress=None,
) -> Path:
    """The model's ONNX file (its int8 variant with ``int8``), exported and parity-checked once, then cached
    under a name keyed to the exact weights."""
    from distilpose.onnx_export import export_onnx, int8_path_for

    folder = Path(folder) if folder is not None else onnx_cache_dir()
    path = folder / f"{model.spec.name}-{(digest or weights_digest(model))[:16]}.onnx"
    int8_path = int8_path_for(path)
    if not path.is_file() or (int8 and not int8_path.is_file()):
        if progress is not None:
            progress(f"exporting {model.spec.name} to ONNX (once; cached in {folder})")
        export_onnx(model, path, int8=int8)
    return int8_path if int8 else path


def build_runtime(
    model,
    runtime: str,
    threads: int | None = None,
    onnx_dir: str | os.PathLike | None = None,
    digest: str | None = None,
    progress=None,
) -> Runtime:
    """A ready runtime of :data:`RUNTIMES` for ``model``; ONNX variants come from :func:`cached_onnx`."""
    check_runtime(runtime, allow_auto=False)
    if runtime.startswith("torch"):
        precision = "bf16" if "bf16" in runtime else "fp32"
        return TorchRuntime(model, precision, threads, compile=runtime.endswith("-compile"))
    int8 = runtime == "onnx-int8"
    path = cached_onnx(model, int8, onnx_dir, digest, progress)
    return OnnxRuntime(path, threads, name=runtime)


def parse_runtime_list(text: str, allowed: Sequence[str] = RUNTIMES) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise DistilPoseError(f"unknown runtime(s) {unknown or text!r}; choose from {', '.join(allowed)}")
    return names
