"""TF ops that move data without arithmetic: reshape, pack, slice, concat, tile, ..."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

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
    int_list,
    is_static,
    norm_axis,
    np_dtype,
    static,
    static_int,
    static_ints,
)


def build_shape(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 1)
    out = np_dtype(dtype_attr(ctx, "out_type", "DT_INT32"))
    if ctx.op == "Shape":
        return lambda args, env: np.asarray(tuple(args[0].shape), dtype=out)
    if ctx.op == "Size":
        return lambda args, env: np.asarray(math.prod(args[0].shape), dtype=out)
    return lambda args, env: np.asarray(len(args[0].shape), dtype=np.int32)  # Rank


def build_reshape(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 2)

    def kernel(args: list[Value], env: Env) -> Value:
        shape = static_ints(ctx.name, args[1], "shape")
        if sum(1 for s in shape if s == -1) > 1 or any(s < -1 for s in shape):
            raise GraphRuntimeError(f"node {ctx.name!r}: invalid shape {shape}")
        return args[0].reshape(tuple(shape))

    return kernel


def build_expand_dims(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 2)

    def kernel(args: list[Value], env: Env) -> Value:
        x = args[0]
        axis = norm_axis(static_int(ctx.name, args[1], "axis"), x.ndim + 1, ctx.name)
        return np.expand_dims(x, axis) if is_static(x) else x.unsqueeze(axis)

    return kernel


def build_squeeze(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 1)
    dims = int_list(ctx, "squeeze_dims", default=[])

    def kernel(args: list[Value], env: Env) -> Value:
        x = args[0]
        rank = x.ndim
        axes = [norm_axis(d, rank, ctx.name) for d in dims] or [i for i, s in enumerate(x.shape) if s == 1]
        if any(x.shape[a] != 1 for a in axes):
            raise GraphRuntimeError(
                f"node {ctx.name!r}: cannot squeeze dims {dims} of shape {tuple(x.shape)}"
            )
        if is_static(x):
            return np.squeeze(x, axis=tuple(axes))
        return x.squeeze(tuple(axes)) if axes else x

    return kernel


def build_pack(ctx: OpContext) -> Kernel:
    if ctx.num_inputs < 1:
        fail(ctx, "needs at least one input")
    axis = attr(ctx, "axis", int, 0)

    def kernel(args: list[Value], env: Env) -> Value:
        ax = norm_axis(axis, args[0].ndim + 1, ctx.name)
        if all(is_static(a) for a in args):
            return np.stack(args, axis=ax)
        return torch.stack([env.tensor(a) for a in args], dim=ax)

    return kernel


def build_unpack(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 1)
    axis = attr(ctx, "axis", int, 0)
    num = attr(ctx, "num", int, -1)

    def kernel(args: list[Value], env: Env) -> Value:
        x = args[0]
        ax = norm_axis(axis, x.ndim, ctx.name)
        if num >= 0 and x.shape[ax] != num:
            raise GraphRuntimeError(
                f"node {ctx.name!r}: expects {num} entries along axis {axis}, got shape {tuple(x.shape)}"
            )
        if is_static(x):
            return tuple(np.take(x, i, axis=ax) for i in range(x.shape[ax]))
        return tuple(torch.unbind(x, dim=ax))

    return kernel


def build_concat(ctx: OpContext) -> Kernel:
    if ctx.num_inputs < 2:
        fail(ctx, "needs at least one value and an axis")
    axis_first = ctx.op == "Concat"

    def kernel(args: list[Value], env: Env) -> Value:
        axis_arg, values = (args[0], args[1:]) if axis_first else (args[-1], args[:-1])
        ax = norm_axis(static_int(ctx.name, axis_arg, "axis"), values[0].ndim, ctx.name)
        if all(is_static(v) for v in values):
            return np.concatenate(values, axis=ax)
        return torch.cat([env.tensor(v) for v in values], dim=ax)

    return kernel


def build_split(ctx: OpContext) -> Kernel:
    num = attr(ctx, "num_split", int)
    if num < 1:
        fail(ctx, f"num_split must be positive, got {num}")
    expect_inputs(ctx, 2 if ctx.op == "Split" else 3)

    def kernel(args: list[Value], env: Env) -> Value:
        if ctx.op == "Split":
            axis_arg, x = args
            sizes = None
        else:
            x, sizes_arg, axis_arg = args
            sizes = static_ints(ctx.name, sizes_arg, "size_splits")
        ax = norm_axis(static_int(ctx.name, axis_arg, "axis"), x.ndim, ctx.name)
        total = x.shape[ax]
        if sizes is None:
            if total % num:
                raise GraphRuntimeError(f"node {ctx.name!r}: cannot split {total} into {num} equal parts")
            sizes = [total // num] * num
        elif -1 in sizes:
            sizes = [s if s != -1 else total - (sum(sizes) + 1) for s in sizes]
        if len(sizes) != num or sum(sizes) != total or min(sizes) < 0:
            raise GraphRuntimeError(f"node {ctx.name!r}: split sizes {sizes} do not fit {total}")
        if is_static(x):
            return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=ax))
        return tuple(torch.split(x, sizes, dim=ax))

    return kernel


def _slice_spec(
    name: str,
    shape: Sequence[int],
    begin: list[int],
    end: list[int],
    strides: list[int],
    masks: dict[str, int],
) -> list[Any]:
    """TF StridedSlice arguments -> a per-dimension list of None (new axis), int (shrink) or slice."""
    if not len(begin) == len(end) == len(strides):
        raise GraphRuntimeError(f"node {name!r}: begin, end and strides differ in length")
    if any(s == 0 for s in strides):
        raise GraphRuntimeError(f"node {name!r}: a stride is zero")
    n = len(begin)
    bit = lambda mask, i: bool((masks[mask] >> i) & 1)  # noqa: E731
    has_ellipsis = any(bit("ellipsis_mask", i) for i in range(n))
    consuming = sum(1 for i in range(n) if not bit("ellipsis_mask", i) and not bit("new_axis_mask", i))
    spec: list[Any] = []
    dim = 0
    seen_ellipsis = False
    for i in range(n):
        if bit("ellipsis_mask", i):
            if seen_ellipsis:
                raise GraphRuntimeError(f"node {name!r}: more than one ellipsis")
            seen_ellipsis = True
            covered = len(shape) - consuming
            spec.extend([slice(None)] * covered)
            dim += covered
        elif bit("new_axis_mask", i):
            spec.append(None)
        else:
            if dim >= len(shape):
                raise GraphRuntimeError(
                    f"node {name!r}: slice has more dimensions than the input {tuple(shape)}"
                )
            if bit("shrink_axis_mask", i):
                index = begin[i] + shape[dim] if begin[i] < 0 else begin[i]
                if not 0 <= index < shape[dim]:
                    raise GraphRuntimeError(
                        f"node {name!r}: index {begin[i]} out of range for size {shape[dim]}"
                    )
                spec.append(index)
            else:
                b = None if bit("begin_mask", i) else begin[i]
                e = None if bit("end_mask", i) else end[i]
                spec.append(slice(b, e, strides[i]))
            dim += 1
    if not has_ellipsis:
        spec.extend([slice(None)] * (len(shape) - dim))
    return spec


def _apply_spec_torch(x: torch.Tensor, spec: list[Any]) -> torch.Tensor:
    d = 0
    for item in spec:
        if item is None:
            x = x.unsqueeze(d)
            d += 1
        elif isinstance(item, int):
            x = x.select(d, item)
        else:
            size = x.shape[d]
            start, stop, step = item.indices(size)
            if step > 0:
                if (start, stop, step) != (0, size, 1):
                    x = x[(slice(None),) * d + (slice(start, stop, step),)]
            else:  # torch slicing has no negative steps: flip, then slice forward
                count = len(range(start, stop, step))
                if count == 0:
                    x = x.narrow(d, 0, 0)
                else:
                    first = size - 1 - start
                    x = x.flip(d)[
                        (slice(None),) * d + (slice(first, first + (count - 1) * -step + 1, -step),)
                    ]
            d += 1
    return x


def build_strided_slice(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 4)
    masks = {
        key: attr(ctx, key, int, 0)
        for key in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
    }

    def kernel(args: list[Value], env: Env) -> Value:
        x = args[0]
        begin = static_ints(ctx.name, args[1], "begin")
        end = static_ints(ctx.name, args[2], "end")
        strides = static_ints(ctx.name, args[3], "strides")
        spec = _slice_spec(ctx.name, tuple(x.shape), begin, end, strides, masks)
        if is_static(x):
            return np.asarray(x[tuple(spec)])
        return _apply_spec_torch(x, spec)

    return kernel


def build_slice(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 3)

    def kernel(args: list[Value], env: Env) -> Value:
        x = args[0]
        begin = static_ints(ctx.name, args[1], "begin")
        size = static_ints(ctx.name, args[2], "size")
        if len(begin) != x.ndim or len(size) != x.ndim:
            raise GraphRuntimeError(f"node {ctx.name!r}: begin/size do not match rank {x.ndim}")
        spec = []
        for b, s, n in zip(begin, size, x.shape, strict=True):
            stop = n if s == -1 else b + s
            if not (0 <= b <= n and b <= stop <= n):
                raise GraphRuntimeError(f"node {ctx.name!r}: slice [{b}, {stop}) out of range for size {n}")
            spec.append(slice(b, stop, 1))
        return np.asarray(x[tuple(spec)]) if is_static(x) else _apply_spec_torch(x, spec)

    return kernel


def build_transpose(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 2)

    def kernel(args: list[Value], env: Env) -> Value:
        perm = static_ints(ctx.name, args[1], "perm")
        if sorted(perm) != list(range(args[0].ndim)):
            raise GraphRuntimeError(f"node {ctx.name!r}: invalid permutation {perm}")
        return np.transpose(args[0], perm) if is_static(args[0]) else args[0].permute(perm)

    return kernel


def build_tile(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 2)

    def kernel(args: list[Value], env: Env) -> Value:
        reps = static_ints(ctx.name, args[1], "multiples")
        if len(reps) != args[0].ndim or min(reps, default=0) < 0:
            raise GraphRuntimeError(f"node {ctx.name!r}: invalid multiples {reps}")
        return np.tile(args[0], reps) if is_static(args[0]) else args[0].repeat(reps)

    return kernel


def build_fill(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 2)

    def kernel(args: list[Value], env: Env) -> Value:
        dims = static_ints(ctx.name, args[0], "dims")
        if min(dims, default=0) < 0:
            raise GraphRuntimeError(f"node {ctx.name!r}: negative dimension in {dims}")
        value = args[1]
        if is_static(value):
            return np.full(dims, value.reshape(()), dtype=value.dtype)
        return value.reshape(()).expand(dims).clone()

    return kernel


def build_range(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 3)

    def kernel(args: list[Value], env: Env) -> Value:
        start, limit, delta = (static(ctx.name, a, "start/limit/delta").reshape(()) for a in args)
        if delta == 0:
            raise GraphRuntimeError(f"node {ctx.name!r}: delta is zero")
        count = math.ceil((float(limit) - float(start)) / float(delta))
        if count > 100_000_000:
            raise GraphRuntimeError(f"node {ctx.name!r}: range of {count} values is too large")
        return np.arange(start, limit, delta, dtype=np.result_type(start, limit, delta))

    return kernel


def build_like(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 1)
    fill = 0 if ctx.op == "ZerosLike" else 1

    def kernel(args: list[Value], env: Env) -> Value:
        x = args[0]
        return np.full_like(x, fill) if is_static(x) else torch.full_like(x, fill)

    return kernel


def build_pad(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 2, 3)

    def kernel(args: list[Value], env: Env) -> Value:
        x = env.tensor(args[0])
        pads = static_ints(ctx.name, args[1], "paddings")
        if len(pads) != 2 * x.dim() or min(pads, default=0) < 0:
            raise GraphRuntimeError(f"node {ctx.name!r}: invalid paddings {pads}")
        value = float(static(ctx.name, args[2], "constant_values").reshape(())) if len(args) == 3 else 0.0
        flat: list[int] = []
        for d in reversed(range(x.dim())):
            flat += [pads[2 * d], pads[2 * d + 1]]
        return F.pad(x, flat, value=value)

    return kernel
