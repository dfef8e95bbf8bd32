"""Codecs: crop geometry, heatmap and regression targets/decoding, simulated heatmaps, flip test.

Importing this package does not import torch (the ONNX path does not need it); the torch-only
``simulated`` functions load on first use.

Conventions: model input 256x192 (H, W); heatmaps (N, K, H=64, W=48); student coords normalised to the
input width/height; student sigmas in heatmap pixels; ``scale`` in units of 200 px (mmpose 0.x).
"""

from distilpose.codecs.affine import (
    PIXEL_STD,
    affine_points,
    box_to_center_scale,
    boxes_to_centers_scales,
    crop_image,
    crop_images,
    crop_to_image,
    crops_to_images,
    get_affine_transform,
    get_affine_transforms,
)
from distilpose.codecs.flip import (
    FLIP_MODES,
    FlipMode,
    flip_back_coords,
    flip_back_heatmaps,
    flip_back_regression,
    flip_images,
    flip_test_heatmaps,
    flip_test_regression,
)
from distilpose.codecs.heatmap import decode_heatmaps, decode_heatmaps_around, encode_heatmaps
from distilpose.codecs.regression import decode_regression, encode_regression

#: Model input size (W, H) and heatmap size (W, H) of every DistilPose model and its teacher.
INPUT_SIZE_WH: tuple[int, int] = (192, 256)
HEATMAP_SIZE_WH: tuple[int, int] = (48, 64)

_LAZY = {"simulated_heatmaps", "simulated_heatmap_mask"}


def __getattr__(name: str):  # PEP 562: keep torch out of `import distilpose.codecs`
    if name in _LAZY:
        from distilpose.codecs import simulated

        return getattr(simulated, name)
    raise AttributeError(f"module 'distilpose.codecs' has no attribute {name!r}")


__all__ = [
    "FLIP_MODES",
    "HEATMAP_SIZE_WH",
    "INPUT_SIZE_WH",
    "PIXEL_STD",
    "FlipMode",
    "affine_points",
    "box_to_center_scale",
    "boxes_to_centers_scales",
    "crop_image",
    "crop_images",
    "crop_to_image",
    "crops_to_images",
    "decode_heatmaps",
    "decode_heatmaps_around",
    "decode_regression",
    "encode_heatmaps",
    "encode_regression",
    "flip_back_coords",
    "flip_back_heatmaps",
    "flip_back_regression",
    "flip_images",
    "flip_test_heatmaps",
    "flip_test_regression",
    "get_affine_transform",
    "get_affine_transforms",
    "simulated_heatmap_mask",
    "simulated_heatmaps",
]
