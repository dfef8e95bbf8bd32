"""Preprocessing for top-down pose models: person boxes on an image -> the normalised crops a model takes.

A public function of its own (issue 21) so everything that feeds a model crops the same way: the
:class:`~distilpose.inference.predictor.Predictor`, runtime ``auto``'s parity crops, and anyone checking a
runtime by hand, without building a predictor.
"""

from __future__ import annotations

import numpy as np

from distilpose.codecs import boxes_to_centers_scales, crop_images
from distilpose.data.normalize import normalize_image

PADDING = 1.25  # box padding of the official top-down pipeline


def crop_batch(
    image_rgb: np.ndarray, boxes_xywh: np.ndarray, input_size_wh: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised (N, 3, H, W) float32 crops of ``boxes_xywh`` (padded, at the model's aspect ratio) and their
    (centers, scales), which map the model's crop coordinates back onto the image. ``input_size_wh`` is the
    model's input (W, H): ``ModelSpec.input_size_wh``."""
    w, h = input_size_wh
    centers, scales = boxes_to_centers_scales(boxes_xywh, aspect_ratio=w / h, padding=PADDING)
    crops = crop_images(image_rgb, centers, scales, 0.0, input_size_wh)
    return normalize_image(crops), centers, scales
