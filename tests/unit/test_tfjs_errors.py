"""Malformed TF.js models give clear errors naming the file or node, never an obscure exception."""

from __future__ import annotations

import copy
import hashlib
import json
import random

import numpy as np
import pytest
import torch

from distilpose.errors import DistilPoseError
from distilpose.zoo.tfjs import GraphRuntimeError, TfjsFormatError, UnsupportedOpError, load_tfjs
from tests.unit.test_tfjs_ops import conv_node, i, node, placeholder, s, strs, write_model


def _valid(tmp_path):
    conv = conv_node(
        "y",
        "x",
        "w",
        2,
        "SAME",
        op="_FusedConv2D",
        args=["b"],
        fused_ops=strs(["BiasAdd", "Relu6"]),
        num_args=i(1),
    )
    nodes = [placeholder(shape=(1, 4, 4, 1)), conv, node("out", "Sigmoid", ["y"])]
    consts = {"w": np.ones((3, 3, 1, 2), np.float32), "b": np.array([0.5, -1], np.float32)}
    return write_model(tmp_path, nodes, consts, outputs=["out"], float16=("w",))


def _edit(path, fn):
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))
    return path


def _nodes(doc):
    return doc["modelTopology"]["node"]


def test_valid_model_loads(tmp_path):
    graph = load_tfjs(_valid(tmp_path))
    assert graph(torch.zeros(1, 4, 4, 1)).shape == (1, 2, 2, 2)


def test_not_json_names_the_file(tmp_path):
    path = _valid(tmp_path)
    path.write_text('{"format": "graph-model", "modelTopology": ')
    with pytest.raises(TfjsFormatError, match=r"model\.json: not valid JSON"):
        load_tfjs(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(TfjsFormatError, match=r"nope\.json: model file not found"):
        load_tfjs(tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.clear(), r"'modelTopology\.node' must be a list"),
        (lambda d: d.__setitem__("format", "layers-model"), r"not a TF\.js graph model"),
        (lambda d: _nodes(d)[1].pop("op"), r"node 'y' has no valid 'op'"),
        (lambda d: _nodes(d).append(copy.deepcopy(_nodes(d)[1])), r"node 'y' is defined twice"),
        (
            lambda d: _nodes(d)[2].__setitem__("input", ["ghost"]),
            r"node 'out' reads 'ghost', which is not in the graph",
        ),
        (lambda d: _nodes(d)[1].__setitem__("input", ["out", "w", "b"]), r"cycle through node"),
        (
            lambda d: _nodes(d)[1]["attr"].__setitem__("padding", {"s": "@@not base64@@"}),
            r"node 'y': attribute 'padding'",
        ),
        (
            lambda d: _nodes(d)[1]["attr"].__setitem__("padding", s("CAUSAL")),
            r"node 'y' \(_FusedConv2D\): .*padding 'CAUSAL'",
        ),
        (
            lambda d: _nodes(d)[1]["attr"].__setitem__("strides", {"list": {"i": ["1", "2"]}}),
            r"'strides' should have 4",
        ),
        (
            lambda d: _nodes(d)[1]["attr"].__setitem__("num_args", i(3)),
            r"node 'y' \(_FusedConv2D\): expects 5 inputs",
        ),
        (
            lambda d: d["weightsManifest"][0]["weights"][0].__setitem__("dtype", "string"),
            r"weight 'w': unsupported dtype",
        ),
        (
            lambda d: d["weightsManifest"][0]["weights"][0].__setitem__("shape", [3, -3]),
            r"'shape' must be a list",
        ),
        (lambda d: _nodes(d).append(node("c", "Const")), r"Const node 'c' has no entry in weightsManifest"),
        (
            lambda d: d["weightsManifest"][0].__setitem__("paths", ["../model.bin"]),
            r"refusing weights path '\.\./model\.bin'",
        ),
        (lambda d: d["weightsManifest"][0].__setitem__("paths", ["/etc/passwd"]), r"refusing weights path"),
        (
            lambda d: d["weightsManifest"][0].__setitem__("paths", ["other.bin"]),
            r"other\.bin: weights file listed in model\.json is missing",
        ),
        (
            lambda d: d.__setitem__("signature", {"outputs": {"o": {"name": "nothere:0"}}}),
            r"signature output 'nothere:0'",
        ),
    ],
)
def test_malformed_model_json(tmp_path, edit, message):
    path = _edit(_valid(tmp_path), edit)
    with pytest.raises(TfjsFormatError, match=message):
        load_tfjs(path)


def test_unsupported_op_names_op_and_node(tmp_path):
    path = _edit(_valid(tmp_path), lambda d: _nodes(d)[2].__setitem__("op", "FancyNewOp"))
    with pytest.raises(UnsupportedOpError, match=r"node 'out' uses op 'FancyNewOp'"):
        load_tfjs(path)


def test_unsupported_fused_op(tmp_path):
    path = _edit(
        _valid(tmp_path), lambda d: _nodes(d)[1]["attr"].__setitem__("fused_ops", strs(["BiasAdd", "Gelu"]))
    )
    with pytest.raises(UnsupportedOpError, match=r"node 'y' \(_FusedConv2D\): fused op 'Gelu'"):
        load_tfjs(path)


def test_truncated_and_oversized_bin(tmp_path):
    path = _valid(tmp_path)
    bin_path = tmp_path / "model.bin"
    data = bin_path.read_bytes()
    bin_path.write_bytes(data[:-3])
    with pytest.raises(
        TfjsFormatError, match=r"model\.bin: weights need 44 bytes but the file\(s\) hold 41 \(truncated\?\)"
    ):
        load_tfjs(path)
    bin_path.write_bytes(data + b"\0")
    with pytest.raises(TfjsFormatError, match=r"model\.bin: the file\(s\) hold 45 bytes"):
        load_tfjs(path)


def test_checksums_are_verified_per_file(tmp_path):
    path = _valid(tmp_path)
    good = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (path, tmp_path / "model.bin")}
    load_tfjs(path, sha256=good)
    with pytest.raises(
        TfjsFormatError, match=r"model\.bin: sha256 [0-9a-f]{64} does not match the expected 0{64}"
    ):
        load_tfjs(path, sha256={**good, "model.bin": "0" * 64})
    with pytest.raises(TfjsFormatError, match=r"model\.json: sha256"):
        load_tfjs(path, sha256={**good, "model.json": "f" * 64})
    with pytest.raises(TfjsFormatError, match="checksums given for files the model does not use"):
        load_tfjs(path, sha256={**good, "extra.bin": "0" * 64})


def test_runtime_errors_name_input_or_node(tmp_path):
    graph = load_tfjs(_valid(tmp_path))
    with pytest.raises(DistilPoseError, match=r"input 'x' expects shape \(1, 4, 4, 1\), got \(1, 4, 4, 3\)"):
        graph(torch.zeros(1, 4, 4, 3))
    with pytest.raises(DistilPoseError, match="no node named 'nothere'"):
        graph(torch.zeros(1, 4, 4, 1), outputs="nothere")
    with pytest.raises(DistilPoseError, match="cannot feed 'ghost'"):
        graph(outputs="out", feeds={"ghost": torch.zeros(1)})
    with pytest.raises(DistilPoseError, match="graph input 'x' is needed but was not given"):
        graph(outputs="out")
    with pytest.raises(GraphRuntimeError, match=r"node 'out' reads output 1 of 'y'"):
        _edit(tmp_path / "model.json", lambda d: _nodes(d)[2].__setitem__("input", ["y:1"]))
        load_tfjs(tmp_path / "model.json")(torch.zeros(1, 4, 4, 1))


def test_conv_channel_mismatch_is_a_runtime_error_naming_the_node(tmp_path):
    nodes = [placeholder(shape=(1, 4, 4, -1)), conv_node("y", "x", "w", 1, "SAME")]
    graph = load_tfjs(write_model(tmp_path, nodes, {"w": np.ones((3, 3, 2, 1), np.float32)}))
    with pytest.raises(GraphRuntimeError, match=r"node 'y' \(Conv2D\) failed"):
        graph(torch.zeros(1, 4, 4, 3), outputs="y")


def _mutate(rng: random.Random, value):
    """Replace one randomly chosen leaf or container of a JSON document with a random junk value."""
    junk = [None, True, -1, 0, 2**40, 1.5, "", "x", "AAAA", [], {}, [1, 2], {"i": "x"}, {"list": 5}, "NaN"]
    path, target = [], value
    while isinstance(target, (dict, list)) and target and rng.random() < 0.8:
        key = rng.choice(list(target)) if isinstance(target, dict) else rng.randrange(len(target))
        path.append((target, key))
        target = target[key]
    if not path:
        return rng.choice(junk)
    parent, key = path[-1]
    action = rng.random()
    if action < 0.2 and isinstance(parent, dict):
        del parent[key]
    elif action < 0.3 and isinstance(parent, list):
        parent.insert(key, rng.choice(junk))
    else:
        parent[key] = rng.choice(junk)
    return value


def test_fuzzed_model_json_never_raises_anything_but_distilpose_errors(tmp_path):
    """Seeded mutations of a valid model: each loads (and runs) or fails with a DistilPoseError."""
    base = json.loads(_valid(tmp_path).read_text())
    data = (tmp_path / "model.bin").read_bytes()
    rng = random.Random(1234)
    outcomes = {"loaded": 0, "refused": 0}
    for trial in range(400):
        doc = _mutate(rng, copy.deepcopy(base))
        for _ in range(rng.randrange(3)):
            doc = _mutate(rng, doc)
        text = json.dumps(doc)
        if trial % 7 == 0:
            text = text[: rng.randrange(len(text) + 1)]
        (tmp_path / "model.json").write_text(text)
        (tmp_path / "model.bin").write_bytes(data if trial % 5 else data[: rng.randrange(len(data) + 1)])
        try:
            graph = load_tfjs(tmp_path / "model.json")
            graph(torch.zeros(1, 4, 4, 1), outputs=list(graph.output_names) or None)
            outcomes["loaded"] += 1
        except DistilPoseError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 100 and outcomes["loaded"] > 10, outcomes
