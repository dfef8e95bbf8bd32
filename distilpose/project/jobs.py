"""Training and export jobs recorded in the project, so the job manager finds them again after a restart.

A composed part of the store (``store.job_records``, docs/adr/0025), not a base class: it holds the store and
writes through its transactions, and adds no state. Job rows are bookkeeping, not edits: they are not undoable
and not logged in ``history``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distilpose.project.base import StoreBase
from distilpose.project.connection import now
from distilpose.project.errors import ProjectError
from distilpose.project.records import JOB_STATUSES, JobRecord, json_object

_KEEP: Any = object()  # "leave this field as it is" in JobRecords.update
_JOB_COLUMNS = "id, kind, status, config, pid, paths, metrics, created, updated"


class JobRecords:
    """The job records of ``store.job_records``; see the module docs."""

    def __init__(self, store: StoreBase) -> None:
        self._store = store

    def add(self, kind: str, config: Mapping, *, paths: Mapping | None = None, status: str = "queued") -> int:
        """Record a (training, export, ...) job so the job manager can find it again after a restart."""
        self._check_status(status)
        store = self._store
        stamp = now()
        with store.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO jobs (kind, status, config, paths, metrics, created, updated) "
                "VALUES (?, ?, ?, ?, '{}', ?, ?)",
                (
                    kind,
                    status,
                    store._json(config, "job config"),
                    store._json(paths or {}, "job paths"),
                    stamp,
                    stamp,
                ),
            )
        return int(cur.lastrowid)

    def update(
        self,
        job_id: int,
        *,
        status: str | None = None,
        pid: int | None = _KEEP,
        paths: Mapping | None = None,
        metrics: Mapping | None = None,
    ) -> None:
        """Change what is given (``pid=None`` clears it); ``paths`` and ``metrics`` are merged into the stored
        ones."""
        if status is not None:
            self._check_status(status)
        store = self._store
        with store.transaction() as conn:
            job = self.get(job_id)  # read under the write lock: two updaters merge, never revert each other
            conn.execute(
                "UPDATE jobs SET status = ?, pid = ?, paths = ?, metrics = ?, updated = ? WHERE id = ?",
                (
                    status or job.status,
                    job.pid if pid is _KEEP else pid,
                    store._json({**job.paths, **(paths or {})}, "job paths"),
                    store._json({**job.metrics, **(metrics or {})}, "job metrics"),
                    now(),
                    job_id,
                ),
            )

    def get(self, job_id: int) -> JobRecord:
        """The job ``job_id``; a ProjectError naming the project if there is none."""
        store = self._store
        row = store.conn.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (int(job_id),)).fetchone()
        if row is None:
            raise ProjectError(f"{store.path}: no job {job_id} in this project")
        return store._decode("job", _job_record, row)

    def all(self, status: str | None = None) -> list[JobRecord]:
        """Every job (or those with ``status``), oldest first."""
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs" + (" WHERE status = ?" if status else "") + " ORDER BY id"
        rows = self._store.conn.execute(sql, (status,) if status else ())
        return [self._store._decode("job", _job_record, r) for r in rows]

    def _check_status(self, status: str) -> None:
        if status not in JOB_STATUSES:
            known = ", ".join(JOB_STATUSES)
            raise ProjectError(f"{self._store.path}: unknown job status {status!r}; expected one of {known}")


def _job_record(row: tuple) -> JobRecord:
    jid, kind, status, config, pid, paths, metrics, created, updated = row
    return JobRecord(
        jid, kind, status, json_object(config), pid, json_object(paths), json_object(metrics), created, updated
    )
