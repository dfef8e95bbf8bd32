"""Whether the write-ahead log (``-wal``) beside a project file is the project's own, decided before the
project is opened: SQLite replays whatever ``<name>-wal`` lies beside a database, and a log from another
database, or one written for a newer copy of this file before an older copy was restored over it, rewrites
the project into another database, a mix of two versions or a damaged file (docs/adr/0016).

The stamp. Every write transaction of the store sets the database header's ``user_version`` to one more than
before (from a random start), so page 1, which holds it, is in every transaction's log frames. A log that
belongs to the file begins right after the file's stamp, or the file holds one of the log's stamps (a
checkpoint copied part of the log into the file). Reading that takes the log's frame headers and the first
100 bytes of its page-1 frames (SQLite's file format, sections 1.3 and 4), no SQLite connection. Then the log
is replayed read-only (``mode=ro``: a read-only connection replays into its index and never checkpoints;
the file alone is read with ``immutable=1``, which ignores the log): it must give the same project
(``meta.project_id``), and, when the log holds no stamp (another program wrote it), a sound database.

A log SQLite would not replay (no valid header), an empty one, and one a live connection is using (another
window or program has the project open) are left alone. A log that is not the project's is moved aside,
never deleted, with words saying where it went and how to put it back.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import struct
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

#: WAL header magic numbers (big- and little-endian checksums) and the format version, from SQLite's file
#: format documentation (section 4.1, "WAL File Format").
_WAL_MAGIC = (0x377F0682, 0x377F0683)
_WAL_VERSION = 3007000
_WAL_HEADER = 32
_FRAME_HEADER = 24
_DB_HEADER = 100
#: Edit stamps (the database header's ``user_version``) run 1..2^31-1 and wrap.
_STAMP_LIMIT = 2**31
#: The -shm byte every connection using the log holds a read lock on (``UNIX_SHM_DMS`` in os_unix.c).
_SHM_DMS_BYTE = 128


def uri(path: Path, **params: str) -> str:
    """A SQLite ``file:`` URI for ``path`` with query ``params`` (``mode=ro``, ``immutable=1``)."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quote(str(path.resolve()))}" + (f"?{query}" if query else "")


def sidecars(path: Path) -> tuple[Path, Path]:
    return Path(f"{path}-wal"), Path(f"{path}-shm")


def guard(path: Path) -> list[str]:
    """Move a log that is not ``path``'s own aside; returns what was done, in words (nothing when the log is
    absent, empty, in use or the project's own)."""
    wal, shm = sidecars(path)
    try:
        if not wal.is_file() or wal.stat().st_size < _WAL_HEADER:
            return []
    except OSError:
        return []
    if in_use(shm):
        return []
    try:
        problem = foreign_log(path, wal)
    except OSError:
        return []
    if problem is None:
        return []
    moved = move_aside(wal, shm)
    if moved is None:
        return [
            f"{path}: the write-ahead log beside it ({wal.name}) does not belong to this file ({problem}), "
            "and it could not be moved aside; move it away yourself before opening the project"
        ]
    back = " and ".join(f"{m.name} back to {orig.name}" for orig, m in moved)
    return [
        f"{path}: the write-ahead log beside it ({wal.name}) does not belong to this file ({problem}); "
        f"replaying it would have damaged the project, so it was moved to {moved[0][1]} and the project "
        f"opened as the file holds it. If you are sure the log belongs to this very file (no older copy "
        f"was restored and nothing copied over it), close every program using the project and rename {back}"
    ]


def in_use(shm: Path) -> bool:
    """Whether a connection (of any process, this one included) has the log open: it holds a read lock on
    the ``-shm`` file's DMS byte. Asked with an open-file-description lock query, which also sees this
    process's own locks (Linux); where that is unavailable, a plain POSIX query (other processes only)."""
    try:
        import fcntl
    except ImportError:  # no POSIX locks (Windows): SQLite refuses to let a log in use be renamed there
        return False
    command = getattr(fcntl, "F_OFD_GETLK", fcntl.F_GETLK)
    try:
        fd = os.open(shm, os.O_RDONLY)
    except OSError:
        return False
    try:
        query = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, _SHM_DMS_BYTE, 1, 0)
        answer = fcntl.fcntl(fd, command, query)
        return struct.unpack("hhqqi", answer)[0] != fcntl.F_UNLCK
    except OSError:
        return True  # cannot tell: leave the log alone
    finally:
        os.close(fd)


def next_stamp(stamp: int) -> int:
    """The edit stamp a project's next write transaction puts into the file header (``user_version``):
    one more than the last, from a random start (a project of an older version starts now), 1..2^31-1."""
    if stamp <= 0:
        return secrets.randbelow(_STAMP_LIMIT - 1) + 1
    return stamp + 1 if stamp < _STAMP_LIMIT - 1 else 1


def _previous(stamp: int) -> int:
    return stamp - 1 if stamp > 1 else _STAMP_LIMIT - 1


def read_log(wal: Path) -> tuple[int, list[int]] | None:
    """(page size, the edit stamp of every page-1 image in the log's current frames, in order); None when
    SQLite would replay nothing (no valid header). Frames of the current log carry its header's salts; those
    after them are an earlier log's leftovers, which SQLite ignores too."""
    with open(wal, "rb") as handle:
        head = handle.read(_WAL_HEADER)
        if len(head) < _WAL_HEADER:
            return None
        magic, version, page_size, _sequence, salt1, salt2 = struct.unpack(">6I", head[:24])
        if (
            magic not in _WAL_MAGIC
            or version != _WAL_VERSION
            or page_size < 512
            or page_size & (page_size - 1)
        ):
            return None
        stamps = []
        while True:
            frame = handle.read(_FRAME_HEADER)
            if len(frame) < _FRAME_HEADER:
                break
            page, _commit, frame_salt1, frame_salt2 = struct.unpack(">4I", frame[:16])
            if (frame_salt1, frame_salt2) != (salt1, salt2):
                break
            if page == 1:
                header = handle.read(_DB_HEADER)
                if len(header) < _DB_HEADER:
                    break
                stamps.append(struct.unpack(">i", header[60:64])[0])
                handle.seek(page_size - _DB_HEADER, os.SEEK_CUR)
            else:
                handle.seek(page_size, os.SEEK_CUR)
    return page_size, stamps


def _file_header(path: Path) -> tuple[int, int] | None:
    """(page size, edit stamp) from a database file's header."""
    with open(path, "rb") as handle:
        head = handle.read(_DB_HEADER)
    if len(head) < _DB_HEADER:
        return None
    size = struct.unpack(">H", head[16:18])[0]
    return (65536 if size == 1 else size), struct.unpack(">i", head[60:64])[0]


def foreign_log(path: Path, wal: Path) -> str | None:
    """Why replaying ``wal`` onto ``path`` would not give this project back; None when it would, and when it
    cannot be told (the file alone is no project, a lock is held).

    First the headers: the log's page size must be the file's, and the file's edit stamp must be the one
    the log's first page-1 image follows, or one of the log's own (a checkpoint copied part of the log into
    the file). An older copy of the project fails this, as does almost any other database. Then SQLite: the
    log replayed (read-only) must give this project (``meta.project_id``), and, where the log holds no stamp
    (written by another program), a sound database."""
    log, file = read_log(wal), _file_header(path)
    if log is None or file is None:
        return None
    (log_page, stamps), (file_page, stamp) = log, file
    if log_page != file_page:
        return f"it was written by another database: its pages are {log_page} bytes, this file's {file_page}"
    if stamps and stamp > 0 and stamp not in stamps and stamp != _previous(stamps[0]):
        return (
            "it was written for another database, or for another copy of this project (a newer one, if an "
            f"older copy was restored over it): it continues from edit stamp {_previous(stamps[0])}, the "
            f"file holds stamp {stamp}"
        )
    stamped = bool(stamps) and stamp > 0
    try:
        own = _project_id(uri(path, immutable="1"))
    except sqlite3.Error:
        return None  # the file alone is damaged or no database: opening it says so
    if own is None:
        return None
    try:
        conn = sqlite3.connect(uri(path, mode="ro"), uri=True, timeout=0.5)
    except sqlite3.Error:
        return None
    try:
        try:
            replayed = _read_project_id(conn)
            found = (
                ["ok"] if stamped else [r[0] for r in conn.execute("PRAGMA integrity_check(3)").fetchall()]
            )
        except sqlite3.Error as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return None
            return f"replayed onto this file, it gives a damaged database ({exc})"
    finally:
        conn.close()
    if replayed != own:
        return "it was written by another database" + (
            "" if replayed is None else f" (project id {replayed}, this file's is {own})"
        )
    if found != ["ok"]:
        return (
            "replayed onto this file, it gives a damaged database: it was written for another copy of this "
            f"project ({'; '.join(found)[:200]})"
        )
    return None


def _project_id(database_uri: str) -> str | None:
    conn = sqlite3.connect(database_uri, uri=True, timeout=0.5)
    try:
        return _read_project_id(conn)
    finally:
        conn.close()


def _read_project_id(conn: sqlite3.Connection) -> str | None:
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'project_id'").fetchone()
    return None if row is None else str(row[0])


def move_aside(wal: Path, shm: Path) -> list[tuple[Path, Path]] | None:
    """Rename the log (and its index) to ``<name>.stray-<UTC time>``; [(original, new name)], or None when
    the log could not be renamed."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for original in (wal, shm):
        target = original.with_name(f"{original.name}.stray-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = original.with_name(f"{original.name}.stray-{stamp}-{n}")
        try:
            os.rename(original, target)
        except FileNotFoundError:
            continue
        except OSError:
            if original == wal:
                return None
            with contextlib.suppress(OSError):  # the index is rebuilt from the log: losing it costs nothing
                original.unlink()
            continue
        moved.append((original, target))
    return moved or None
