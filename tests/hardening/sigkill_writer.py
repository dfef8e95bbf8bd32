"""The process the SIGKILL tests kill: it rewrites one file over and over, one complete version after another.

``python -m tests.hardening.sigkill_writer KIND TARGET [PROJECT]`` writes version 0, prints READY, then
writes versions 1, 2, ... printing ``DONE n`` after each, until it is killed. What each version holds is a
pure function of its number (see ``expected_*``), so the test can check the file it finds is exactly one of
them, whole.

A kill from outside lands wherever it lands. To hit the dangerous moments every time, ``SELF_KILL=phase``
makes the process SIGKILL itself while writing version ``SELF_KILL_VERSION`` (default 2): ``write`` half-way
through writing the temp file (Python writers only), ``fsync`` before flushing it, ``replace`` just before
renaming it over the target.
"""

from __future__ import annotations

import builtins
import os
import signal
import sys
from pathlib import Path

import numpy as np

#: People in the large COCO file: ~2 MB of JSON, so a kill usually lands in the middle of a write.
COCO_PEOPLE = 2500
#: Values in the checkpoint tensor (8 MB of float32).
CHECKPOINT_VALUES = 2 * 1024 * 1024


def expected_coco_doc(version: int) -> dict:
    """A large, valid COCO document; ``info.version`` says which one it is."""
    rng = np.random.default_rng(version)
    images = [{"id": i + 1, "file_name": f"{i:06d}.jpg", "width": 640, "height": 480} for i in range(500)]
    annotations = []
    for a in range(COCO_PEOPLE):
        xy = np.round(rng.uniform(10, 400, size=(17, 2)), 2)
        flat = [v for x, y in xy for v in (float(x), float(y), 2)]
        annotations.append(
            {"id": a + 1, "image_id": a % 500 + 1, "category_id": 1, "keypoints": flat, "num_keypoints": 17,
             "bbox": [10.0, 10.0, 390.0, 390.0], "area": 152100.0, "iscrowd": 0}
        )  # fmt: skip
    from distilpose.keypoints import coco_category

    return {
        "info": {"version": version},
        "images": images,
        "annotations": annotations,
        "categories": [coco_category()],
    }


def expected_checkpoint_value(version: int) -> float:
    return float(version) + 0.5


def _coco_loop(target: Path) -> None:
    from distilpose.coco import parse_coco, save_coco

    datasets = [parse_coco(expected_coco_doc(v)) for v in range(3)]  # built once: the loop only writes
    version = 0
    while True:
        save_coco(datasets[version % 3], target)
        _report(version)
        version += 1


def _export_loop(target: Path, project: Path) -> None:
    """Alternate two exports of the same project (all instances / verified only): two different files."""
    from distilpose.project import ProjectStore
    from distilpose.project.coco_io import export_coco

    with ProjectStore.open(project) as store:
        version = 0
        while True:
            export_coco(store, target, only_verified=version % 2 == 1, images="none", overwrite=True)
            _report(version)
            version += 1


def _checkpoint_loop(target: Path) -> None:
    import torch

    from distilpose.training.checkpointing import save_checkpoint

    torch.set_num_threads(1)
    version = 0
    while True:
        weights = torch.full((CHECKPOINT_VALUES,), expected_checkpoint_value(version))
        payload = {"model_state": {"w": weights}, "optimizer": {}, "step": version, "epoch": 0, "config": {}}
        save_checkpoint(target, payload)
        _report(version)
        version += 1


def _weights_loop(target: Path) -> None:
    import torch

    from distilpose.models.checkpoint import save_weights

    module = torch.nn.Linear(1024, CHECKPOINT_VALUES // 1024, bias=False)
    version = 0
    while True:
        with torch.no_grad():
            module.weight.fill_(expected_checkpoint_value(version))
        save_weights(module, target, metadata={"version": str(version)})
        _report(version)
        version += 1


_state = {"version": 0}


def _report(version: int) -> None:
    print("READY" if version == 0 else f"DONE {version}", flush=True)
    _state["version"] = version + 1


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _arm_self_kill(phase: str, at_version: int) -> None:
    """Patch the write path of this (throw-away) process so that it kills itself at ``phase``."""

    def armed() -> bool:
        return _state["version"] == at_version

    if phase == "fsync":
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            if armed() and ".tmp" in os.readlink(f"/proc/self/fd/{fd}"):
                _die()
            real_fsync(fd)

        os.fsync = fsync
    elif phase == "replace":
        real_replace = os.replace

        def replace(src, dst, *args, **kwargs):
            if armed():
                _die()
            return real_replace(src, dst, *args, **kwargs)

        os.replace = replace
    elif phase == "write":
        real_open = builtins.open

        class HalfWritten:
            def __init__(self, handle):
                self._handle = handle

            def write(self, data):
                if armed():
                    self._handle.write(data[: len(data) // 2])
                    self._handle.flush()
                    _die()
                return self._handle.write(data)

            def __getattr__(self, name):
                return getattr(self._handle, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return self._handle.__exit__(*exc)

        def open_(file, mode="r", *args, **kwargs):
            handle = real_open(file, mode, *args, **kwargs)
            return HalfWritten(handle) if "w" in mode and ".tmp" in os.fspath(file) else handle

        builtins.open = open_
    else:
        raise SystemExit(f"unknown SELF_KILL phase {phase!r}")


if __name__ == "__main__":
    kind, target = sys.argv[1], Path(sys.argv[2])
    if os.environ.get("SELF_KILL"):
        _arm_self_kill(os.environ["SELF_KILL"], int(os.environ.get("SELF_KILL_VERSION", "2")))
    if kind == "coco":
        _coco_loop(target)
    elif kind == "export":
        _export_loop(target, Path(sys.argv[3]))
    elif kind == "checkpoint":
        _checkpoint_loop(target)
    elif kind == "weights":
        _weights_loop(target)
    else:
        raise SystemExit(f"unknown kind {kind!r}")
