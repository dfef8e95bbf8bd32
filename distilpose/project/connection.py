"""Opening the project's SQLite file: connection settings, a file check before SQLite touches anything, the
backup made before a schema upgrade, and SQLite errors turned into messages that name the project file."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from distilpose.project.errors import ProjectError, ProjectLockedError

_SQLITE_MAGIC = b"SQLite format 3\x00"


def now() -> str:
    """UTC time as ISO 8601 with milliseconds: sorts as text and reads well in any SQLite browser."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def connect(path: Path, timeout: float) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; the store issues BEGIN IMMEDIATE / COMMIT itself, so a
    # write lock is taken up front (no lock upgrade failures in WAL) and nothing stays uncommitted.
    conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=True)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def configure(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")  # stays 'delete' where WAL is impossible (some network shares)
    conn.execute("PRAGMA synchronous = FULL")


def check_file(p: Path) -> None:
    """Refuse what is not a SQLite file before SQLite touches it (it would otherwise fail later, less
    clearly)."""
    if not p.exists():
        raise ProjectError(f"{p}: no such project file")
    if p.is_dir():
        raise ProjectError(f"{p}: is a folder, not a project file")
    try:
        with open(p, "rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise ProjectError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if not head:
        raise ProjectError(f"{p}: the file is empty, not a DistilPose project")
    if head != _SQLITE_MAGIC:
        raise ProjectError(f"{p}: not a DistilPose project: not a SQLite database (wrong file header)")


def backup(conn: sqlite3.Connection, p: Path, version: int) -> Path:
    """Copy the project before an upgrade, so an older app (or a worried user) still has the old file."""
    target = p.with_name(f"{p.name}.v{version}.bak")
    n = 1
    while target.exists():
        n += 1
        target = p.with_name(f"{p.name}.v{version}.bak{n}")
    dst = sqlite3.connect(str(target))
    try:
        conn.backup(dst)
    finally:
        dst.close()
    return target


def translate_error(exc: sqlite3.Error, p: Path, timeout: float) -> ProjectError:
    text = str(exc)
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text or "busy" in text:
        return ProjectLockedError(
            f"{p}: the project is locked by another program or window (waited {timeout:g} s); "
            "close it there and try again"
        )
    if isinstance(exc, sqlite3.IntegrityError):
        return ProjectError(f"{p}: the edit breaks a rule of the project: {text}")
    if (
        name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT"))
        or "not a database" in text
        or "malformed" in text
    ):
        return ProjectError(f"{p}: not a usable project: the database is damaged ({text})")
    return ProjectError(f"{p}: {text}")
