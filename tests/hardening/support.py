"""Shared pieces of the hardening suite: the hypothesis settings, JSON mutation strategies and file checks.

Every fuzz test asserts the same contract: a function given damaged input either returns a valid result or
raises a :class:`DistilPoseError` whose message names the file, and never anything else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from distilpose.errors import DistilPoseError

#: 500+ cases per fuzz test; CI runs a fixed (derandomised) set so a landing never depends on luck.
FUZZ = settings(
    max_examples=500,
    deadline=None,
    database=None,
    derandomize=os.environ.get("CI") == "true",
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)

#: Numbers that break naive code: huge and 64-bit-edge integers, non-finite and extreme floats.
NASTY_NUMBERS = st.sampled_from(
    [0, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, 10**400, -(10**400), 1e308, -1e-320,
     float("nan"), float("inf"), float("-inf"), 0.5, 3.0]
)  # fmt: skip

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    NASTY_NUMBERS,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)

#: Any JSON-ish value, small: scalars, lists and objects nested a few levels.
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=8,
)


def _containers(doc: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(path, container) for every list and object inside ``doc``, the document itself first."""
    if isinstance(doc, (list, dict)):
        yield path, doc
        items = doc.items() if isinstance(doc, dict) else enumerate(doc)
        for key, value in items:
            yield from _containers(value, (*path, key))


def mutate(data: st.DataObject, doc: Any, max_edits: int = 4) -> Any:
    """Apply 1..max_edits random edits (drop a field or item, replace a value with any JSON value, wrap a
    value in a list, add a junk field) at random places of a deep copy of ``doc``."""
    doc = json.loads(json.dumps(doc))
    for _ in range(data.draw(st.integers(1, max_edits), label="edits")):
        spots = list(_containers(doc))
        _, box = data.draw(st.sampled_from(spots), label="where")
        keys = list(box.keys()) if isinstance(box, dict) else list(range(len(box)))
        action = data.draw(st.sampled_from(["drop", "replace", "replace", "wrap", "add"]), label="action")
        if action == "add" or not keys:
            if isinstance(box, dict):
                box[data.draw(st.text(max_size=10), label="new key")] = data.draw(JSON_VALUES, label="junk")
            else:
                box.append(data.draw(JSON_VALUES, label="junk"))
            continue
        key = data.draw(st.sampled_from(keys), label="key")
        if action == "drop":
            del box[key]
        elif action == "replace":
            box[key] = data.draw(JSON_VALUES, label="value")
        else:
            box[key] = [box[key]]
    return doc


def mutate_bytes(data: st.DataObject, raw: bytes) -> bytes:
    """Truncate, flip bytes, splice in non-UTF-8 or random bytes, or replace everything with random bytes."""
    kind = data.draw(st.sampled_from(["truncate", "flip", "splice", "random", "empty"]), label="byte edit")
    if kind == "empty":
        return b""
    if kind == "random":
        return data.draw(st.binary(max_size=300), label="random bytes")
    if kind == "truncate":
        return raw[: data.draw(st.integers(0, max(0, len(raw) - 1)), label="cut")]
    out = bytearray(raw)
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 8), label="flips")):
            at = data.draw(st.integers(0, len(out) - 1), label="at")
            out[at] = data.draw(st.integers(0, 255), label="byte")
        return bytes(out)
    at = data.draw(st.integers(0, len(out)), label="at")
    junk = data.draw(
        st.sampled_from([b"\xff\xfe", b"\x80", b"\xc3\x28", b"\x00", b"\xed\xa0\x80"]), label="junk"
    )
    return bytes(out[:at] + junk + out[at:])


def assert_names_file(exc: BaseException, *paths: os.PathLike | str) -> None:
    """The error is one of ours and its message names (one of) the file(s)."""
    assert isinstance(exc, DistilPoseError), f"{type(exc).__name__} escaped: {exc}"
    text = str(exc)
    assert any(str(p) in text for p in paths), f"the message does not name {paths}: {text[:300]}"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@contextlib.contextmanager
def address_space_headroom(extra_bytes: int) -> Iterator[None]:
    """Cap this process's address space at its current size + ``extra_bytes`` while the block runs.

    A fuzzed model can ask for a tensor of tens of GB; on this shared machine that must fail as an
    allocation error, not be granted and then kill the machine. The previous limit is restored after."""
    with open("/proc/self/status") as fh:
        vm_kb = next(int(line.split()[1]) for line in fh if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = vm_kb * 1024 + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def skip_unless_linux() -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc (Linux)")


# ------------------------------------------------------------------------------------------------ round 2


def png_bomb(path: Path, width: int, height: int, pixels: bool = True) -> Path:
    """A valid 1-bit grayscale PNG declaring ``width`` x ``height`` whose rows are all zero: a few hundred KB
    on disk, ``3 * width * height`` bytes once decoded to BGR. ``pixels=False`` writes the header only (a
    decoder fails on it; only a header check refuses it for the right reason)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
    if pixels:
        row = b"\x00" * (1 + (width + 7) // 8)
        packer = zlib.compressobj(9)
        rows_per_block = max(1, (1 << 24) // len(row))
        parts = []
        for start in range(0, height, rows_per_block):
            parts.append(packer.compress(row * min(rows_per_block, height - start)))
        parts.append(packer.flush())
        out += chunk(b"IDAT", b"".join(parts))
    path.write_bytes(out + chunk(b"IEND", b""))
    return path


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "1m") -> Iterator[Path]:
    """A real, tiny file system (tmpfs of ``size``) mounted at ``folder``, so a disk can really fill up.
    Skips where mounting is not allowed (not root, no tmpfs)."""
    import subprocess

    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill: {done.stderr.strip() or done.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill_disk(folder: Path) -> None:
    """Write a filler file until the file system holding ``folder`` has no space left."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    block = b"\x00" * 4096
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, block):
                pass
        with contextlib.suppress(OSError):  # the last partial block
            while os.write(fd, b"\x00"):
                pass
    finally:
        os.close(fd)


def coco_project(folder: Path) -> Path:
    """A sound project made by importing a seeded COCO file (no images on disk): what the damage tests
    break."""
    from distilpose.project import ProjectStore
    from distilpose.project.coco_io import import_coco
    from tests.unit.coco_factory import make_coco_doc
    from tests.unit.test_project_support import write_json

    (folder / "images").mkdir()
    ann = write_json(folder / "ann.json", make_coco_doc(seed=3))
    with ProjectStore.create(folder / "p.dpproj") as store:
        import_coco(store, ann, folder / "images")
    return folder / "p.dpproj"
