"""The connection every part of the store shares: its lifetime, transactions (with the audit log) and meta."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from distilpose.project import wal
from distilpose.project.connection import GuardedConnection, now, translate_error
from distilpose.project.errors import ProjectError, ProjectReadOnlyError
from distilpose.project.records import to_json

_S = TypeVar("_S", bound="StoreBase")
_R = TypeVar("_R")


class StoreBase:
    """Holds the connection of one open project; see :class:`~distilpose.project.store.ProjectStore`."""

    def __init__(self, path: Path, conn: sqlite3.Connection, timeout: float):
        self.path = path
        self.folder = path.resolve().parent
        self.timeout = timeout
        self._conn: GuardedConnection | None = GuardedConnection(conn, path, timeout)
        self._depth = 0
        self._log: tuple[str, dict | None] | None = None  # what the open transaction logs at commit
        #: Why the project is open read-only (None: it can be edited); every edit then raises
        #: ProjectReadOnlyError.
        self.read_only: str | None = None
        #: What opening it did that the user must hear of (a stray write-ahead log moved aside, say).
        self.notices: list[str] = []

    def close(self) -> None:
        """Close the connection (idempotent). The last connection to close folds the WAL back into the
        file."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> GuardedConnection:
        """The connection, for the modules of this package only (the read model, stats, export; code outside
        asks ``store.read``); every SQLite error it raises is a ProjectError naming the project file."""
        if self._conn is None:
            raise ProjectError(f"{self.path}: the project is closed")
        return self._conn

    @property
    def schema_version(self) -> int:
        return int(self.get_meta("schema_version"))

    # ----------------------------------------------------------------------------------------- transactions

    @contextlib.contextmanager
    def transaction(self, op: str | None = None, payload: dict | None = None) -> Iterator[GuardedConnection]:
        """One atomic, durable unit of work, logged in ``history`` as ``op`` with ``payload`` (read at commit
        time, so a batch may fill it in as it goes). Nested calls join the outer transaction and are not
        logged on their own, except inside an outer call without ``op`` (a mere grouping, as
        :meth:`Edit.apply <distilpose.project.edits.Edit.apply>` makes to read what its edit wrote): there the
        first nested ``op`` names the entry. Any exception rolls everything back and is re-raised (SQLite
        errors as ProjectError)."""
        conn = self.conn
        raw = conn.raw
        if self.read_only is not None:
            raise ProjectReadOnlyError(
                f"{self.path}: the project is open read-only ({self.read_only}); nothing was changed"
            )
        if self._depth:
            if op is not None and self._log is None:
                self._log = (op, payload)
            self._depth += 1
            try:
                yield conn
            finally:
                self._depth -= 1
            return
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path, self.timeout) from None
        self._depth = 1
        self._log = None if op is None else (op, payload)
        try:
            yield conn
            if self._log is not None:
                op, payload = self._log
                conn.execute(
                    "INSERT INTO history (time, op, payload) VALUES (?, ?, ?)",
                    (now(), op, to_json(payload or {}, f"history payload of {op}")),
                )
            stamp = raw.execute("PRAGMA user_version").fetchone()[0]  # the log's owner mark (wal.py)
            raw.execute(f"PRAGMA user_version = {wal.next_stamp(int(stamp))}")
            raw.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                raw.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise translate_error(exc, self.path, self.timeout) from exc
            raise
        finally:
            self._depth = 0
            self._log = None

    # ----------------------------------------------------------------------------------------- meta

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        if key == "schema_version":
            raise ProjectError(f"{self.path}: the schema version is managed by the migrations")
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, str(value)),
            )

    def _decode(self, what: str, build: Callable[..., _R], row: tuple, *more: Any) -> _R:
        """``build(row, ...)``, a record from a table row; a value a damaged file holds (text in a number
        column, broken JSON) becomes a ProjectError naming the project, the table and the row."""
        try:
            return build(row, *more)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ProjectError(
                f"{self.path}: {what} {row[0]!r} is damaged ({exc}); "
                f"`distilpose project check {self.path}` lists everything that is"
            ) from None

    def _json(self, value: Any, what: str) -> str:
        try:
            return to_json(value, what)
        except ValueError as exc:
            raise ProjectError(f"{self.path}: {exc}") from None
