"""SIGKILL during a save, an export or a checkpoint write: a subprocess rewrites the file in a loop and is
killed at random moments; every time, the file left is whole, loads, and is exactly one of the versions the
process wrote (never a mix, never a truncated file).

Random kills from outside often land between writes, so each writer is also killed at the three moments that
matter, from inside (see ``sigkill_writer``): half-way through writing the temp file, before its fsync, and
just before the rename. A kill there must leave the previous version, exactly."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from distilpose.coco import load_coco
from distilpose.models.checkpoint import load_state_dict_file, read_metadata
from distilpose.project import ProjectStore
from distilpose.project.coco_io import ANNOTATION_FILE, export_coco, import_coco
from distilpose.training.checkpointing import load_checkpoint
from tests.conftest import REPO_ROOT
from tests.hardening.sigkill_writer import expected_checkpoint_value, expected_coco_doc
from tests.unit.coco_factory import make_coco_doc

pytestmark = [
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)"),
    pytest.mark.timeout(180),
]

KILLS = 3
PHASES = ("write", "fsync", "replace")
#: torch.save and safetensors write from native code: their half-way point is only reached from outside.
NATIVE_PHASES = ("fsync", "replace")


def _self_kill(kind: str, target: Path, phase: str, *extra: str) -> None:
    """The writer kills itself at ``phase`` of writing version 2: versions 0 and 1 are complete."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.hardening.sigkill_writer", kind, str(target), *extra],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1", "SELF_KILL": phase, "SELF_KILL_VERSION": "2"},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert proc.stdout.split() == ["READY", "DONE", "1"], proc.stdout


def _kill_while_writing(kind: str, target: Path, *extra: str, seed: int) -> int:
    """Start the writer, wait for its first complete version, SIGKILL it after a random delay (most land
    inside a write). Returns how many versions it reported complete."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hardening.sigkill_writer", kind, str(target), *extra],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert first.strip() == "READY", proc.stderr.read()  # type: ignore[union-attr]
        proc.stdout.readline()  # type: ignore[union-attr]
        started = time.monotonic()
        proc.stdout.readline()  # type: ignore[union-attr]  # one whole cycle, timed: the next starts now
        period = time.monotonic() - started
        time.sleep(random.Random(seed).uniform(0.05, 0.95) * period)
        os.kill(proc.pid, signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, err
    return 3 + sum(line.startswith("DONE") for line in rest.splitlines())


def _torn_writes(folder: Path) -> int:
    """Temp files a kill left: each is a write that was cut off (proof the kills hit mid-write)."""
    return len([p for p in folder.rglob(".*.tmp*")])


def test_sigkill_while_saving_a_large_coco_file(tmp_path):
    target = tmp_path / "big.json"
    expected = {v: expected_coco_doc(v) for v in range(3)}
    written = []
    for kill in range(KILLS):
        written.append(_kill_while_writing("coco", target, seed=kill))
        dataset = load_coco(target)  # whole and valid: a torn file would fail here
        version = dataset.info["version"]
        assert json.loads(target.read_text()) == _normalised(expected[version])
    assert sum(written) >= 3 * KILLS
    for phase in PHASES:
        _self_kill("coco", target, phase)
        assert load_coco(target).info["version"] == 1, phase
        assert json.loads(target.read_text()) == _normalised(expected[1])
    assert _torn_writes(tmp_path) >= 2  # the write and fsync kills left their temp files


def _normalised(doc: dict) -> dict:
    """What save_coco writes for ``doc``: integral floats as ints, the person category canonical."""
    from distilpose.coco import parse_coco

    return parse_coco(doc).to_json_dict()


@pytest.fixture
def big_project(tmp_path) -> Path:
    """A project of 60 images, 3 people each, a third of them not verified (so the two exports differ)."""
    doc = make_coco_doc(seed=4)
    images, annotations = [], []
    for i in range(60):
        images.append({**doc["images"][0], "id": i + 1, "file_name": f"{i:04d}.jpg"})
        for k in range(3):
            person = doc["annotations"][0]
            annotations.append({**person, "id": 3 * i + k + 1, "image_id": i + 1})
    (tmp_path / "ann.json").write_text(json.dumps({**doc, "images": images, "annotations": annotations}))
    (tmp_path / "images").mkdir()
    path = tmp_path / "big.dpproj"
    with ProjectStore.create(path) as store:
        import_coco(store, tmp_path / "ann.json", tmp_path / "images")
        for inst_id in range(1, 181, 3):
            store.set_verified(inst_id, False)
    return path


def test_sigkill_while_exporting_a_project(tmp_path, big_project):
    references = []
    with ProjectStore.open(big_project) as store:
        for only_verified in (False, True):
            ref = tmp_path / f"ref-{only_verified}"
            export_coco(store, ref, only_verified=only_verified, images="none")
            references.append((ref / ANNOTATION_FILE).read_bytes())
    assert references[0] != references[1]
    out = tmp_path / "export"
    for kill in range(KILLS):
        _kill_while_writing("export", out, str(big_project), seed=10 + kill)
        ann = out / ANNOTATION_FILE
        assert ann.read_bytes() in references
        assert len(load_coco(ann).annotations) in (180, 120)
    for phase in PHASES:
        _self_kill("export", out, phase, str(big_project))
        assert (out / ANNOTATION_FILE).read_bytes() == references[1], phase  # version 1: verified only
    with ProjectStore.open(big_project) as store:  # the project itself is untouched by the kills
        assert store.counts()["instances"] == 180


def test_sigkill_while_writing_training_checkpoints(tmp_path):
    target = tmp_path / "last.pt"
    for kill in range(KILLS):
        _kill_while_writing("checkpoint", target, seed=20 + kill)
        data = load_checkpoint(target)
        weights = data["model_state"]["w"]
        torch.testing.assert_close(
            weights, torch.full_like(weights, expected_checkpoint_value(data["step"])), rtol=0, atol=0
        )
    for phase in NATIVE_PHASES:
        _self_kill("checkpoint", target, phase)
        data = load_checkpoint(target)
        assert data["step"] == 1, phase
        assert float(data["model_state"]["w"][-1]) == expected_checkpoint_value(1)


def test_sigkill_while_saving_weights(tmp_path):
    target = tmp_path / "model.safetensors"
    for kill in range(KILLS):
        _kill_while_writing("weights", target, seed=30 + kill)
        version = int(read_metadata(target)["version"])
        (weight,) = load_state_dict_file(target).values()
        np.testing.assert_array_equal(weight.numpy(), np.float32(expected_checkpoint_value(version)))
    for phase in NATIVE_PHASES:
        _self_kill("weights", target, phase)
        assert read_metadata(target)["version"] == "1", phase
        (weight,) = load_state_dict_file(target).values()
        np.testing.assert_array_equal(weight.numpy(), np.float32(expected_checkpoint_value(1)))
