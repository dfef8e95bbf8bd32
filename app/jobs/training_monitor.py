"""The training monitor dock: the project's jobs with their status, and live curves of the selected one.

It draws what the :class:`~distilpose.app.jobs.manager.JobManager` has read (loss terms, lr, images/s, the
validation metric), a progress bar with the ETA, the error and log tail of a failed job, and for a finished
job its report: the student beside the student it started from, Lightning and the teacher on the validation
split, live FPS and the verdict (read from the job's ``report.json``; a status line while it is computed). Its buttons only emit requests: the
manager (through the training actions) does the work.
"""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDockWidget,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from distilpose.app.jobs.manager import ACTIVE, Job, JobManager
from distilpose.app.jobs.process import describe_exit
from distilpose.app.jobs.progress import JobProgress
from distilpose.compare import Comparison, row_cells
from distilpose.errors import DistilPoseError
from distilpose.training.project_report import load_report, report_comparison

#: Curve colours, cycled over the loss terms.
PALETTE = ((230, 90, 80), (80, 160, 230), (120, 200, 90), (230, 180, 60), (180, 110, 220), (200, 200, 200))
NO_VALIDATION = (
    "This job ran without a validation split, so there is nothing to compare on: split the project "
    "by time (Dataset panel), pre-label or verify the held-out frames and run a new job."
)
#: The report table's first column says what each row is.
REPORT_COLUMNS = ("Model", "AP", "PCK@0.2", "Live FPS", "Weights")
#: Width of the job list and buttons column (px); the plots take the rest.
SIDE_WIDTH = 400
#: The plots' height never shrinks below this (px): readable at the window's default size.
PLOT_MIN_HEIGHT = 200
#: The dock's preferred height (px): docked at the bottom of a 1280x800 window beside the project docks, it
#: must fit without growing the window.
PREFERRED_HEIGHT = 270
#: The validation axis shows at least 0..this, whatever the values.
VAL_MIN_TOP = 0.05
#: Width of each plot's y axis (px).
AXIS_WIDTH = 52


def _small_font() -> QFont:
    font = QFont()
    font.setPointSizeF(8.0)
    return font


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "ETA —"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"ETA {h}:{m:02d}:{s:02d}" if h else f"ETA {m}:{s:02d}"


def _xy(series: list[tuple[int, float]]) -> tuple[list[int], list[float]]:
    return [p[0] for p in series], [p[1] for p in series]


class TrainingMonitor(QDockWidget):
    """See the module docs."""

    cancelRequested = Signal(int)
    resumeRequested = Signal(int)
    rerunRequested = Signal(int)
    useModelRequested = Signal(int)
    gpuExportRequested = Signal(int)
    compareRequested = Signal(int)

    def __init__(self, manager: JobManager, parent: QWidget | None = None) -> None:
        super().__init__("Training", parent)
        self.setObjectName("training_monitor")
        self.manager = manager
        body = QWidget()
        row = QHBoxLayout(body)
        # Left: the jobs and what to do with them; right: the curves, side by side (the dock sits at the
        # bottom of the window: wide and short, so plots stacked on each other were a few pixels tall).
        side = QWidget()
        side.setFixedWidth(SIDE_WIDTH)  # a fixed width: word-wrapped lines below never make it taller
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        self.job_list = QTreeWidget()
        self.job_list.setHeaderLabels(["Job", "Status", "Step", "Info"])
        self.job_list.setRootIsDecorated(False)
        self.job_list.setMaximumHeight(110)
        self.job_list.currentItemChanged.connect(lambda *_: self._show_selected())
        column.addWidget(self.job_list)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.eta_label = QLabel(format_eta(None))
        self.log_box = QCheckBox("Log-scale losses")
        self.log_box.setToolTip("Loss terms on a logarithmic axis (values at or below 0 are not drawn)")
        line = QHBoxLayout()
        line.addWidget(self.eta_label, 1)
        line.addWidget(self.log_box)
        column.addWidget(self.progress)
        column.addLayout(line)
        buttons = QGridLayout()
        self.cancel_button = QPushButton("Cancel")
        self.resume_button = QPushButton("Resume")
        self.rerun_button = QPushButton("Re-run")
        self.use_button = QPushButton("Use as Live Model")
        self.gpu_button = QPushButton("Export for GPU…")
        self.compare_button = QPushButton("Compare on Validation")
        for i, (button, signal) in enumerate(
            (
                (self.cancel_button, self.cancelRequested),
                (self.resume_button, self.resumeRequested),
                (self.rerun_button, self.rerunRequested),
                (self.use_button, self.useModelRequested),
                (self.gpu_button, self.gpuExportRequested),
                (self.compare_button, self.compareRequested),
            )
        ):
            button.clicked.connect(lambda _=False, s=signal: self._request(s))
            buttons.addWidget(button, i // 2, i % 2)
        column.addLayout(buttons)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumHeight(PLOT_MIN_HEIGHT)
        self.loss_plot = self._plot(0, "Loss terms")
        self.loss_legend = self.loss_plot.addLegend(
            offset=(-5, 5), labelTextSize="8pt", brush=(25, 25, 25, 190)
        )
        self.lr_plot = self._plot(1, "Learning rate")
        self.ips_plot = self._plot(2, "Images / s")
        self.val_plot = self._plot(3, "Validation")
        self.graphics.ci.layout.setColumnStretchFactor(0, 2)  # the losses get the room
        self.lr_curve = self.lr_plot.plot(pen=pg.mkPen(PALETTE[1], width=2))
        self.ips_curve = self.ips_plot.plot(pen=pg.mkPen(PALETTE[2], width=2))
        self.val_curve = self.val_plot.plot(pen=pg.mkPen(PALETTE[3], width=2), symbol="o", symbolSize=7)
        self.val_labels: list[pg.TextItem] = []
        self.loss_curves: dict[str, pg.PlotDataItem] = {}
        self.log_box.toggled.connect(self._set_log_scale)
        row.addWidget(side)
        row.addWidget(self.graphics, 1)
        self.error_view = QPlainTextEdit()
        self.error_view.setReadOnly(True)
        self.error_view.setMaximumHeight(120)
        self.error_view.hide()
        column.addWidget(self.error_view)
        self.comparison_label = QLabel()
        self.comparison_label.setWordWrap(True)
        self.comparison_table = QTableWidget(0, len(REPORT_COLUMNS))
        self.comparison_table.setHorizontalHeaderLabels(list(REPORT_COLUMNS))
        self.comparison_table.verticalHeader().hide()
        self.comparison_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.comparison_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.comparison_table.horizontalHeader().setStretchLastSection(True)
        self.comparison_table.setMaximumHeight(140)
        self.comparison_label.hide()  # hidden before the first layout: it must not size the dock
        self.comparison_table.hide()
        column.addWidget(self.comparison_label)
        column.addWidget(self.comparison_table)
        column.addStretch(1)
        #: Per job: the status line of a comparison being computed (or of the last one that failed).
        self._comparison_status: dict[int, str] = {}
        #: The job whose student "Use as Live Model" made the live model, and its name.
        self._live_job: int | None = None
        self._live_name = ""
        self._comparisons_running: set[int] = set()
        self.setWidget(body)
        manager.jobChanged.connect(self._on_job_changed)
        manager.eventsArrived.connect(self._on_events)
        manager.jobsReloaded.connect(self._on_reloaded)
        self.refresh()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(super().sizeHint().width(), PREFERRED_HEIGHT)

    def _plot(self, col: int, title: str) -> pg.PlotItem:
        plot = self.graphics.addPlot(row=0, col=col, title=title)
        plot.setLabel("bottom", "step")
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.getAxis("left").setWidth(AXIS_WIDTH)  # room for "0.0025": labels never run into each other
        for side in ("left", "bottom"):
            plot.getAxis(side).setStyle(tickFont=_small_font(), tickTextOffset=3)
        return plot

    def _set_log_scale(self, on: bool) -> None:
        self.loss_plot.setLogMode(y=on)
        self.loss_plot.enableAutoRange(y=True)

    # ---------------------------------------------------------------- job list
    def selected_id(self) -> int | None:
        item = self.job_list.currentItem()
        return int(item.data(0, Qt.ItemDataRole.UserRole)) if item is not None else None

    def select(self, job_id: int) -> None:
        for i in range(self.job_list.topLevelItemCount()):
            item = self.job_list.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole) == job_id:
                self.job_list.setCurrentItem(item)
                return

    def refresh(self) -> None:
        """Rebuild the job list (newest first) and keep the selection."""
        keep = self.selected_id()
        self.job_list.blockSignals(True)
        self.job_list.clear()
        for job in sorted(self.manager.jobs.values(), key=lambda j: -j.id):
            item = QTreeWidgetItem([f"#{job.id}", job.status, self._step_text(job), self._info(job)])
            item.setData(0, Qt.ItemDataRole.UserRole, job.id)
            item.setToolTip(3, self._info(job))
            self.job_list.addTopLevelItem(item)
        self.job_list.blockSignals(False)
        if keep is not None and keep in self.manager.jobs:
            self.select(keep)
        elif self.job_list.topLevelItemCount():
            self.job_list.setCurrentItem(self.job_list.topLevelItem(0))
        self._show_selected()

    @staticmethod
    def _step_text(job: Job) -> str:
        p = job.progress
        return f"{p.step}/{p.total_steps}" if p.total_steps else str(p.step or "")

    @staticmethod
    def _info(job: Job) -> str:
        if job.status == "failed":
            return job.error_text() or describe_exit(job.metrics.get("exit_code"))
        if job.status == "done":
            return "ONNX ready" if job.metrics.get("onnx") else "done"
        spec = job.config.get("spec") or {}
        return f"{spec.get('student', '')} ← {spec.get('teacher', '')}".strip(" ←") or job.paths.get(
            "config", ""
        )

    def _on_job_changed(self, job_id: int) -> None:
        self.refresh()
        job = self.manager.jobs.get(job_id)
        if job is not None and job.status in ACTIVE:
            self.select(job_id)

    def _on_reloaded(self) -> None:
        self.job_list.clear()  # ids of another project mean other jobs: do not keep the selection
        self._comparison_status.clear()
        self._comparisons_running.clear()
        self.refresh()
        running = [j.id for j in self.manager.jobs.values() if j.status in ACTIVE]
        if running:
            self.select(max(running))

    # ---------------------------------------------------------------- curves
    def _on_events(self, job_id: int, _events: list) -> None:
        if job_id == self.selected_id():
            self._draw(self.manager.jobs[job_id])
            item = self.job_list.currentItem()
            if item is not None:
                item.setText(2, self._step_text(self.manager.jobs[job_id]))

    def _show_selected(self) -> None:
        job = self.manager.jobs.get(self.selected_id()) if self.selected_id() is not None else None
        if job is None:
            self._draw_progress(JobProgress())
            self._update_buttons(None)
            self.error_view.hide()
            self._show_comparison(None)
            return
        self._draw(job)
        self._update_buttons(job)
        if job.status == "failed":
            text = job.error_text() or describe_exit(job.metrics.get("exit_code"))
            tail = job.metrics.get("log_tail")
            self.error_view.setPlainText(f"{text}\n\n{tail}" if tail else text)
            self.error_view.show()
        else:
            self.error_view.hide()
        self._show_comparison(job)

    # ---------------------------------------------------------------- comparison
    def set_comparison_status(self, job_id: int, text: str, running: bool = True) -> None:
        """A comparison of ``job_id`` is running (or failed, ``running`` False): ``text`` instead of a table."""
        self._comparison_status[job_id] = text
        if running:
            self._comparisons_running.add(job_id)
        else:
            self._comparisons_running.discard(job_id)
        if job_id == self.selected_id():
            self._show_selected()

    def set_live_model(self, job_id: int | None, name: str) -> None:
        """Say under the job's report that its student is the live model now (None: no job's is)."""
        self._live_job, self._live_name = job_id, name
        self._show_selected()

    def comparison_finished(self, job_id: int) -> None:
        """The job's comparison file was written: show it."""
        self._comparison_status.pop(job_id, None)
        self._comparisons_running.discard(job_id)
        if job_id == self.selected_id():
            self._show_selected()

    def comparison_running(self, job_id: int) -> bool:
        return job_id in self._comparisons_running

    def _show_comparison(self, job: Job | None) -> None:
        if job is None or job.status != "done":
            job = None
        status = self._comparison_status.get(job.id) if job is not None else None
        if job is not None and status is None and not job.has_validation:
            # said from the job itself, not from an old comparison file: true after any reopen
            self.comparison_table.setVisible(False)
            self.comparison_label.setText(NO_VALIDATION)
            self.comparison_label.setVisible(True)
            return
        comparison: Comparison | None = None
        report = None
        if status is None and job is not None:
            path = job.report_path
            if path.exists():
                try:
                    report = load_report(path)
                    comparison = report_comparison(report)
                except DistilPoseError as exc:
                    status = str(exc)
        rows = comparison.rows if comparison is not None else []
        self.comparison_table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, text in enumerate(row_cells(row)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if j in (1, 2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.comparison_table.setItem(i, j, item)
        self.comparison_table.setVisible(bool(rows))
        if status is None and report is not None:
            status = report_text(report)
        if job is not None and job.id == self._live_job:
            status = f"{status}\nLive model now: {self._live_name} (student)" if status else (
                f"Live model now: {self._live_name} (student)"
            )
        self.comparison_label.setText(status or "")
        self.comparison_label.setVisible(bool(status))

    def _draw(self, job: Job) -> None:
        p = job.progress
        for i, (name, series) in enumerate(sorted(p.losses.items())):
            curve = self.loss_curves.get(name)
            if curve is None:
                curve = self.loss_plot.plot(pen=pg.mkPen(PALETTE[i % len(PALETTE)], width=2), name=name)
                self.loss_curves[name] = curve
            xs, ys = _xy(series)
            if self.log_box.isChecked():
                xs, ys = [x for x, y in zip(xs, ys, strict=True) if y > 0], [y for y in ys if y > 0]
            curve.setData(xs, ys)
        for name in set(self.loss_curves) - set(p.losses):
            self.loss_curves[name].setData([], [])
        self.lr_curve.setData(*_xy(p.lr))
        self.ips_curve.setData(*_xy(p.images_per_s))
        self.val_curve.setData(*_xy(p.val))
        self._label_epochs(p)
        if p.val:
            # a metric in [0, 1] from 0 up: one point at 0 AP would otherwise get an axis of 1e-21s
            self.val_plot.setYRange(0.0, max(VAL_MIN_TOP, max(v for _, v in p.val) * 1.25), padding=0)
        if p.total_steps:
            # One x axis for all four, the whole run: a single validation point sits where it was taken.
            for plot in (self.loss_plot, self.lr_plot, self.ips_plot, self.val_plot):
                plot.setXRange(0, p.total_steps, padding=0.02)
        name = p.val_name or "metric"
        self.val_plot.setTitle(f"Validation {name} (per epoch)" if p.val else "Validation: none yet")
        self._draw_progress(p, job.status in ACTIVE)

    def _label_epochs(self, p: JobProgress) -> None:
        for label in self.val_labels:
            self.val_plot.removeItem(label)
        self.val_labels = []
        for (step, value), epoch in zip(p.val, p.val_epochs, strict=False):
            label = pg.TextItem(f"ep {epoch}", color=(200, 200, 200), anchor=(1.0, 1.0))  # left, above
            label.setPos(step, value)
            self.val_plot.addItem(label)
            self.val_labels.append(label)

    def _draw_progress(self, p: JobProgress, active: bool = False) -> None:
        self.progress.setValue(int(p.fraction * 1000))
        self.progress.setFormat(f"step {p.step} / {p.total_steps}" if p.total_steps else "—")
        # Only a running job has time left: a cancelled or failed one shows no stale estimate.
        self.eta_label.setText(format_eta(p.eta_s if active or p.eta_s == 0.0 else None))

    def _update_buttons(self, job: Job | None) -> None:
        status = job.status if job is not None else None
        self.cancel_button.setEnabled(status in ACTIVE)
        self.resume_button.setEnabled(status in ("cancelled", "failed") and job.last_checkpoint.exists())
        self.rerun_button.setEnabled(status in ("cancelled", "failed", "done"))
        self.use_button.setEnabled(status == "done" and job.final_weights.exists())
        self.gpu_button.setEnabled(job is not None and job.config_path.exists())
        validated = job is not None and job.has_validation
        self.compare_button.setEnabled(
            status == "done"
            and job.final_weights.exists()
            and validated
            and not self.comparison_running(job.id)
        )
        self.compare_button.setToolTip(
            "Score the student, the student it started from, Lightning and the teacher on the job's val split"
            if validated or job is None
            else NO_VALIDATION
        )

    def _request(self, signal) -> None:
        job_id = self.selected_id()
        if job_id is not None:
            signal.emit(job_id)


def report_text(report: dict) -> str:
    """The verdict sentence, then where the numbers come from."""
    pipeline = report.get("pipeline") or {}
    if pipeline.get("error"):
        fps = f"no live FPS ({pipeline['error']})"
    else:
        fps = f"live FPS from one bench --pipeline run on {Path(pipeline.get('video', '')).name}"
    where = report.get("note") or f"OKS AP on the val split ({report.get('people', 0)} people, the project's labels)"
    return f"{report.get('verdict', '')}\n{where}; {fps}."
