"""COCO keypoint AP of the model being trained, with the official top-down test protocol.

Crops of the validation boxes -> model (optionally with flip test) -> decode (regression: normalised
coords; heatmaps: DARK) -> back-project to the image -> mmpose rescoring (box score x mean keypoint
score above 0.2) -> OKS-NMS 0.9 per image -> pycocotools AP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from distilpose.coco import save_keypoint_results
from distilpose.codecs import (
    HEATMAP_SIZE_WH,
    INPUT_SIZE_WH,
    PIXEL_STD,
    crops_to_images,
    decode_heatmaps,
    decode_regression,
    flip_test_heatmaps,
    flip_test_regression,
)
from distilpose.evaluation import evaluate_keypoints, topdown_results


def _predict_batch(model: nn.Module, kind: str, images: Tensor, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    """(coords in crop-frame pixels of the decode grid, keypoint scores) for one batch."""
    if kind == "regression":

        def forward(x: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
            out = model(x)
            return out.coords, out.scores, out.sigmas

        coords, scores, _ = flip_test_regression(forward, images) if flip else forward(images)
        px = decode_regression(coords.float().cpu().numpy(), INPUT_SIZE_WH)
        return px, scores.reshape(scores.shape[0], -1).float().cpu().numpy()

    def heat(x: Tensor) -> Tensor:
        return model(x).heatmaps

    heatmaps = flip_test_heatmaps(heat, images) if flip else heat(images)
    coords_hm, maxvals = decode_heatmaps(heatmaps.float().cpu().numpy(), dark=True)
    return coords_hm, maxvals


@torch.no_grad()
def predict(model: nn.Module, kind: str, loader: DataLoader, device: torch.device, flip: bool) -> list[dict]:
    """One prediction per validation box: image id, (K, 3) keypoints in image pixels, box score, area."""
    was_training = model.training
    model.eval()
    grid = INPUT_SIZE_WH if kind == "regression" else HEATMAP_SIZE_WH
    people: list[dict[str, Any]] = []
    try:
        for batch in loader:
            images = batch["image"].to(device, non_blocking=True)
            coords, scores = _predict_batch(model, kind, images, flip)
            centers = batch["center"].numpy()
            scales = batch["scale"].numpy()
            xy = crops_to_images(coords, centers, scales, grid)
            for i in range(len(xy)):
                kpts = np.concatenate([xy[i], scores[i][:, None]], axis=1)
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
    kind: str,
    loader: DataLoader,
    ann_file: Path,
    device: torch.device,
    flip: bool = True,
    results_path: Path | None = None,
) -> dict[str, float]:
    """COCO keypoint metrics (AP, AP50, AP75, APm, APl, AR); optionally saves the results file."""
    results = topdown_results(predict(model, kind, loader, device, flip))
    if results_path is not None:
        save_keypoint_results(results, results_path)
    return evaluate_keypoints(ann_file, results)
