"""TF.js importer op semantics on tiny hand-built graphs, with hand-computed expected values.

No download needed. ``write_model`` (also used by test_tfjs_errors.py) writes a real model.json + .bin
in the TF.js graph-model format.
"""

from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from distilpose.zoo.tfjs import TfjsGraph, load_tfjs

# ------------------------------------------------------------------------------------------ model writer


def s(text: str) -> dict:
    return {"s": base64.b64encode(text.encode()).decode()}


def i(value: int) -> dict:
    return {"i": str(value)}


def b(value: bool) -> dict:
    return {"b": value}


def ints(values) -> dict:
    return {"list": {"i": [str(v) for v in values]}}


def strs(values) -> dict:
    return {"list": {"s": [base64.b64encode(v.encode()).decode() for v in values]}}


def dtype(name: str) -> dict:
    return {"type": name}


def node(name: str, op: str, inputs=(), **attr) -> dict:
    out = {"name": name, "op": op, "attr": attr}
    if inputs:
        out["input"] = list(inputs)
    return out


def placeholder(name: str = "x", shape=(1, -1, -1, 1), dt: str = "DT_FLOAT") -> dict:
    return node(
        name, "Placeholder", dtype=dtype(dt), shape={"shape": {"dim": [{"size": str(d)} for d in shape]}}
    )


def write_model(
    folder: Path,
    nodes: list[dict],
    consts: dict[str, np.ndarray] | None = None,
    *,
    outputs: list[str] | None = None,
    float16: tuple[str, ...] = (),
    uint8: dict[str, tuple[float, float]] | None = None,
    name: str = "model",
) -> Path:
    """Write ``name.json`` + ``name.bin``; each const also gets a Const node."""
    consts = consts or {}
    uint8 = uint8 or {}
    entries, chunks = [], []
    all_nodes = list(nodes)
    for key, value in consts.items():
        value = np.asarray(value)
        entry = {"name": key, "shape": list(value.shape)}
        if value.dtype.kind == "f":
            entry["dtype"] = "float32"
            if key in float16:
                entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
                chunks.append(value.astype("<f2").tobytes())
            elif key in uint8:
                scale, low = uint8[key]
                entry["quantization"] = {
                    "dtype": "uint8",
                    "scale": scale,
                    "min": low,
                    "original_dtype": "float32",
                }
                chunks.append(np.round((value - low) / scale).astype(np.uint8).tobytes())
            else:
                chunks.append(value.astype("<f4").tobytes())
        else:
            entry["dtype"] = "int32"
            chunks.append(value.astype("<i4").tobytes())
        entries.append(entry)
        all_nodes.append(
            node(key, "Const", dtype=dtype("DT_FLOAT" if value.dtype.kind == "f" else "DT_INT32"))
        )
    doc = {
        "format": "graph-model",
        "modelTopology": {"node": all_nodes, "library": {}, "versions": {}},
        "weightsManifest": [{"paths": [f"{name}.bin"], "weights": entries}],
    }
    if outputs:
        doc["signature"] = {"outputs": {o: {"name": f"{o}:0"} for o in outputs}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.bin").write_bytes(b"".join(chunks))
    path = folder / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path


def run(tmp_path: Path, nodes, consts, x, outputs, **kw):
    graph = load_tfjs(write_model(tmp_path, nodes, consts, **kw))
    with torch.no_grad():
        out = graph(torch.as_tensor(x), outputs=outputs)
    if isinstance(out, tuple):
        return tuple(o.numpy() for o in out)
    return out.numpy()


def nhwc(a: np.ndarray) -> np.ndarray:
    """(H, W) -> (1, H, W, 1) float32."""
    return np.asarray(a, dtype=np.float32)[None, :, :, None]


# ------------------------------------------------------------------------------------------ convolution


def conv_node(name, x, w, stride, padding, op="Conv2D", **extra):
    return node(
        name,
        op,
        [x, w, *extra.pop("args", [])],
        strides=ints([1, stride, stride, 1]),
        padding=s(padding),
        data_format=s("NHWC"),
        dilations=ints([1, 1, 1, 1]),
        **extra,
    )


def test_conv_same_stride2_pads_the_odd_pixel_after(tmp_path):
    # 4x4 input 1..16, 3x3 ones, stride 2, SAME: output 2x2, total padding 1 per axis, all of it
    # at the bottom/right (PyTorch's symmetric padding=1 would give 14 at [0, 0]).
    x = nhwc(np.arange(1, 17).reshape(4, 4))
    w = np.ones((3, 3, 1, 1), np.float32)
    y = run(tmp_path, [placeholder(), conv_node("y", "x", "w", 2, "SAME")], {"w": w}, x, "y")
    expected = [
        [1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11, 3 + 4 + 7 + 8 + 11 + 12],
        [9 + 10 + 11 + 13 + 14 + 15, 11 + 12 + 15 + 16],
    ]
    np.testing.assert_array_equal(y[0, :, :, 0], expected)


def test_conv_valid_and_same_stride1(tmp_path):
    x = nhwc(np.arange(1, 17).reshape(4, 4))
    w = np.ones((3, 3, 1, 1), np.float32)
    nodes = [placeholder(), conv_node("v", "x", "w", 1, "VALID"), conv_node("s", "x", "w", 1, "SAME")]
    valid, same = run(tmp_path, nodes, {"w": w}, x, ("v", "s"))
    np.testing.assert_array_equal(valid[0, :, :, 0], [[54, 63], [90, 99]])
    assert same.shape == (1, 4, 4, 1)
    assert same[0, 0, 0, 0] == 1 + 2 + 5 + 6  # symmetric padding of 1 for a 3x3 kernel at stride 1
    assert same[0, 1, 1, 0] == 54


def test_fused_pointwise_conv_bias_relu6(tmp_path):
    # Two pixels with 2 channels; HWIO weights: channel 0 -> (1, 0.5), channel 1 -> (2, -1); bias (0.5, 1).
    x = np.array([[[[1, 2], [3, -4]]]], np.float32)
    w = np.array([[[[1, 0.5], [2, -1]]]], np.float32)
    bias = np.array([0.5, 1], np.float32)
    conv = conv_node(
        "y",
        "x",
        "w",
        1,
        "SAME",
        op="_FusedConv2D",
        args=["b"],
        fused_ops=strs(["BiasAdd", "Relu6"]),
        num_args=i(1),
    )
    y = run(tmp_path, [placeholder(shape=(1, 1, 2, 2)), conv], {"w": w, "b": bias}, x, "y")
    # pixel 0: (1+4+0.5, 0.5-2+1) = (5.5, -0.5) -> (5.5, 0); pixel 1: (3-8+0.5, 1.5+4+1) = (-4.5, 6.5) -> (0, 6)
    np.testing.assert_allclose(y[0, 0], [[5.5, 0.0], [0.0, 6.0]])


def test_depthwise_multiplier_orders_channels_like_tf(tmp_path):
    # Output channel c * M + m. Filters: (c0,m0) all ones, (c0,m1) centre only, (c1,m0) all twos,
    # (c1,m1) top-left only. VALID on 3x3 -> one pixel.
    ch0 = np.arange(1, 10, dtype=np.float32).reshape(3, 3)
    ch1 = np.arange(10, 19, dtype=np.float32).reshape(3, 3)
    x = np.stack([ch0, ch1], axis=-1)[None]
    w = np.zeros((3, 3, 2, 2), np.float32)
    w[:, :, 0, 0] = 1
    w[1, 1, 0, 1] = 1
    w[:, :, 1, 0] = 2
    w[0, 0, 1, 1] = 1
    nodes = [
        placeholder(shape=(1, 3, 3, 2)),
        conv_node("y", "x", "w", 1, "VALID", op="DepthwiseConv2dNative"),
    ]
    y = run(tmp_path, nodes, {"w": w}, x, "y")
    np.testing.assert_array_equal(y[0, 0, 0], [ch0.sum(), 5, 2 * ch1.sum(), 10])


def test_fused_depthwise_same_stride2_bias_relu(tmp_path):
    x = nhwc(np.arange(1, 17).reshape(4, 4))
    w = np.ones((3, 3, 1, 1), np.float32)
    conv = conv_node(
        "y",
        "x",
        "w",
        2,
        "SAME",
        op="FusedDepthwiseConv2dNative",
        args=["b"],
        fused_ops=strs(["BiasAdd", "Relu"]),
        num_args=i(1),
    )
    y = run(tmp_path, [placeholder(), conv], {"w": w, "b": np.array([-60.0], np.float32)}, x, "y")
    np.testing.assert_array_equal(y[0, :, :, 0], [[0, 0], [12, 0]])  # [[54, 45], [72, 54]] - 60, relu


def test_maxpool_same_never_picks_padding(tmp_path):
    x = nhwc(-np.arange(1, 10).reshape(3, 3))
    pool = node(
        "y",
        "MaxPool",
        ["x"],
        ksize=ints([1, 3, 3, 1]),
        strides=ints([1, 1, 1, 1]),
        padding=s("SAME"),
        data_format=s("NHWC"),
    )
    y = run(tmp_path, [placeholder(), pool], {}, x, "y")
    np.testing.assert_array_equal(y[0, :, :, 0], [[-1, -1, -2], [-1, -1, -2], [-4, -4, -5]])


def test_avgpool_same_counts_only_real_cells(tmp_path):
    x = nhwc(np.arange(1, 5).reshape(2, 2))
    pool = node(
        "y",
        "AvgPool",
        ["x"],
        ksize=ints([1, 2, 2, 1]),
        strides=ints([1, 1, 1, 1]),
        padding=s("SAME"),
        data_format=s("NHWC"),
    )
    y = run(tmp_path, [placeholder(), pool], {}, x, "y")
    np.testing.assert_allclose(y[0, :, :, 0], [[2.5, 3.0], [3.5, 4.0]])


# ------------------------------------------------------------------------------------------ resizing


def resize_nodes(op: str, align: bool, half: bool):
    return [placeholder(), node("y", op, ["x", "size"], align_corners=b(align), half_pixel_centers=b(half))]


RAMP = nhwc([[0, 1], [2, 3]])  # value = x + 2 y


def _separable(wx, wy):
    return np.add.outer(2 * np.asarray(wy), np.asarray(wx))


@pytest.mark.parametrize(
    ("align", "half", "weights"),
    [
        (False, True, [0, 0.25, 0.75, 1]),  # source (i + .5) / 2 - .5 = -.25, .25, .75, 1.25, clamped
        (False, False, [0, 0.5, 1, 1]),  # legacy: source i / 2 = 0, .5, 1, 1.5 (upper tap clamped)
        (True, False, [0, 1 / 3, 2 / 3, 1]),  # align corners: source i / 3
    ],
)
def test_resize_bilinear_modes(tmp_path, align, half, weights):
    size = np.array([4, 4], np.int32)
    y = run(tmp_path, resize_nodes("ResizeBilinear", align, half), {"size": size}, RAMP, "y")
    np.testing.assert_allclose(y[0, :, :, 0], _separable(weights, weights), atol=1e-6)


def test_resize_bilinear_half_pixel_downscale(tmp_path):
    # 4 -> 2 with half-pixel centres samples at 0.5 and 2.5: the mean of each pair.
    x = nhwc(np.arange(16).reshape(4, 4))
    y = run(
        tmp_path, resize_nodes("ResizeBilinear", False, True), {"size": np.array([2, 2], np.int32)}, x, "y"
    )
    np.testing.assert_allclose(y[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])


@pytest.mark.parametrize(
    ("align", "half", "rows"),
    [(False, False, [0, 0, 1, 1]), (False, True, [0, 0, 1, 1]), (True, False, [0, 0, 1, 1])],
)
def test_resize_nearest(tmp_path, align, half, rows):
    y = run(
        tmp_path,
        resize_nodes("ResizeNearestNeighbor", align, half),
        {"size": np.array([4, 4], np.int32)},
        RAMP,
        "y",
    )
    np.testing.assert_array_equal(y[0, :, :, 0], _separable(rows, rows))


# ------------------------------------------------------------------------------------------ indexing, shapes


def test_gather_nd_and_gather_v2(tmp_path):
    params = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    nodes = [
        placeholder(shape=(2, 3, 2)),
        node("g", "GatherNd", ["x", "idx"]),
        node("g2", "GatherV2", ["x", "rows", "axis"], batch_dims=i(0)),
    ]
    consts = {
        "idx": np.array([[0, 1], [1, 2]], np.int32),
        "rows": np.array([2, 0], np.int32),
        "axis": np.array(1, np.int32),
    }
    g, g2 = run(tmp_path, nodes, consts, params, ("g", "g2"))
    np.testing.assert_array_equal(g, [[2, 3], [10, 11]])
    np.testing.assert_array_equal(g2, params[:, [2, 0], :])


def test_argmax_floordiv_cast_chain_like_movenet_decoding(tmp_path):
    # A 3x4 score map flattened; the first of two equal maxima wins, like TF.
    scores = np.zeros((1, 3, 4, 1), np.float32)
    scores[0, 1, 2, 0] = 5
    scores[0, 2, 3, 0] = 5
    nodes = [
        placeholder(shape=(1, 3, 4, 1)),
        node("flat", "Reshape", ["x", "shape"]),
        node("arg", "ArgMax", ["flat", "dim"], output_type=dtype("DT_INT32")),
        node("row", "FloorDiv", ["arg", "width"]),
        node("col", "FloorMod", ["arg", "width"]),
        node("rowf", "Cast", ["row"], DstT=dtype("DT_FLOAT")),
    ]
    consts = {
        "shape": np.array([1, -1], np.int32),
        "dim": np.array(1, np.int32),
        "width": np.array(4, np.int32),
    }
    arg, row, col, rowf = run(tmp_path, nodes, consts, scores, ("arg", "row", "col", "rowf"))
    assert arg.dtype == np.int32 and arg.tolist() == [6]
    assert row.tolist() == [1] and col.tolist() == [2] and rowf.dtype == np.float32


def test_topk_orders_ties_by_index(tmp_path):
    x = np.array([[1, 3, 2, 3, 0, 3]], np.float32)
    nodes = [placeholder(shape=(1, 6)), node("k", "TopKV2", ["x", "n"], sorted=b(True))]
    values, indices = run(tmp_path, nodes, {"n": np.array(4, np.int32)}, x, ("k", "k:1"))
    assert values.tolist() == [[3, 3, 3, 2]]
    assert indices.tolist() == [[1, 3, 5, 2]] and indices.dtype == np.int32


def _slice_node(name, begin, end, strides, **masks):
    return node(
        name,
        "StridedSlice",
        ["x", f"{name}_b", f"{name}_e", f"{name}_s"],
        **{k: i(v) for k, v in masks.items()},
    )


def _slice_consts(name, begin, end, strides):
    return {f"{name}_{k}": np.array(v, np.int32) for k, v in (("b", begin), ("e", end), ("s", strides))}


def test_strided_slice_masks(tmp_path):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    cases = {
        # name: (begin, end, strides, masks, expected) -- expected written as the numpy slice it means
        "a": ([0, 1, 0], [0, 3, 0], [1, 1, 1], {"begin_mask": 5, "end_mask": 5}, x[:, 1:3, :]),
        "b": ([1, 0, 0], [2, 0, 0], [1, 1, 1], {"shrink_axis_mask": 1, "end_mask": 6, "begin_mask": 6}, x[1]),
        "c": ([0, 0, -1], [0, 0, -5], [1, 1, -1], {"begin_mask": 3, "end_mask": 3}, x[:, :, -1:-5:-1]),
        "d": (
            [0, 0, 0],
            [0, 0, 0],
            [1, 1, 1],
            {"new_axis_mask": 2, "begin_mask": 5, "end_mask": 5},
            x[:, None, :],
        ),
        "e": ([0, 2], [0, 3], [1, 1], {"ellipsis_mask": 1}, x[..., 2:3]),
        "f": ([0, 0, 3], [0, 0, 0], [1, 1, -2], {"begin_mask": 3, "end_mask": 7}, x[:, :, 3::-2]),
    }
    nodes, consts = [placeholder(shape=(2, 3, 4))], {}
    for name, (bg, en, st, masks, _) in cases.items():
        nodes.append(_slice_node(name, bg, en, st, **masks))
        consts.update(_slice_consts(name, bg, en, st))
    outs = run(tmp_path, nodes, consts, x, tuple(cases))
    for (name, case), out in zip(cases.items(), outs, strict=True):
        np.testing.assert_array_equal(out, case[4], err_msg=f"case {name}")


def test_pack_unpack_concat_expand_squeeze(tmp_path):
    x = np.array([[1, 2], [3, 4]], np.float32)
    nodes = [
        placeholder(shape=(2, 2)),
        node("u", "Unpack", ["x"], axis=i(1), num=i(2)),
        node("p", "Pack", ["u:1", "u"], axis=i(0), N=i(2)),
        node("c", "ConcatV2", ["p", "x", "ax"], N=i(2)),
        node("e", "ExpandDims", ["c", "neg"]),
        node("q", "Squeeze", ["e"], squeeze_dims=ints([-1])),
    ]
    consts = {"ax": np.array(0, np.int32), "neg": np.array(-1, np.int32)}
    p, c, e, q = run(tmp_path, nodes, consts, x, ("p", "c", "e", "q"))
    np.testing.assert_array_equal(p, [[2, 4], [1, 3]])  # columns, second first
    np.testing.assert_array_equal(c, [[2, 4], [1, 3], [1, 2], [3, 4]])
    assert e.shape == (4, 2, 1)
    np.testing.assert_array_equal(q, c)


def test_shape_arithmetic_is_folded_for_any_input_size(tmp_path):
    # Shape -> StridedSlice -> Mul -> Pack -> Reshape: sizes computed from the input's shape at run time.
    nodes = [
        placeholder(shape=(1, -1, -1, 1)),
        node("shape", "Shape", ["x"], out_type=dtype("DT_INT32")),
        _slice_node("hw", [1], [3], [1]),
        node("area", "Prod", ["hw", "zero"], keep_dims=b(False)),
        node("pack", "Pack", ["one", "area"], axis=i(0), N=i(2)),
        node("flat", "Reshape", ["x", "pack"]),
    ]
    nodes[2]["input"][0] = "shape"
    consts = {
        **_slice_consts("hw", [1], [3], [1]),
        "zero": np.array(0, np.int32),
        "one": np.array(1, np.int32),
    }
    graph = load_tfjs(write_model(tmp_path, nodes, consts))
    for h, w in ((2, 3), (4, 5)):
        out = graph(torch.ones(1, h, w, 1), outputs="flat")
        assert tuple(out.shape) == (1, h * w)


def test_mean_keep_dims_and_elementwise(tmp_path):
    x = nhwc([[1, 2], [3, 6]])
    nodes = [
        placeholder(),
        node("m", "Mean", ["x", "axes"], keep_dims=b(True)),
        node("d", "SquaredDifference", ["x", "m"]),
        node("r", "Sqrt", ["d"]),
        node("q", "RealDiv", ["x", "m"]),
        node("s", "Sub", ["x", "m"]),
        node("a", "AddV2", ["s", "m"]),
        node("sig", "Sigmoid", ["s"]),
    ]
    m, d, r, q, a, sig = run(
        tmp_path, nodes, {"axes": np.array([1, 2], np.int32)}, x, ("m", "d", "r", "q", "a", "sig")
    )
    assert m.shape == (1, 1, 1, 1) and m.item() == 3
    np.testing.assert_allclose(d[0, :, :, 0], [[4, 1], [0, 9]])
    np.testing.assert_allclose(r[0, :, :, 0], [[2, 1], [0, 3]])
    np.testing.assert_allclose(q[0, :, :, 0], [[1 / 3, 2 / 3], [1, 2]])
    np.testing.assert_allclose(a, x)
    np.testing.assert_allclose(sig[0, 0, 0, 0], 1 / (1 + np.exp(2)), rtol=1e-6)


# ------------------------------------------------------------------------------------------ weights, module


def test_quantized_weights_are_restored(tmp_path):
    half = np.array([0.1, -2.5, 1000.0], np.float32)
    byte = np.array([0.0, 0.5, 1.25], np.float32)
    nodes = [placeholder(shape=(3,)), node("h", "Mul", ["x", "half"]), node("q", "Mul", ["x", "byte"])]
    h, q = run(
        tmp_path,
        nodes,
        {"half": half, "byte": byte},
        np.ones(3, np.float32),
        ("h", "q"),
        float16=("half",),
        uint8={"byte": (0.25, 0.0)},
    )
    np.testing.assert_array_equal(h, half.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(q, [0.0, 0.5, 1.25])


def _conv_graph(tmp_path: Path) -> TfjsGraph:
    w = np.arange(18, dtype=np.float32).reshape(3, 3, 1, 2) / 10
    conv = conv_node(
        "y",
        "x",
        "w",
        2,
        "SAME",
        op="_FusedConv2D",
        args=["b"],
        fused_ops=strs(["BiasAdd", "Relu"]),
        num_args=i(1),
    )
    nodes = [placeholder(shape=(1, 5, 5, 1)), conv, node("out", "Mul", ["y", "scale"])]
    consts = {"w": w, "b": np.array([0.5, -1.0], np.float32), "scale": np.full((1, 1, 1, 2), 2.0, np.float32)}
    return load_tfjs(write_model(tmp_path, nodes, consts, outputs=["out"]))


def test_conv_weights_are_parameters_and_constants_buffers(tmp_path):
    graph = _conv_graph(tmp_path)
    params = dict(graph.named_parameters())
    assert sorted(p.shape for p in params.values()) == [torch.Size([2]), torch.Size([2, 1, 3, 3])]  # OIHW
    buffers = dict(graph.named_buffers())
    assert [tuple(b.shape) for b in buffers.values()] == [(1, 1, 1, 2)]  # only the non-conv constant
    x = (torch.arange(25.0).reshape(1, 5, 5, 1) / 25).requires_grad_(True)
    out = graph(x)  # the signature's single output
    assert out.shape == (1, 3, 3, 2)
    probe = torch.linspace(-1, 1, out.numel()).reshape(out.shape)
    (out * probe).sum().backward()
    # The same computation written directly in PyTorch gives the same values and gradients.
    w = torch.from_numpy(np.arange(18, dtype=np.float32).reshape(3, 3, 1, 2) / 10).permute(3, 2, 0, 1)
    w.requires_grad_(True)
    bias = torch.tensor([0.5, -1.0], requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    ref = 2 * torch.relu(torch.nn.functional.conv2d(x2.permute(0, 3, 1, 2), w, bias, 2, 1)).permute(
        0, 2, 3, 1
    )
    (ref * probe).sum().backward()
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(x.grad, x2.grad)
    by_shape = {tuple(p.shape): p.grad for p in params.values()}
    torch.testing.assert_close(by_shape[(2, 1, 3, 3)], w.grad)
    torch.testing.assert_close(by_shape[(2,)], bias.grad)


def test_outputs_by_name_index_and_feeds(tmp_path):
    graph = _conv_graph(tmp_path)
    x = torch.arange(25.0).reshape(1, 5, 5, 1) / 25
    y, out = graph(x, outputs=("y", "out:0"))
    torch.testing.assert_close(out, 2 * y)
    fed = graph(outputs="out", feeds={"y": torch.ones(1, 3, 3, 2)})  # no input needed past a fed node
    torch.testing.assert_close(fed, torch.full((1, 3, 3, 2), 2.0))
    np.testing.assert_array_equal(graph.constant("scale"), np.full((1, 1, 1, 2), 2.0, np.float32))


def test_int_placeholder_accepts_float_and_uint8(tmp_path):
    nodes = [placeholder(shape=(1, 2), dt="DT_INT32"), node("c", "Cast", ["x"], DstT=dtype("DT_FLOAT"))]
    graph = load_tfjs(write_model(tmp_path, nodes))
    assert graph(torch.tensor([[1.5, 2.0]]), outputs="c").tolist() == [[1.5, 2.0]]  # float kept exact
    assert graph(np.array([[3, 250]], np.uint8), outputs="c").tolist() == [[3.0, 250.0]]


@pytest.mark.parametrize("dynamo", [False, True])
def test_onnx_export_matches_eager(tmp_path, dynamo):
    ort = pytest.importorskip("onnxruntime")
    graph = _conv_graph(tmp_path).eval()
    x = torch.arange(25.0).reshape(1, 5, 5, 1) / 25
    path = tmp_path / "g.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, (x,), str(path), dynamo=dynamo, input_names=["x"], output_names=["out"])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"x": x.numpy()})
    np.testing.assert_allclose(got, graph(x).detach().numpy(), atol=1e-5)


def test_misc_shape_and_math_ops(tmp_path):
    x = np.array([[1, -2, 3], [-4, 5, -6]], np.float32)
    nodes = [
        placeholder(shape=(2, 3)),
        node("split", "Split", ["one", "x"], num_split=i(3)),
        node("slice", "Slice", ["x", "sb", "ss"]),
        node("tr", "Transpose", ["x", "perm"]),
        node("tile", "Tile", ["x", "reps"]),
        node("fill", "Fill", ["dims", "seven"]),
        node("range", "Range", ["r0", "r1", "r2"], Tidx=dtype("DT_FLOAT")),
        node("pad", "Pad", ["x", "pads"]),
        node("less", "Less", ["x", "zero"]),
        node("sel", "SelectV2", ["less", "zero", "x"]),
        node("addn", "AddN", ["x", "x", "x"], N=i(3)),
        node("mm", "MatMul", ["x", "x"], transpose_a=b(False), transpose_b=b(True)),
        node("leaky", "LeakyRelu", ["x"], alpha={"f": 0.5}),
    ]
    consts = {
        "one": np.array(1, np.int32),
        "sb": np.array([1, 1], np.int32),
        "ss": np.array([-1, 2], np.int32),
        "perm": np.array([1, 0], np.int32),
        "reps": np.array([1, 2], np.int32),
        "dims": np.array([2, 2], np.int32),
        "seven": np.array(7.0, np.float32),
        "r0": np.array(0.0, np.float32),
        "r1": np.array(1.0, np.float32),
        "r2": np.array(0.25, np.float32),
        "pads": np.array([[0, 1], [2, 0]], np.int32),
        "zero": np.array(0.0, np.float32),
    }
    names = ("split:2", "slice", "tr", "tile", "fill", "range", "pad", "sel", "addn", "mm", "leaky")
    split2, sl, tr, tile, fill, rng, pad, sel, addn, mm, leaky = run(tmp_path, nodes, consts, x, names)
    np.testing.assert_array_equal(split2, [[3], [-6]])
    np.testing.assert_array_equal(sl, [[5, -6]])
    np.testing.assert_array_equal(tr, [[1, -4], [-2, 5], [3, -6]])
    np.testing.assert_array_equal(tile, [[1, -2, 3, 1, -2, 3], [-4, 5, -6, -4, 5, -6]])
    np.testing.assert_array_equal(fill, [[7, 7], [7, 7]])
    np.testing.assert_array_equal(rng, [0, 0.25, 0.5, 0.75])
    np.testing.assert_array_equal(pad, [[0, 0, 1, -2, 3], [0, 0, -4, 5, -6], [0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(sel, [[1, 0, 3], [0, 5, 0]])
    np.testing.assert_array_equal(addn, 3 * x)
    np.testing.assert_array_equal(mm, [[1 + 4 + 9, -4 - 10 - 18], [-4 - 10 - 18, 16 + 25 + 36]])
    np.testing.assert_array_equal(leaky, [[1, -1, 3], [-2, 5, -3]])
