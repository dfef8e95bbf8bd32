"""The one ImageNet normalisation of model inputs, shared by training, inference and export checks.

mmpose ``ToTensor`` + ``NormalizeTensor``: RGB uint8 -> ``/255`` -> ``(x − mean) / std`` in float32, HWC -> CHW.
Numpy in, numpy out; torch in (e.g. a uint8 batch already on the GPU), torch out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

IMAGENET_MEAN: np.ndarray = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD: np.ndarray = np.array([0.229, 0.224, 0.225], dtype=np.float32)
IMAGENET_MEAN.setflags(write=False)
IMAGENET_STD.setflags(write=False)


def _check_hwc(shape: tuple[int, ...]) -> None:
    if len(shape) not in (3, 4) or shape[-1] != 3:
        raise ValueError(f"images must be RGB (H, W, 3) or (N, H, W, 3), got shape {shape}")


def _check_chw(shape: tuple[int, ...]) -> None:
    if len(shape) not in (3, 4) or shape[-3] != 3:
        raise ValueError(f"tensors must be (3, H, W) or (N, 3, H, W), got shape {shape}")


def normalize_image(images: Any) -> Any:
    """RGB ``(H, W, 3)`` / ``(N, H, W, 3)`` uint8 (0-255) -> float32 ``(3, H, W)`` / ``(N, 3, H, W)``."""
    _check_hwc(tuple(images.shape))
    if hasattr(images, "detach"):
        import torch

        mean = torch.tensor(IMAGENET_MEAN.tolist(), device=images.device)
        std = torch.tensor(IMAGENET_STD.tolist(), device=images.device)
        out = (images.to(torch.float32) / 255.0 - mean) / std
        return out.movedim(-1, -3).contiguous()
    out = (np.asarray(images, dtype=np.float32) / np.float32(255.0) - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(np.moveaxis(out, -1, -3))


def denormalize_image(tensors: Any) -> np.ndarray:
    """Inverse of :func:`normalize_image` for display: ``(3, H, W)`` / ``(N, 3, H, W)`` -> RGB uint8 HWC."""
    if hasattr(tensors, "detach"):
        tensors = tensors.detach().cpu().numpy()
    arr = np.asarray(tensors, dtype=np.float32)
    _check_chw(arr.shape)
    hwc = np.moveaxis(arr, -3, -1) * IMAGENET_STD + IMAGENET_MEAN
    return np.clip(np.rint(hwc * 255.0), 0, 255).astype(np.uint8)
