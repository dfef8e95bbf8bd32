"""Reading and writing weights safely: safetensors, plain torch state dicts and official mmpose .pth files.

Nothing here ever unpickles code: torch files are read with ``weights_only=True`` (plus numpy scalars and
arrays, which mmcv writes into checkpoint metadata), and a file that needs anything else is refused.
Mismatches are reported in full (missing keys, unexpected keys, shape mismatches) because a silently
half-loaded model is the worst outcome.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file as _safetensors_load
from safetensors.torch import save_file as _safetensors_save
from torch import Tensor, nn

from distilpose.atomic import atomic_write_with
from distilpose.errors import CheckpointError
from distilpose.models.bundled import bundled_weights
from distilpose.models.registry import ModelSpec, create_model, list_models, model_spec

StateDict = dict[str, Tensor]
PathLike = str | os.PathLike

#: Format tag written into the metadata of every file :func:`save_weights` produces.
FORMAT = "distilpose-studio/1"
#: How many names an error message lists per category before "... and N more".
MAX_LISTED = 20


def _numpy_safe_globals() -> list[object]:
    """numpy types that only rebuild plain data (mmcv stores numpy scores in checkpoint metadata)."""
    core = getattr(np, "_core", None) or np.core
    allowed: list[object] = [core.multiarray.scalar, core.multiarray._reconstruct, np.ndarray, np.dtype]
    for name in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"):
        allowed.append(type(np.dtype(name)))
    return allowed


#: What a file's suffix promises, for messages about a file whose content is another format.
_SUFFIX_FORMATS = {".safetensors": "safetensors", ".pt": "PyTorch", ".pth": "PyTorch", ".ckpt": "PyTorch"}
_FORMAT_SUFFIX = {"safetensors": ".safetensors", "PyTorch": ".pt", "ONNX": ".onnx"}
_FORMAT_WORDS = {
    "safetensors": "safetensors weights",
    "PyTorch": "a PyTorch checkpoint",
    "ONNX": "an ONNX model",
}


def _content_format(path: Path) -> str | None:
    """The format a weights file's first bytes show: safetensors, PyTorch (torch.save's zip archive, or a
    legacy pickle), ONNX (a protobuf whose first field is the IR version), or None when unknown."""
    with open(path, "rb") as fh:
        head = fh.read(256)
    if _is_safetensors(path):
        return "safetensors"
    if head.startswith(b"PK\x03\x04") or (len(head) > 1 and head[0] == 0x80 and head[1] in (2, 3, 4, 5)):
        return "PyTorch"
    if head[:1] == b"\x08" and b"onnx" in head.lower():
        return "ONNX"
    return None


def _check_format(path: Path) -> None:
    """A file whose content is not what its name says (a torch file renamed ``.safetensors``) is refused with
    both named: each format is read by its own reader, and a misnamed file is a mistake worth hearing about."""
    promised = _SUFFIX_FORMATS.get(path.suffix.lower())
    found = _content_format(path)
    if promised is not None and found is not None and found != promised:
        raise CheckpointError(
            f"{path}: the file is named {path.suffix} but holds {_FORMAT_WORDS[found]}, not {promised}; "
            f"rename it to {_FORMAT_SUFFIX[found]} (or save it again as {promised})"
        )


def _check_finite(state: Mapping[str, Tensor], path: Path) -> None:
    """Weights holding NaN or infinity (a diverged run, a damaged file) are refused at load, naming the file
    and the tensors, before they turn every prediction into NaN far from their cause."""
    bad = [name for name, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise CheckpointError(
            f"{path}: refused: {len(bad)} weight tensor(s) hold non-finite values (NaN or infinity): "
            f"{_listing(bad)}; the file is damaged or comes from a training run that diverged"
        )


def _is_safetensors(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(9)
    if len(head) < 9:
        return False
    (header_len,) = struct.unpack("<Q", head[:8])
    return head[8:9] == b"{" and 0 < header_len <= path.stat().st_size - 8


def read_metadata(path: PathLike) -> dict[str, str]:
    """The string metadata of a safetensors file ({} for torch files)."""
    p = Path(path)
    if not _is_safetensors(p):
        return {}
    try:
        with safe_open(str(p), framework="pt") as fh:
            return dict(fh.metadata() or {})
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"{p}: not a readable safetensors file ({exc})") from exc


def _torch_load(path: Path) -> object:
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise unpickling_error(path, exc) from exc
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from exc


def unpickling_error(path: Path, exc: pickle.UnpicklingError, what: str = "checkpoint") -> CheckpointError:
    """What a ``weights_only`` load failure means: pickled code/objects (refused, named) or a damaged file.

    torch's own message suggests ``weights_only=False``, i.e. running the file's code: never show it."""
    found: list[str] = []
    with contextlib.suppress(Exception):
        found = list(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    found = found or re.findall(r"GLOBAL ([\w.]+)", str(exc))
    if not found:
        return CheckpointError(f"{path}: not a readable {what} (damaged, or not a PyTorch file)")
    return CheckpointError(
        f"{path}: refused: the file holds pickled code or objects ({', '.join(dict.fromkeys(found))}); only "
        "tensors and plain data are loaded. Re-save the weights as a state dict or as safetensors."
    )


def _unwrap(obj: object, source: str) -> StateDict:
    """mmpose/mmcv {'state_dict': ...} or {'model': ...} -> flat state dict; 'module.' prefixes stripped."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{source}: expected a dict of tensors, found {type(obj).__name__}")
    for wrapper in ("state_dict", "model"):
        inner = obj.get(wrapper)
        if isinstance(inner, Mapping) and not any(isinstance(v, Tensor) for v in obj.values()):
            obj = inner
            break
    bad = [str(k) for k, v in obj.items() if not isinstance(v, Tensor) or not isinstance(k, str)]
    if bad:
        raise CheckpointError(f"{source}: entries that are not tensors: {_listing(bad)}")
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in obj.items()}


def load_state_dict_file(path: PathLike) -> StateDict:
    """Read a safetensors or torch checkpoint into a flat ``{name: tensor}`` dict on the CPU."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such checkpoint file")
    _check_format(p)
    if _is_safetensors(p):
        try:
            state = _unwrap(_safetensors_load(str(p), device="cpu"), str(p))
        except CheckpointError:
            raise
        except Exception as exc:
            raise CheckpointError(f"{p}: not a readable safetensors file ({exc})") from exc
    else:
        state = _unwrap(_torch_load(p), str(p))
    _check_finite(state, p)
    return state


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f", ... and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")


@dataclass
class LoadReport:
    """What a load did; ``ok`` when the checkpoint matched the model exactly."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self) -> str:
        lines = []
        if self.missing:
            lines.append(f"  missing keys ({len(self.missing)}): {_listing(self.missing)}")
        if self.unexpected:
            lines.append(f"  unexpected keys ({len(self.unexpected)}): {_listing(self.unexpected)}")
        if self.mismatched:
            items = [f"{n} (expected {list(e)}, got {list(g)})" for n, e, g in self.mismatched]
            lines.append(f"  shape mismatches ({len(items)}): {_listing(items)}")
        return "\n".join(lines)


def compare_state_dicts(expected: Mapping[str, Tensor], got: Mapping[str, Tensor]) -> LoadReport:
    """Classify every key of a model state dict (``expected``) against a checkpoint (``got``)."""
    report = LoadReport()
    for name, ref in expected.items():
        if name not in got:
            report.missing.append(name)
        elif tuple(got[name].shape) != tuple(ref.shape):
            report.mismatched.append((name, tuple(ref.shape), tuple(got[name].shape)))
        else:
            report.loaded.append(name)
    report.unexpected = [k for k in got if k not in expected]
    return report


def load_weights(
    model: nn.Module, source: PathLike | Mapping[str, Tensor], strict: bool = True
) -> LoadReport:
    """Load a checkpoint file or state dict into ``model``.

    ``strict=True`` raises CheckpointError listing missing keys, unexpected keys and shape mismatches;
    ``strict=False`` loads the matching tensors and returns the report.
    """
    if isinstance(source, Mapping):
        name, state = "state dict", _unwrap(source, "state dict")
    else:
        name, state = str(source), load_state_dict_file(source)
    report = compare_state_dicts(model.state_dict(), state)
    if not report.ok and strict:
        arch = getattr(getattr(model, "spec", None), "name", type(model).__name__)
        raise CheckpointError(f"{name}: checkpoint does not match model {arch!r}:\n{report.describe()}")
    model.load_state_dict({k: state[k] for k in report.loaded}, strict=False)
    return report


def save_weights(model: nn.Module, path: PathLike, metadata: Mapping[str, str] | None = None) -> None:
    """Write the state dict as safetensors, atomically, with the model name under metadata 'model'."""
    meta = {"format": FORMAT}
    spec = getattr(model, "spec", None)
    if spec is not None:
        meta["model"] = spec.name
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError(f"metadata must map str to str; {key!r} -> {type(value).__name__}")
        if key == "model" and "model" in meta and value != meta["model"]:
            raise ValueError(f"metadata 'model' is {value!r} but the model is {meta['model']!r}")
        meta[key] = value
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    try:
        atomic_write_with(path, lambda tmp: _safetensors_save(state, tmp, metadata=meta))
    except SafetensorError as exc:  # how safetensors reports a failed write (full disk, file too large)
        raise CheckpointError(f"{path}: cannot write the weights (is the disk full? {exc})") from exc


@dataclass
class BackboneInit:
    loaded: list[str]
    ignored: list[str]

    def describe(self) -> str:
        return (
            f"initialised {len(self.loaded)} backbone tensors from the teacher; ignored {len(self.ignored)}"
        )


def init_backbone_from_teacher(
    student: nn.Module, teacher: PathLike | Mapping[str, Tensor] | nn.Module
) -> BackboneInit:
    """Copy the teacher's backbone into the student's (DistilPose-L: HRNet-W48 stem + stages 1-3).

    Like the official init (mmpose backbone ``load_checkpoint``): the ``backbone.`` prefix is stripped and
    teacher tensors the student lacks (stage4, transition3, the extra stage-3 fusion outputs) are ignored.
    Unlike it, every student backbone tensor must be found with the right shape, or CheckpointError.
    """
    if isinstance(teacher, nn.Module):
        state, name = teacher.state_dict(), "teacher model"
    elif isinstance(teacher, Mapping):
        state, name = _unwrap(teacher, "teacher state dict"), "teacher state dict"
    else:
        state, name = load_state_dict_file(teacher), str(teacher)
    if any(k.startswith("backbone.") for k in state):
        state = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
    target = student.backbone.state_dict()
    report = compare_state_dicts(target, state)
    if report.missing or report.mismatched:
        report.unexpected = []
        raise CheckpointError(
            f"{name}: teacher backbone does not cover the student backbone:\n{report.describe()}"
        )
    student.backbone.load_state_dict({k: state[k] for k in report.loaded}, strict=True)
    return BackboneInit(loaded=report.loaded, ignored=report.unexpected)


def load_model(
    name_or_path: PathLike, *, arch: str | None = None, strict: bool = True
) -> tuple[nn.Module, ModelSpec]:
    """A registered name -> freshly built model (with its shipped weights, built as their file records, when
    it ships any); a checkpoint path -> model with its weights (eval mode).

    The architecture comes from ``arch`` or from the safetensors metadata 'model' that
    :func:`save_weights` writes; official mmpose .pth files carry no such name, so pass ``arch=``.
    """
    text = os.fspath(name_or_path)
    path = Path(text)
    if not path.is_file():
        if isinstance(name_or_path, os.PathLike) or os.sep in text or path.suffix:
            raise CheckpointError(f"{path}: no such checkpoint file")
        name = model_spec(text).name  # raises UnknownModelError listing the available names
        shipped = bundled_weights(name)
        if shipped is None:
            model = create_model(name)
            return model, model.spec
        # the default student ships its weights in resources/models/, built as the file records (a peak head)
        model = _build_with(name, shipped_overrides(name), shipped)
        load_weights(model, shipped, strict=True)
        model.eval()
        return model, model.spec
    meta = read_metadata(path)
    stored = meta.get("model")
    if arch is not None and stored is not None and arch != stored:
        raise CheckpointError(f"{path}: the file is a {stored!r} checkpoint, not {arch!r}")
    chosen = arch or stored
    if chosen is None:
        load_state_dict_file(path)  # a file holding pickled code or no tensors says so first
        raise CheckpointError(
            f"{path}: the checkpoint does not name its architecture; pass arch= (one of {', '.join(list_models())})"
        )
    model = _build_with(chosen, _stored_overrides(path, meta), path)
    load_weights(model, path, strict=strict)
    model.eval()
    return model, model.spec


def _build_with(name: str, overrides: dict[str, object], path: Path) -> nn.Module:
    try:
        return create_model(name, **overrides)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: its metadata 'overrides' do not build {name!r}: {exc}") from None


def stored_overrides(path: PathLike) -> dict[str, object]:
    """The builder options ``path`` was trained with ({} for a file without any, or a torch file)."""
    return _stored_overrides(Path(path), read_metadata(path))


def shipped_overrides(name: str) -> dict[str, object]:
    """The builder options of registered model ``name``'s shipped weights ({} when it ships none)."""
    shipped = bundled_weights(name)
    return stored_overrides(shipped) if shipped is not None else {}


def _stored_overrides(path: Path, meta: Mapping[str, str]) -> dict[str, object]:
    """The builder options a trained file was made with (the trainer's metadata 'overrides', e.g. a
    student's ``peak_head``), so the file loads into the architecture that wrote it."""
    try:
        overrides = json.loads(meta.get("overrides") or "{}")
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: metadata 'overrides' is not JSON ({exc})") from None
    if not isinstance(overrides, dict):
        raise CheckpointError(f"{path}: metadata 'overrides' is not a JSON object")
    return overrides
