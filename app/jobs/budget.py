"""What a distillation job costs on this machine, and the defaults the Distil dialog starts from.

A step's time is estimated from the models' multiply-adds (``ModelSpec.gmacs``, what ``distilpose info``
measures: about three forwards of the student for its forward and backward pass, plus the teacher's forward) and a training throughput measured
with a real job on the reference machine (``REFERENCE_GMACS_PER_S``), scaled by this machine's CPU threads.
A short matrix-multiply probe was tried instead and rejected: on a shared machine it swung 30x between runs.
It is an estimate shown as "about N min", good to a factor of two, enough to tell minutes from hours before
starting. Qt-free.
"""

from __future__ import annotations

from dataclasses import dataclass

from distilpose.models.bundled import DEFAULT_STUDENT

#: A teacher or student whose cost is unknown (a checkpoint file, a spec without ``gmacs``) counts as this.
UNKNOWN_GMACS = 2.0
#: Training a student costs about this many forwards (forward, backward for inputs and for weights).
TRAIN_FORWARDS = 3.0
#: Training throughput (GMAC/s) of a real `distilpose-mnv2 <- movenet-thunder` job, batch 8, on the reference
#: machine (2 CPU threads, shared with other work): 6.8 s per step of 8 images of 2.39 GMAC each.
REFERENCE_GMACS_PER_S = 2.8
REFERENCE_THREADS = 2
#: What "finishes in minutes" means for the CPU defaults (about ten).
CPU_TARGET_S = 600.0
CPU_BATCH = 8
GPU_BATCH = 32
GPU_STEPS = 2000
MIN_STEPS, MAX_CPU_STEPS = 20, 2000


def machine_gmacs_per_s() -> float:
    """This machine's training throughput (GMAC/s): the reference scaled by torch's CPU threads."""
    import torch

    return REFERENCE_GMACS_PER_S * max(1, torch.get_num_threads()) / REFERENCE_THREADS


def forward_gmacs(name: str) -> float:
    """One forward's GMACs of a registered model (its spec's), else :data:`UNKNOWN_GMACS`."""
    from distilpose.errors import UnknownModelError
    from distilpose.models import model_spec

    try:
        gmacs = model_spec(name).gmacs
    except UnknownModelError:
        return UNKNOWN_GMACS
    return UNKNOWN_GMACS if gmacs is None else gmacs


def step_seconds(student: str, teacher: str, batch: int, rate: float | None = None) -> float:
    """Estimated seconds per training step on the CPU (``rate``: GMAC/s, default this machine's)."""
    rate = rate if rate is not None else machine_gmacs_per_s()
    per_image = TRAIN_FORWARDS * forward_gmacs(student) + forward_gmacs(teacher)
    return per_image * max(1, batch) / max(rate, 1e-3)


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
    steps = int(CPU_TARGET_S / max(per_step, 1e-6)) // 10 * 10
    return Defaults(DEFAULT_STUDENT, "cpu", min(max(steps, MIN_STEPS), MAX_CPU_STEPS), CPU_BATCH)
