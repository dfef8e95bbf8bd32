"""What a distillation job costs on this machine, and the defaults the Distil dialog starts from.

A step's time is estimated from the models' multiply-adds (``distilpose info``: forward and backward of the
student, about three forwards, plus the teacher's forward) and this machine's measured matrix-multiply
rate, scaled by a factor calibrated against a real job (see ``CALIBRATION``). It is an estimate shown as
"about N min", good to a factor of two, enough to tell minutes from hours before starting. Qt-free.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from distilpose.models.bundled import DEFAULT_STUDENT

#: GMACs per 256x192 image, forward (``distilpose info``, measured with ``count_macs``).
FORWARD_GMACS = {
    "distilpose-mnv2": 0.39,
    "distilpose-t": 0.74,
    "distilpose-s": 2.70,
    "distilpose-l": 10.61,
    "movenet-thunder": 1.22,
    "movenet-lightning": 0.55,
}
#: A teacher or student not in the table counts as this.
UNKNOWN_GMACS = 2.0
#: Training a student costs about this many forwards (forward, backward for inputs and for weights).
TRAIN_FORWARDS = 3.0
#: Real step time / the multiply-add estimate, measured once with a real `distilpose-mnv2 <- movenet-thunder`
#: job on a 2-core CPU (convolutions, data loading and the optimiser run far below the matmul peak).
CALIBRATION = 1.8
#: What "finishes in minutes" means for the CPU defaults (about ten).
CPU_TARGET_S = 600.0
CPU_BATCH = 8
GPU_BATCH = 32
GPU_STEPS = 2000
MIN_STEPS, MAX_CPU_STEPS = 50, 2000


@functools.cache
def machine_gmacs_per_s() -> float:
    """Measured float32 matrix-multiply rate of this process's CPU threads (GMAC/s, ~50 ms, once)."""
    import torch

    n = 384
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    runs, start = 0, time.perf_counter()
    while runs < 5 or time.perf_counter() - start < 0.05:
        torch.mm(a, b)
        runs += 1
    return runs * n**3 / (time.perf_counter() - start) / 1e9


def step_seconds(student: str, teacher: str, batch: int, rate: float | None = None) -> float:
    """Estimated seconds per training step on the CPU."""
    rate = rate if rate is not None else machine_gmacs_per_s()
    per_image = TRAIN_FORWARDS * FORWARD_GMACS.get(student, UNKNOWN_GMACS) + FORWARD_GMACS.get(
        teacher, UNKNOWN_GMACS
    )
    return CALIBRATION * per_image * max(1, batch) / max(rate, 1e-3)


def format_duration(seconds: float) -> str:
    """``about 40 s``, ``about 6 min``, ``about 2.5 h``."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Defaults:
    """Where the dialog starts on this machine."""

    student: str
    device: str
    steps: int
    batch: int


def machine_defaults(teacher: str, cuda: bool, rate: float | None = None) -> Defaults:
    """The shipped student; on a CPU a batch and step count that finish in about ``CPU_TARGET_S``."""
    if cuda:
        return Defaults(DEFAULT_STUDENT, "cuda", GPU_STEPS, GPU_BATCH)
    per_step = step_seconds(DEFAULT_STUDENT, teacher, CPU_BATCH, rate)
    steps = int(CPU_TARGET_S / max(per_step, 1e-6)) // 50 * 50
    return Defaults(DEFAULT_STUDENT, "cpu", min(max(steps, MIN_STEPS), MAX_CPU_STEPS), CPU_BATCH)
