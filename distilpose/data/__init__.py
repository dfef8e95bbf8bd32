"""COCO top-down data: person records, the official augmentation pipeline, loaders, input normalisation."""

from distilpose.data.coco_topdown import (
    PersonRecord,
    TopDownCocoDataset,
    load_detection_records,
    load_gt_records,
    read_rgb_image,
)
from distilpose.data.loader import SeededSampler, make_dataloader
from distilpose.data.normalize import IMAGENET_MEAN, IMAGENET_STD, denormalize_image, normalize_image
from distilpose.data.transforms import (
    AffineCrop,
    Compose,
    HalfBody,
    HeatmapTargets,
    Normalize,
    RandomFlip,
    RandomScaleRotation,
    RegressionTargets,
    Sample,
    eval_pipeline,
    train_pipeline,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AffineCrop",
    "Compose",
    "HalfBody",
    "HeatmapTargets",
    "Normalize",
    "PersonRecord",
    "RandomFlip",
    "RandomScaleRotation",
    "RegressionTargets",
    "Sample",
    "SeededSampler",
    "TopDownCocoDataset",
    "denormalize_image",
    "eval_pipeline",
    "load_detection_records",
    "load_gt_records",
    "make_dataloader",
    "normalize_image",
    "read_rgb_image",
    "train_pipeline",
]
