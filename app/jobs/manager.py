"""The job manager: starts each training job as its own process, watches it through its event file, and
keeps the project's ``jobs`` table current, so that after an app restart it finds its jobs again.

Nothing here blocks the GUI thread: data export and ONNX export run in threads, the process runs on its own,
and a QTimer reads only the bytes added to each event file since the last tick. Closing the window leaves
running jobs running (they are reattached on the next open); Cancel sends SIGTERM (the trainer writes a
final checkpoint) and SIGKILLs the whole process group after a grace period.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from distilpose.app.jobs.onnx_thread import onnx_export_task
from distilpose.app.jobs.process import (
    describe_exit,
    is_job_process,
    log_tail,
    signal_tree,
    spawn,
    train_command,
)
from distilpose.app.jobs.progress import JobProgress
from distilpose.app.jobs.spec import DistilSpec, prepare_job
from distilpose.app.jobs.tail import EventTail
from distilpose.app.project.store_jobs import store_task
from distilpose.errors import DistilPoseError
from distilpose.training.project_job import REPORT_FILE, new_job

#: Event-file poll period (ms).
POLL_MS = 150
#: Time between SIGTERM and SIGKILL of the process group on Cancel (ms).
CANCEL_GRACE_MS = 10_000
ACTIVE = ("queued", "running")
#: Events after which a running job's metrics are written to its row (not every step: that is noise).
SAVE_ON = ("checkpoint", "eval", "epoch")
#: Popen objects of jobs left running when a window closed: kept so Python never warns or reaps them.
_DETACHED: list[subprocess.Popen] = []


@dataclass
class Job:
    """The manager's view of one job row: its files, its process and its curves."""

    id: int
    status: str
    paths: dict[str, str]
    config: dict[str, Any]
    metrics: dict[str, Any]
    pid: int | None = None
    popen: subprocess.Popen | None = None
    tail: EventTail | None = None
    progress: JobProgress = field(default_factory=JobProgress)
    cancelling: bool = False

    @property
    def out(self) -> Path:
        return Path(self.paths["out"])

    @property
    def events_path(self) -> Path:
        return Path(self.paths["events"])

    @property
    def log_path(self) -> Path:
        return Path(self.paths["log"])

    @property
    def config_path(self) -> Path:
        return Path(self.paths["config"])

    @property
    def device(self) -> str | None:
        return self.config.get("device")

    @property
    def has_validation(self) -> bool:
        """Whether the job's config names a val split (what validation and Compare on Validation use)."""
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8")).get("data") or {}
        except (OSError, ValueError, AttributeError):
            return False
        return bool(data.get("val_ann"))

    @property
    def last_checkpoint(self) -> Path:
        return self.out / "checkpoints" / "last.pt"

    @property
    def final_weights(self) -> Path:
        return self.out / "final" / "model.safetensors"

    @property
    def report_path(self) -> Path:
        """``report.json`` in the job folder (the end-of-job report, see ``project_report``)."""
        folder = self.paths.get("dir") or self.config_path.parent
        return Path(self.paths.get("report") or Path(folder) / REPORT_FILE)

    @property
    def onnx_path(self) -> Path:
        return self.out / "final" / "model.onnx"

    def error_text(self) -> str:
        return str(self.metrics.get("error") or "")


class JobManager(QObject):
    """See the module docs. ``state`` is the AppState: its open project holds the job rows."""

    #: The job list changed (a job added, or a status changed): job id.
    jobChanged = Signal(int)
    #: New events of a job were read: (job id, list of events).
    eventsArrived = Signal(int, list)
    #: A job failed: (job id, message with exit code and log tail).
    jobFailed = Signal(int, str)
    #: A job's ONNX export finished: (job id, path) or failed: (job id, "").
    onnxExported = Signal(int, str)
    #: A problem the window should show: (title, text).
    errorOccurred = Signal(str, str)
    #: Another project (or none) was opened: the whole job list is new.
    jobsReloaded = Signal()

    def __init__(self, state, parent: QObject | None = None, cancel_grace_ms: int = CANCEL_GRACE_MS) -> None:
        super().__init__(parent)
        self.state = state
        self.cancel_grace_ms = cancel_grace_ms
        self.jobs: dict[int, Job] = {}
        self._threads: list[Any] = []
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        state.projectChanged.connect(self._on_project_changed)
        self._on_project_changed()

    # ---------------------------------------------------------------- project
    @property
    def store(self):
        return self.state.project

    def _on_project_changed(self) -> None:
        self._load_jobs()
        self.jobsReloaded.emit()

    def _load_jobs(self) -> None:
        self._detach_all()
        store = self.store
        if store is None:
            return
        for record in store.job_records.all():
            if record.kind != "train" or not record.paths.get("events"):
                continue
            job = Job(record.id, record.status, dict(record.paths), dict(record.config), dict(record.metrics))
            job.pid = record.pid
            self.jobs[job.id] = job
            job.tail = EventTail(job.events_path)
            while self._read(job):  # the whole history, in chunks
                pass
            if job.status == "queued":  # its data export died with the app that ran it
                self._set(job, "failed", pid=None, metrics={"error": "interrupted: the app closed"})
            elif job.status == "running" and not is_job_process(job.pid, job.config_path):
                self._ended(job)  # it ended while no window watched: its events say how
        self._update_timer()

    def _detach_all(self) -> None:
        """Stop watching (the processes go on) before another project opens or the window closes."""
        for job in self.jobs.values():
            if job.popen is not None and job.popen.poll() is None:
                _DETACHED.append(job.popen)
        self.jobs.clear()
        self._timer.stop()

    def shutdown(self) -> None:
        """The window is closing: wait for helper threads, leave training processes running."""
        for thread in list(self._threads):
            thread.wait(120_000)
        self._detach_all()

    # ---------------------------------------------------------------- starting
    def start(self, spec: DistilSpec) -> int:
        """Record a job, export the data and write its config in a thread, then start its process."""
        store = self._need_store()
        job = self._new_job({"spec": spec.to_dict(), "device": spec.device}, None)
        thread = store_task(
            store.path, lambda s: prepare_job(s, spec, Path(job.paths["dir"])), f"prepare-job-{job.id}"
        )
        thread.succeeded.connect(lambda _path, jid=job.id: self._prepared(jid))
        thread.failed.connect(lambda message, jid=job.id: self._fail_before_start(jid, message))
        self._run_thread(thread)
        return job.id

    def start_config(self, config: str | Path, device: str | None = None) -> int:
        """Run an existing config file as a job (the config stays where it is)."""
        job = self._new_job({"config_file": str(config), "device": device}, Path(config).resolve())
        self._launch(job, resume=False)
        return job.id

    def _new_job(self, config: dict[str, Any], config_path: Path | None) -> Job:
        job_id, paths = new_job(self._need_store(), config, config_path)
        job = Job(job_id, "queued", paths, config, {})
        job.tail = EventTail(job.events_path)
        self.jobs[job_id] = job
        self.jobChanged.emit(job_id)
        return job

    def _prepared(self, job_id: int) -> None:
        job = self.jobs.get(job_id)
        if job is None or job.status != "queued":
            return  # cancelled while its data was exported
        self._launch(job, resume=False)

    def _fail_before_start(self, job_id: int, message: str) -> None:
        job = self.jobs.get(job_id)
        if job is None:
            return
        self._set(job, "failed", metrics={"error": message, "exit_code": None})
        self.jobFailed.emit(job_id, message)

    def _launch(self, job: Job, resume: bool) -> None:
        argv = train_command(job.config_path, job.out, job.events_path, resume=resume)
        if job.device:
            argv += ["--device", job.device]
        try:
            job.popen = spawn(argv, job.log_path)
        except OSError as exc:
            self._fail_before_start(job.id, f"cannot start the training process: {exc}")
            return
        job.pid = job.popen.pid
        job.cancelling = False
        self._set(
            job,
            "running",
            pid=job.pid,
            metrics={"exit_code": None, "error": None, "log_tail": None, "command": argv},
        )
        self._update_timer()

    # ---------------------------------------------------------------- controls
    def cancel(self, job_id: int) -> bool:
        """SIGTERM the trainer (it checkpoints and exits), SIGKILL its process group after the grace."""
        job = self.jobs.get(job_id)
        if job is None or job.status not in ACTIVE:
            return False
        if job.status == "queued":
            self._set(job, "cancelled")
            return True
        job.cancelling = True
        if job.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(job.pid, signal.SIGTERM)  # the trainer alone: its workers die with it
            QTimer.singleShot(  # bound to the manager: no call after it is gone
                self.cancel_grace_ms, self, lambda jid=job.id, pid=job.pid: self._force_kill(jid, pid)
            )
        return True

    def _force_kill(self, job_id: int, pid: int) -> None:
        job = self.jobs.get(job_id)
        if job is not None and job.pid == pid and self._alive(job):
            signal_tree(pid, signal.SIGKILL)

    def resume(self, job_id: int) -> bool:
        """Continue a cancelled or failed job from its last checkpoint (``--resume``)."""
        job = self.jobs.get(job_id)
        if job is None or job.status in ACTIVE:
            return False
        if not job.last_checkpoint.exists():
            self.errorOccurred.emit("Cannot resume", f"{job.last_checkpoint}: no checkpoint to resume from")
            return False
        self._launch(job, resume=True)
        return True

    def rerun(self, job_id: int) -> bool:
        """Start a finished, failed or cancelled job again from scratch (its run folder is emptied)."""
        job = self.jobs.get(job_id)
        if job is None or job.status in ACTIVE:
            return False
        shutil.rmtree(job.out, ignore_errors=True)
        job.report_path.unlink(missing_ok=True)  # it described the run just removed
        job.tail = EventTail(job.events_path)
        job.progress = JobProgress()
        self._set(job, "queued", metrics={"onnx": None})
        self._launch(job, resume=False)
        return True

    # ---------------------------------------------------------------- watching
    def _update_timer(self) -> None:
        if any(j.status in ACTIVE for j in self.jobs.values()):
            if not self._timer.isActive():
                self._timer.start()
        else:
            self._timer.stop()

    def _read(self, job: Job) -> bool:
        """Take in the job's new events; True when there were any."""
        if job.tail is None:
            return False
        events = job.tail.poll()
        if not events:
            return False
        for event in events:
            job.progress.add(event)
        store = self.store
        if store is not None and job.status == "running" and any(e["type"] in SAVE_ON for e in events):
            store.job_records.update(job.id, metrics=job.progress.summary())  # the row's "last metrics"
        self.eventsArrived.emit(job.id, events)
        return True

    def _alive(self, job: Job) -> bool:
        if job.popen is not None:
            return job.popen.poll() is None
        return is_job_process(job.pid, job.config_path)

    def poll(self) -> None:
        """One timer tick: read new events of every running job; settle the ones whose process ended."""
        for job in list(self.jobs.values()):
            if job.status != "running":
                continue
            self._read(job)
            if not self._alive(job):
                self._read(job)  # the last events written before it exited
                self._ended(job)
        self._update_timer()

    def _ended(self, job: Job) -> None:
        code = job.popen.returncode if job.popen is not None else None
        if job.popen is not None and job.pid:
            # Orphaned workers of our own child's group, if any (never for a pid we did not start:
            # it may belong to someone else by now).
            signal_tree(job.pid, signal.SIGKILL)
        job.popen = None
        progress = job.progress
        completed = progress.done is not None and progress.done.get("status") == "completed"
        metrics: dict[str, Any] = {**progress.summary(), "exit_code": code}
        if job.cancelling:
            self._set(job, "cancelled", pid=None, metrics=metrics)
        elif code == 0 or (code is None and completed):
            self._set(job, "done", pid=None, metrics=metrics)
            self._export_onnx(job)
        else:
            reason = progress.error or (
                "interrupted" if progress.done is not None else "the training process ended without a result"
            )
            tail = log_tail(job.log_path)
            message = f"{reason} ({describe_exit(code)})"
            self._set(job, "failed", pid=None, metrics={**metrics, "error": message, "log_tail": tail})
            self.jobFailed.emit(job.id, f"Job {job.id} failed: {message}\n\n{tail}".rstrip())

    def _set(self, job: Job, status: str, pid: Any = ..., metrics: dict[str, Any] | None = None) -> None:
        job.status = status
        job.metrics.update(metrics or {})
        kwargs: dict[str, Any] = {"status": status, "metrics": metrics or {}}
        if pid is not ...:
            kwargs["pid"] = pid
        store = self.store
        if store is not None:
            store.job_records.update(job.id, **kwargs)
        self.jobChanged.emit(job.id)

    # ---------------------------------------------------------------- after a job
    def _export_onnx(self, job: Job) -> None:
        if not job.final_weights.exists():
            self.errorOccurred.emit("ONNX export", f"{job.final_weights}: the job wrote no final weights")
            return
        thread = onnx_export_task(job.id, job.final_weights, job.onnx_path)
        thread.succeeded.connect(lambda path, jid=job.id: self._onnx_done(jid, path))
        thread.failed.connect(lambda message, jid=job.id: self._onnx_failed(jid, message))
        self._run_thread(thread)

    def _onnx_done(self, job_id: int, path: str) -> None:
        job = self.jobs.get(job_id)
        if job is not None:
            self._set(job, job.status, metrics={"onnx": path})
        self.onnxExported.emit(job_id, path)

    def _onnx_failed(self, job_id: int, message: str) -> None:
        self.errorOccurred.emit("ONNX export failed", f"job {job_id}: {message}")
        self.onnxExported.emit(job_id, "")

    def _run_thread(self, thread) -> None:
        self._threads.append(thread)
        thread.finished.connect(lambda t=thread: self._thread_done(t))
        thread.start()

    def _thread_done(self, thread) -> None:
        if thread in self._threads:
            self._threads.remove(thread)
        thread.deleteLater()

    def _need_store(self):
        if self.store is None:
            raise DistilPoseError("open a project first: jobs are stored in the project")
        return self.store
