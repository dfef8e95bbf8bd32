"""Checkpoints that carry pickled code are refused by every loader, with a CheckpointError naming the file,
and the code never runs: the payloads below would create a marker file (or crash the test) if unpickled."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from distilpose.cli import main
from distilpose.errors import CheckpointError
from distilpose.models.checkpoint import load_model, load_state_dict_file, load_weights
from distilpose.models.registry import create_model
from distilpose.training.checkpointing import load_checkpoint

pytestmark = pytest.mark.timeout(120)


class RunsShell:
    """Unpickling this runs ``os.system`` (the classic malicious checkpoint)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class WritesMarker:
    """Unpickling this calls a Python function with a side effect (no shell involved)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


class Custom:
    """A harmless custom class: still code a loader would have to import and run, so refused too."""

    def __init__(self):
        self.value = 3


def _payloads(marker: Path) -> dict[str, object]:
    weights = {"backbone.w": torch.zeros(2, 2)}
    training = {"format": 1, "model_state": weights, "optimizer": {}, "step": 1, "epoch": 0, "config": {}}
    return {
        "os-system-in-state-dict": {**weights, "evil": RunsShell(marker)},
        "os-system-beside-state-dict": {"state_dict": weights, "meta": RunsShell(marker)},
        "write-text-in-training-checkpoint": {**training, "rng": WritesMarker(marker)},
        "custom-class-instance": {**weights, "extra": Custom()},
        "custom-class-as-the-whole-file": Custom(),
    }


@pytest.fixture(params=sorted(_payloads(Path("x"))), ids=str)
def evil(request, tmp_path) -> tuple[Path, Path, str]:
    marker = tmp_path / "code-ran"
    path = tmp_path / f"{request.param}.pth"
    torch.save(_payloads(marker)[request.param], path)
    return path, marker, request.param


def _refused(exc: BaseException, path: Path, name: str) -> None:
    assert isinstance(exc, CheckpointError)
    text = str(exc)
    assert text.startswith(f"{path}: refused: the file holds pickled code or objects"), text
    culprit = (
        "Custom" if "custom" in name else ("posix.system" if "os-system" in name else "builtins.getattr")
    )
    assert culprit in text, text
    assert "weights_only=False" not in text  # never advise the user to run the file's code


def test_load_state_dict_file_refuses(evil):
    path, marker, name = evil
    with pytest.raises(CheckpointError) as info:
        load_state_dict_file(path)
    _refused(info.value, path, name)
    assert not marker.exists()


def test_load_model_and_load_weights_refuse(evil):
    path, marker, name = evil
    for load in (
        lambda: load_model(path, arch="distilpose-t"),
        lambda: load_weights(create_model("distilpose-t"), path),
    ):
        with pytest.raises(CheckpointError) as info:
            load()
        _refused(info.value, path, name)
    assert not marker.exists()


def test_load_model_without_arch_says_refused_not_missing_arch(evil):
    """Found here: with no --arch the error said 'does not name its architecture', hiding that the file
    holds code; the file is now checked first."""
    path, marker, name = evil
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    _refused(info.value, path, name)
    assert not marker.exists()


def test_training_load_checkpoint_refuses(evil):
    """Found here: the message was torch's, which suggests re-running with weights_only=False."""
    path, marker, name = evil
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    _refused(info.value, path, name)
    assert not marker.exists()


@pytest.mark.parametrize("arch", [[], ["--arch", "distilpose-t"]], ids=["no-arch", "arch"])
def test_cli_info_refuses_with_one_line(evil, capsys, arch):
    path, marker, name = evil
    assert main(["info", str(path), *arch]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"distilpose info: error: {path}: refused:") and "Traceback" not in err[0]
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_plain_pickle_files_are_refused_too(tmp_path):
    """A legacy (non-zip) pickle with a shell payload: refused as unreadable, the shell never runs."""
    marker = tmp_path / "code-ran"
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        path = tmp_path / f"legacy-{protocol}.pkl"
        path.write_bytes(pickle.dumps({"w": RunsShell(marker)}, protocol=protocol))
        for load in (load_state_dict_file, load_checkpoint, lambda p: load_model(p, arch="distilpose-t")):
            with pytest.raises(CheckpointError) as info:
                load(path)
            assert str(info.value).startswith(f"{path}: ")
            assert "weights_only=False" not in str(info.value)
    assert not marker.exists()


def test_random_bytes_are_not_called_pickled_code(tmp_path):
    """Found here: any unreadable file was reported as 'holds pickled code (unknown)'."""
    path = tmp_path / "noise.pt"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(CheckpointError, match=r"noise\.pt: not a readable checkpoint \(damaged"):
        load_state_dict_file(path)
    with pytest.raises(CheckpointError, match=r"noise\.pt: not a readable training checkpoint"):
        load_checkpoint(path)


def test_the_payloads_really_run_code_when_unpickled_unsafely(tmp_path):
    """Guards the tests above: with weights_only=False the same files DO run their code (in a throw-away
    subprocess), so 'the marker was not created' above means the loader refused, not a dud payload."""
    import subprocess
    import sys

    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pth"
    torch.save(_payloads(marker)["os-system-in-state-dict"], path)
    code = "import sys, torch; sys.path.insert(0, sys.argv[2]); torch.load(sys.argv[1], weights_only=False)"
    repo = str(Path(__file__).resolve().parents[2])
    subprocess.run(
        [sys.executable, "-c", code, str(path), repo], check=False, capture_output=True, timeout=60
    )
    assert marker.exists()
