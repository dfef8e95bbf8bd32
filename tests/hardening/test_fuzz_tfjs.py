"""Fuzzing the TensorFlow.js importer: a mutated model.json or a truncated/extended/damaged .bin of a small
real graph (convolution with float16 weights, pooling, reshape, arithmetic, a reduction) loads and runs, or
fails with a DistilPoseError naming the model or weights file. Nothing else escapes, nothing hangs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import event, given
from hypothesis import strategies as st

from distilpose.errors import DistilPoseError
from distilpose.zoo.tfjs import GraphRuntimeError, load_tfjs, read_tfjs
from tests.hardening.support import FUZZ, address_space_headroom, assert_names_file, mutate, skip_unless_linux
from tests.unit.test_tfjs_ops import conv_node, i, ints, node, placeholder, s, strs, write_model

X = torch.linspace(-1, 1, 16).reshape(1, 4, 4, 1)


def _graph_files(folder: Path) -> Path:
    conv = conv_node(
        "conv", "x", "w", 1, "SAME", op="_FusedConv2D", args=["b"], fused_ops=strs(["BiasAdd", "Relu"]), num_args=i(1)
    )  # fmt: skip
    pool = node(
        "pool", "MaxPool", ["conv"], ksize=ints([1, 2, 2, 1]), strides=ints([1, 2, 2, 1]), padding=s("VALID"),
        data_format=s("NHWC"),
    )  # fmt: skip
    nodes = [
        placeholder(shape=(1, 4, 4, 1)),
        conv,
        pool,
        node("flat", "Reshape", ["pool", "shape"]),
        node("shifted", "AddV2", ["flat", "offset"]),
        node("out", "Sigmoid", ["shifted"]),
        node("mean", "Mean", ["conv", "axes"], keep_dims={"b": False}),
    ]
    consts = {
        "w": np.arange(18, dtype=np.float32).reshape(3, 3, 1, 2) / 10,
        "b": np.array([0.5, -1.0], np.float32),
        "shape": np.array([1, -1], np.int32),
        "offset": np.float32(0.25) * np.ones(8, np.float32),
        "axes": np.array([1, 2], np.int32),
    }
    return write_model(folder, nodes, consts, outputs=["out", "mean"], float16=("w",))


@pytest.fixture(scope="module")
def seed_model(tmp_path_factory) -> tuple[dict, bytes]:
    path = _graph_files(tmp_path_factory.mktemp("tfjs"))
    return json.loads(path.read_text()), path.with_suffix(".bin").read_bytes()


def test_seed_graph_runs_and_matches_hand_computation(tmp_path):
    """The fuzz starts from a model that loads and computes the right numbers."""
    graph = load_tfjs(_graph_files(tmp_path))
    with torch.no_grad():
        out, mean = graph(X)
    w = (np.arange(18, dtype=np.float32).reshape(3, 3, 1, 2) / 10).astype(np.float16).astype(np.float32)
    padded = np.pad(X.numpy()[0, :, :, 0], 1)
    conv = np.stack(
        [[[(padded[r : r + 3, c : c + 3] * w[:, :, 0, k]).sum() for k in range(2)] for c in range(4)] for r in range(4)]
    ) + np.array([0.5, -1.0])  # fmt: skip
    conv = np.maximum(conv, 0)
    pooled = conv.reshape(2, 2, 2, 2, 2).max(axis=(1, 3)).reshape(1, -1)
    np.testing.assert_allclose(out.numpy(), 1 / (1 + np.exp(-(pooled + 0.25))), rtol=1e-5)
    np.testing.assert_allclose(mean.numpy(), conv.mean(axis=(0, 1))[None], rtol=1e-5)


def _run(folder: Path, json_path: Path) -> None:
    """Load and run; any failure must be one of ours naming the model (or its weights file)."""
    files = (json_path, folder / "model.bin")
    try:
        with address_space_headroom(3 * 1024**3):  # a fuzzed shape must fail to allocate, not exhaust RAM
            graph = load_tfjs(json_path)
            with torch.no_grad():
                outputs = graph(X, outputs=list(graph.output_names) or None)
    except Exception as exc:  # noqa: BLE001
        assert_names_file(exc, *files)
        event(f"refused: {type(exc).__name__}")
        return
    event("loaded and ran")
    for out in outputs if isinstance(outputs, tuple) else (outputs,):
        assert isinstance(out, torch.Tensor)


@pytest.mark.timeout(150)
@FUZZ
@given(data=st.data())
def test_mutated_model_json(tmp_path, seed_model, data):
    skip_unless_linux()
    torch.set_num_threads(1)
    doc, weights = seed_model
    (tmp_path / "model.bin").write_bytes(weights)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(mutate(data, doc, max_edits=3)))
    _run(tmp_path, path)


@pytest.mark.timeout(150)
@FUZZ
@given(data=st.data())
def test_damaged_weights_file(tmp_path, seed_model, data):
    skip_unless_linux()
    torch.set_num_threads(1)
    doc, weights = seed_model
    kind = data.draw(st.sampled_from(["truncate", "extend", "flip", "empty", "folder"]), label="bin edit")
    raw = bytearray(weights)
    if kind == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="cut")]
    elif kind == "extend":
        raw += data.draw(st.binary(min_size=1, max_size=64), label="tail")
    elif kind == "flip":  # any bit pattern: NaN/Inf weights must still run or fail cleanly
        for _ in range(data.draw(st.integers(1, 6), label="flips")):
            raw[data.draw(st.integers(0, len(raw) - 1), label="at")] = data.draw(
                st.integers(0, 255), label="b"
            )
    elif kind == "empty":
        raw = bytearray()
    bin_path = tmp_path / "model.bin"
    if bin_path.is_dir():
        bin_path.rmdir()
    if kind == "folder":
        bin_path.unlink(missing_ok=True)
        bin_path.mkdir()
    else:
        bin_path.write_bytes(bytes(raw))
    path = tmp_path / "model.json"
    path.write_text(json.dumps(doc))
    if kind in ("truncate", "extend", "empty", "folder"):
        with pytest.raises(DistilPoseError) as info:
            read_tfjs(path)
        assert_names_file(info.value, bin_path)
    else:
        _run(tmp_path, path)


@pytest.mark.timeout(60)
def test_runtime_errors_name_the_model_file(tmp_path, seed_model):
    """Found by the fuzz: errors raised while running (wrong input shape, a bad output reference) named the
    node but not the model, so a user with several models could not tell which one failed."""
    doc, weights = seed_model
    (tmp_path / "model.bin").write_bytes(weights)
    path = tmp_path / "model.json"
    doc = json.loads(json.dumps(doc))
    next(n for n in doc["modelTopology"]["node"] if n["name"] == "out")["input"] = ["shifted:1"]
    path.write_text(json.dumps(doc))
    graph = load_tfjs(path)
    with pytest.raises(GraphRuntimeError, match=r"node 'out' reads output 1 of 'shifted'") as info:
        graph(X)
    assert str(path) in str(info.value)
    with pytest.raises(DistilPoseError, match=r"input 'x' expects shape") as info:
        graph(torch.zeros(1, 5, 4, 1))
    assert str(path) in str(info.value)
