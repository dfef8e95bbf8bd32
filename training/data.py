"""Datasets and loaders of a training run, built from its config with the library's COCO top-down data."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from distilpose.data import TopDownCocoDataset, eval_pipeline, train_pipeline
from distilpose.training.config import TrainConfig
from distilpose.training.distributed import DistEnv
from distilpose.training.sampling import ResumableSampler, worker_init


@dataclass
class TrainData:
    dataset: TopDownCocoDataset
    sampler: ResumableSampler
    loader: DataLoader

    @property
    def steps_per_epoch(self) -> int:
        full = self.sampler.full_epoch_len
        bs = self.loader.batch_size or 1
        return full // bs if self.loader.drop_last else -(-full // bs)


def build_train_data(cfg: TrainConfig, env: DistEnv) -> TrainData:
    """The augmented training set (heatmap targets only when training a heatmap teacher)."""
    aug = cfg.data.augment
    pipeline = train_pipeline(
        recipe="teacher" if cfg.mode == "teacher" else "student",
        heatmaps=cfg.mode == "teacher",
        flip_prob=aug.flip_prob,
        half_body_prob=aug.half_body_prob,
        rot_prob=aug.rot_prob,
        **{k: v for k, v in (("rot_factor", aug.rot_factor), ("scale_factor", aug.scale_factor)) if v is not None},
    )
    dataset = TopDownCocoDataset.from_coco(
        cfg.data.train_ann, cfg.data.train_images, pipeline, train=True, seed=cfg.run.seed
    )
    if cfg.data.max_train_samples is not None:
        dataset.records = dataset.records[: cfg.data.max_train_samples]
    if len(dataset) == 0:
        raise ValueError(f"{cfg.data.train_ann}: no person instance with keypoints to train on")
    sampler = ResumableSampler(
        len(dataset),
        shuffle=True,
        seed=cfg.run.seed,
        rank=env.rank,
        world_size=env.world_size,
        drop_last=cfg.run.drop_last,
    )
    workers = cfg.run.workers
    loader = DataLoader(
        dataset,
        batch_size=cfg.run.batch_size,
        sampler=sampler,
        num_workers=workers,
        drop_last=cfg.run.drop_last,
        pin_memory=env.device.type == "cuda",
        worker_init_fn=worker_init if workers > 0 else None,
        persistent_workers=workers > 0,  # safe: every item carries its epoch
        # the loader's own seed draw must not consume the global torch RNG (keeps resume exact)
        generator=torch.Generator().manual_seed(cfg.run.seed),
    )
    return TrainData(dataset, sampler, loader)


def build_val_loader(cfg: TrainConfig, heatmaps: bool = False) -> DataLoader | None:
    """Un-augmented crops of the validation boxes (detections when configured, else ground truth)."""
    if cfg.data.val_ann is None or cfg.data.val_images is None:
        return None
    dataset = TopDownCocoDataset.from_coco(
        cfg.data.val_ann,
        cfg.data.val_images,
        eval_pipeline(heatmaps=heatmaps),
        train=False,
        detections=cfg.data.val_boxes,
        seed=cfg.run.seed,
    )
    workers = min(cfg.run.workers, 2)
    return DataLoader(
        dataset,
        batch_size=cfg.run.eval_batch_size,
        shuffle=False,
        num_workers=workers,
        worker_init_fn=worker_init if workers > 0 else None,
    )
