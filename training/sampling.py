"""Data order that can resume mid-epoch: the library's seeded sampler plus a skip of consumed batches.

:class:`distilpose.data.SeededSampler` already makes the order of an epoch a function of (seed, epoch)
and yields ``(index, epoch)`` so each sample's augmentation is seeded by (seed, epoch, index) whichever
worker loads it. Resuming only has to skip the samples this rank already trained on in the current
epoch; every later batch is then bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import itertools
import signal
from collections.abc import Iterator

from distilpose.data import SeededSampler


class ResumableSampler(SeededSampler):
    """``set_epoch(epoch, skip)`` skips the first ``skip`` items of this rank's share of the epoch."""

    def __init__(self, num_items: int, **kwargs: object):
        if num_items < 1:
            raise ValueError("cannot sample from an empty dataset")
        super().__init__(num_items, **kwargs)
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        super().set_epoch(epoch)
        self.skip = int(skip)

    @property
    def full_epoch_len(self) -> int:
        """Items this rank gets in a whole epoch (for steps per epoch and ETA)."""
        return super().__len__()

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return itertools.islice(super().__iter__(), self.skip, None)

    def __len__(self) -> int:
        return max(0, self.full_epoch_len - self.skip)


def worker_init(_worker_id: int) -> None:
    """Workers ignore Ctrl+C (the main process handles it and shuts them down) and use one torch thread each.

    No ``cv2.setNumThreads`` here: in a forked worker it can block forever in OpenCV's thread-pool teardown
    (seen with gdb in ``pthread_cond_destroy``). Cap OpenCV in the parent before the loader forks, if at all.
    """
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
