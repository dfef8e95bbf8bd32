"""The dataset panel: train/val/test split, statistics, COCO import, and one export button per registered
dataset format (:data:`distilpose.project.formats.EXPORTERS`).

Buttons only ask: the window's project actions run the dialogs and the jobs and report back with
:meth:`DatasetPanel.show_result`; the split goes through the editor (one undo command). Statistics are read
from the store (:func:`distilpose.project.stats.project_stats`) when the store changes, lazily while hidden.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from distilpose.app.annotate.editing import Editor
from distilpose.app.state import AppState
from distilpose.app.widgets.lazy import RefreshWhenVisible
from distilpose.project import stats as project_stats_module
from distilpose.project.formats import EXPORTERS
from distilpose.project.splits import SPLIT_UNITS


class DatasetPanel(RefreshWhenVisible, QDockWidget):
    importRequested = Signal()
    #: (format name of :data:`distilpose.project.formats.EXPORTERS`, only verified)
    exportRequested = Signal(str, bool)

    def __init__(self, state: AppState, editor: Editor, parent: QWidget | None = None) -> None:
        super().__init__("Dataset", parent)
        self.setObjectName("dataset_panel")
        self.state = state
        self.editor = editor
        self._dirty = True
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)

        split_box = QGroupBox("Train / val / test split")
        grid = QGridLayout(split_box)
        self.val_spin = _fraction(0.2)
        self.test_spin = _fraction(0.0)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 1_000_000)
        self.by_combo = QComboBox()
        for unit in SPLIT_UNITS:
            self.by_combo.addItem(f"by {unit}", unit)
        self.by_combo.setToolTip(
            "'by media' keeps all frames of one video in one split (no leakage); 'by time' holds out the last "
            "part of each video, after a one-second gap"
        )
        self.split_button = QPushButton("Split")
        self.split_button.setToolTip("Assign every dataset frame to train, val or test (undoable)")
        grid.addWidget(QLabel("val"), 0, 0)
        grid.addWidget(self.val_spin, 0, 1)
        grid.addWidget(QLabel("test"), 0, 2)
        grid.addWidget(self.test_spin, 0, 3)
        grid.addWidget(QLabel("seed"), 1, 0)
        grid.addWidget(self.seed_spin, 1, 1)
        grid.addWidget(self.by_combo, 1, 2)
        grid.addWidget(self.split_button, 1, 3)
        layout.addWidget(split_box)

        io_box = QGroupBox("Import / export")
        io = QVBoxLayout(io_box)
        row = QHBoxLayout()
        self.import_button = QPushButton("Import COCO…")
        self.import_button.setToolTip(
            "Merge a COCO keypoint file (all or nothing: a bad file changes nothing)"
        )
        row.addWidget(self.import_button)
        #: One button per registered export format, by format name.
        self.export_buttons: dict[str, QPushButton] = {}
        for fmt in EXPORTERS.values():
            button = QPushButton(f"Export {fmt.title}…")
            button.setToolTip(fmt.help + (f", {fmt.check_note}" if fmt.check_note else ""))
            button.clicked.connect(
                lambda _checked=False, name=fmt.name: self.exportRequested.emit(
                    name, self.only_verified_box.isChecked()
                )
            )
            self.export_buttons[fmt.name] = button
            row.addWidget(button)
        self.export_button = self.export_buttons["coco"]
        self.yolo_button = self.export_buttons["yolo"]
        io.addLayout(row)
        self.only_verified_box = QCheckBox("Export only verified people")
        self.only_verified_box.setChecked(True)
        io.addWidget(self.only_verified_box)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        io.addWidget(self.result_label)
        layout.addWidget(io_box)

        self.stats_text = QPlainTextEdit()
        self.stats_text.setReadOnly(True)
        self.stats_text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.stats_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.stats_text.setToolTip("split: frames / people of each split; keypoints: counts by visibility")
        layout.addWidget(self.stats_text, 1)
        self.setWidget(body)

        self.split_button.clicked.connect(self._split)
        self.import_button.clicked.connect(self.importRequested)
        self.watch_store(state)
        state.projectChanged.connect(self._on_project)
        self._on_project()

    def _split(self) -> None:
        self.editor.split(
            self.val_spin.value(), self.test_spin.value(), self.seed_spin.value(), self.by_combo.currentData()
        )

    def show_result(self, text: str, ok: bool = True) -> None:
        self.result_label.setText(text)
        self.result_label.setStyleSheet("" if ok else "color: #d04040")

    def _on_project(self) -> None:
        has = self.state.project is not None
        for widget in (self.split_button, self.import_button, *self.export_buttons.values()):
            widget.setEnabled(has)
        self.result_label.setText("")
        self.refresh()

    def refresh(self) -> None:
        self._dirty = False
        store = self.state.project
        if store is None:
            self.stats_text.setPlainText("No project open.")
            return
        self.stats_text.setPlainText(compact_stats(project_stats_module.project_stats(store)))


def compact_stats(stats: project_stats_module.ProjectStats) -> str:
    """The statistics in a dock-wide (about 50 columns) plain-text block; splits read 'frames/people'."""
    sources = ", ".join(f"{n} {k}" for k, n in stats.instances_by_source.items() if n)
    splits = " · ".join(f"{k} {stats.split_frames[k]}/{stats.split_instances[k]}" for k in stats.split_frames)
    lines = [
        f"frames   {stats.frames} ({stats.labelled_frames} labelled, {stats.suggested_frames} suggested)",
        f"people   {stats.instances} ({sources or 'none'}), {stats.verified} verified",
        f"split    {splits}",
        "",
        f"{'keypoint':<15}{'v=0':>6}{'v=1':>6}{'v=2':>6}",
    ]
    for name, c in stats.keypoints.items():
        lines.append(f"{name:<15}{c['v0']:>6}{c['v1']:>6}{c['v2']:>6}")
    return "\n".join(lines)


def _fraction(value: float) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(0.0, 1.0)
    spin.setSingleStep(0.05)
    spin.setDecimals(2)
    spin.setValue(value)
    return spin
