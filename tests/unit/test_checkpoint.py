"""Checkpoint I/O: safe loading, mismatch reports, safetensors round trip, load_model."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch

from distilpose.errors import CheckpointError, UnknownModelError
from distilpose.models import create_model
from distilpose.models.checkpoint import (
    MAX_LISTED,
    load_model,
    load_state_dict_file,
    load_weights,
    read_metadata,
    save_weights,
)


class Payload:
    """A custom class: a checkpoint pickling one must be refused (it could run code on load)."""

    def __reduce__(self):
        return (print, ("pwned",))


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_model("distilpose-t").eval()


def test_pickled_object_is_refused(tmp_path, tiny):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": tiny.state_dict(), "hook": Payload()}, path)
    with pytest.raises(CheckpointError) as info:
        load_state_dict_file(path)
    msg = str(info.value)
    assert str(path) in msg and "pickled code or objects" in msg and "print" in msg


def test_garbage_and_missing_files(tmp_path):
    bad = tmp_path / "noise.pth"
    bad.write_bytes(b"\x00\x01not a checkpoint at all")
    with pytest.raises(CheckpointError, match="noise.pth"):
        load_state_dict_file(bad)
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_state_dict_file(tmp_path / "absent.safetensors")


def test_mmpose_wrapper_numpy_meta_and_module_prefix(tmp_path, tiny):
    """mmcv saves {'meta', 'state_dict', 'optimizer'}; meta may hold numpy scores; DDP adds 'module.'."""
    state = collections.OrderedDict(("module." + k, v) for k, v in tiny.state_dict().items())
    path = tmp_path / "official.pth"
    meta = {
        "epoch": 210,
        "hook_msgs": {"best_score": np.float64(0.716), "curve": np.zeros(3)},
        "mmcv_version": "1.3.9",
    }
    torch.save({"meta": meta, "state_dict": state, "optimizer": {"state": {}, "param_groups": []}}, path)
    loaded = load_state_dict_file(path)
    assert set(loaded) == set(tiny.state_dict())
    model = create_model("distilpose-t")
    assert load_weights(model, path).ok


def test_non_tensor_entries_are_named(tmp_path):
    path = tmp_path / "mixed.pth"
    torch.save({"a.weight": torch.zeros(2), "note": "hello"}, path)
    with pytest.raises(CheckpointError, match=r"not tensors: note"):
        load_state_dict_file(path)


def test_mismatch_report_lists_missing_unexpected_and_shapes(tiny):
    state = dict(tiny.state_dict())
    del state["keypoint_head.tokenhead.mlp_head.1.bias"]
    state["keypoint_head.tokenhead.extra.weight"] = torch.zeros(3)
    state["backbone.conv1.weight"] = torch.zeros(16, 3, 3, 3)
    model = create_model("distilpose-t")
    with pytest.raises(CheckpointError) as info:
        load_weights(model, state)
    msg = str(info.value)
    assert "'distilpose-t'" in msg
    assert "missing keys (1): keypoint_head.tokenhead.mlp_head.1.bias" in msg
    assert "unexpected keys (1): keypoint_head.tokenhead.extra.weight" in msg
    assert "shape mismatches (1): backbone.conv1.weight (expected [32, 3, 3, 3], got [16, 3, 3, 3])" in msg
    # non-strict: loads what matches and reports the rest
    report = load_weights(model, state, strict=False)
    assert not report.ok and report.missing == ["keypoint_head.tokenhead.mlp_head.1.bias"]
    torch.testing.assert_close(model.backbone.conv2.weight, tiny.backbone.conv2.weight)


def test_long_lists_are_truncated(tiny):
    model = create_model("distilpose-t")
    with pytest.raises(CheckpointError) as info:
        load_weights(model, {"x.weight": torch.zeros(1)})
    msg = str(info.value)
    total = len(model.state_dict())
    assert f"missing keys ({total})" in msg
    assert f"... and {total - MAX_LISTED} more" in msg


def test_safetensors_round_trip_keeps_outputs(tmp_path, tiny):
    path = tmp_path / "ckpt" / "t.safetensors"
    save_weights(tiny, path, {"epoch": "12", "note": "unit test"})
    assert [p.name for p in path.parent.iterdir()] == ["t.safetensors"]  # no temp file left behind
    meta = read_metadata(path)
    assert (
        meta["model"] == "distilpose-t" and meta["epoch"] == "12" and meta["format"].startswith("distilpose")
    )
    model, spec = load_model(path)
    assert spec.name == "distilpose-t" and not model.training
    x = torch.randn(1, 3, 256, 192)
    with torch.no_grad():
        a, b = tiny(x), model(x)
    for k, v in a.present().items():
        assert torch.equal(v, b.present()[k]), k


def test_save_weights_validates_metadata(tmp_path, tiny):
    with pytest.raises(ValueError, match="str to str"):
        save_weights(tiny, tmp_path / "a.safetensors", {"epoch": 3})
    with pytest.raises(ValueError, match="'distilpose-s'"):
        save_weights(tiny, tmp_path / "a.safetensors", {"model": "distilpose-s"})
    assert not (tmp_path / "a.safetensors").exists()


def test_load_model_names_paths_and_arch(tmp_path, tiny):
    model, spec = load_model("distilpose-t")
    assert spec.name == "distilpose-t"
    with pytest.raises(UnknownModelError, match="Available models"):
        load_model("distilpose-xl")
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_model(str(tmp_path / "missing.pth"))
    # an official-style .pth names no architecture: arch= is required
    pth = tmp_path / "official.pth"
    torch.save({"state_dict": tiny.state_dict()}, pth)
    with pytest.raises(CheckpointError, match="pass arch="):
        load_model(pth)
    model, spec = load_model(pth, arch="distilpose-t")
    torch.testing.assert_close(model.backbone.conv1.weight, tiny.backbone.conv1.weight)
    # a safetensors file that names one model cannot be loaded as another
    st = tmp_path / "t.safetensors"
    save_weights(tiny, st)
    with pytest.raises(CheckpointError, match="'distilpose-t' checkpoint, not 'distilpose-s'"):
        load_model(st, arch="distilpose-s")
    with pytest.raises(CheckpointError, match=r"does not match model 'distilpose-s'"):
        load_model(pth, arch="distilpose-s")
