"""Shared pieces of the op implementations: errors, dtypes, the build/run protocols, argument checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, Protocol

import numpy as np
import torch

from distilpose.errors import DistilPoseError

Value = Any  # np.ndarray (static) | torch.Tensor
Kernel = Callable[[list[Value], "Env"], Value]


class TfjsFormatError(DistilPoseError):
    """A TF.js model file that is malformed: bad JSON, bad manifest, bad node or attribute."""


class UnsupportedOpError(TfjsFormatError):
    """The graph uses an op (or an attribute value) the importer does not implement."""


class GraphRuntimeError(DistilPoseError):
    """A node failed while running, e.g. an input of the wrong shape."""


TF_DTYPES: dict[str, torch.dtype] = {
    "DT_FLOAT": torch.float32,
    "DT_HALF": torch.float16,
    "DT_DOUBLE": torch.float64,
    "DT_INT32": torch.int32,
    "DT_INT64": torch.int64,
    "DT_INT16": torch.int16,
    "DT_INT8": torch.int8,
    "DT_UINT8": torch.uint8,
    "DT_BOOL": torch.bool,
}
_NP_DTYPES: dict[torch.dtype, np.dtype] = {
    torch.float32: np.dtype(np.float32),
    torch.float16: np.dtype(np.float16),
    torch.float64: np.dtype(np.float64),
    torch.int32: np.dtype(np.int32),
    torch.int64: np.dtype(np.int64),
    torch.int16: np.dtype(np.int16),
    torch.int8: np.dtype(np.int8),
    torch.uint8: np.dtype(np.uint8),
    torch.bool: np.dtype(np.bool_),
}


class Env(Protocol):
    """What a kernel may ask of the running graph."""

    def tensor(self, value: Value) -> torch.Tensor: ...

    def param(self, key: str) -> torch.Tensor: ...


class OpContext(Protocol):
    """What a builder may ask of the importer at load time (implemented in :mod:`distilpose.zoo.tfjs`)."""

    name: str
    op: str
    attr: dict[str, Any]
    num_inputs: int

    def const(self, index: int) -> np.ndarray | None: ...

    def param(self, index: int, convert: Callable[[np.ndarray], np.ndarray], role: str) -> str | None: ...


# ------------------------------------------------------------------------------------------ attribute access


def fail(ctx: OpContext, message: str) -> NoReturn:
    raise TfjsFormatError(f"node {ctx.name!r} ({ctx.op}): {message}")


def unsupported(ctx: OpContext, message: str) -> NoReturn:
    raise UnsupportedOpError(f"node {ctx.name!r} ({ctx.op}): {message}")


MISSING = object()


def attr(ctx: OpContext, key: str, kind: type | tuple[type, ...], default: Any = MISSING) -> Any:
    if key not in ctx.attr:
        if default is MISSING:
            fail(ctx, f"missing attribute {key!r}")
        return default
    value = ctx.attr[key]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        fail(ctx, f"attribute {key!r} should be {getattr(kind, '__name__', kind)}, got {value!r:.80}")
    return value


def int_list(ctx: OpContext, key: str, length: int | None = None, default: Any = MISSING) -> list[int]:
    value = attr(ctx, key, list, default)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        fail(ctx, f"attribute {key!r} should be a list of integers, got {value!r:.80}")
    if length is not None and len(value) != length:
        fail(ctx, f"attribute {key!r} should have {length} values, got {len(value)}")
    return list(value)


def dtype_attr(ctx: OpContext, key: str, default: str | object = MISSING) -> torch.dtype:
    name = attr(ctx, key, str, default)
    if name not in TF_DTYPES:
        unsupported(ctx, f"attribute {key!r} has unsupported dtype {name}")
    return TF_DTYPES[name]


def expect_inputs(ctx: OpContext, low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= ctx.num_inputs <= high:
        want = str(low) if low == high else f"{low} to {high}"
        fail(ctx, f"expects {want} inputs, got {ctx.num_inputs}")


# ------------------------------------------------------------------------------------------ value helpers


def is_static(value: Value) -> bool:
    return isinstance(value, np.ndarray)


def static(ctx_name: str, value: Value, what: str) -> np.ndarray:
    """A shape-like argument; it must be known without running the network."""
    if isinstance(value, np.ndarray):
        return value
    raise GraphRuntimeError(
        f"node {ctx_name!r}: argument {what!r} is computed from tensor data at run time; "
        "only static (constant or shape-derived) values are supported there"
    )


def static_ints(ctx_name: str, value: Value, what: str) -> list[int]:
    arr = static(ctx_name, value, what)
    if arr.dtype.kind not in "iub":
        raise GraphRuntimeError(f"node {ctx_name!r}: argument {what!r} must be integers, got {arr.dtype}")
    return [int(v) for v in arr.reshape(-1)]


def static_int(ctx_name: str, value: Value, what: str) -> int:
    values = static_ints(ctx_name, value, what)
    if len(values) != 1:
        raise GraphRuntimeError(f"node {ctx_name!r}: argument {what!r} must be one integer, got {values}")
    return values[0]


def norm_axis(axis: int, rank: int, name: str) -> int:
    if not -rank <= axis < rank:
        raise GraphRuntimeError(f"node {name!r}: axis {axis} out of range for rank {rank}")
    return axis % rank


def np_dtype(dtype: torch.dtype) -> np.dtype:
    return _NP_DTYPES[dtype]
