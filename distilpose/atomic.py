"""Atomic file writes: write a temp file beside the target, fsync, then ``os.replace``.

A crash or a full disk mid-write leaves the previous file intact; the temp file is removed on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def _temp_beside(path: str | os.PathLike) -> Iterator[str]:
    """A temp file path beside ``path`` that replaces it (fsynced, normal mode) if the block completes.

    An OSError (full disk, no permission, a parent that is a file) is re-raised naming ``path``, not the temp
    file or a parent folder, so the user learns which file was not written."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp" + target.suffix, dir=target.parent
        )
    except OSError as exc:
        raise _naming(exc, target) from exc
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        give_normal_mode(tmp, target)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _naming(exc, target) from exc
        raise
    fsync_dir(target.parent)


#: The name :func:`_temp_beside` gives a temp file: ``.<target name>.<8 random characters>.tmp<suffix>``.
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.[^.]+)?$")


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is one of this module's temp files (what a killed writer leaves behind)."""
    return bool(_TEMP_NAME.match(name))


def remove_stale_temps(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Delete the temp files a killed writer left in ``folder`` (and its subfolders); returns them.

    A SIGKILL or a power cut gives no writer the chance to clean up, so the next writer of the same folder
    does. Only names of this module's pattern are touched; a folder that is not there is fine."""
    root = Path(folder)
    if not root.is_dir():
        return []
    found = root.rglob(".*.tmp*") if recursive else root.glob(".*.tmp*")
    removed = []
    for path in found:
        if is_temp_name(path.name) and path.is_file() and not path.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def replace_with_link(source: str | os.PathLike, target: str | os.PathLike) -> bool:
    """Make ``target`` a new hard link to ``source``, replacing what was there atomically; False when the
    file system cannot link (another drive, links not allowed): the caller copies instead.

    Never opens ``target``: when it is itself a hard link to some other file (an earlier link export), that
    file is left as it was; only the name ``target`` now points elsewhere."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp{target.suffix}")
    try:
        os.link(source, tmp)
    except OSError:
        return False
    try:
        os.replace(tmp, target)
    except OSError as exc:
        raise _naming(exc, target) from exc
    finally:
        with contextlib.suppress(OSError):  # replace() of two links to one file keeps both names
            os.unlink(tmp)
    fsync_dir(target.parent)
    return True


def _naming(exc: OSError, target: Path) -> OSError:
    """The same kind of OSError (same errno, so ``except PermissionError`` still works) about ``target``."""
    if exc.filename == str(target) or exc.errno is None:
        return exc
    reason = exc.strerror or str(exc)
    if (
        exc.filename is not None
        and exc.filename != str(target)
        and Path(str(exc.filename)).parent != target.parent
    ):
        reason += f" ({exc.filename})"  # a parent folder: say which
    try:
        return type(exc)(exc.errno, reason, str(target))
    except TypeError:  # an OSError subclass with another constructor
        return OSError(exc.errno, reason, str(target))


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temp file for writing that replaces ``path`` only if the block completes."""
    if mode not in ("wb", "w"):
        raise ValueError("atomic_open supports 'w' and 'wb'")
    with (
        _temp_beside(path) as tmp,
        open(tmp, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as handle,
    ):
        yield handle


def give_normal_mode(tmp: str, target: Path) -> None:
    """mkstemp makes 0600 files; keep the target's mode, or use what a plain open() would give."""
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_current_umask()
    os.chmod(tmp, mode)


def _current_umask() -> int:
    """Read the umask without os.umask's set-and-restore race (other threads may be creating files)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: some file systems cannot fsync a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = None) -> None:
    """Serialise first, then write: a value that cannot be encoded never touches the disk."""
    atomic_write_text(path, json.dumps(obj, indent=indent, allow_nan=False))


def atomic_write_with(path: str | os.PathLike, writer: Callable[[str], None]) -> None:
    """For libraries that insist on writing a path themselves (torch.save, onnx.save, cv2.imwrite)."""
    with _temp_beside(path) as tmp:
        writer(tmp)
