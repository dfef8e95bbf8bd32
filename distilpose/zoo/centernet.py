"""Person boxes from the CenterNet-MobileNetV3 COCO-80 detector, in the pixels of the original image.

The detector sees a 512x512 RGB image (float 0..255, NHWC, batch 1) and returns its top-100 boxes
``[x1, y1, x2, y2, score, class]`` in input pixels. :func:`letterbox` / :func:`stretch` prepare an
image and record the :class:`InputTransform`, which maps boxes back.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from distilpose.errors import DistilPoseError, MediaError
from distilpose.zoo.tfjs import TfjsGraph

DETECTIONS = "tower_0/detections"
PERSON_CLASS = 0
INPUT_SIZE = 512


@dataclass(frozen=True)
class InputTransform:
    """Image pixel (x, y) -> input pixel (x * scale_x + offset_x, y * scale_y + offset_y)."""

    scale_x: float
    scale_y: float
    offset_x: float = 0.0
    offset_y: float = 0.0

    def boxes_to_image(self, boxes: np.ndarray) -> np.ndarray:
        """(K, 4) x1, y1, x2, y2 in input pixels -> image pixels."""
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
        b[:, 0::2] = (b[:, 0::2] - self.offset_x) / self.scale_x
        b[:, 1::2] = (b[:, 1::2] - self.offset_y) / self.scale_y
        return b


def _check_image(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
        raise MediaError(f"expected an RGB image of shape (H, W, 3), got {arr.shape}")
    return arr


def stretch(image: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, InputTransform]:
    """Resize to size x size, ignoring the aspect ratio; returns float32 RGB and the transform."""
    arr = _check_image(image)
    h, w = arr.shape[:2]
    out = cv2.resize(arr, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    return out, InputTransform(size / w, size / h)


def letterbox(image: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, InputTransform]:
    """Resize keeping the aspect ratio, centred on a black size x size canvas."""
    arr = _check_image(image)
    h, w = arr.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    canvas = np.zeros((size, size, 3), dtype=np.float32)
    ox, oy = (size - nw) // 2, (size - nh) // 2
    canvas[oy : oy + nh, ox : ox + nw] = cv2.resize(arr, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, InputTransform(nw / w, nh / h, float(ox), float(oy))


def person_boxes(
    detections: np.ndarray | torch.Tensor,
    transform: InputTransform,
    image_size: tuple[int, int],
    min_score: float = 0.3,
) -> np.ndarray:
    """Person detections as (K, 5) [x1, y1, x2, y2, score] in image pixels, clipped, best first.

    ``image_size`` is (width, height) of the original image.
    """
    det = (
        detections.detach().cpu().numpy() if isinstance(detections, torch.Tensor) else np.asarray(detections)
    )
    det = det.reshape(-1, 6).astype(np.float64)
    keep = (det[:, 5] == PERSON_CLASS) & (det[:, 4] >= min_score)
    det = det[keep]
    boxes = transform.boxes_to_image(det[:, :4])
    w, h = image_size
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
    out = np.concatenate([boxes, det[:, 4:5]], axis=1)
    out = out[(out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])]
    return out[np.argsort(-out[:, 4], kind="stable")]


class CenterNet(nn.Module):
    """``forward(x)``: x ``(1, 512, 512, 3)`` NHWC RGB float 0..255 -> detections ``(1, 100, 6)``."""

    def __init__(self, graph: TfjsGraph):
        super().__init__()
        if DETECTIONS not in graph.node_ops:
            raise DistilPoseError(f"{graph.source}: not the CenterNet detector graph (no {DETECTIONS!r})")
        self.tfjs = graph  # not named 'graph': torch.export's GraphModule reserves that attribute

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tfjs(x, outputs=DETECTIONS)

    @torch.inference_mode()
    def detect_people(
        self, image: np.ndarray, min_score: float = 0.3, keep_aspect: bool = True
    ) -> np.ndarray:
        """Person boxes (K, 5) in the pixels of an RGB uint8 image (H, W, 3)."""
        prepared, transform = (letterbox if keep_aspect else stretch)(image)
        device = next(self.tfjs.parameters()).device
        det = self(torch.from_numpy(prepared)[None].to(device))
        h, w = np.asarray(image).shape[:2]
        return person_boxes(det, transform, (w, h), min_score)


def load_centernet() -> CenterNet:
    from distilpose.zoo import load_graph

    return CenterNet(load_graph("centernet")).eval()
