"""Elementwise TF ops: arithmetic, comparisons, activations, casts; static values fold in numpy."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from distilpose.zoo.ops.base import (
    Env,
    GraphRuntimeError,
    Kernel,
    OpContext,
    Value,
    attr,
    dtype_attr,
    expect_inputs,
    fail,
    is_static,
    np_dtype,
    unsupported,
)


def _floordiv_t(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.div(a, b, rounding_mode="floor")


def _floordiv_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "iu" and np.any(b == 0):
        raise GraphRuntimeError("integer division by zero in a static value")
    return np.floor_divide(a, b)


def _realdiv_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "iu":  # TF's RealDiv on integers truncates toward zero
        if np.any(b == 0):
            raise GraphRuntimeError("integer division by zero in a static value")
        return (np.trunc(a / b)).astype(a.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a / b).astype(a.dtype)


def _realdiv_t(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if not a.is_floating_point():
        return torch.div(a, b, rounding_mode="trunc")
    return a / b


BINARY: dict[str, tuple[Callable, Callable | None]] = {
    # op: (torch function, numpy function or None when only tensors need it)
    "Add": (torch.add, np.add),
    "AddV2": (torch.add, np.add),
    "BiasAdd": (torch.add, np.add),
    "Sub": (torch.sub, np.subtract),
    "Mul": (torch.mul, np.multiply),
    "RealDiv": (_realdiv_t, _realdiv_np),
    "FloorDiv": (_floordiv_t, _floordiv_np),
    "FloorMod": (torch.remainder, np.remainder),
    "Maximum": (torch.maximum, np.maximum),
    "Minimum": (torch.minimum, np.minimum),
    "Pow": (torch.pow, np.power),
    "SquaredDifference": (lambda a, b: (a - b) * (a - b), lambda a, b: (a - b) * (a - b)),
    "Equal": (torch.eq, np.equal),
    "NotEqual": (torch.ne, np.not_equal),
    "Less": (torch.lt, np.less),
    "LessEqual": (torch.le, np.less_equal),
    "Greater": (torch.gt, np.greater),
    "GreaterEqual": (torch.ge, np.greater_equal),
    "LogicalAnd": (torch.logical_and, np.logical_and),
    "LogicalOr": (torch.logical_or, np.logical_or),
}

UNARY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "Sigmoid": torch.sigmoid,
    "Tanh": torch.tanh,
    "Relu": torch.relu,
    "Relu6": lambda x: torch.clamp(x, 0.0, 6.0),
    "Elu": F.elu,
    "Selu": F.selu,
    "Softplus": F.softplus,
    "Sqrt": torch.sqrt,
    "Rsqrt": torch.rsqrt,
    "Exp": torch.exp,
    "Log": torch.log,
    "Abs": torch.abs,
    "Neg": torch.neg,
    "Square": lambda x: x * x,
    "Reciprocal": torch.reciprocal,
    "Floor": torch.floor,
    "Ceil": torch.ceil,
    "Round": torch.round,  # half to even, like TF
    "Sign": torch.sign,
    "LogicalNot": torch.logical_not,
    "Softmax": lambda x: torch.softmax(x, dim=-1),
}

#: Static-capable unary ops (shape arithmetic).
UNARY_NP: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "Abs": np.abs,
    "Neg": np.negative,
    "Floor": np.floor,
    "Ceil": np.ceil,
    "LogicalNot": np.logical_not,
}


def build_binary(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 2)
    fn_t, fn_np = BINARY[ctx.op]
    if ctx.op == "BiasAdd" and attr(ctx, "data_format", str, "NHWC") != "NHWC":
        unsupported(ctx, "only data_format NHWC is supported")

    def kernel(args: list[Value], env: Env) -> Value:
        a, b = args
        if fn_np is not None and is_static(a) and is_static(b):
            return np.asarray(fn_np(a, b))
        return fn_t(env.tensor(a), env.tensor(b))

    return kernel


def build_unary(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 1)
    fn_t, fn_np = UNARY[ctx.op], UNARY_NP.get(ctx.op)

    def kernel(args: list[Value], env: Env) -> Value:
        if fn_np is not None and is_static(args[0]):
            return np.asarray(fn_np(args[0]))
        return fn_t(env.tensor(args[0]))

    return kernel


def build_leaky_relu(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 1)
    alpha = float(attr(ctx, "alpha", (int, float), 0.2))
    return lambda args, env: F.leaky_relu(env.tensor(args[0]), alpha)


def build_add_n(ctx: OpContext) -> Kernel:
    if ctx.num_inputs < 1:
        fail(ctx, "needs at least one input")

    def kernel(args: list[Value], env: Env) -> Value:
        if all(is_static(a) for a in args):
            return np.asarray(sum(args[1:], args[0]))
        out = env.tensor(args[0])
        for other in args[1:]:
            out = out + env.tensor(other)
        return out

    return kernel


def build_identity(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 1, None if ctx.op == "IdentityN" else 1)
    if ctx.op == "IdentityN":
        return lambda args, env: tuple(args)
    return lambda args, env: args[0]


def build_cast(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 1)
    dst = dtype_attr(ctx, "DstT")
    dst_np = np_dtype(dst)

    def kernel(args: list[Value], env: Env) -> Value:
        x = args[0]
        if is_static(x):
            return x.astype(dst_np)
        return x.to(dst)

    return kernel


def build_select(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 3)
    v1 = ctx.op == "Select"

    def kernel(args: list[Value], env: Env) -> Value:
        cond, a, b = (env.tensor(v) for v in args)
        if v1 and cond.dim() == 1 and a.dim() > 1:  # Select v1: a vector condition picks whole rows
            cond = cond.reshape((-1,) + (1,) * (a.dim() - 1))
        return torch.where(cond, a, b)

    return kernel
