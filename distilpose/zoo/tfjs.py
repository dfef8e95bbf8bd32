"""Import a TensorFlow.js graph model (``model.json`` + ``.bin`` weight shards) as a PyTorch module.

No TensorFlow is needed: the GraphDef nodes in ``modelTopology`` are run in topological order with the op
implementations of :mod:`distilpose.zoo.ops`. Convolution weights and biases become ``nn.Parameter`` (in
PyTorch's layout, so the module is differentiable and exports to ONNX); the other constants are buffers.

Every problem with the files (bad JSON, bad manifest, missing or short shard, wrong checksum, unknown op,
dangling input, cycle) is a :class:`TfjsFormatError` that names the file or node: the loader is meant to
survive fuzzing without an obscure exception and without hanging.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from torch import nn

from distilpose.errors import DistilPoseError
from distilpose.zoo import ops
from distilpose.zoo.ops import GraphRuntimeError, TfjsFormatError, UnsupportedOpError

__all__ = [
    "GraphRuntimeError",
    "NodeDef",
    "TfjsFormatError",
    "TfjsGraph",
    "TfjsModel",
    "UnsupportedOpError",
    "load_tfjs",
    "read_tfjs",
]

MAX_JSON_BYTES = 512 * 1024 * 1024
MAX_WEIGHT_BYTES = 2 * 1024 * 1024 * 1024
MAX_NODES = 500_000
#: Float constants up to this many values also stay on the host, usable as shape-like arguments.
_SMALL_CONST = 64
#: Attribute names of nn.Module ("half", "float", "train", ...) that a buffer or parameter cannot take.
_RESERVED = frozenset(dir(nn.Module))

_STORAGE: dict[str, np.dtype] = {
    "float32": np.dtype("<f4"),
    "float16": np.dtype("<f2"),
    "int32": np.dtype("<i4"),
    "uint8": np.dtype("u1"),
    "uint16": np.dtype("<u2"),
    "bool": np.dtype("u1"),
}
_FINAL: dict[str, np.dtype] = {
    "float32": np.dtype(np.float32),
    "int32": np.dtype(np.int32),
    "bool": np.dtype(bool),
}
_PLACEHOLDER_DTYPES = {"DT_FLOAT": torch.float32, "DT_INT32": torch.int32, "DT_UINT8": torch.uint8}


@dataclass(frozen=True)
class NodeDef:
    name: str
    op: str
    inputs: tuple[tuple[str, int], ...]  # (node, output index); control inputs dropped
    attr: dict[str, Any] = field(default_factory=dict)


@dataclass
class TfjsModel:
    """A parsed, validated graph model: nodes in topological order and restored float32/int32 weights."""

    path: Path
    nodes: list[NodeDef]
    weights: dict[str, np.ndarray]
    inputs: list[str]
    outputs: list[str]
    input_specs: dict[str, tuple[str, tuple[int, ...] | None]]


# ------------------------------------------------------------------------------------------ reading


def read_tfjs(path: str | Path, *, sha256: Mapping[str, str] | None = None) -> TfjsModel:
    """Parse ``model.json`` and its shards; ``sha256`` maps file names (beside the json) to checksums."""
    path = Path(path)
    try:
        return _read(path, dict(sha256 or {}))
    except DistilPoseError:
        raise
    except (
        KeyError,
        TypeError,
        ValueError,
        IndexError,
        OverflowError,
        AttributeError,
        RecursionError,
    ) as exc:
        raise TfjsFormatError(f"{path}: malformed model ({type(exc).__name__}: {exc})") from exc


def _read(path: Path, sha256: dict[str, str]) -> TfjsModel:
    raw = _read_file(path, MAX_JSON_BYTES, "model file")
    _check_sha(path, raw, sha256.pop(path.name, None))
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise TfjsFormatError(f"{path}: not UTF-8 text ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise TfjsFormatError(f"{path}: not valid JSON: {exc}") from exc
    except RecursionError:
        raise TfjsFormatError(f"{path}: JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise TfjsFormatError(f"{path}: top level must be an object, got {type(doc).__name__}")
    if doc.get("format", "graph-model") != "graph-model":
        raise TfjsFormatError(f"{path}: format {doc.get('format')!r} is not a TF.js graph model")
    topology = doc.get("modelTopology")
    if not isinstance(topology, dict) or not isinstance(topology.get("node"), list):
        raise TfjsFormatError(f"{path}: 'modelTopology.node' must be a list of nodes")
    nodes = _parse_nodes(path, topology["node"])
    manifest = doc.get("weightsManifest", [])
    if not isinstance(manifest, list):
        raise TfjsFormatError(f"{path}: 'weightsManifest' must be a list")
    weights = _read_weights(path, manifest, sha256)
    if sha256:
        raise TfjsFormatError(f"{path}: checksums given for files the model does not use: {sorted(sha256)}")
    for node in nodes:
        if node.op == "Const" and node.name not in weights:
            raise TfjsFormatError(f"{path}: Const node {node.name!r} has no entry in weightsManifest")
    ordered = _topological(path, nodes)
    inputs = [n.name for n in ordered if n.op == "Placeholder"]
    specs = {n.name: _placeholder_spec(path, n) for n in ordered if n.op == "Placeholder"}
    outputs = _outputs(path, doc.get("signature"), ordered)
    return TfjsModel(path, ordered, weights, inputs, outputs, specs)


def _read_file(path: Path, limit: int, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise TfjsFormatError(f"{path}: {what} is {size} bytes, more than the {limit}-byte limit")
        return path.read_bytes()
    except FileNotFoundError:
        raise TfjsFormatError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise TfjsFormatError(f"{path}: {what} is a directory") from None
    except OSError as exc:
        raise TfjsFormatError(f"{path}: cannot read {what}: {exc}") from exc


def _check_sha(path: Path, data: bytes, expected: str | None) -> None:
    if expected is None:
        return
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected.lower():
        raise TfjsFormatError(f"{path}: sha256 {digest} does not match the expected {expected}")


def _parse_nodes(path: Path, raw_nodes: list) -> list[NodeDef]:
    if len(raw_nodes) > MAX_NODES:
        raise TfjsFormatError(f"{path}: {len(raw_nodes)} nodes, more than the {MAX_NODES} limit")
    nodes: list[NodeDef] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_nodes):
        where = f"{path}: node #{i}"
        if not isinstance(raw, dict):
            raise TfjsFormatError(f"{where} must be an object")
        name, op = raw.get("name"), raw.get("op")
        if not isinstance(name, str) or not name:
            raise TfjsFormatError(f"{where} has no valid 'name'")
        where = f"{path}: node {name!r}"
        if not isinstance(op, str) or not op:
            raise TfjsFormatError(f"{where} has no valid 'op'")
        if name in seen:
            raise TfjsFormatError(f"{where} is defined twice")
        seen.add(name)
        raw_inputs = raw.get("input", [])
        if not isinstance(raw_inputs, list) or not all(isinstance(s, str) for s in raw_inputs):
            raise TfjsFormatError(f"{where}: 'input' must be a list of strings")
        raw_attr = raw.get("attr", {})
        if not isinstance(raw_attr, dict):
            raise TfjsFormatError(f"{where}: 'attr' must be an object")
        inputs = tuple(_parse_ref(where, s) for s in raw_inputs if not s.startswith("^"))
        attrs = {str(k): _decode_attr(where, k, v) for k, v in raw_attr.items()}
        nodes.append(NodeDef(name, op, inputs, attrs))
    names = {n.name for n in nodes}
    for node in nodes:
        for src, _ in node.inputs:
            if src not in names:
                raise TfjsFormatError(f"{path}: node {node.name!r} reads {src!r}, which is not in the graph")
    return nodes


_REF = re.compile(r"^([^:]+)(?::(\d{1,6}))?$")


def _parse_ref(where: str, text: str) -> tuple[str, int]:
    match = _REF.match(text)
    if not match:
        raise TfjsFormatError(f"{where}: bad input reference {text!r}")
    return match.group(1), int(match.group(2) or 0)


def _decode_attr(where: str, key: Any, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise TfjsFormatError(f"{where}: attribute {key!r} must be an object")
    if "list" in raw:
        items = raw["list"]
        if not isinstance(items, dict):
            raise TfjsFormatError(f"{where}: attribute {key!r} has a malformed list")
        for kind in ("i", "s", "f", "b", "type", "shape"):
            if kind in items:
                if not isinstance(items[kind], list):
                    raise TfjsFormatError(f"{where}: attribute {key!r} list '{kind}' is not a list")
                return [_decode_scalar(where, key, kind, v) for v in items[kind]]
        return []
    for kind in ("s", "i", "f", "b", "type", "shape", "tensor", "func", "placeholder"):
        if kind in raw:
            return _decode_scalar(where, key, kind, raw[kind])
    return None  # an empty AttrValue


def _decode_scalar(where: str, key: Any, kind: str, value: Any) -> Any:
    bad = TfjsFormatError(f"{where}: attribute {key!r} has a malformed '{kind}' value {str(value)[:60]!r}")
    if kind == "s":
        if not isinstance(value, str):
            raise bad
        try:
            return base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise bad from None
    if kind == "i":
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, str))
            or not re.fullmatch(r"-?\d{1,19}", str(value))
        ):
            raise bad
        return int(value)
    if kind == "f":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise bad
        try:
            return float(value)
        except ValueError:
            raise bad from None
    if kind == "b":
        if not isinstance(value, bool):
            raise bad
        return value
    if kind == "type":
        if not isinstance(value, str):
            raise bad
        return value
    if kind == "shape":
        return _decode_shape(bad, value)
    return value  # tensor / func / placeholder: kept raw, no op here reads them


def _decode_shape(bad: Exception, value: Any) -> tuple[int, ...] | None:
    if not isinstance(value, dict):
        raise bad
    if value.get("unknownRank"):
        return None
    dims = value.get("dim", [])
    if not isinstance(dims, list):
        raise bad
    out = []
    for dim in dims:
        size = dim.get("size", "-1") if isinstance(dim, dict) else None
        if (
            isinstance(size, bool)
            or not isinstance(size, (int, str))
            or not re.fullmatch(r"-?\d{1,12}", str(size))
        ):
            raise bad
        out.append(int(size))
    return tuple(out)


def _read_weights(path: Path, manifest: list, sha256: dict[str, str]) -> dict[str, np.ndarray]:
    weights: dict[str, np.ndarray] = {}
    base = path.parent
    for g, group in enumerate(manifest):
        where = f"{path}: weightsManifest[{g}]"
        if not isinstance(group, dict):
            raise TfjsFormatError(f"{where} must be an object")
        paths, entries = group.get("paths"), group.get("weights")
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise TfjsFormatError(f"{where}: 'paths' must be a non-empty list of file names")
        if not isinstance(entries, list):
            raise TfjsFormatError(f"{where}: 'weights' must be a list")
        specs = [_weight_spec(where, e) for e in entries]
        needed = sum(s[4] for s in specs)
        files = [_shard_path(where, base, p) for p in paths]
        names = ", ".join(str(f) for f in files)
        sizes = [_file_size(f, path) for f in files]
        if sum(sizes) < needed:
            raise TfjsFormatError(
                f"{names}: weights need {needed} bytes but the file(s) hold {sum(sizes)} (truncated?)"
            )
        if sum(sizes) > needed:
            raise TfjsFormatError(
                f"{names}: the file(s) hold {sum(sizes)} bytes but the manifest describes {needed}: "
                "wrong or corrupt weights"
            )
        if needed > MAX_WEIGHT_BYTES:
            raise TfjsFormatError(f"{names}: {needed} bytes of weights, more than the limit")
        chunks = []
        for file in files:
            data = _read_file(file, MAX_WEIGHT_BYTES, "weights file")
            _check_sha(file, data, sha256.pop(file.name, None))
            chunks.append(data)
        buffer = b"".join(chunks)
        if len(buffer) != needed:
            raise TfjsFormatError(f"{names}: changed while being read")
        offset = 0
        for name, shape, dtype, quant, nbytes in specs:
            if name in weights:
                raise TfjsFormatError(f"{where}: weight {name!r} is listed twice")
            weights[name] = _decode_weight(buffer, offset, shape, dtype, quant)
            offset += nbytes
    return weights


def _weight_spec(where: str, entry: Any) -> tuple[str, tuple[int, ...], str, dict | None, int]:
    if not isinstance(entry, dict):
        raise TfjsFormatError(f"{where}: a weights entry must be an object")
    name, shape, dtype = entry.get("name"), entry.get("shape"), entry.get("dtype")
    if not isinstance(name, str) or not name:
        raise TfjsFormatError(f"{where}: a weights entry has no valid 'name'")
    where = f"{where}: weight {name!r}"
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**31 for d in shape
    ):
        raise TfjsFormatError(f"{where}: 'shape' must be a list of non-negative integers")
    if dtype not in _FINAL:
        raise TfjsFormatError(f"{where}: unsupported dtype {dtype!r} (float32, int32 and bool are supported)")
    quant = entry.get("quantization")
    storage = dtype
    if quant is not None:
        if not isinstance(quant, dict) or quant.get("dtype") not in ("float16", "uint8", "uint16"):
            raise TfjsFormatError(f"{where}: unsupported quantization {str(quant)[:80]}")
        storage = quant["dtype"]
        if storage != "float16" and not all(
            isinstance(quant.get(k), (int, float)) and not isinstance(quant.get(k), bool)
            for k in ("scale", "min")
        ):
            raise TfjsFormatError(f"{where}: {storage} quantization needs numeric 'scale' and 'min'")
        if storage == "float16" and dtype != "float32":
            raise TfjsFormatError(f"{where}: float16 quantization of a {dtype} weight")
    count = math.prod(shape)
    nbytes = count * _STORAGE[storage].itemsize
    if nbytes > MAX_WEIGHT_BYTES:
        raise TfjsFormatError(f"{where}: shape {shape} is too large")
    return name, tuple(shape), dtype, quant, nbytes


def _decode_weight(
    buffer: bytes, offset: int, shape: tuple[int, ...], dtype: str, quant: dict | None
) -> np.ndarray:
    count = math.prod(shape)
    storage = _STORAGE[quant["dtype"] if quant else dtype]
    raw = np.frombuffer(buffer, dtype=storage, count=count, offset=offset)
    if quant is None:
        out = raw.astype(_FINAL[dtype]) if dtype == "bool" else raw.astype(_FINAL[dtype], copy=True)
    elif quant["dtype"] == "float16":
        out = raw.astype(np.float32)
    else:  # affine uint8/uint16: value = q * scale + min
        real = raw.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
        out = np.round(real).astype(np.int32) if dtype == "int32" else real.astype(_FINAL[dtype])
    return out.reshape(shape)


def _shard_path(where: str, base: Path, name: str) -> Path:
    pure = PurePosixPath(name)
    if not name or "\\" in name or pure.is_absolute() or ".." in pure.parts or ":" in name:
        raise TfjsFormatError(f"{where}: refusing weights path {name!r}: it must be a file beside the model")
    return base / pure


def _file_size(file: Path, model: Path) -> int:
    try:
        if not file.is_file():
            raise TfjsFormatError(f"{file}: weights file listed in {model.name} is missing")
        return file.stat().st_size
    except OSError as exc:
        raise TfjsFormatError(f"{file}: cannot read weights file: {exc}") from exc


def _topological(path: Path, nodes: list[NodeDef]) -> list[NodeDef]:
    """Kahn's algorithm, iterative (no recursion limit), stable in file order; a cycle is an error."""
    index = {n.name: i for i, n in enumerate(nodes)}
    pending = [len({src for src, _ in n.inputs}) for n in nodes]
    consumers: list[list[int]] = [[] for _ in nodes]
    for i, node in enumerate(nodes):
        for src in {src for src, _ in node.inputs}:
            consumers[index[src]].append(i)
    ready = [i for i, p in enumerate(pending) if p == 0]
    ready.reverse()
    order: list[NodeDef] = []
    while ready:
        i = ready.pop()
        order.append(nodes[i])
        for j in consumers[i]:
            pending[j] -= 1
            if pending[j] == 0:
                ready.append(j)
    if len(order) != len(nodes):
        stuck = next(n.name for i, n in enumerate(nodes) if pending[i] > 0)
        raise TfjsFormatError(f"{path}: the graph has a cycle through node {stuck!r}")
    return order


def _placeholder_spec(path: Path, node: NodeDef) -> tuple[str, tuple[int, ...] | None]:
    dtype = node.attr.get("dtype", "DT_FLOAT")
    if dtype not in _PLACEHOLDER_DTYPES:
        raise UnsupportedOpError(f"{path}: input {node.name!r} has unsupported dtype {dtype}")
    shape = node.attr.get("shape")
    if shape is not None and not isinstance(shape, tuple):
        raise TfjsFormatError(f"{path}: input {node.name!r} has a malformed shape")
    return dtype, shape


def _outputs(path: Path, signature: Any, nodes: list[NodeDef]) -> list[str]:
    names = {n.name for n in nodes}
    if isinstance(signature, dict) and isinstance(signature.get("outputs"), dict) and signature["outputs"]:
        outs = []
        for key, spec in signature["outputs"].items():
            name = spec.get("name", key) if isinstance(spec, dict) else key
            if not isinstance(name, str):
                raise TfjsFormatError(f"{path}: signature output {key!r} is malformed")
            node = name.split(":")[0]
            if node not in names:
                raise TfjsFormatError(f"{path}: signature output {name!r} is not a node of the graph")
            outs.append(node)
        return outs
    used = {src for n in nodes for src, _ in n.inputs}
    return [n.name for n in nodes if n.name not in used and n.op not in ("Const", "NoOp", "Placeholder")]


# ------------------------------------------------------------------------------------------ the module


@dataclass
class _Step:
    name: str
    op: str
    refs: tuple[tuple[str, int] | None, ...]  # None: an input folded into a parameter, never computed
    kernel: ops.Kernel


@dataclass
class _Plan:
    steps: list[_Step]
    release: list[list[str]]  # values no longer needed after each step


class _BuildContext:
    """The :class:`distilpose.zoo.ops.OpContext` of one node while the module is built."""

    def __init__(
        self, graph: TfjsGraph, node: NodeDef, nodes: dict[str, NodeDef], weights: dict[str, np.ndarray]
    ):
        self.name, self.op, self.attr = node.name, node.op, node.attr
        self.num_inputs = len(node.inputs)
        self._graph, self._node, self._nodes, self._weights = graph, node, nodes, weights

    def const(self, index: int) -> np.ndarray | None:
        src, _ = self._node.inputs[index]
        return self._weights.get(src) if self._nodes[src].op == "Const" else None

    def param(self, index: int, convert, role: str) -> str | None:
        src, _ = self._node.inputs[index]
        if self._nodes[src].op != "Const":
            return None
        self._graph._param_uses.add((self.name, index))
        return self._graph._make_param(src, role, convert, self._weights[src])


class _RunEnv:
    __slots__ = ("graph", "device")

    def __init__(self, graph: TfjsGraph, device: torch.device):
        self.graph, self.device = graph, device

    def tensor(self, value: Any) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            return value
        key = self.graph._buffer_of.get(id(value))
        if key is not None:
            return getattr(self.graph.consts, key)
        return torch.as_tensor(value, device=self.device)

    def param(self, key: str) -> torch.Tensor:
        return getattr(self.graph.weights, key)


class TfjsGraph(nn.Module):
    """A TF.js graph model as a module. Inputs and outputs keep TensorFlow's layout (images NHWC).

    ``forward(x, outputs=...)`` feeds ``x`` to the graph's single input and returns the named nodes
    (``"node"`` or ``"node:k"`` for the k-th output of a multi-output node): one tensor for a string,
    a tuple for a sequence; by default the signature outputs (one tensor when there is only one).
    ``feeds`` sets any node's value instead of computing it, e.g. to run the part of a graph after a
    batch-1-only preamble on a whole batch. A float input to an int32 input (MoveNet) stays float.
    """

    def __init__(self, model: TfjsModel):
        super().__init__()
        self.source = str(model.path)
        self.input_names: tuple[str, ...] = tuple(model.inputs)
        self.output_names: tuple[str, ...] = tuple(model.outputs)
        self.input_specs = dict(model.input_specs)
        self.weights = nn.Module()
        self.consts = nn.Module()
        self._param_keys: dict[tuple[str, str], str] = {}
        self._param_uses: set[tuple[str, int]] = set()
        self._static: dict[str, np.ndarray] = {}
        self._buffer_key: dict[str, str] = {}
        self._buffer_of: dict[int, str] = {}
        self._used_names: set[str] = set()
        self._nodes = {n.name: n for n in model.nodes}
        self._order = [n.name for n in model.nodes]
        self._plans: dict[tuple, _Plan] = {}
        self._steps: dict[str, _Step] = {}
        for node in model.nodes:
            kernel = self._build(node, model)
            refs = tuple(None if (node.name, i) in self._param_uses else r for i, r in enumerate(node.inputs))
            self._steps[node.name] = _Step(node.name, node.op, refs, kernel)
        self._store_constants(model)

    # ---- construction

    def _build(self, node: NodeDef, model: TfjsModel) -> ops.Kernel:
        if node.op == "Const":
            name = node.name
            return lambda args, env: env.graph._const_value(name)
        if node.op == "Placeholder":
            name = node.name
            return lambda args, env: _missing_input(name)
        if node.op == "NoOp":
            return lambda args, env: ()
        builder = ops.BUILDERS.get(node.op)
        if builder is None:
            raise UnsupportedOpError(
                f"{model.path}: node {node.name!r} uses op {node.op!r}, which the TF.js importer does not support"
            )
        try:
            return builder(_BuildContext(self, node, self._nodes, model.weights))
        except DistilPoseError as exc:
            if str(model.path) in str(exc):
                raise
            raise type(exc)(f"{model.path}: {exc}") from exc

    def _unique(self, base: str) -> str:
        key = re.sub(r"[^0-9A-Za-z_]", "_", base).strip("_") or "w"
        if key[0].isdigit():
            key = "w_" + key
        candidate, n = key, 1
        while candidate in self._used_names or candidate in _RESERVED:
            n += 1
            candidate = f"{key}_{n}"
        self._used_names.add(candidate)
        return candidate

    def _make_param(self, const: str, role: str, convert, value: np.ndarray) -> str:
        key = self._param_keys.get((const, role))
        if key is None:
            if value.dtype != np.float32:
                raise TfjsFormatError(f"{self.source}: weight {const!r} used as a {role} is not float32")
            try:
                converted = np.ascontiguousarray(convert(value), dtype=np.float32)
            except ValueError as exc:
                raise TfjsFormatError(
                    f"{self.source}: weight {const!r} has the wrong shape for a {role}"
                ) from exc
            key = self._unique(f"{const}_{role}")
            self.weights.register_parameter(key, nn.Parameter(torch.from_numpy(converted)))
            self._param_keys[(const, role)] = key
        return key

    def _store_constants(self, model: TfjsModel) -> None:
        """Buffers for every constant not folded into a parameter; small ones also stay on the host."""
        uses: dict[str, list[tuple[str, int]]] = {}
        for node in model.nodes:
            for i, (src, _) in enumerate(node.inputs):
                uses.setdefault(src, []).append((node.name, i))
        for node in model.nodes:
            if node.op != "Const":
                continue
            consumers = uses.get(node.name, [])
            if consumers and all(use in self._param_uses for use in consumers):
                continue  # lives on as a parameter only
            value = model.weights[node.name]
            key = self._unique(node.name)
            self.consts.register_buffer(key, torch.from_numpy(np.array(value)))
            self._buffer_key[node.name] = key
            if value.dtype != np.float32 or value.size <= _SMALL_CONST:
                host = np.array(value)
                self._static[node.name] = host
                self._buffer_of[id(host)] = key

    # ---- running

    def _const_value(self, name: str) -> Any:
        host = self._static.get(name)
        if host is not None:
            return host
        key = self._buffer_key.get(name)
        if key is None:
            raise GraphRuntimeError(
                f"constant {name!r} was folded into a parameter and cannot be read as a node"
            )
        return getattr(self.consts, key)

    def constant(self, name: str) -> np.ndarray:
        """A constant's value (float32/int32), for wrappers that reuse a graph's own numbers."""
        node = self._nodes.get(name)
        if node is None or node.op != "Const":
            raise KeyError(f"{name!r} is not a Const node of {self.source}")
        value = self._const_value(name)
        return value.copy() if isinstance(value, np.ndarray) else value.detach().cpu().numpy()

    @property
    def node_ops(self) -> dict[str, str]:
        return {name: self._nodes[name].op for name in self._order}

    def _plan(self, targets: tuple[str, ...], fed: frozenset[str]) -> _Plan:
        key = (targets, fed)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        needed: set[str] = set()
        stack = [t for t in targets if t not in fed]
        while stack:
            name = stack.pop()
            if name in needed:
                continue
            needed.add(name)
            stack.extend(r[0] for r in self._steps[name].refs if r and r[0] not in fed and r[0] not in needed)
        steps = [self._steps[n] for n in self._order if n in needed]
        for step in steps:
            if step.op == "Placeholder":
                raise DistilPoseError(f"{self.source}: graph input {step.name!r} is needed but was not given")
        last: dict[str, int] = {}
        for i, step in enumerate(steps):
            for ref in step.refs:
                if ref is not None:
                    last[ref[0]] = i
        keep = set(targets)
        release: list[list[str]] = [[] for _ in steps]
        for src, i in last.items():
            if src not in keep:
                release[i].append(src)
        plan = _Plan(steps, release)
        if len(self._plans) < 64:
            self._plans[key] = plan
        return plan

    def _feed(self, name: str, value: Any) -> torch.Tensor:
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biuf":
                raise DistilPoseError(f"input {name!r}: unsupported array dtype {value.dtype}")
            value = torch.from_numpy(np.ascontiguousarray(value))
        if not isinstance(value, torch.Tensor):
            raise DistilPoseError(
                f"input {name!r}: expected a tensor or numpy array, got {type(value).__name__}"
            )
        spec = self.input_specs.get(name)
        if spec is None:
            return value
        dtype, shape = spec
        if shape is not None and (
            value.dim() != len(shape)
            or any(s >= 0 and s != v for s, v in zip(shape, value.shape, strict=True))
        ):
            want = tuple("?" if s < 0 else s for s in shape)
            raise DistilPoseError(f"input {name!r} expects shape {want}, got {tuple(value.shape)}")
        target = _PLACEHOLDER_DTYPES[dtype]
        if value.is_floating_point() and target == torch.int32:
            return value.float()  # keep sub-integer precision; the graph's Cast to float is then exact
        return value.to(target)

    def forward(
        self,
        x: Any = None,
        outputs: str | Sequence[str] | None = None,
        feeds: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return self._run(x, outputs, feeds)
        except DistilPoseError as exc:  # op kernels name the node; say which model file it belongs to
            if self.source in str(exc):
                raise
            raise type(exc)(f"{self.source}: {exc}") from exc

    def _run(self, x: Any, outputs: str | Sequence[str] | None, feeds: Mapping[str, Any] | None) -> Any:
        values: dict[str, Any] = {}
        for name, value in (feeds or {}).items():
            if name not in self._nodes:
                raise DistilPoseError(f"{self.source}: cannot feed {name!r}: no such node")
            values[name] = self._feed(name, value)
        if x is not None:
            if len(self.input_names) != 1:
                raise DistilPoseError(
                    f"{self.source}: the graph has {len(self.input_names)} inputs; use feeds="
                )
            values[self.input_names[0]] = self._feed(self.input_names[0], x)
        single = isinstance(outputs, str) or (outputs is None and len(self.output_names) == 1)
        names = (outputs,) if isinstance(outputs, str) else tuple(outputs or self.output_names)
        refs = [_parse_ref(f"{self.source}: output", n) for n in names]
        for node, _ in refs:
            if node not in self._nodes:
                raise DistilPoseError(f"{self.source}: no node named {node!r}")
        plan = self._plan(tuple(dict.fromkeys(r[0] for r in refs)), frozenset(values))
        device = next((v.device for v in values.values() if isinstance(v, torch.Tensor)), None)
        if device is None:
            device = next(self.parameters(), torch.empty(0)).device
        env = _RunEnv(self, device)
        for step, release in zip(plan.steps, plan.release, strict=True):
            args = [None if r is None else _pick(values, r[0], r[1], step.name) for r in step.refs]
            try:
                values[step.name] = step.kernel(args, env)
            except DistilPoseError:
                raise
            except Exception as exc:
                raise GraphRuntimeError(
                    f"{self.source}: node {step.name!r} ({step.op}) failed: {type(exc).__name__}: {exc}"
                ) from exc
            for name in release:
                values.pop(name, None)
        results = tuple(env.tensor(_pick(values, node, k, "output")) for node, k in refs)
        return results[0] if single else results

    def extra_repr(self) -> str:
        return f"source={self.source!r}, nodes={len(self._order)}, inputs={self.input_names}"


def _pick(values: dict[str, Any], node: str, index: int, reader: str) -> Any:
    value = values[node]
    if isinstance(value, tuple):
        if index >= len(value):
            raise GraphRuntimeError(
                f"node {reader!r} reads output {index} of {node!r}, which has {len(value)}"
            )
        return value[index]
    if index != 0:
        raise GraphRuntimeError(f"node {reader!r} reads output {index} of {node!r}, which has one output")
    return value


def _missing_input(name: str) -> Any:
    raise DistilPoseError(f"graph input {name!r} was not given")


def load_tfjs(path: str | Path, *, sha256: Mapping[str, str] | None = None) -> TfjsGraph:
    """Read and build a TF.js graph model; see :func:`read_tfjs` for ``sha256``."""
    model = read_tfjs(path, sha256=sha256)
    try:
        return TfjsGraph(model)
    except DistilPoseError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, OverflowError, AttributeError) as exc:
        raise TfjsFormatError(f"{path}: malformed model ({type(exc).__name__}: {exc})") from exc
