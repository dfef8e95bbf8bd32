"""Reproducible, multi-worker loading: a sampler that carries the epoch to the dataset with every index.

The sampler yields ``(index, epoch)`` pairs, so a dataset seeds each item's augmentation from
``(seed, epoch, index)`` even in persistent workers (which never see a ``set_epoch`` on their own copy).
Shuffling and DDP sharding (``rank`` / ``world_size``) are seeded from ``(seed, epoch)`` too.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import DataLoader, Dataset, Sampler


class SeededSampler(Sampler):
    """Yields ``(index, epoch)``; a seeded permutation per epoch; rank ``r`` of ``w`` takes every w-th item.

    Like ``DistributedSampler``, the index list is padded by repeating its start so every rank gets
    ``ceil(n / w)`` items (or truncated with ``drop_last``).
    """

    def __init__(
        self,
        num_items: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
    ) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not valid for world_size {world_size}")
        self.num_items = int(num_items)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _per_rank(self) -> int:
        if self.drop_last:
            return self.num_items // self.world_size
        return -(-self.num_items // self.world_size)

    def __len__(self) -> int:
        return self._per_rank()

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.num_items)
        else:
            order = np.arange(self.num_items)
        total = self._per_rank() * self.world_size
        if total > len(order) and len(order) > 0:
            order = np.resize(order, total)  # repeats from the start, as DistributedSampler pads
        order = order[:total]
        for index in order[self.rank :: self.world_size]:
            yield int(index), self.epoch


def make_dataloader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool = True,
    num_workers: int = 2,
    seed: int = 0,
    drop_last: bool = False,
    pin_memory: bool = False,
    rank: int = 0,
    world_size: int = 1,
    persistent_workers: bool = False,
    multiprocessing_context: str | None = None,
) -> DataLoader:
    """A ``DataLoader`` over a :class:`TopDownCocoDataset`-style dataset (items indexed by ``(index, epoch)``).

    Call ``loader.sampler.set_epoch(epoch)`` before each epoch for new shuffles and augmentations.
    ``drop_last`` drops both the DDP remainder and a last incomplete batch. Workers are forked by default
    (``multiprocessing_context`` may say "spawn"/"forkserver"); torch already limits each worker to one
    thread. Do NOT call ``cv2.setNumThreads`` inside a forked worker: destroying OpenCV's inherited
    thread pool can block forever on a condition variable copied mid-wait (seen in this project's tests).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    sampler = SeededSampler(
        len(dataset), shuffle=shuffle, seed=seed, rank=rank, world_size=world_size, drop_last=drop_last
    )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=drop_last,
        pin_memory=pin_memory,
        multiprocessing_context=multiprocessing_context if num_workers > 0 else None,
        persistent_workers=persistent_workers and num_workers > 0,
    )
