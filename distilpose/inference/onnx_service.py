"""The one ONNX service: export a model once, check the graph against PyTorch, cache it under a name keyed to
the exact weights, and open ONNX Runtime sessions with the options this process needs.

Pose runtimes (:mod:`distilpose.inference.runtimes`, and runtime ``auto`` through them), ``distilpose
export``, the app's job export and the person detector (:class:`distilpose.detection.OnnxCenterNet`) all go
through here; before issue 21 the export, the cache and the check existed three times. It imports no other
inference module, so nothing reaches it in a circle.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from distilpose.atomic import atomic_write_with
from distilpose.errors import DistilPoseError

REGRESSION_OUTPUTS = ("coords", "scores", "sigmas")
HEATMAP_OUTPUTS = ("heatmaps",)


def output_names_for(kind: str) -> tuple[str, ...]:
    """Names of the tensors ``forward_export`` returns for a model kind."""
    if kind == "regression":
        return REGRESSION_OUTPUTS
    if kind == "heatmap":
        return HEATMAP_OUTPUTS
    raise DistilPoseError(f"unknown model kind {kind!r}")


def model_output_names(model) -> tuple[str, ...]:
    """The names of a model's exported outputs: its own ``output_names``, else its kind's."""
    return tuple(getattr(model, "output_names", None) or output_names_for(model.spec.kind))


# -- sessions ---------------------------------------------------------------------------------------


def session_options(threads: int | None = None):
    """ORT options for a process that also runs PyTorch and Qt: no spinning threads (they starve torch)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    opts.inter_op_num_threads = 1
    return opts


def open_session(path: str | os.PathLike, threads: int | None = None):
    """An ONNX Runtime session on the CPU for ``path``; a DistilPoseError naming the file when it is missing
    or not a loadable model."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise DistilPoseError(f"{path}: ONNX model not found")
    try:
        return ort.InferenceSession(
            str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # ORT raises its own exception types for corrupt files
        raise DistilPoseError(f"{path}: not a loadable ONNX model ({exc})") from exc


def session_outputs(session, batch: np.ndarray) -> dict[str, np.ndarray]:
    """Run a one-input session; its outputs by name."""
    names = [o.name for o in session.get_outputs()]
    feed = {session.get_inputs()[0].name: np.ascontiguousarray(batch, dtype=np.float32)}
    return dict(zip(names, session.run(None, feed), strict=True))


def torch_outputs(model, batch: np.ndarray) -> dict[str, np.ndarray]:
    """The reference: eager PyTorch fp32 ``forward_export`` on ``batch``, by output name."""
    import torch

    with torch.inference_mode():
        outs = model.eval().forward_export(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
    return {n: o.float().numpy() for n, o in zip(model_output_names(model), outs, strict=True)}


# -- the cache --------------------------------------------------------------------------------------


def weights_digest(model) -> str:
    """sha256 of every tensor in the state dict (sorted by name): keys cached files to the exact weights."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode("utf-8"))
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def cache_dir() -> Path:
    from distilpose.zoo.fetch import cache_root  # the one place that knows the cache convention

    return cache_root() / "onnx"


def cached_path(stem: str, digest: str, folder: str | os.PathLike | None = None) -> Path:
    """Where the export of ``stem`` with these exact weights is cached."""
    return (Path(folder) if folder is not None else cache_dir()) / f"{stem}-{digest[:16]}.onnx"


def write_torch_onnx(
    tmp: str,
    module,
    dummy,
    input_names: list[str],
    output_names: list[str] | None = None,
    dynamic_axes: dict | None = None,
    opset: int | None = None,
) -> None:
    """``torch.onnx.export`` as every export here runs it: TorchScript exporter, its warnings silenced."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (dummy,),
            tmp,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            dynamo=False,
        )


def export_checked(path: Path, write: Callable[[str], None], check: Callable[[Path], None]) -> None:
    """Write ``path`` atomically with ``write(tmp)``, then ``check(path)``; a file that fails its check (or
    whose check fails) is removed, so the cache never holds an unchecked graph."""
    try:
        atomic_write_with(path, write)
    except OSError as exc:
        raise DistilPoseError(f"{path}: cannot write the ONNX file ({exc.strerror or exc})") from exc
    try:
        check(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


# -- pose models ------------------------------------------------------------------------------------


#: Largest |ONNX - PyTorch| allowed for fp32 exports, on normalised coordinates (and raw heatmaps).
FP32_TOLERANCE = 1e-4
#: The int8 scheme, part of the int8 file's name so that a cached file of an older scheme is not reused:
#: per-channel weights, the output head in float (see :func:`quantize_int8`).
INT8_SCHEME = "pc"


def int8_path_for(fp32_path: Path) -> Path:
    """Where the int8 variant of an exported fp32 file lives (beside it, named after the scheme)."""
    return fp32_path.with_name(f"{fp32_path.stem}.int8-{INT8_SCHEME}.onnx")


@dataclass
class ExportReport:
    path: Path
    max_abs_diff: dict[str, float]
    seconds: float
    int8_path: Path | None = None
    int8_max_abs_diff: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"wrote {self.path} in {self.seconds:.1f} s"]
        out += [f"  fp32 max |onnx - torch| {k}: {v:.3g}" for k, v in self.max_abs_diff.items()]
        if self.int8_path is not None:
            out.append(f"wrote {self.int8_path} (int8 dynamic, MatMul/Gemm per channel, output head in float)")
            out += [f"  int8 max |onnx - torch| {k}: {v:.3g}" for k, v in self.int8_max_abs_diff.items()]
        return out


class _ExportWrapper:
    """Builds the nn.Module whose forward is the model's tuple-returning ``forward_export``."""

    @staticmethod
    def wrap(model):
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, x):
                return self.inner.forward_export(x)

        return Wrapper(model).eval()


def sample_batch(spec, batch: int = 2, seed: int = 0) -> np.ndarray:
    """A deterministic normalised batch (roughly image statistics) for export checks and benchmarks."""
    h, w = spec.input_size
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, 3, h, w)).astype(np.float32)


def max_differences(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    return {k: float(np.max(np.abs(a[k] - b[k]))) for k in a}


def export_onnx(model, out_path: str | Path, int8: bool = False, opset: int = 18) -> ExportReport:
    """Export ``model`` (with ``.spec`` and ``forward_export``) to ONNX with a dynamic batch axis.

    Raises DistilPoseError when ONNX Runtime disagrees with PyTorch by more than FP32_TOLERANCE.
    """
    import torch

    out_path = Path(out_path)
    model = model.eval()
    names = model_output_names(model)
    dummy = torch.zeros(1, 3, *model.spec.input_size)
    batch = sample_batch(model.spec)
    reference = torch_outputs(model, batch)
    report = ExportReport(out_path, {}, 0.0)
    start = time.perf_counter()

    def write(tmp: str) -> None:
        axes = {"input": {0: "batch"}, **{n: {0: "batch"} for n in names}}
        write_torch_onnx(tmp, _ExportWrapper.wrap(model), dummy, ["input"], list(names), axes, opset)

    def check(path: Path) -> None:
        report.seconds = time.perf_counter() - start
        report.max_abs_diff = max_differences(reference, session_outputs(open_session(path), batch))
        worst = max(report.max_abs_diff.values())
        if worst > FP32_TOLERANCE:
            raise DistilPoseError(
                f"{path}: ONNX Runtime disagrees with PyTorch by {worst:.3g} (> {FP32_TOLERANCE}); file removed"
            )

    export_checked(out_path, write, check)
    if int8:
        report.int8_path = int8_path_for(out_path)
        quantize_int8(out_path, report.int8_path)
        int8_session = open_session(report.int8_path)
        report.int8_max_abs_diff = max_differences(reference, session_outputs(int8_session, batch))
    return report


def cached_onnx(
    model,
    int8: bool = False,
    folder: str | os.PathLike | None = None,
    digest: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """The model's ONNX file (its int8 variant with ``int8``), exported and checked once, then cached under a
    name keyed to the exact weights."""
    path = cached_path(model.spec.name, digest or weights_digest(model), folder)
    int8_path = int8_path_for(path)
    if not path.is_file() or (int8 and not int8_path.is_file()):
        if progress is not None:
            progress(f"exporting {model.spec.name} to ONNX (once; cached in {path.parent})")
        export_onnx(model, path, int8=int8)
    return int8_path if int8 else path


def output_head_nodes(path: Path) -> list[str]:
    """The MatMul/Gemm nodes of a token head's output layer (``mlp_head``): what int8 keeps in float."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm") and "/mlp_head/" in n.name]


def quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 on MatMul/Gemm only, signed weights: the fastest accurate variant on this CPU kind
    (convs stay fp32; int8 ConvInteger with S8 weights is slower than fp32, see docs/adr/0003).

    Weights are quantised per output channel, and the head's output layer stays float (ADR 0014): with one
    scale per tensor, the x/y rows of a prior student's corrections (weights ~100x smaller than the
    sigma rows') rounded to zero (0 and 5 of 128 non-zero on the shipped student), so the live model lost
    everything distillation learned. Per channel with the output head in float, the shipped student's int8
    coordinates stay within 0.02 px of PyTorch on 49 real crops, at the same speed."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    keep_float = output_head_nodes(src)

    def write(tmp: str) -> None:
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # ORT logs a generic "consider pre-processing" hint on every call
        try:
            quantize_dynamic(
                str(src),
                tmp,
                op_types_to_quantize=["MatMul", "Gemm"],
                weight_type=QuantType.QInt8,
                per_channel=True,
                nodes_to_exclude=keep_float,
            )
        finally:
            root.setLevel(level)

    atomic_write_with(dst, write)
