"""TF gathers, reductions, ArgMax and TopK."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from distilpose.zoo.ops.base import (
    Env,
    GraphRuntimeError,
    Kernel,
    OpContext,
    Value,
    attr,
    dtype_attr,
    expect_inputs,
    is_static,
    norm_axis,
    static_int,
    static_ints,
    unsupported,
)


def build_gather_v2(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 2, 3)
    if attr(ctx, "batch_dims", int, 0) != 0:
        unsupported(ctx, "batch_dims != 0 is not supported")

    def kernel(args: list[Value], env: Env) -> Value:
        params, indices = args[0], args[1]
        axis = static_int(ctx.name, args[2], "axis") if len(args) == 3 else 0
        ax = norm_axis(axis, params.ndim, ctx.name)
        if is_static(params) and is_static(indices):
            return np.take(params, indices, axis=ax)
        params, idx = env.tensor(params), env.tensor(indices).long()
        out = params.index_select(ax, idx.reshape(-1))
        return out.reshape(tuple(params.shape[:ax]) + tuple(idx.shape) + tuple(params.shape[ax + 1 :]))

    return kernel


def gather_nd(params: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """TF GatherNd: the last axis of ``indices`` indexes the leading axes of ``params``."""
    idx = indices.long()
    depth = idx.shape[-1]
    if depth > params.dim():
        raise GraphRuntimeError(f"GatherNd: index depth {depth} exceeds params rank {params.dim()}")
    lead, rest = tuple(params.shape[:depth]), tuple(params.shape[depth:])
    linear = torch.zeros(idx.shape[:-1], dtype=torch.long, device=idx.device)
    stride = 1
    for j in reversed(range(depth)):
        linear = linear + idx[..., j] * stride
        stride *= lead[j]
    flat = params.reshape((math.prod(lead),) + rest)
    return flat.index_select(0, linear.reshape(-1)).reshape(tuple(idx.shape[:-1]) + rest)


def build_gather_nd(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 2)
    return lambda args, env: gather_nd(env.tensor(args[0]), env.tensor(args[1]))


REDUCTIONS: dict[str, Callable] = {
    "Sum": lambda x, dims, keep: torch.sum(x, dim=dims, keepdim=keep).to(x.dtype),
    "Mean": lambda x, dims, keep: torch.mean(x, dim=dims, keepdim=keep),
    "Max": lambda x, dims, keep: torch.amax(x, dim=dims, keepdim=keep),
    "Min": lambda x, dims, keep: torch.amin(x, dim=dims, keepdim=keep),
    "Prod": lambda x, dims, keep: _prod(x, dims, keep),
    "All": lambda x, dims, keep: torch.all(x.bool(), dim=dims, keepdim=keep),
    "Any": lambda x, dims, keep: torch.any(x.bool(), dim=dims, keepdim=keep),
}
_REDUCE_NP: dict[str, Callable] = {
    "Sum": np.sum,
    "Max": np.max,
    "Min": np.min,
    "Prod": np.prod,
    "All": np.all,
    "Any": np.any,
}


def _prod(x: torch.Tensor, dims: tuple[int, ...], keep: bool) -> torch.Tensor:
    for d in sorted(dims, reverse=True):
        x = torch.prod(x, dim=d, keepdim=keep)
    return x


def build_reduce(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 2)
    keep = attr(ctx, "keep_dims", bool, False)
    fn_t, fn_np = REDUCTIONS[ctx.op], _REDUCE_NP.get(ctx.op)

    def kernel(args: list[Value], env: Env) -> Value:
        x = args[0]
        dims = tuple(
            sorted({norm_axis(a, max(x.ndim, 1), ctx.name) for a in static_ints(ctx.name, args[1], "axis")})
        )
        if not dims:
            return x
        if fn_np is not None and is_static(x):
            return np.asarray(fn_np(x, axis=dims, keepdims=keep)).astype(x.dtype)
        if ctx.op == "Mean" and not env.tensor(x).is_floating_point():
            raise GraphRuntimeError(f"node {ctx.name!r}: Mean of integer tensors is not supported")
        return fn_t(env.tensor(x), dims, keep)

    return kernel


def build_argmax(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 2)
    out = dtype_attr(ctx, "output_type", "DT_INT64")
    fn = torch.argmax if ctx.op == "ArgMax" else torch.argmin

    def kernel(args: list[Value], env: Env) -> Value:
        x = env.tensor(args[0])
        axis = norm_axis(static_int(ctx.name, args[1], "dimension"), x.dim(), ctx.name)
        return fn(x, dim=axis).to(out)  # first index among equal maxima, like TF

    return kernel


def build_topk(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 2)

    def kernel(args: list[Value], env: Env) -> Value:
        x = env.tensor(args[0])
        k = static_int(ctx.name, args[1], "k")
        if not 0 <= k <= x.shape[-1]:
            raise GraphRuntimeError(f"node {ctx.name!r}: k={k} out of range for {x.shape[-1]} values")
        values, indices = torch.topk(x, k, dim=-1, largest=True, sorted=True)
        if k > 1:
            # TF lists equal values by index; topk leaves ties in any order. Re-rank by the key
            # (tie group, index) with a second topk, which (unlike a stable sort) exports to ONNX.
            changed = torch.ne(values[..., 1:], values[..., :-1]).to(torch.int64)
            group = torch.cat([torch.zeros_like(changed[..., :1]), changed], dim=-1).cumsum(-1)
            _, order = torch.topk(-(group * x.shape[-1] + indices), k, dim=-1, sorted=True)
            values, indices = values.gather(-1, order), indices.gather(-1, order)
        return values, indices.to(torch.int32)

    return kernel
