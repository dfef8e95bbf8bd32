"""The "Distil a Student" dialog: teacher, student, budget, device and validation for a training job.

It only collects choices into a :class:`~distilpose.app.jobs.spec.DistilSpec`; the job manager exports the
project's verified annotations and writes the strict config. Opened with ``open()``: it never blocks.

It starts from defaults chosen for this machine (:mod:`distilpose.app.jobs.budget`): the shipped student,
and on a CPU a batch and step count that finish in minutes; every student is listed with the time the
budget would take. What the project holds is checked before the job starts: without verified people in
the val split the validation box is off and says why.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

from distilpose.app.jobs.budget import format_duration, machine_defaults, step_seconds
from distilpose.app.words import plural
from distilpose.models import list_models
from distilpose.training.project_job import DEFAULT_TEACHER, DistilSpec, ProjectData, teacher_problem

#: ``(parent, caption, filter)`` -> chosen path or "".
FileChooser = Callable[[QWidget, str, str], str]


def teacher_names() -> list[str]:
    """Registered models that can teach (their spec's role)."""
    return list_models("teacher")


def student_names() -> list[str]:
    return list_models("student")


def cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


class DistilDialog(QDialog):
    """See the module docs; ``spec()`` is valid after ``accepted``."""

    def __init__(
        self,
        file_chooser: FileChooser,
        parent: QWidget | None = None,
        *,
        data: tuple[int, int] | None = None,
        cuda: bool | None = None,
        project: ProjectData | None = None,
        split_by_time: Callable[[], ProjectData | None] | None = None,
    ) -> None:
        """``project``: what the project gives a job (:func:`~distilpose.training.project_job.project_data`;
        None: unknown, nothing is refused); ``data``: only the verified people in the training and val splits;
        ``cuda``: whether a GPU can be used (None: ask torch); ``split_by_time``: splits the project by time
        and returns its new data (the dialog offers it for a video project)."""
        super().__init__(parent)
        self.setWindowTitle("Distil a Student")
        self._choose_file = file_chooser
        self._project = project
        self._split_by_time = split_by_time
        if project is not None:
            data = (project.train.people, project.val.people)
        self._data = data
        cuda = cuda_available() if cuda is None else cuda
        defaults = machine_defaults(DEFAULT_TEACHER, cuda)
        form = QFormLayout(self)
        self.teacher_combo = QComboBox()
        self.teacher_combo.setEditable(True)  # a checkpoint path can be typed or chosen
        for name in teacher_names():
            self.teacher_combo.addItem(name)
        self.teacher_combo.setCurrentText(DEFAULT_TEACHER)
        browse = QPushButton("Checkpoint…")
        browse.clicked.connect(self._browse_teacher)
        row = QHBoxLayout()
        row.addWidget(self.teacher_combo, 1)
        row.addWidget(browse)
        form.addRow("Teacher", row)
        self.student_combo = QComboBox()
        for name in student_names():
            self.student_combo.addItem(name, name)
        self.student_combo.setCurrentIndex(max(0, self.student_combo.findData(defaults.student)))
        form.addRow("Student", self.student_combo)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(0, 10_000_000)
        self.steps_spin.setValue(defaults.steps)
        self.steps_spin.setSpecialValueText("no step limit")
        form.addRow("Steps", self.steps_spin)
        self.minutes_spin = QDoubleSpinBox()
        self.minutes_spin.setRange(0.0, 100_000.0)
        self.minutes_spin.setSpecialValueText("no time limit")
        self.minutes_spin.setSuffix(" min")
        form.addRow("Time budget", self.minutes_spin)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 4096)
        self.batch_spin.setValue(defaults.batch)
        form.addRow("Batch size", self.batch_spin)
        self.workers_spin = QSpinBox()
        self.workers_spin.setRange(0, 64)
        self.workers_spin.setValue(2)
        form.addRow("Data workers", self.workers_spin)
        self.device_combo = QComboBox()
        self.device_combo.addItem("CPU", "cpu")
        self.device_combo.addItem("CUDA GPU", "cuda")
        if not cuda:
            self.device_combo.model().item(1).setEnabled(False)
        self.device_combo.setCurrentIndex(self.device_combo.findData(defaults.device))
        form.addRow("Device", self.device_combo)
        self.estimate_label = QLabel()
        self.estimate_label.setWordWrap(True)
        form.addRow("Takes", self.estimate_label)
        self.validate_box = QCheckBox("Validate on the project's val split")
        self.validate_box.setChecked(True)
        self.validate_note = QLabel()
        self.validate_note.setWordWrap(True)
        form.addRow("", self.validate_box)
        form.addRow("", self.validate_note)
        self.learns_label = QLabel()
        self.learns_label.setWordWrap(True)
        form.addRow("Learns from", self.learns_label)
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("color: #d0a040")
        form.addRow(self.warning_label)
        self.split_button = QPushButton("Split by Time (hold out the end of each video)")
        self.split_button.clicked.connect(self._split_time)
        form.addRow("", self.split_button)
        self._show_project()
        self._check_data()
        for signal in (
            self.student_combo.currentIndexChanged,
            self.steps_spin.valueChanged,
            self.minutes_spin.valueChanged,
            self.batch_spin.valueChanged,
            self.device_combo.currentIndexChanged,
            self.teacher_combo.currentTextChanged,
        ):
            signal.connect(self._update_estimate)
        self.teacher_combo.currentTextChanged.connect(self._show_project)  # whose pre-labels these are
        self._update_estimate()
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d04040")
        form.addRow(self.error_label)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start")
        buttons.accepted.connect(self._try_accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        form.addRow(buttons)

    def _show_project(self) -> None:
        """What the student learns from, what is too little, and for a video project the split by time."""
        project = self._project
        self.learns_label.setVisible(project is not None)
        self.warning_label.setVisible(project is not None)
        propose = project is not None and project.videos > 0 and not project.split_frames.get("val")
        self.split_button.setVisible(propose and self._split_by_time is not None)
        if project is None:
            return
        self.learns_label.setText(project.learns_from())
        # the note under the validation box says the val one; the teacher's pre-labels are checked by name
        lines = project.warnings(with_val=False, teacher=self.teacher_combo.currentText().strip() or None)
        if propose:
            lines.insert(0, "This project is video: split it by time, so the val split is the end of each "
                         "video after a one-second gap (frames of one video are near-duplicates).")
        self.warning_label.setText("\n".join(lines))
        self.warning_label.setVisible(bool(lines))

    def _split_time(self) -> None:
        if self._split_by_time is None:
            return
        project = self._split_by_time()
        if project is not None:
            self._project = project
            self._data = (project.train.people, project.val.people)
            self.validate_box.setEnabled(True)
            self.validate_box.setChecked(True)
            self._show_project()
            self._check_data()
            self.adjustSize()  # other lines, of other lengths: the dialog fits them

    def _check_data(self) -> None:
        """No verified people in the val split: validation cannot run, so the box is off and says why."""
        if self._data is None:
            self.validate_note.hide()
            return
        train, val = self._data
        if val == 0:
            self.validate_box.setChecked(False)
            self.validate_box.setEnabled(False)
            self.validate_note.setText(
                "No labelled people in the val split (verified, or teacher pre-labels): split the project "
                "by time and pre-label or verify the held-out frames. The job will train without validation."
            )
        else:
            self.validate_note.setText(f"{val} labelled people in the val split, {train} for training.")

    def _update_estimate(self) -> None:
        """How long the step budget takes with the chosen student, and with each of the others (CPU)."""
        steps, minutes = self.steps_spin.value(), self.minutes_spin.value()
        teacher = self.teacher_combo.currentText().strip()
        batch = self.batch_spin.value()
        if self.device_combo.currentData() == "cuda":
            self.estimate_label.setText("on the GPU: not estimated")
            return
        if not steps:
            self.estimate_label.setText(f"the time budget: {minutes:g} min" if minutes else "—")
            return
        chosen = self.student_combo.currentData()
        took = {
            self.student_combo.itemData(i): steps * step_seconds(self.student_combo.itemData(i), teacher, batch)
            for i in range(self.student_combo.count())
        }
        for i in range(self.student_combo.count()):
            name = self.student_combo.itemData(i)
            self.student_combo.setItemData(i, f"{format_duration(took[name])} on this CPU", Qt.ItemDataRole.ToolTipRole)
        limit = f" (stops at the {minutes:g} min budget)" if minutes and minutes * 60 < took[chosen] else ""
        others = " · ".join(f"{n} {format_duration(t)}" for n, t in sorted(took.items(), key=lambda x: x[1]) if n != chosen)
        self.estimate_label.setText(
            f"{format_duration(took[chosen])} on this CPU for {plural(steps, 'step')} of {batch}{limit}\n"
            f"other students: {others}" if others else f"{format_duration(took[chosen])} for {plural(steps, 'step')}{limit}"
        )

    def _browse_teacher(self) -> None:
        path = self._choose_file(
            self, "Teacher Checkpoint", "Checkpoints (*.safetensors *.pth *.pt);;All files (*)"
        )
        if path:
            self.teacher_combo.setCurrentText(path)

    def spec(self) -> DistilSpec:
        minutes = self.minutes_spin.value()
        return DistilSpec(
            teacher=self.teacher_combo.currentText().strip(),
            student=self.student_combo.currentData(),
            max_steps=self.steps_spin.value() or None,
            time_budget_s=minutes * 60.0 if minutes > 0 else None,
            device=self.device_combo.currentData(),
            validate=self.validate_box.isChecked() and self.validate_box.isEnabled(),
            batch_size=self.batch_spin.value(),
            workers=self.workers_spin.value(),
        )

    def problem(self) -> str | None:
        """Why the choices cannot start a job, or None."""
        spec = self.spec()
        if self._project is not None and self._project.problem():
            return self._project.problem()
        if self._data is not None and self._data[0] == 0:
            return (
                "No verified people and no teacher pre-labels in the train split: pre-label the frames with "
                "the teacher or verify some people first."
            )
        if spec.max_steps is None and spec.time_budget_s is None:
            return "Set a step budget or a time budget."
        return teacher_problem(spec.teacher)

    def _try_accept(self) -> None:
        problem = self.problem()
        if problem:
            self.error_label.setText(problem)
            return
        self.error_label.setText("")
        self.accept()
