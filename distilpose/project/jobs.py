"""Training and export jobs recorded in the project, so the job manager finds them again after a restart.

Job rows are bookkeeping, not edits: they are not undoable and not logged in ``history``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distilpose.project.base import StoreBase
from distilpose.project.connection import now
from distilpose.project.errors import ProjectError
from distilpose.project.records import JOB_STATUSES, JobRecord, json_object

_KEEP: Any = object()  # "leave this field as it is" in update_job
_JOB_COLUMNS = "id, kind, status, config, pid, paths, metrics, created, updated"


class StoreJobs(StoreBase):
    """Job records of the store."""

    def add_job(
        self, kind: str, config: Mapping, *, paths: Mapping | None = None, status: str = "queued"
    ) -> int:
        """Record a (training, export, ...) job so the job manager can find it again after a restart."""
        self._check_status(status)
        stamp = now()
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO jobs (kind, status, config, paths, metrics, created, updated) "
                "VALUES (?, ?, ?, ?, '{}', ?, ?)",
                (
                    kind,
                    status,
                    self._json(config, "job config"),
                    self._json(paths or {}, "job paths"),
                    stamp,
                    stamp,
                ),
            )
        return int(cur.lastrowid)

    def update_job(
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
        with self.transaction() as conn:
            job = self.job(job_id)  # read under the write lock: two updaters merge, never revert each other
            conn.execute(
                "UPDATE jobs SET status = ?, pid = ?, paths = ?, metrics = ?, updated = ? WHERE id = ?",
                (
                    status or job.status,
                    job.pid if pid is _KEEP else pid,
                    self._json({**job.paths, **(paths or {})}, "job paths"),
                    self._json({**job.metrics, **(metrics or {})}, "job metrics"),
                    now(),
                    job_id,
                ),
            )

    def job(self, job_id: int) -> JobRecord:
        row = self.conn.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (int(job_id),)).fetchone()
        if row is None:
            raise ProjectError(f"{self.path}: no job {job_id} in this project")
        return self._decode("job", _job_record, row)

    def jobs(self, status: str | None = None) -> list[JobRecord]:
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs" + (" WHERE status = ?" if status else "") + " ORDER BY id"
        return [self._decode("job", _job_record, r) for r in self.conn.execute(sql, (status,) if status else ())]

    def _check_status(self, status: str) -> None:
        if status not in JOB_STATUSES:
            raise ProjectError(
                f"{self.path}: unknown job status {status!r}; expected one of {', '.join(JOB_STATUSES)}"
            )


def _job_record(row: tuple) -> JobRecord:
    jid, kind, status, config, pid, paths, metrics, created, updated = row
    return JobRecord(
        jid, kind, status, json_object(config), pid, json_object(paths), json_object(metrics), created, updated
    )
