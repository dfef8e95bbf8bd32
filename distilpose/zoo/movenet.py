"""Single-pose MoveNet (Thunder / Lightning) as a batched PyTorch module over square crops, run by the TF.js
graph interpreter: the reference that the registered models' plain module (``models.movenet.PlainMoveNet``,
faster to export) is checked against.

The TF.js graph is batch-1 only: it unstacks and restacks its input, and its decoding gathers at fixed
batch index 0. So the backbone runs on the whole batch by feeding the float crops right after that
preamble, and the graph's decoding is re-done batched (:func:`decode_batch`): the same operations in the
same order on the graph's own constants, with gathers over a batch axis. The keypoints are therefore what
the graph's ``Identity`` output gives for each crop, and the module exports to ONNX with a dynamic batch
(a per-crop Python loop would be unrolled for the traced batch size).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from distilpose.errors import DistilPoseError
from distilpose.keypoints import NUM_KEYPOINTS
from distilpose.zoo.tfjs import TfjsGraph

#: The float NHWC batch after the graph's batch-1 unstack/restack preamble.
PREAMBLE_END = "StatefulPartitionedCall/stack"
HEATMAPS = "StatefulPartitionedCall/Sigmoid"
CENTRE = "StatefulPartitionedCall/Sigmoid_1"
#: Every backbone output the decoding subgraph reads.
HEADS = (
    HEATMAPS,
    CENTRE,
    "StatefulPartitionedCall/kpt_regress_0/conv2d_6/BiasAdd",
    "StatefulPartitionedCall/kpt_offset_0/conv2d_7/BiasAdd",
)
KEYPOINTS = "Identity"
#: The graph's decoding constants: centre weighting, the y and x pixel grids, the distance offset, the
#: heatmap-pixel -> [0, 1] scale (read from the graph so the batched decoding uses its exact numbers).
CENTRE_WEIGHT = "ConstantFolding/StatefulPartitionedCall/truediv_2_recip"
Y_GRID = "StatefulPartitionedCall/strided_slice_3"
X_GRID = "StatefulPartitionedCall/strided_slice_4"
DISTANCE_OFFSET = "StatefulPartitionedCall/add_5/y"
UNIT_SCALE = "StatefulPartitionedCall/Reshape_13"
#: The FPN output every head reads (24 channels at 1/4): the teacher's "visual features" for a token adapter.
FEATURES = "StatefulPartitionedCall/center_net_mobile_net_v2fpn_feature_extractor/model_1/re_lu_2/Relu"


class MoveNet(nn.Module):
    """``forward(crops)`` with crops NCHW ``(N, 3, S, S)`` RGB 0..255 (float or integer).

    Returns ``keypoints`` ``(N, 17, 3)`` as (x, y, score), x and y normalised to [0, 1] of the crop
    (COCO-17 order), and the raw keypoint ``heatmaps`` ``(N, 17, S/4, S/4)`` (sigmoid scores). The
    heatmaps respond to every person in the crop: decode them around the regressed keypoint, not by a
    global argmax.
    """

    def __init__(self, graph: TfjsGraph, input_size: int):
        super().__init__()
        ops = graph.node_ops
        consts = (CENTRE_WEIGHT, Y_GRID, X_GRID, DISTANCE_OFFSET, UNIT_SCALE)
        missing = [n for n in (PREAMBLE_END, KEYPOINTS, *HEADS, *consts) if n not in ops]
        if missing:
            raise DistilPoseError(f"{graph.source}: not a MoveNet single-pose graph (no nodes {missing})")
        self.tfjs = graph  # not named 'graph': torch.export's GraphModule reserves that attribute
        self.input_size = int(input_size)
        names = ("centre_weight", "y_grid", "x_grid", "distance_offset", "unit_scale")
        for attr, name in zip(names, consts, strict=True):
            value = torch.from_numpy(np.asarray(graph.constant(name), dtype=np.float32))
            self.register_buffer(attr, value, persistent=False)

    def forward(self, crops: torch.Tensor, features: bool = False) -> tuple[torch.Tensor, ...]:
        """``(keypoints, heatmaps)``, plus the FPN ``features`` (N, 24, S/4, S/4) when asked."""
        size = self.input_size
        if crops.dim() != 4 or tuple(crops.shape[1:]) != (3, size, size):
            raise DistilPoseError(
                f"MoveNet expects crops of shape (N, 3, {size}, {size}), got {tuple(crops.shape)}"
            )
        x = crops.permute(0, 2, 3, 1).float()  # NHWC view for the TF graph
        wanted = HEADS + ((FEATURES,) if features else ())
        outs = self.tfjs(feeds={PREAMBLE_END: x}, outputs=wanted)
        heads = outs[: len(HEADS)]
        yxs = self.decode(*heads)
        keypoints = torch.stack((yxs[..., 1], yxs[..., 0], yxs[..., 2]), dim=-1)
        if features:
            return keypoints, heads[0].permute(0, 3, 1, 2), outs[-1].permute(0, 3, 1, 2)
        return keypoints, heads[0].permute(0, 3, 1, 2)


    def decode(
        self, heatmaps: torch.Tensor, centre: torch.Tensor, regress: torch.Tensor, offsets: torch.Tensor
    ) -> torch.Tensor:
        """The graph's decoding for a batch of head maps (NHWC) -> ``(N, 17, 3)`` (y, x, score)."""
        return decode_batch(
            heatmaps,
            centre,
            regress,
            offsets,
            self.centre_weight,
            self.y_grid,
            self.x_grid,
            self.distance_offset,
            self.unit_scale,
        )

    def decode_one_by_one(self, *heads: torch.Tensor) -> torch.Tensor:
        """The graph's own decoding subgraph run once per crop: the reference :meth:`decode` must match."""
        rows = []
        for i in range(heads[0].shape[0]):
            feeds = {name: head[i : i + 1] for name, head in zip(HEADS, heads, strict=True)}
            rows.append(self.tfjs(feeds=feeds, outputs=KEYPOINTS).reshape(NUM_KEYPOINTS, 3))
        return torch.stack(rows)


def decode_batch(
    heatmaps: torch.Tensor,
    centre: torch.Tensor,
    regress: torch.Tensor,
    offsets: torch.Tensor,
    centre_weight: torch.Tensor,
    y_grid: torch.Tensor,
    x_grid: torch.Tensor,
    distance_offset: torch.Tensor,
    unit_scale: torch.Tensor,
) -> torch.Tensor:
    """MoveNet's single-pose decoding, batched: the person centre is the argmax of the centre map weighted
    towards the crop centre; each keypoint is the argmax of its heatmap divided by (distance to the centre's
    regressed keypoint + offset), refined by the offset map. Integer indices, like the graph's ArgMax,
    FloorDiv and GatherNd, so the result equals the graph's for every crop."""
    n, h, w, k = heatmaps.shape
    centre_idx = (centre * centre_weight).reshape(n, h * w).argmax(dim=1)  # (N,)
    cy = torch.div(centre_idx, w, rounding_mode="floor")
    cx = centre_idx - cy * w
    reg = regress.reshape(n, h * w, 2 * k).gather(1, centre_idx.reshape(n, 1, 1).expand(n, 1, 2 * k))
    reg = reg.reshape(n, k, 2)
    ry = cy.to(heatmaps.dtype).reshape(n, 1) + reg[..., 0]  # (N, K)
    rx = cx.to(heatmaps.dtype).reshape(n, 1) + reg[..., 1]
    dy = y_grid.reshape(1, h, w, 1) - ry.reshape(n, 1, 1, k)  # SquaredDifference(grid, regressed)
    dx = x_grid.reshape(1, h, w, 1) - rx.reshape(n, 1, 1, k)
    distance = torch.sqrt(dy * dy + dx * dx) + distance_offset.reshape(())
    flat = heatmaps.reshape(n, h * w, k)
    kp_idx = (heatmaps / distance).reshape(n, h * w, k).argmax(dim=1)  # (N, K)
    ky = torch.div(kp_idx, w, rounding_mode="floor")
    kx = kp_idx - ky * w
    picked = offsets.reshape(n, h * w, 2 * k).gather(1, kp_idx.reshape(n, k, 1).expand(n, k, 2 * k))  # (N,K,2K)
    own = (torch.arange(k, device=heatmaps.device) * 2).reshape(1, k, 1) + torch.arange(2, device=heatmaps.device)
    off = picked.gather(2, own.expand(n, k, 2))  # each keypoint's own (dy, dx)
    scale = unit_scale.reshape(-1)
    y = (ky.to(heatmaps.dtype) + off[..., 0]) * scale[0]
    x = (kx.to(heatmaps.dtype) + off[..., 1]) * scale[1]
    score = flat.gather(1, kp_idx.reshape(n, 1, k)).reshape(n, k)
    return torch.stack((y, x, score), dim=-1)


def load_movenet(name: str = "movenet-thunder") -> MoveNet:
    """A cached single-pose MoveNet (``movenet-thunder`` or ``movenet-lightning``), checksums verified."""
    from distilpose.zoo import load_graph
    from distilpose.zoo.cards import get_card

    card = get_card(name)
    if card.kind != "single-pose":
        raise DistilPoseError(f"{name} is a {card.kind} model, not a single-pose MoveNet")
    return MoveNet(load_graph(name), card.input_size).eval()


def crop_to_image(keypoints: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Map (x, y, score) normalised to each crop back to image pixels.

    ``boxes`` ``(N, 4)`` = (x0, y0, width, height) of each crop in the image (the region that was
    resized to the model's input); returns ``(N, 17, 3)`` with x, y in image pixels, scores unchanged.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    box = np.asarray(boxes, dtype=np.float64).reshape(-1, 1, 4)
    out = kp.copy()
    out[..., 0] = box[..., 0] + kp[..., 0] * box[..., 2]
    out[..., 1] = box[..., 1] + kp[..., 1] * box[..., 3]
    return out
