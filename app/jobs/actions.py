"""The window's Training side: the menu, the distil dialog, the monitor dock and the job manager wired up.

Kept out of ``main_window.py`` so the window only creates it, adds its menu and shuts it down.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt

from distilpose.app.jobs.compare_thread import comparison_task
from distilpose.app.jobs.distil_dialog import DistilDialog
from distilpose.app.jobs.manager import ACTIVE, JobManager
from distilpose.app.jobs.spec import write_gpu_bundle
from distilpose.app.jobs.training_monitor import TrainingMonitor
from distilpose.app.tasks import BackgroundTask
from distilpose.errors import DistilPoseError
from distilpose.training.project_job import job_name, project_data, project_video
from distilpose.training.project_report import BENCH_FRAMES

STATUS_TIMEOUT_MS = 10_000
#: The val fraction the dialog's "Split by Time" holds out of each video.
TIME_SPLIT_VAL = 0.2


class TrainingActions(QObject):
    """See the module docs. ``window`` is the MainWindow."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.manager = JobManager(window.state, self)
        self.monitor = TrainingMonitor(self.manager, window)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.monitor)
        self.monitor.hide()
        self.dialog: DistilDialog | None = None
        self.distil_action = window.make_action("training.distil", self.ask_distil)
        self.run_config_action = window.make_action("training.run_config", self.ask_run_config)
        self.monitor_action = window.adopt_action("training.monitor", self.monitor.toggleViewAction())
        m = self.monitor
        m.cancelRequested.connect(self.manager.cancel)
        m.resumeRequested.connect(self.manager.resume)
        m.rerunRequested.connect(self.manager.rerun)
        m.useModelRequested.connect(self.use_as_live_model)
        m.gpuExportRequested.connect(self.ask_gpu_export)
        m.compareRequested.connect(self.start_comparison)
        #: Report threads by job id; ``_stopping`` keeps interrupted ones referenced until they end.
        self.comparisons: dict[int, BackgroundTask] = {}
        self._stopping: list[BackgroundTask] = []
        #: Video frames the report's live-FPS run times per model.
        self.report_frames = BENCH_FRAMES
        self.manager.jobChanged.connect(self._on_job_changed)
        self.manager.jobsReloaded.connect(self._on_jobs_reloaded)
        self.manager.jobFailed.connect(lambda _id, text: window.report_error("Training job failed", text))
        self.manager.errorOccurred.connect(window.report_error)
        self.manager.onnxExported.connect(self._on_onnx)
        window.state.projectChanged.connect(self._update_enabled)
        self._update_enabled()

    def _update_enabled(self) -> None:
        has_project = self.window.state.project is not None
        self.distil_action.setEnabled(has_project)
        self.run_config_action.setEnabled(has_project)
        if has_project and self.manager.jobs:
            self.monitor.show()

    # ---------------------------------------------------------------- starting
    def ask_distil(self) -> DistilDialog | None:
        """Open the dialog (non-blocking); accepting it starts the job."""
        if self.window.state.project is None:
            self.window.report_error(
                "No project", "Open a project first: its verified annotations are the data."
            )
            return None
        dialog = DistilDialog(
            self.window.dialogs.open_file,
            self.window,
            project=project_data(self.window.state.project),
            split_by_time=self.split_by_time,
        )
        dialog.accepted.connect(lambda: self.start(dialog))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    def split_by_time(self):
        """The dialog's proposal: split the project by time (one undoable edit), then count again."""
        if not self.window.editor.split(TIME_SPLIT_VAL, 0.0, 0, "time"):
            return None
        store = self.window.state.project
        return project_data(store) if store is not None else None

    def start(self, dialog: DistilDialog) -> int | None:
        try:
            job_id = self.manager.start(dialog.spec())
        except DistilPoseError as exc:
            self.window.report_error("Cannot start the job", str(exc))
            return None
        self.monitor.show()
        self.monitor.select(job_id)
        self.window.statusBar().showMessage(f"Job {job_id}: exporting the data…", STATUS_TIMEOUT_MS)
        return job_id

    def ask_run_config(self) -> None:
        path = self.window.dialogs.open_file(self.window, "Run Training Config", "Configs (*.json *.yaml *.yml)")
        if path:
            self.run_config(path)

    def run_config(self, path: str | Path, device: str | None = None) -> int | None:
        try:
            job_id = self.manager.start_config(path, device)
        except DistilPoseError as exc:
            self.window.report_error("Cannot start the job", str(exc))
            return None
        self.monitor.show()
        return job_id

    # ---------------------------------------------------------------- after a job
    def use_as_live_model(self, job_id: int) -> bool:
        """Make the job's final student the live model, named after the project and the job; the status bar
        and the model panel show that it took effect."""
        job = self.manager.jobs.get(job_id)
        if job is None or job.status != "done" or not job.final_weights.exists():
            self.window.report_error("No model yet", f"job {job_id} has not finished with a final model")
            return False
        path = str(job.final_weights)
        store = self.window.state.project
        name = job_name(store.path, job_id) if store is not None else f"job {job_id}"
        self.window.model_panel.add_checkpoint(path, f"{name} (student)")
        self.window.live.update_settings(model=path)
        took = self.window.live.settings.model == path
        self.monitor.set_live_model(job_id if took else None, name)
        self.window.statusBar().showMessage(
            f"Live model: {name} ({path})" if took else f"Could not switch the live model to {name}",
            STATUS_TIMEOUT_MS,
        )
        return took

    def _on_onnx(self, job_id: int, path: str) -> None:
        if path:
            self.window.statusBar().showMessage(
                f"Job {job_id} done; ONNX export: {path} (Training ▸ Use as Live Model)", STATUS_TIMEOUT_MS
            )
        self.monitor.refresh()
        # After the export, not beside it: on a few cores the two would slow each other and skew the FPS.
        self.start_comparison(job_id)

    # ---------------------------------------------------------------- the report
    def _on_job_changed(self, job_id: int) -> None:
        job = self.manager.jobs.get(job_id)
        if job is not None and job.status in ACTIVE:  # re-run or resumed: an earlier report no longer holds
            self._stop_comparison(job_id)

    def _on_jobs_reloaded(self) -> None:
        for job_id in list(self.comparisons):
            self._stop_comparison(job_id)

    def start_comparison(self, job_id: int) -> BackgroundTask | None:
        """The job's report (background thread): its student, the student it started from, Lightning and the
        teacher on the val split, and their live FPS; the monitor shows a status line, then the report."""
        job = self.manager.jobs.get(job_id)
        store = self.window.state.project
        if (
            job is None
            or store is None
            or job.status != "done"
            or not job.final_weights.exists()
            or job_id in self.comparisons
        ):
            return None
        thread = comparison_task(
            job_id,
            job.config_path,
            job.final_weights,
            job.report_path,
            video=project_video(store),
            name=job_name(store.path, job_id),
            frames=self.report_frames,
            parent=self,
        )
        thread.status.connect(lambda text, t=thread: self._comparison_progress(t, job_id, text))
        thread.succeeded.connect(lambda path, t=thread: self._comparison_done(t, job_id, path))
        thread.failed.connect(lambda text, t=thread: self._comparison_failed(t, job_id, text))
        thread.cancelled.connect(lambda _text, t=thread: self._comparison_failed(t, job_id, "report cancelled"))
        thread.finished.connect(lambda t=thread: self._comparison_thread_ended(t, job_id))
        self.comparisons[job_id] = thread
        self.monitor.set_comparison_status(job_id, "Writing the job's report…")
        thread.start()
        return thread

    def _current(self, thread: BackgroundTask, job_id: int) -> bool:
        """Signals of a stopped thread (job re-run, another project opened) are stale: ignore them."""
        return self.comparisons.get(job_id) is thread

    def _comparison_progress(self, thread: BackgroundTask, job_id: int, text: str) -> None:
        if self._current(thread, job_id):
            self.monitor.set_comparison_status(job_id, text)

    def _comparison_done(self, thread: BackgroundTask, job_id: int, path: str) -> None:
        if self._current(thread, job_id):
            self.monitor.comparison_finished(job_id)
            self.window.statusBar().showMessage(
                f"Job {job_id}: report saved to {path}", STATUS_TIMEOUT_MS
            )

    def _comparison_failed(self, thread: BackgroundTask, job_id: int, text: str) -> None:
        if self._current(thread, job_id):
            self.monitor.set_comparison_status(job_id, f"Report failed: {text}", running=False)

    def _comparison_thread_ended(self, thread: BackgroundTask, job_id: int) -> None:
        if self.comparisons.get(job_id) is thread:
            del self.comparisons[job_id]
        if thread in self._stopping:
            self._stopping.remove(thread)
        self.monitor.refresh()  # the Compare button
        thread.deleteLater()

    def _stop_comparison(self, job_id: int) -> None:
        thread = self.comparisons.pop(job_id, None)
        if thread is not None:
            thread.cancel()
            self._stopping.append(thread)

    def ask_gpu_export(self, job_id: int) -> None:
        folder = self.window.dialogs.folder(self.window, "Export Job for a GPU Machine")
        if not folder:
            return
        gpus = self.window.dialogs.integer(self.window, "GPUs", "Number of GPUs (torchrun --nproc_per_node):", 1, 1)
        if gpus is not None:
            self.export_for_gpu(job_id, folder, gpus)

    def export_for_gpu(self, job_id: int, folder: str | Path, gpus: int) -> Path | None:
        job = self.manager.jobs.get(job_id)
        if job is None:
            return None
        try:
            script = write_gpu_bundle(job.config_path, Path(folder), gpus)
        except DistilPoseError as exc:
            self.window.report_error("GPU export failed", str(exc))
            return None
        self.window.statusBar().showMessage(f"Wrote {script}", STATUS_TIMEOUT_MS)
        return script

    def shutdown(self) -> None:
        """Stop comparisons (nothing is saved; the Compare button redoes one) and the manager's threads."""
        threads = [*self.comparisons.values(), *self._stopping]
        for thread in threads:
            thread.requestInterruption()
        for thread in threads:
            thread.wait(120_000)
        self.manager.shutdown()
