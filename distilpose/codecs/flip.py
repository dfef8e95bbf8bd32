"""Flip test: run the model on the mirrored crop too, map that answer back, average.

Pure functions on numpy arrays or torch tensors (the PyTorch and ONNX runtimes share them).

Regression students (coords normalised to the input, ``x_norm = x_px / W`` with pixel centres at integer
``x_px``, as the training targets are built):

- ``mode="corrected"`` (default). The flipped crop shows input pixel ``x_px`` at ``W − 1 − x_px`` (the same
  pixel-index flip the training augmentation uses), so an exactly flip-equivariant model answers
  ``x'_norm = (W − 1 − x_px) / W = (W − 1)/W − x_norm`` on it. The inverse is therefore
  ``x_norm = (W − 1)/W − x'_norm``; left/right pairs are swapped for coords, scores and sigmas
  (sigmas are magnitudes: a mirror leaves them unchanged apart from the swap).
- ``mode="official"`` replicates DistilPose's test code: ``x -> 1 − x`` (mmpose ``fliplr_regression``,
  ``center_x=0.5``), which lands ``1/W`` (one input pixel) right of the truth, i.e. ``+0.5`` input px in x
  after averaging; scores of the flipped pass are averaged WITHOUT the left/right swap (sigmas, which the
  official code does not flip-test, get the swap).

Teachers (heatmaps): mmpose ``flip_back`` + ``shift_heatmap=True``: mirror the map, swap left/right channels,
shift one heatmap pixel to the right (column 0 keeps its value), average with the plain pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from distilpose.keypoints import flip_permutation

FlipMode = Literal["official", "corrected"]
FLIP_MODES: tuple[str, ...] = ("official", "corrected")


def _is_torch(x: Any) -> bool:
    return hasattr(x, "detach") and hasattr(x, "flip")


def _perm_for(x: Any, num_keypoints: int) -> Any:
    perm = flip_permutation()
    if len(perm) != num_keypoints:
        raise ValueError(f"flip pairs are defined for {len(perm)} keypoints, got {num_keypoints}")
    if _is_torch(x):
        import torch

        return torch.as_tensor(perm, dtype=torch.long, device=x.device)
    return perm


def _swap_pairs(x: Any) -> Any:
    """Reorder axis 1 (keypoints) left<->right."""
    return x[:, _perm_for(x, x.shape[1])]


def flip_images(images: Any) -> Any:
    """Mirror ``(..., H, W)`` images (NCHW batches) along the width."""
    if _is_torch(images):
        return images.flip(-1)
    return np.ascontiguousarray(np.flip(images, axis=-1))


def _check_mode(mode: str) -> None:
    if mode not in FLIP_MODES:
        raise ValueError(f"unknown flip mode {mode!r}; expected one of {FLIP_MODES}")


def flip_back_coords(coords_flipped: Any, input_width: int, mode: FlipMode = "corrected") -> Any:
    """``(N, K, 2)`` normalised coords predicted on the mirrored input -> the original frame."""
    _check_mode(mode)
    out = _swap_pairs(coords_flipped)
    out = out * 1  # a copy for both numpy and torch, so the caller's array is untouched
    mirror = 1.0 if mode == "official" else (input_width - 1.0) / input_width
    out[..., 0] = mirror - out[..., 0]
    return out


def flip_back_regression(
    coords_flipped: Any,
    scores_flipped: Any | None,
    sigmas_flipped: Any | None,
    input_width: int,
    mode: FlipMode = "corrected",
) -> tuple[Any, Any | None, Any | None]:
    """Map a regression student's flipped-pass outputs back (see the module docstring for the two modes)."""
    coords = flip_back_coords(coords_flipped, input_width, mode)
    scores = None
    if scores_flipped is not None:
        scores = scores_flipped if mode == "official" else _swap_pairs(scores_flipped)
    sigmas = None if sigmas_flipped is None else _swap_pairs(sigmas_flipped)
    return coords, scores, sigmas


def _mean(a: Any | None, b: Any | None) -> Any | None:
    if a is None or b is None:
        return None
    return (a + b) * 0.5


def flip_test_regression(
    forward: Callable[[Any], tuple[Any, Any | None, Any | None]],
    images: Any,
    mode: FlipMode = "corrected",
) -> tuple[Any, Any | None, Any | None]:
    """Average ``forward(images)`` with the mapped-back ``forward(flip(images))``.

    ``forward`` takes an ``(N, C, H, W)`` batch and returns ``(coords (N, K, 2), scores (N, K[, 1]) or None,
    sigmas (N, K, 2) or None)``; the input width is ``images.shape[-1]``.
    """
    _check_mode(mode)
    coords, scores, sigmas = forward(images)
    f_coords, f_scores, f_sigmas = forward(flip_images(images))
    b_coords, b_scores, b_sigmas = flip_back_regression(f_coords, f_scores, f_sigmas, images.shape[-1], mode)
    return _mean(coords, b_coords), _mean(scores, b_scores), _mean(sigmas, b_sigmas)


def flip_back_heatmaps(heatmaps_flipped: Any, shift: bool = True) -> Any:
    """``(N, K, H, W)`` heatmaps of the mirrored input -> the original frame (mmpose ``flip_back`` + shift).

    The one-pixel shift compensates most of the 0.75 heatmap-px offset a mirror introduces when the input
    flips pixel indices (``x -> W_in − 1 − x``) and the targets use ``mu = x / 4``.
    """
    out = flip_images(_swap_pairs(heatmaps_flipped))
    if shift:
        out = out * 1  # own the memory before the in-place shift
        out[..., 1:] = out[..., :-1] * 1
    return out


def flip_test_heatmaps(forward: Callable[[Any], Any], images: Any, shift: bool = True) -> Any:
    """Average ``forward(images)`` heatmaps with the flipped-back heatmaps of the mirrored input."""
    heatmaps = forward(images)
    flipped = flip_back_heatmaps(forward(flip_images(images)), shift=shift)
    return (heatmaps + flipped) * 0.5
