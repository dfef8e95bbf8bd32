"""Simulated disk faults on every writer: a folder that cannot be created (its parent is a regular file), a
folder where the final rename is refused (EACCES: tests run as root, where chmod 0o500 stops nothing), a
disk that fills while the data is written or flushed (ENOSPC), and a real write failure from the kernel
(RLIMIT_FSIZE makes write() fail with EFBIG, also inside C++ writers like torch.save and safetensors).

Each writer must raise a clear error naming the target path, leave the previous file byte for byte as it
was and leave no temp file behind. The CLI turns these into exit code 2 and one line on stderr."""

from __future__ import annotations

import builtins
import errno
import json
import os
import resource
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

import distilpose.atomic as atomic
from distilpose.cli import main
from distilpose.coco import (
    CocoDataset,
    KeypointResult,
    load_coco,
    load_keypoint_results,
    parse_coco,
    save_coco,
    save_keypoint_results,
)
from distilpose.errors import DistilPoseError
from distilpose.inference.onnx_service import export_onnx
from distilpose.models.checkpoint import load_state_dict_file, save_weights
from distilpose.models.registry import create_model
from distilpose.project import ProjectStore
from distilpose.project.coco_io import ANNOTATION_FILE, export_coco
from distilpose.training.checkpointing import load_checkpoint, save_checkpoint
from tests.hardening.support import digest, listing
from tests.unit.coco_factory import make_coco_doc
from tests.unit.test_project_support import imported_project

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("distilpose-t").eval()


def _checkpoint_payload(model: torch.nn.Module, step: int) -> dict:
    return {"model_state": model.state_dict(), "optimizer": {}, "step": step, "epoch": 0, "config": {}}


# ------------------------------------------------------------------------------------------------ faults


@contextmanager
def _enospc_on_fsync(monkeypatch, only_suffix: str = "") -> Iterator[None]:
    """The disk fills: the data sits in the page cache and the flush fails (how ENOSPC often shows).
    ``only_suffix``: fail only for temp files of targets with this suffix (found through /proc/self/fd)."""
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if only_suffix and not os.readlink(f"/proc/self/fd/{fd}").endswith(only_suffix):
            return real_fsync(fd)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as m:
        m.setattr(atomic.os, "fsync", fsync)
        yield


@contextmanager
def _enospc_on_write(monkeypatch) -> Iterator[None]:
    """The disk fills while Python writes the temp file (the JSON writers, torch.onnx): the first write over
    64 bytes fails. torch.save and safetensors write from C++/Rust: for them ``efbig-kernel`` is the real
    write failure."""
    real_open = builtins.open

    class Filling:
        def __init__(self, handle):
            self._handle, self._writes = handle, 0

        def write(self, data):
            self._writes += 1
            if self._writes > 1 or len(data) > 64:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self._handle.write(data)

        def __getattr__(self, name):
            return getattr(self._handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self._handle.__exit__(*exc)

    def filling_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        return Filling(handle) if "w" in mode and ".tmp" in os.fspath(file) else handle

    with monkeypatch.context() as m:
        m.setattr(builtins, "open", filling_open)
        yield


@contextmanager
def _rename_refused(monkeypatch) -> Iterator[None]:
    """A folder the user may not change: the temp file can be written but not renamed over the target."""

    def replace(src, dst, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), src)

    with monkeypatch.context() as m:
        m.setattr(atomic.os, "replace", replace)
        yield


@contextmanager
def _file_size_limit(monkeypatch) -> Iterator[None]:
    """A real write failure from the kernel for every file write over 64 bytes (EFBIG, SIGXFSZ ignored)."""
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, old_limit[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)


FAULTS: dict[str, Callable] = {
    "enospc-fsync": _enospc_on_fsync,
    "enospc-write": _enospc_on_write,
    "rename-refused": _rename_refused,
    "efbig-kernel": _file_size_limit,
}

# ------------------------------------------------------------------------------------------------ writers


def _coco_dataset(version: int) -> CocoDataset:
    doc = make_coco_doc(seed=version)
    doc["info"]["version"] = version
    return parse_coco(doc)


def _results(version: int) -> list[KeypointResult]:
    return [
        KeypointResult(image_id=i, keypoints=np.full((17, 3), float(version)), score=0.5) for i in range(30)
    ]


WRITERS: dict[str, tuple[Callable, Callable]] = {
    # name: (write(version, path, model), read(path) -> comparable content)
    "save_coco": (lambda v, p, m: save_coco(_coco_dataset(v), p), lambda p: load_coco(p).info["version"]),
    "save_keypoint_results": (
        lambda v, p, m: save_keypoint_results(_results(v), p),
        lambda p: float(load_keypoint_results(p)[0].keypoints[0, 0]),
    ),
    "save_weights": (
        lambda v, p, m: save_weights(m, p, metadata={"version": str(v)}),
        lambda p: len(load_state_dict_file(p)),
    ),
    "save_checkpoint": (
        lambda v, p, m: save_checkpoint(p, _checkpoint_payload(m, v)),
        lambda p: load_checkpoint(p)["step"],
    ),
    "export_onnx": (lambda v, p, m: export_onnx(m, p), lambda p: p.stat().st_size),
}


def _assert_clear(exc: BaseException, target: Path) -> None:
    assert isinstance(exc, (OSError, DistilPoseError)), f"{type(exc).__name__}: {exc}"
    assert str(target) in str(exc), f"the error does not name {target}: {exc}"


#: Writers that never write through Python's open(): a Python-level ENOSPC cannot reach them.
_NATIVE_WRITERS = ("save_checkpoint", "save_weights")


@pytest.mark.parametrize(
    ("writer", "fault"),
    [
        (w, f)
        for w in sorted(WRITERS)
        for f in sorted(FAULTS)
        if not (f == "enospc-write" and w in _NATIVE_WRITERS)
    ],
)
def test_a_failed_overwrite_keeps_the_previous_file(tmp_path, model, monkeypatch, writer, fault):
    write, read = WRITERS[writer]
    target = tmp_path / ("out.onnx" if writer == "export_onnx" else "out.bin")
    write(1, target, model)
    before, content, files = digest(target), read(target), listing(tmp_path)
    with pytest.raises(Exception) as info, FAULTS[fault](monkeypatch):  # noqa: PT011 - checked below
        write(2, target, model)
    _assert_clear(info.value, target)
    assert digest(target) == before and read(target) == content
    assert listing(tmp_path) == files, "a temp file was left behind"


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_folder_that_cannot_be_created(tmp_path, model, writer):
    """The output folder would go under a regular file: mkdir fails (NotADirectoryError)."""
    write, _ = WRITERS[writer]
    (tmp_path / "plain-file").write_text("not a folder")
    target = tmp_path / "plain-file" / "sub" / "out.bin"
    with pytest.raises(Exception) as info:  # noqa: PT011 - checked below
        write(1, target, model)
    _assert_clear(info.value, target)
    assert listing(tmp_path) == ["plain-file"]


# ------------------------------------------------------------------------------------------------ project export


@pytest.fixture
def project(tmp_path) -> Path:
    return imported_project(tmp_path, seed=2)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_project_export_keeps_the_previous_annotation_file(tmp_path, project, monkeypatch, fault):
    out = tmp_path / "export"
    with ProjectStore.open(project) as store:
        export_coco(store, out, images="none")
        ann = out / ANNOTATION_FILE
        before, files = digest(ann), listing(ann.parent)
        store.add_frame(store.add_media(tmp_path / "more.jpg", "image", width=4, height=3, must_exist=False))
        with pytest.raises(Exception) as info, FAULTS[fault](monkeypatch):  # noqa: PT011 - checked below
            export_coco(store, out, images="none", overwrite=True)
    _assert_clear(info.value, ann)
    assert digest(ann) == before and len(load_coco(ann).images) == 4
    assert listing(ann.parent) == files


def test_project_export_into_a_folder_under_a_file(tmp_path, project):
    (tmp_path / "plain-file").write_text("x")
    with ProjectStore.open(project) as store, pytest.raises(OSError) as info:
        export_coco(store, tmp_path / "plain-file" / "export")
    assert str(tmp_path / "plain-file") in str(info.value)


# ------------------------------------------------------------------------------------------------ the CLI


def _one_error_line(capsys, command: str, *needles: object) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"distilpose {command}: error: ") and "Traceback" not in err[0]
    for needle in needles:
        assert str(needle) in err[0], err[0]
    return err[0]


def test_cli_project_export_under_a_file_exits_2_with_one_line(tmp_path, project, capsys):
    (tmp_path / "plain-file").write_text("x")
    out = tmp_path / "plain-file" / "export"
    assert main(["project", "export-coco", str(project), str(out), "--images", "none"]) == 2
    _one_error_line(capsys, "project", out / ANNOTATION_FILE, "Not a directory")


def test_cli_project_export_on_a_full_disk_exits_2_with_one_line(tmp_path, project, monkeypatch, capsys):
    """Found here: an OSError escaped main() as a traceback; now it is one line naming the file."""
    out = tmp_path / "export"
    with _enospc_on_fsync(monkeypatch):
        assert main(["project", "export-coco", str(project), str(out), "--images", "none"]) == 2
    _one_error_line(capsys, "project", out / ANNOTATION_FILE, "No space left on device")
    assert not (out / ANNOTATION_FILE).exists() and listing(out / "annotations") == []


def test_cli_project_export_copying_images_on_a_full_disk(tmp_path, project, monkeypatch, capsys):
    """An image copy failing with ENOSPC is one line naming the image being written (not the source), and
    leaves no partial image."""
    out = tmp_path / "export"
    with _enospc_on_write(monkeypatch):
        assert main(["project", "export-coco", str(project), str(out)]) == 2
    line = _one_error_line(capsys, "project", out / "images", "No space left on device")
    assert str(tmp_path / "src") not in line
    assert not [p for p in out.rglob("*") if p.is_file()]


def test_cli_onnx_export_refused_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"previous")
    with _rename_refused(monkeypatch):
        assert main(["export", "distilpose-t", "--onnx", str(out)]) == 2
    _one_error_line(capsys, "export", out, "Permission denied")
    assert out.read_bytes() == b"previous" and listing(tmp_path) == ["m.onnx"]


def test_cli_train_checkpoint_on_a_full_disk_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    from distilpose.training.synthetic import smoke_config, write_random_teacher

    torch.set_num_threads(1)
    teacher = write_random_teacher(tmp_path / "teacher.safetensors")
    cfg = tmp_path / "c.json"
    raw = smoke_config(tmp_path, teacher_weights=teacher, num_images=2, max_steps=2, checkpoint_every_steps=1)
    cfg.write_text(json.dumps(raw))
    run = tmp_path / "run"
    with _enospc_on_fsync(monkeypatch, only_suffix=".pt"):  # the checkpoint, not config.json or events
        assert main(["train", str(cfg), "--out", str(run), "--device", "cpu", "--no-progress"]) == 2
    line = _one_error_line(capsys, "train", "No space left on device")
    assert str(run) in line and line.endswith(".pt: No space left on device")
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]
