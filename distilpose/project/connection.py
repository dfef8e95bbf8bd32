"""Opening the project's SQLite file: connection settings, a file check before SQLite touches anything, the
backup made before a schema upgrade, and SQLite errors turned into messages that name the project file (and,
for a lock held too long, who holds it; for a full disk, that the disk is full)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from distilpose.project.errors import ProjectError, ProjectLockedError, ProjectUnwritableError

_SQLITE_MAGIC = b"SQLite format 3\x00"
#: Byte ranges SQLite's writer locks: byte 120 of the -shm file in WAL mode (WAL_WRITE_LOCK), the RESERVED
#: and PENDING bytes of the database file in rollback-journal mode.
_WRITER_LOCKS = (("-shm", (120,)), ("", (0x40000001, 0x40000000)))
#: How long the check on open may take (seconds): see :func:`quick_check`.
QUICK_CHECK_BUDGET_S = 1.0
#: Below this much free space a failed write is blamed on a full disk.
_NEARLY_FULL = 4 * 1024 * 1024


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


def quick_check(conn: sqlite3.Connection, p: Path, budget_s: float = QUICK_CHECK_BUDGET_S) -> None:
    """SQLite's ``quick_check`` (pages and records well-formed, NOT NULL and CHECK constraints; indexes are
    not cross-checked), stopped after ``budget_s`` seconds: about 30 ms per MB here, so a project up to some
    30 MB is checked whole and a larger one as far as the budget goes, and opening stays quick. Refuses a
    damaged file naming its first problems; ``distilpose project check`` is the full, unhurried check."""
    deadline = time.monotonic() + budget_s
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        found = [row[0] for row in conn.execute("PRAGMA quick_check(5)").fetchall() if row[0] != "ok"]
    except sqlite3.OperationalError as exc:
        if "interrupt" not in str(exc):
            raise
        found = []  # out of time: what was checked is sound
    finally:
        conn.set_progress_handler(None, 0)
    if found:
        raise ProjectError(
            f"{p}: not a usable project: the database is damaged ({'; '.join(found[:3])}); "
            f"`distilpose project check {p}` says what is damaged"
        )


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


def application_id(p: Path) -> int | None:
    """The ``application_id`` in a SQLite file's header (bytes 68-71), read without SQLite; None when the
    file is not a SQLite database or cannot be read."""
    try:
        with open(p, "rb") as handle:
            head = handle.read(72)
    except OSError:
        return None
    if len(head) < 72 or not head.startswith(_SQLITE_MAGIC):
        return None
    return int.from_bytes(head[68:72], "big")


def lock_holder(p: Path) -> str | None:
    """Who holds the project's write lock, in words; None when it cannot be told.

    Read from the kernel's table of file locks (``/proc/locks``, Linux): SQLite's writer holds a POSIX lock
    on a known byte (:data:`_WRITER_LOCKS`), so nothing has to be written by the holder to be found."""
    try:
        table = Path("/proc/locks").read_text()
    except OSError:
        return None
    wanted: dict[tuple[int, int, int], tuple[int, ...]] = {}
    for suffix, offsets in _WRITER_LOCKS:
        try:
            st = os.stat(f"{p}{suffix}")
        except OSError:
            continue
        wanted[(os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)] = offsets
    for line in table.splitlines():
        fields = line.split()
        if len(fields) < 8 or fields[1] == "->" or fields[1] != "POSIX" or fields[3] != "WRITE":
            continue
        try:
            major, minor, inode = fields[5].split(":")
            key = (int(major, 16), int(minor, 16), int(inode))
            pid, start = int(fields[4]), int(fields[6])
            end = int(fields[7]) if fields[7] != "EOF" else 1 << 62
        except ValueError:
            continue
        if key in wanted and any(start <= b <= end for b in wanted[key]):
            return _describe_process(pid)
    return None


def _describe_process(pid: int) -> str:
    if pid == os.getpid():
        return f"held by another window or worker of this program, pid {pid}"
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        command = " ".join(a.decode("utf-8", "replace") for a in argv if a)
    except OSError:
        command = ""
    if len(command) > 100:
        command = command[:97] + "..."
    return f"held by process {pid}" + (f": {command}" if command else "")


def translate_error(exc: sqlite3.Error, p: Path, timeout: float) -> ProjectError:
    text = str(exc)
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text or "busy" in text:
        holder = lock_holder(p)
        return ProjectLockedError(
            f"{p}: the project is locked by another program or window"
            + (f" ({holder})" if holder else "")
            + f"; waited {timeout:g} s: close it there or let it finish, and try again"
        )
    if name.startswith(("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_READONLY")):
        problem, unwritable = _io_problem(p, text)
        return (ProjectUnwritableError if unwritable else ProjectError)(f"{p}: {problem}")
    if isinstance(exc, sqlite3.IntegrityError):
        return ProjectError(f"{p}: the edit breaks a rule of the project: {text}")
    if (
        name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT"))
        or "not a database" in text
        or "malformed" in text
    ):
        return ProjectError(
            f"{p}: not a usable project: the database is damaged ({text}); "
            f"`distilpose project check {p}` says what is damaged"
        )
    return ProjectError(f"{p}: {text}")


def _io_problem(p: Path, text: str) -> tuple[str, bool]:
    """Plain words for a failed read or write of the project file: a full disk, a folder that may not be
    written, or else a disk error, with SQLite's own words after; and whether it is one of the first two
    (the project can still be read)."""
    folder = p.resolve().parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if free is not None and free < _NEARLY_FULL:
        return (
            f"the disk holding {folder} is full ({free // 1024} KiB free): the project cannot save its work; "
            f"free some space and try again (SQLite: {text})"
        ), True
    if not os.access(folder, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        return (
            f"the project file or its folder {folder} cannot be written (read-only); copy the project to a "
            f"folder you may write to (SQLite: {text})"
        ), True
    return f"the project file cannot be read or written (a disk or file-system error; SQLite: {text})", False


class GuardedCursor:
    """A cursor whose fetches turn SQLite errors (a page found damaged half-way through a scan) into
    ProjectError."""

    def __init__(self, cursor: sqlite3.Cursor, guard: GuardedConnection):
        self._cursor = cursor
        self._guard = guard

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def description(self) -> Any:
        return self._cursor.description

    def fetchone(self) -> Any:
        with self._guard.translating():
            return self._cursor.fetchone()

    def fetchall(self) -> list:
        with self._guard.translating():
            return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        while True:
            with self._guard.translating():
                rows = self._cursor.fetchmany(256)
            if not rows:
                return
            yield from rows


class GuardedConnection:
    """The store's connection as every query sees it: each SQLite error becomes a ProjectError naming the
    project file (a damaged page, a full disk, a lock), wherever in the store or its modules it happens.
    ``raw`` is the sqlite3 connection, for transaction control."""

    def __init__(self, conn: sqlite3.Connection, path: Path, timeout: float):
        self.raw = conn
        self.path = path
        self.timeout = timeout

    def translating(self) -> _Translating:
        return _Translating(self)

    def execute(self, sql: str, params: Iterable[Any] = ()) -> GuardedCursor:
        with self.translating():
            return GuardedCursor(self.raw.execute(sql, params), self)

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> GuardedCursor:
        with self.translating():
            return GuardedCursor(self.raw.executemany(sql, rows), self)

    def close(self) -> None:
        self.raw.close()


class _Translating:
    def __init__(self, guard: GuardedConnection):
        self._guard = guard

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> None:
        # A ProgrammingError is a bug of the caller (a closed connection, another thread), not a file problem.
        if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.ProgrammingError):
            raise translate_error(exc, self._guard.path, self._guard.timeout) from exc
