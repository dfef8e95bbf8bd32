"""The review queue: keypoints the model was unsure of, keypoints where teacher and student disagree, and
frames suggested for review (stored in the project). Clicking an entry shows the frame and selects the
keypoint, ready for 0/1/2, a drag or snap-to-peak."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from distilpose.app.annotate.editing import Editor
from distilpose.app.project.review import (
    DEFAULT_CONFIDENCE_THRESHOLD,
    SUGGESTION_METHODS,
    ReviewItem,
    disagreement_items,
    low_confidence_items,
    person_names,
)
from distilpose.app.state import AppState
from distilpose.app.widgets.lazy import RefreshWhenVisible
from distilpose.errors import DistilPoseError

#: (label, key) of the queues.
QUEUES = (
    ("Low confidence keypoints", "confidence"),
    ("Teacher–student disagreement", "disagreement"),
    ("Suggested frames", "suggested"),
)
LIMIT = 500


class ReviewQueueDock(RefreshWhenVisible, QDockWidget):
    """See the module docs. Refreshes when the store changes, lazily while hidden."""

    errorOccurred = Signal(str, str)

    def __init__(self, state: AppState, editor: Editor, parent: QWidget | None = None) -> None:
        super().__init__("Review", parent)
        self.setObjectName("review_queue")
        self.state = state
        self.editor = editor
        self.items: list[ReviewItem] = []
        self._dirty = True
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        self.queue_combo = QComboBox()
        for label, key in QUEUES:
            self.queue_combo.addItem(label, key)
        self.queue_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.queue_combo.setMinimumContentsLength(14)
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.0, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setValue(DEFAULT_CONFIDENCE_THRESHOLD)
        self.threshold_spin.setPrefix("< ")
        self.threshold_spin.setToolTip("List keypoints scoring below this")
        row.addWidget(self.queue_combo, 1)
        row.addWidget(self.threshold_spin)
        layout.addLayout(row)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Frame", "Person", "Keypoint", "Value"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        self.count_label = QLabel()
        self.count_label.setWordWrap(True)
        layout.addWidget(self.count_label)
        suggest = QHBoxLayout()
        suggest.addWidget(QLabel("Suggest"))
        self.count_spin = QSpinBox()
        self.count_spin.setRange(1, 10_000)
        self.count_spin.setValue(10)
        self.method_combo = QComboBox()
        self.method_combo.addItems(list(SUGGESTION_METHODS))
        self.method_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.method_combo.setMinimumContentsLength(8)
        suggest.addWidget(self.count_spin)
        suggest.addWidget(self.method_combo, 1)
        layout.addLayout(suggest)
        buttons = QHBoxLayout()
        self.suggest_button = QPushButton("Suggest Frames")
        self.suggest_button.setToolTip("Flag frames for review (stored in the project; undoable)")
        self.clear_button = QPushButton("Clear Suggestions")
        self.clear_button.setToolTip("Remove every frame suggestion (undoable)")
        buttons.addWidget(self.suggest_button)
        buttons.addWidget(self.clear_button)
        layout.addLayout(buttons)
        self.setWidget(body)
        self.queue_combo.currentIndexChanged.connect(self.refresh)
        self.threshold_spin.valueChanged.connect(self.refresh)
        self.table.cellClicked.connect(self.open_entry)
        self.suggest_button.clicked.connect(self._suggest)
        self.clear_button.clicked.connect(editor.clear_suggestions)
        self.watch_store(state)
        self.refresh()

    def queue(self) -> str:
        return self.queue_combo.currentData()

    def set_queue(self, key: str) -> None:
        self.queue_combo.setCurrentIndex(self.queue_combo.findData(key))

    def refresh(self) -> None:
        self._dirty = False
        store = self.state.project
        key = self.queue()
        self.threshold_spin.setEnabled(key == "confidence")
        if store is None:
            self.items = []
        elif key == "confidence":
            self.items = low_confidence_items(store, self.threshold_spin.value(), LIMIT)
        elif key == "disagreement":
            self.items = disagreement_items(store, LIMIT)
        else:
            self.items = [ReviewItem(f.id, None, None, 0.0) for f in store.frames() if f.suggested]
        names = {row.frame_id: row for row in self.state.frames}
        people = {} if store is None else person_names(store, [i.frame_id for i in self.items])
        self.table.setRowCount(len(self.items))
        for i, item in enumerate(self.items):
            row = names.get(item.frame_id)
            if item.k is None:
                cells = [
                    row.name if row else str(item.frame_id),
                    "",
                    "",
                    row.suggest_reason or "" if row else "",
                ]
            else:
                cells = [
                    row.name if row else str(item.frame_id),
                    people.get(item.instance_id, "?"),
                    item.joint,
                    f"{item.value:.3f}",
                ]
            for col, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if col == 1 and item.instance_id is not None:
                    cell.setToolTip(f"{text} of the frame, as the Instances dock calls it (instance id {item.instance_id})")
                if col == 3:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, col, cell)
        self.table.setHorizontalHeaderLabels(
            [
                "Frame",
                "Person",
                "Keypoint",
                "Reason" if key == "suggested" else "Score" if key == "confidence" else "Disagreement",
            ]
        )
        if store is None:
            self.count_label.setText("No project open")
        elif not self.items:
            hint = {
                "confidence": "nothing below the threshold (pre-label frames to fill this queue)",
                "disagreement": "no disagreements yet: pre-label with a model and a 'Compare with' teacher",
                "suggested": "no suggested frames",
            }[key]
            self.count_label.setText(hint)
        else:
            self.count_label.setText(
                f"{len(self.items)} entries" + (" (first 500)" if len(self.items) >= LIMIT else "")
            )

    def open_entry(self, row: int, _column: int = 0) -> bool:
        """Show the entry's frame and select its keypoint."""
        if not 0 <= row < len(self.items):
            return False
        item = self.items[row]
        try:
            self.state.go_to_frame(item.frame_id)
        except DistilPoseError as exc:
            self.errorOccurred.emit("Cannot show the frame", str(exc))
            return False
        if item.instance_id is not None:
            self.state.select_joint(item.instance_id, item.k)
        return True

    def _suggest(self) -> None:
        self.editor.suggest(self.method_combo.currentText(), self.count_spin.value())
        self.set_queue("suggested")
