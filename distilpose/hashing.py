"""The sha256 of a file, read in blocks: one function for the zoo's checks, the data lists of pseudo-labels
and recipes, and the weights a ``metrics.json`` was measured on."""

from __future__ import annotations

import hashlib
import os

_BLOCK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()
