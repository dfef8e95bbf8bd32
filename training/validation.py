"""COCO keypoint AP of the model being trained, with the official top-down test protocol.

Crops of the validation boxes -> model (optionally with flip test) -> the model's codec decodes and
back-projects to the image (:func:`distilpose.codecs.codec.codec_for`, the Predictor's own) -> mmpose
rescoring (box score x mean keypoint score above 0.2) -> OKS-NMS 0.9 per image -> pycocotools AP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from distilpose.coco import save_keypoint_results
from distilpose.codecs import PIXEL_STD
from distilpose.codecs.codec import Codec, codec_for
from distilpose.evaluation import evaluate_keypoints, topdown_results

#: The model outputs a codec reads (tokens and the like stay on the device).
_DECODED = ("coords", "scores", "sigmas", "heatmaps")


def _forward(model: nn.Module, device: torch.device):
    """``batch (numpy) -> named numpy outputs``, the Runtime contract the codec's flip test calls."""

    def forward(batch: np.ndarray) -> dict[str, np.ndarray]:
        out = model(torch.from_numpy(batch).to(device, non_blocking=True)).present()
        return {k: v.float().cpu().numpy() for k, v in out.items() if k in _DECODED}

    return forward


@torch.no_grad()
def predict(
    model: nn.Module, codec: Codec, loader: DataLoader, device: torch.device, flip: bool
) -> list[dict]:
    """One prediction per validation box: image id, (K, 3) keypoints in image pixels, box score, area."""
    was_training = model.training
    model.eval()
    forward = _forward(model, device)
    people: list[dict[str, Any]] = []
    try:
        for batch in loader:
            centers = batch["center"].numpy()
            scales = batch["scale"].numpy()
            outputs = codec.run(forward, batch["image"].numpy(), flip)
            decoded = codec.decode(outputs, centers, scales)
            for i in range(len(decoded.coords)):
                kpts = np.concatenate([decoded.coords[i], decoded.scores[i][:, None]], axis=1)
                people.append(
                    {
                        "image_id": int(batch["image_id"][i]),
                        "keypoints": kpts,
                        "box_score": float(batch["bbox_score"][i]),
                        "area": float(np.prod(scales[i] * PIXEL_STD)),
                    }
                )
    finally:
        model.train(was_training)
    return people


def evaluate_model(
    model: nn.Module,
    spec: Any,
    loader: DataLoader,
    ann_file: Path,
    device: torch.device,
    flip: bool = True,
    results_path: Path | None = None,
) -> dict[str, float]:
    """COCO keypoint metrics (AP, AP50, AP75, APm, APl, AR); optionally saves the results file.

    ``spec`` is the model's ModelSpec: its codec decodes exactly as the Predictor does."""
    results = topdown_results(predict(model, codec_for(spec), loader, device, flip))
    if results_path is not None:
        save_keypoint_results(results, results_path)
    return evaluate_keypoints(ann_file, results)
