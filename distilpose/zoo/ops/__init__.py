"""TensorFlow op semantics in PyTorch, for the TF.js graph importer: the registry of op builders.

Tensors keep TensorFlow's NHWC layout; convolutions and pooling view them as NCHW with ``permute``, which
is free (channels-last strides), so no copies are made at layout boundaries. Values are either torch
tensors or numpy arrays: numpy marks a *static* value (a constant, a shape, anything computed only from
those), which shape-like arguments (axes, sizes, slice bounds) must be. Static values are folded in numpy
at run time, outside any traced graph, which keeps ``torch.export`` and ONNX export free of
data-dependent shapes.

Each builder takes an :class:`OpContext` (the node, its attributes, its constant inputs) at load time and
returns a kernel ``kernel(args, env) -> value | tuple of values`` that runs at every forward.
"""

from __future__ import annotations

from collections.abc import Callable

from distilpose.zoo.ops.base import (
    Env,
    GraphRuntimeError,
    Kernel,
    OpContext,
    TfjsFormatError,
    UnsupportedOpError,
)
from distilpose.zoo.ops.elementwise import (
    BINARY,
    UNARY,
    build_add_n,
    build_binary,
    build_cast,
    build_identity,
    build_leaky_relu,
    build_select,
    build_unary,
)
from distilpose.zoo.ops.gather import (
    REDUCTIONS,
    build_argmax,
    build_gather_nd,
    build_gather_v2,
    build_reduce,
    build_topk,
    gather_nd,
)
from distilpose.zoo.ops.nn import (
    build_batch_matmul,
    build_conv,
    build_matmul,
    build_pool,
    build_resize,
    same_padding,
)
from distilpose.zoo.ops.shapes import (
    build_concat,
    build_expand_dims,
    build_fill,
    build_like,
    build_pack,
    build_pad,
    build_range,
    build_reshape,
    build_shape,
    build_slice,
    build_split,
    build_squeeze,
    build_strided_slice,
    build_tile,
    build_transpose,
    build_unpack,
)

__all__ = [
    "BUILDERS",
    "SPECIAL_OPS",
    "Env",
    "GraphRuntimeError",
    "Kernel",
    "OpContext",
    "TfjsFormatError",
    "UnsupportedOpError",
    "gather_nd",
    "same_padding",
    "supported_ops",
]

BUILDERS: dict[str, Callable[[OpContext], Kernel]] = {
    **{op: build_binary for op in BINARY},
    **{op: build_unary for op in UNARY},
    "LeakyRelu": build_leaky_relu,
    "AddN": build_add_n,
    "Identity": build_identity,
    "IdentityN": build_identity,
    "StopGradient": build_identity,
    "Snapshot": build_identity,
    "Cast": build_cast,
    "Select": build_select,
    "SelectV2": build_select,
    "Shape": build_shape,
    "Size": build_shape,
    "Rank": build_shape,
    "Reshape": build_reshape,
    "ExpandDims": build_expand_dims,
    "Squeeze": build_squeeze,
    "Pack": build_pack,
    "Unpack": build_unpack,
    "ConcatV2": build_concat,
    "Concat": build_concat,
    "Split": build_split,
    "SplitV": build_split,
    "StridedSlice": build_strided_slice,
    "Slice": build_slice,
    "Transpose": build_transpose,
    "Tile": build_tile,
    "Fill": build_fill,
    "Range": build_range,
    "ZerosLike": build_like,
    "OnesLike": build_like,
    "Pad": build_pad,
    "PadV2": build_pad,
    "GatherV2": build_gather_v2,
    "GatherNd": build_gather_nd,
    **{op: build_reduce for op in REDUCTIONS},
    "ArgMax": build_argmax,
    "ArgMin": build_argmax,
    "TopKV2": build_topk,
    "Conv2D": build_conv,
    "_FusedConv2D": build_conv,
    "DepthwiseConv2dNative": build_conv,
    "FusedDepthwiseConv2dNative": build_conv,
    "MaxPool": build_pool,
    "AvgPool": build_pool,
    "ResizeBilinear": build_resize,
    "ResizeNearestNeighbor": build_resize,
    "MatMul": build_matmul,
    "_FusedMatMul": build_matmul,
    "BatchMatMul": build_batch_matmul,
    "BatchMatMulV2": build_batch_matmul,
}

#: Ops the executor handles itself (graph inputs and constants).
SPECIAL_OPS = ("Placeholder", "Const", "NoOp")


def supported_ops() -> list[str]:
    return sorted(set(BUILDERS) | set(SPECIAL_OPS))
