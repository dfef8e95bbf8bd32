"""TF convolutions (plain, depthwise, fused), pooling, resizing and matrix products on NHWC tensors."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from distilpose.zoo.ops.base import (
    MISSING,
    Env,
    GraphRuntimeError,
    Kernel,
    OpContext,
    Value,
    attr,
    expect_inputs,
    fail,
    int_list,
    static_ints,
    unsupported,
)
from distilpose.zoo.ops.elementwise import UNARY


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF 'SAME' padding: the output has ceil(size / stride) entries; the odd pixel goes after."""
    out = -(-size // stride)
    effective = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _hw(ctx: OpContext, key: str, default: Any = MISSING) -> tuple[int, int]:
    values = int_list(ctx, key, 4, default)
    if values[0] != 1 or values[3] != 1 or min(values) < 1:
        unsupported(ctx, f"attribute {key}={values} (only [1, h, w, 1] with positive h, w is supported)")
    return values[1], values[2]


def _padding(ctx: OpContext) -> tuple[str, list[int]]:
    mode = attr(ctx, "padding", str)
    if mode not in ("SAME", "VALID", "EXPLICIT"):
        unsupported(ctx, f"padding {mode!r}")
    explicit = int_list(ctx, "explicit_paddings", default=[])
    if mode == "EXPLICIT" and (
        len(explicit) != 8 or any(explicit[i] for i in (0, 1, 6, 7)) or min(explicit) < 0
    ):
        fail(ctx, f"explicit_paddings {explicit} must be 8 values padding only H and W")
    return mode, explicit[2:6]


def _check_nhwc(ctx: OpContext) -> None:
    if attr(ctx, "data_format", str, "NHWC") != "NHWC":
        unsupported(ctx, "only data_format NHWC is supported")


def _pads_for(
    mode: str, explicit: list[int], hw: Sequence[int], k: Sequence[int], s: Sequence[int], d: Sequence[int]
):
    if mode == "VALID":
        return 0, 0, 0, 0
    if mode == "EXPLICIT":
        return tuple(explicit)
    top, bottom = same_padding(hw[0], k[0], s[0], d[0])
    left, right = same_padding(hw[1], k[1], s[1], d[1])
    return top, bottom, left, right


def _conv_filter(depthwise: bool) -> Callable[[np.ndarray], np.ndarray]:
    if depthwise:  # [kh, kw, C, M] -> [C*M, 1, kh, kw]; output channel c*M + m, like TF
        return lambda w: np.ascontiguousarray(w.transpose(2, 3, 0, 1).reshape(-1, 1, w.shape[0], w.shape[1]))
    return lambda w: np.ascontiguousarray(w.transpose(3, 2, 0, 1))  # HWIO -> OIHW


Activation = Callable[[torch.Tensor, list[torch.Tensor], int], torch.Tensor]


def _activation(ctx: OpContext, name: str) -> Activation:
    """A fused activation ``act(y, extra_args, channel_axis)``."""
    # The conv output is a fresh tensor its own backward does not need: clamp it in place, saving a copy.
    if name == "Relu":
        return lambda y, extra, axis: y.relu_()
    if name == "Relu6":
        return lambda y, extra, axis: y.clamp_(0.0, 6.0)
    if name in ("Elu", "Sigmoid", "Tanh", "Selu"):
        fn = UNARY[name]
        return lambda y, extra, axis: fn(y)
    if name == "LeakyRelu":
        alpha = float(attr(ctx, "leakyrelu_alpha", (int, float), 0.2))
        return lambda y, extra, axis: F.leaky_relu(y, alpha)
    if name == "Prelu":
        return lambda y, extra, axis: torch.where(y >= 0, y, y * _channel(extra[-1], y.dim(), axis))
    unsupported(ctx, f"fused op {name!r}")


def _channel(v: torch.Tensor, rank: int, axis: int) -> torch.Tensor:
    shape = [1] * rank
    shape[axis] = -1
    return v.reshape(shape)


def build_conv(ctx: OpContext) -> Kernel:
    """Conv2D, _FusedConv2D, DepthwiseConv2dNative, FusedDepthwiseConv2dNative."""
    depthwise = "Depthwise" in ctx.op
    fused = ctx.op.startswith(("_Fused", "Fused"))
    _check_nhwc(ctx)
    stride = _hw(ctx, "strides")
    dilation = _hw(ctx, "dilations", [1, 1, 1, 1])
    mode, explicit = _padding(ctx)
    fused_ops = attr(ctx, "fused_ops", list, []) if fused else []
    if not all(isinstance(s, str) for s in fused_ops):
        fail(ctx, f"fused_ops should be strings, got {fused_ops!r:.80}")
    num_args = attr(ctx, "num_args", int, 0) if fused else 0
    expect_inputs(ctx, 2 + num_args)
    has_bias = bool(fused_ops) and fused_ops[0] == "BiasAdd"
    acts = fused_ops[1:] if has_bias else fused_ops
    if len(acts) > 1:
        unsupported(ctx, f"fused ops {fused_ops}")
    act = _activation(ctx, acts[0]) if acts else None
    if num_args != int(has_bias) + int(acts == ["Prelu"]):
        fail(ctx, f"num_args={num_args} does not match fused ops {fused_ops}")
    convert = _conv_filter(depthwise)
    w_key = ctx.param(1, convert, "depthwise" if depthwise else "conv")
    b_key = ctx.param(2, lambda b: np.ascontiguousarray(b.reshape(-1)), "bias") if has_bias else None
    extra_keys = [
        ctx.param(i, lambda a: a.reshape(-1), "prelu") for i in range(2 + int(has_bias), 2 + num_args)
    ]

    def kernel(args: list[Value], env: Env) -> Value:
        x = env.tensor(args[0])
        if x.dim() != 4:
            raise GraphRuntimeError(f"node {ctx.name!r}: expects a 4-D NHWC input, got {tuple(x.shape)}")
        if w_key is not None:
            w = env.param(w_key)
        else:
            w = env.tensor(args[1])
            w = (
                (w.permute(2, 3, 0, 1).reshape(-1, 1, w.shape[0], w.shape[1]))
                if depthwise
                else w.permute(3, 2, 0, 1)
            )
        bias = None
        if has_bias:
            bias = env.param(b_key) if b_key is not None else env.tensor(args[2]).reshape(-1)
        extra = [
            env.param(key) if key is not None else env.tensor(args[i])
            for i, key in enumerate(extra_keys, start=2 + int(has_bias))
        ]
        k = (w.shape[2], w.shape[3])
        if not depthwise and k == (1, 1) and stride == (1, 1) and mode != "EXPLICIT":
            # A pointwise conv is one matrix product over NHWC pixels: no layout change, no im2col.
            y = F.linear(x, w.reshape(w.shape[0], w.shape[1]), bias)
            return act(y, extra, -1) if act is not None else y
        xc = x.permute(0, 3, 1, 2)  # NCHW view of the NHWC tensor: channels-last strides, no copy
        top, bottom, left, right = _pads_for(mode, explicit, xc.shape[2:], k, stride, dilation)
        if top == bottom and left == right:
            padding: tuple[int, int] = (top, left)
        else:
            xc = F.pad(xc, (left, right, top, bottom))
            padding = (0, 0)
        groups = xc.shape[1] if depthwise else 1
        y = F.conv2d(xc, w, bias, stride, padding, dilation, groups)
        if act is not None:
            y = act(y, extra, 1)
        return y.permute(0, 2, 3, 1)

    return kernel


def build_pool(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 1)
    _check_nhwc(ctx)
    ksize = _hw(ctx, "ksize")
    stride = _hw(ctx, "strides")
    mode, explicit = _padding(ctx)
    is_max = ctx.op == "MaxPool"

    def kernel(args: list[Value], env: Env) -> Value:
        x = env.tensor(args[0])
        if x.dim() != 4:
            raise GraphRuntimeError(f"node {ctx.name!r}: expects a 4-D NHWC input, got {tuple(x.shape)}")
        xc = x.permute(0, 3, 1, 2)
        top, bottom, left, right = _pads_for(mode, explicit, xc.shape[2:], ksize, stride, (1, 1))
        pads = (left, right, top, bottom)
        if is_max:  # padded cells never win
            if any(pads):
                xc = F.pad(xc, pads, value=-math.inf)
            y = F.max_pool2d(xc, ksize, stride)
        else:  # TF averages over the real cells only
            total = F.avg_pool2d(F.pad(xc, pads), ksize, stride, divisor_override=1)
            ones = torch.ones((1, 1) + tuple(xc.shape[2:]), dtype=xc.dtype, device=xc.device)
            count = F.avg_pool2d(F.pad(ones, pads), ksize, stride, divisor_override=1)
            y = total / count
        return y.permute(0, 2, 3, 1)

    return kernel


# ------------------------------------------------------------------------------------------ resizing


def _resize_scale(in_size: int, out_size: int, align_corners: bool) -> float:
    if align_corners and out_size > 1:
        return (in_size - 1) / (out_size - 1)
    return in_size / out_size


def bilinear_taps(in_size: int, out_size: int, align_corners: bool, half_pixel: bool):
    """TF's per-axis (lower, upper, lerp) for ResizeBilinear, computed in float32 as TF does."""
    scale = np.float32(_resize_scale(in_size, out_size, align_corners))
    i = np.arange(out_size, dtype=np.float32)
    pos = (i + np.float32(0.5)) * scale - np.float32(0.5) if half_pixel else i * scale
    floor = np.floor(pos)
    lower = np.clip(floor, 0, in_size - 1).astype(np.int64)
    upper = np.minimum(np.ceil(pos), in_size - 1).astype(np.int64)
    upper = np.maximum(upper, 0)
    return lower, upper, (pos - floor).astype(np.float32)


def nearest_taps(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> np.ndarray:
    scale = np.float32(_resize_scale(in_size, out_size, align_corners))
    i = np.arange(out_size, dtype=np.float32)
    pos = (i + np.float32(0.5)) * scale if half_pixel else i * scale
    index = np.round(pos) if align_corners else np.floor(pos)
    return np.clip(index, 0, in_size - 1).astype(np.int64)


def _lerp_axis(x: torch.Tensor, axis: int, taps, env: Env) -> torch.Tensor:
    lower, upper, lerp = taps
    a = x.index_select(axis, env.tensor(lower))
    b = x.index_select(axis, env.tensor(upper))
    shape = [1] * x.dim()
    shape[axis] = -1
    return a + (b - a) * env.tensor(lerp).reshape(shape)


def build_resize(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 2)
    align = attr(ctx, "align_corners", bool, False)
    half = attr(ctx, "half_pixel_centers", bool, False)
    if align and half:
        fail(ctx, "align_corners and half_pixel_centers cannot both be true")
    bilinear = ctx.op == "ResizeBilinear"

    def kernel(args: list[Value], env: Env) -> Value:
        x = env.tensor(args[0])
        size = static_ints(ctx.name, args[1], "size")
        if x.dim() != 4 or len(size) != 2 or min(size) < 1:
            raise GraphRuntimeError(f"node {ctx.name!r}: bad input {tuple(x.shape)} or size {size}")
        in_h, in_w = int(x.shape[1]), int(x.shape[2])
        if not bilinear:
            rows = nearest_taps(in_h, size[0], align, half)
            cols = nearest_taps(in_w, size[1], align, half)
            return x.index_select(1, env.tensor(rows)).index_select(2, env.tensor(cols))
        x = x if x.is_floating_point() else x.float()
        if align or half:  # torch's own kernels implement exactly these two TF conventions
            y = F.interpolate(x.permute(0, 3, 1, 2), size=tuple(size), mode="bilinear", align_corners=align)
            return y.permute(0, 2, 3, 1)
        x = _lerp_axis(x, 1, bilinear_taps(in_h, size[0], False, False), env)
        return _lerp_axis(x, 2, bilinear_taps(in_w, size[1], False, False), env)

    return kernel


def build_matmul(ctx: OpContext) -> Kernel:
    fused = ctx.op == "_FusedMatMul"
    ta = attr(ctx, "transpose_a", bool, False)
    tb = attr(ctx, "transpose_b", bool, False)
    fused_ops = attr(ctx, "fused_ops", list, []) if fused else []
    num_args = attr(ctx, "num_args", int, 0) if fused else 0
    expect_inputs(ctx, 2 + num_args)
    has_bias = bool(fused_ops) and fused_ops[0] == "BiasAdd"
    acts = fused_ops[1:] if has_bias else fused_ops
    if len(acts) > 1:
        unsupported(ctx, f"fused ops {fused_ops}")
    act = _activation(ctx, acts[0]) if acts else None

    def kernel(args: list[Value], env: Env) -> Value:
        a, b = env.tensor(args[0]), env.tensor(args[1])
        y = torch.matmul(a.transpose(-1, -2) if ta else a, b.transpose(-1, -2) if tb else b)
        if has_bias:
            y = y + env.tensor(args[2])
        if act is not None:
            y = act(y, [env.tensor(v) for v in args[2 + int(has_bias) :]], -1)
        return y

    return kernel


def build_batch_matmul(ctx: OpContext) -> Kernel:
    expect_inputs(ctx, 2)
    adj_x = attr(ctx, "adj_x", bool, False)
    adj_y = attr(ctx, "adj_y", bool, False)

    def kernel(args: list[Value], env: Env) -> Value:
        a, b = env.tensor(args[0]), env.tensor(args[1])
        return torch.matmul(a.transpose(-1, -2) if adj_x else a, b.transpose(-1, -2) if adj_y else b)

    return kernel
