"""Learning-rate schedule as a pure function of (step, epoch).

Being stateless is what makes resume exact: the learning rate after a restart is recomputed from the
restored counters, so there is no scheduler state to drift. Matches mmcv's 'step' policy with linear
warm-up: during the first ``warmup_iters`` iterations the rate ramps linearly from ``lr * warmup_ratio``,
then it is multiplied by ``gamma`` once for every milestone epoch (0-based) already reached.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from distilpose.training.config import ScheduleConfig


def lr_at(
    base_lr: float,
    step: int,
    epoch: int,
    warmup_iters: int,
    warmup_ratio: float,
    step_epochs: Sequence[int],
    gamma: float,
) -> float:
    """The learning rate for global iteration ``step`` (0-based) in epoch ``epoch`` (0-based)."""
    decays = sum(1 for milestone in step_epochs if epoch >= milestone)
    lr = base_lr * gamma**decays
    if step < warmup_iters:
        k = (1.0 - step / warmup_iters) * (1.0 - warmup_ratio)
        lr *= 1.0 - k
    return lr


class WarmupStepSchedule:
    """Applies :func:`lr_at` to an optimiser before each step."""

    def __init__(self, optimizer: torch.optim.Optimizer, base_lr: float, cfg: ScheduleConfig):
        self.optimizer = optimizer
        self.base_lr = base_lr
        self.cfg = cfg

    def lr(self, step: int, epoch: int) -> float:
        c = self.cfg
        return lr_at(self.base_lr, step, epoch, c.warmup_iters, c.warmup_ratio, c.step_epochs, c.gamma)

    def apply(self, step: int, epoch: int) -> float:
        lr = self.lr(step, epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_mult", 1.0)
        return lr

    def state_dict(self) -> dict[str, object]:
        """Recorded for inspection only; resuming recomputes the rate from step and epoch."""
        c = self.cfg
        return {
            "policy": "warmup_linear+step",
            "base_lr": self.base_lr,
            "warmup_iters": c.warmup_iters,
            "warmup_ratio": c.warmup_ratio,
            "step_epochs": list(c.step_epochs),
            "gamma": c.gamma,
        }
