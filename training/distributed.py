"""Distributed (DDP) set-up that is a no-op for a single process.

The same command works alone or under ``torchrun``: torchrun sets RANK/WORLD_SIZE/LOCAL_RANK and we
pick gloo on CPU and nccl on CUDA. Only rank 0 writes events, checkpoints and progress bars; the stop
decision (signal, time budget) is agreed collectively so every rank leaves the loop at the same step.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from distilpose.errors import DistilPoseError


@dataclass(frozen=True)
class DistEnv:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(requested: str | None, local_rank: int = 0) -> torch.device:
    """``cpu``, ``cuda`` or None (= cuda when available). A missing GPU is a user error, not a crash."""
    if requested in (None, "auto"):
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cpu":
        return torch.device("cpu")
    if requested == "cuda":
        if not torch.cuda.is_available():
            raise DistilPoseError("--device cuda: no CUDA device is available (use --device cpu)")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    raise DistilPoseError(f"--device {requested}: expected 'cpu' or 'cuda'")


def init_distributed(requested_device: str | None) -> DistEnv:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1), else a single-process env."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(requested_device, local_rank)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistEnv(rank=rank, world_size=world, local_rank=local_rank, device=device)


def shutdown(env: DistEnv) -> None:
    """Destroy the process group while the interpreter is fully alive. Call it after dropping every DDP
    wrapper: one still alive keeps gloo's group (and its threads) until interpreter teardown, where freeing
    it aborts the process now and then ("terminate called without an active exception")."""
    if env.distributed and dist.is_initialized():
        gc.collect()  # wrappers caught in reference cycles release the group here, not at exit
        dist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    if env.distributed:
        dist.barrier()


def any_rank(env: DistEnv, flag: bool) -> bool:
    """True when the flag is set on any rank (so all ranks stop together)."""
    if not env.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=env.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def mean_over_ranks(env: DistEnv, values: dict[str, float]) -> dict[str, float]:
    """Average scalar logs over ranks (for reporting; gradients are averaged by DDP itself)."""
    if not env.distributed or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], device=env.device, dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    t /= env.world_size
    return dict(zip(keys, t.tolist(), strict=True))
