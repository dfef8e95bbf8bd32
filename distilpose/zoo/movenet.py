"""Single-pose MoveNet (Thunder / Lightning) as a batched PyTorch module over square crops.

The TF.js graph is batch-1 only: it unstacks and restacks its input, and its decoding gathers at fixed
batch index 0. So the backbone runs on the whole batch by feeding the float crops right after that
preamble, and the graph's *own* decoding subgraph then runs once per crop on that crop's four head maps.
The keypoints are therefore exactly what the graph's ``Identity`` output would give for each crop.
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
        missing = [n for n in (PREAMBLE_END, KEYPOINTS, *HEADS) if n not in ops]
        if missing:
            raise DistilPoseError(f"{graph.source}: not a MoveNet single-pose graph (no nodes {missing})")
        self.tfjs = graph  # not named 'graph': torch.export's GraphModule reserves that attribute
        self.input_size = int(input_size)

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
        rows = []
        for i in range(crops.shape[0]):
            feeds = {name: head[i : i + 1] for name, head in zip(HEADS, heads, strict=True)}
            rows.append(self.tfjs(feeds=feeds, outputs=KEYPOINTS).reshape(NUM_KEYPOINTS, 3))
        yxs = torch.stack(rows)
        keypoints = torch.stack((yxs[..., 1], yxs[..., 0], yxs[..., 2]), dim=-1)
        if features:
            return keypoints, heads[0].permute(0, 3, 1, 2), outs[-1].permute(0, 3, 1, 2)
        return keypoints, heads[0].permute(0, 3, 1, 2)


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
