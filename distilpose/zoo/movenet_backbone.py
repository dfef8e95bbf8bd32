"""MoveNet Lightning's pretrained MobileNetV2-FPN weights, mapped onto :class:`~distilpose.models.mobilenet_fpn.MobileNetV2FPN`.

A student initialised this way starts from features Google trained for COCO-17 pose, which is what lets a
regression student learn from a few thousand real crops on a CPU (see ``docs/adr/0008-default-student.md``).
The map is by graph node name, one TF.js node per PyTorch layer; a graph whose names or shapes differ
fails with a message naming the node rather than loading half a backbone.
"""

from __future__ import annotations

import numpy as np
import torch

from distilpose.errors import CheckpointError
from distilpose.models.mobilenet_fpn import LATERAL_BLOCKS, MOBILENET_V2_STAGES, MOVENET_WIDTHS

_PREFIX = "StatefulPartitionedCall/center_net_mobile_net_v2fpn_feature_extractor/"
_FPN_NODES = ("", "_1", "_2")  # Keras' numbering of the three FPN levels


def _layer_nodes() -> dict[str, tuple[str, bool]]:
    """PyTorch layer prefix -> (graph node, is depthwise)."""
    m = _PREFIX + "model_1/model/"
    nodes: dict[str, tuple[str, bool]] = {"stem": (m + "Conv1_relu/Relu6", False)}
    index = 0
    for t, _c, n, _s in MOBILENET_V2_STAGES:
        for _ in range(n):
            tag = "expanded_conv" if index == 0 else f"block_{index}"
            if t != 1:
                nodes[f"blocks.{index}.expand"] = (f"{m}{tag}_expand_relu/Relu6", False)
            nodes[f"blocks.{index}.depthwise"] = (f"{m}{tag}_depthwise/depthwise", True)
            nodes[f"blocks.{index}.project"] = (f"{m}{tag}_project_BN/FusedBatchNormV3", False)
            index += 1
    nodes["top"] = (m + "out_relu/Relu6", False)
    f = _PREFIX + "model_1/"
    nodes["fpn_top"] = (f + "conv2d/BiasAdd", False)
    for level, _block in enumerate(LATERAL_BLOCKS):
        nodes[f"laterals.{level}"] = (f"{f}conv2d_{level + 1}/BiasAdd", False)
        suffix = _FPN_NODES[level]
        nodes[f"smooth.{level}.depthwise"] = (f"{f}separable_conv2d{suffix}/separable_conv2d/depthwise", True)
        nodes[f"smooth.{level}.pointwise"] = (f"{f}re_lu{suffix}/Relu", False)
    return nodes


def _heatmap_head_nodes() -> dict[str, tuple[str, bool]]:
    """``MoveNetFeatures``' heatmap branch: Lightning's ``kpt_heatmap_0`` head."""
    h = "StatefulPartitionedCall/kpt_heatmap_0/"
    return {
        "heatmap_hidden.depthwise": (h + "separable_conv2d_4/separable_conv2d/depthwise", True),
        "heatmap_hidden.pointwise": (h + "re_lu_4/Relu", False),
        "heatmap_out": (h + "conv2d_5/BiasAdd", False),
    }


#: ``MoveNetDecodeFeatures``' other heads: TF.js head scope, separable conv and 1x1 conv node numbers.
_DECODE_HEAD_NODES = {"centre": ("center_0", 3, 4), "regress": ("kpt_regress_0", 5, 6), "offsets": ("kpt_offset_0", 6, 7)}


def _decode_head_nodes() -> dict[str, tuple[str, bool]]:
    nodes = {}
    for name, (scope, sep, conv) in _DECODE_HEAD_NODES.items():
        h = f"StatefulPartitionedCall/{scope}/"
        nodes[f"{name}_hidden.depthwise"] = (f"{h}separable_conv2d_{sep}/separable_conv2d/depthwise", True)
        nodes[f"{name}_hidden.pointwise"] = (f"{h}re_lu_{sep}/Relu", False)
        nodes[f"{name}_out"] = (f"{h}conv2d_{conv}/BiasAdd", False)
    return nodes


def _to_torch(kernel: np.ndarray, depthwise: bool) -> torch.Tensor:
    # TF conv kernels are (kh, kw, in, out); depthwise (kh, kw, channels, 1)
    order = (2, 3, 0, 1) if depthwise else (3, 2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(order), dtype=np.float32))


def movenet_backbone_state(
    name: str = "movenet-lightning", heatmap_head: bool = False, decode_heads: bool = False
) -> dict[str, torch.Tensor]:
    """The cached zoo graph's feature-extractor weights as a ``MobileNetV2FPN`` state dict (checksums verified).

    ``heatmap_head``: a ``MoveNetFeatures`` state dict instead (FPN under ``fpn.`` plus the heatmap head);
    with ``decode_heads`` too, a ``MoveNetDecodeFeatures`` one (plus the centre, regression and offset heads).
    """
    from distilpose.zoo import FetchError, get_card, is_cached, model_path
    from distilpose.zoo.tfjs import read_tfjs

    if name not in MOVENET_WIDTHS:
        raise CheckpointError(
            f"{name}: only {' and '.join(MOVENET_WIDTHS)}'s feature extractors match MobileNetV2FPN"
        )
    if not is_cached(name):
        raise FetchError(f"{name} is not in the cache; run `distilpose models fetch {name}`")
    card = get_card(name)
    model = read_tfjs(model_path(name), sha256={f.name: f.sha256 for f in card.files})
    by_name = {node.name: node for node in model.nodes}
    state: dict[str, torch.Tensor] = {}
    layers = _layer_nodes()
    if heatmap_head:
        layers = {f"fpn.{k}": v for k, v in layers.items()} | _heatmap_head_nodes()
        if decode_heads:
            layers |= _decode_head_nodes()
    for layer, (node_name, depthwise) in layers.items():
        node = by_name.get(node_name)
        if node is None:
            raise CheckpointError(f"{model.path}: no node {node_name!r} for layer {layer}")
        consts = [model.weights.get(src) for src, _ in node.inputs[1:]]
        if not consts or consts[0] is None:
            raise CheckpointError(f"{model.path}: node {node_name!r} has no constant kernel")
        state[f"{layer}.weight"] = _to_torch(consts[0], depthwise)
        if len(consts) > 1 and consts[1] is not None:
            state[f"{layer}.bias"] = torch.from_numpy(np.asarray(consts[1], dtype=np.float32).copy())
    return state
