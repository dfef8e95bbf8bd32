"""Media paths stored relative to the project file, and content hashes to notice a media file that changed.

Relative paths keep a project portable: a project folder moved or copied with its images still opens. Paths
are stored with ``/`` separators so a project made on Windows opens on Linux and back.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from distilpose.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES  # noqa: F401 - one list of suffixes for everyone

#: Files up to this size are hashed whole; larger ones (videos) by size + first and last chunks, which is
#: enough to notice a replaced file without reading gigabytes when a video is added.
FULL_HASH_LIMIT = 64 * 1024 * 1024
_CHUNK = 4 * 1024 * 1024


def to_stored(path: str | os.PathLike, project_dir: Path) -> str:
    """How a media path is stored: relative to the project folder when both are on the same drive, else
    absolute; always with ``/`` separators."""
    absolute = Path(os.path.abspath(path))
    try:
        rel = os.path.relpath(absolute, os.path.abspath(project_dir))
    except ValueError:  # another drive on Windows
        return absolute.as_posix()
    return Path(rel).as_posix()


def resolve_stored(stored: str, project_dir: Path) -> Path:
    """The absolute path of a stored media path (relative ones are taken from the project folder)."""
    if PurePosixPath(stored).is_absolute() or PureWindowsPath(stored).is_absolute():
        return Path(stored)
    return Path(os.path.normpath(project_dir / Path(*PurePosixPath(stored).parts)))


def guess_kind(path: str | os.PathLike) -> str | None:
    """'image', 'video' or 'folder' from the file system entry and suffix; None when it is none of them."""
    p = Path(path)
    if p.is_dir():
        return "folder"
    suffix = p.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


def file_digest(path: str | os.PathLike) -> str:
    """``sha256:<hex>`` of the whole file, or ``sha256-ends:<hex>`` (size, first and last 4 MiB) for big
    ones."""
    p = Path(path)
    size = p.stat().st_size
    digest = hashlib.sha256()
    with open(p, "rb") as handle:
        if size <= FULL_HASH_LIMIT:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
            return f"sha256:{digest.hexdigest()}"
        digest.update(str(size).encode())
        digest.update(handle.read(_CHUNK))
        handle.seek(size - _CHUNK)
        digest.update(handle.read(_CHUNK))
    return f"sha256-ends:{digest.hexdigest()}"
