"""The Instances dock: the people of the shown frame with their status and score, each with its 17 keypoints
(name, visibility, score), and per-person hide and lock toggles, as CVAT's and X-AnyLabeling's object lists.

Rows come from :func:`distilpose.app.annotate.instance_rows.person_rows` (add a column there and in ``COLUMNS``).
Selecting a row selects the person (or the keypoint, ready for 0/1/2, a drag or S) on the canvas, and a
selection made on the canvas selects the row. A keypoint's visibility is edited in place (double-click
the cell); the change goes through the editor as one undoable command, like the 0/1/2 keys.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QHeaderView,
    QLabel,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from distilpose.app.annotate.editing import Editor
from distilpose.app.annotate.instance_rows import VISIBILITY, KeypointRow, PersonRow, person_rows
from distilpose.app.state import AppState
from distilpose.app.words import legend_html, legend_tooltip, plural, status_color

COLUMNS = ("Person / keypoint", "Status / visibility", "Score", "Hide", "Lock")
NAME_COL, STATUS_COL, SCORE_COL, HIDE_COL, LOCK_COL = range(len(COLUMNS))
#: Item data: (instance id or None, position in the frame, keypoint or None).
ROW_ROLE = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


class VisibilityDelegate(QStyledItemDelegate):
    """A combo box for a keypoint's visibility; choosing a value hands it to the dock (no model write: the
    dock rebuilds from the store after the command)."""

    def __init__(self, dock: InstancesDock) -> None:
        super().__init__(dock)
        self.dock = dock

    def createEditor(self, parent: QWidget, _option: QStyleOptionViewItem, index: Index) -> QWidget:  # noqa: N802
        combo = QComboBox(parent)
        for v, text in VISIBILITY.items():
            combo.addItem(f"{v} {text}", v)
        combo.activated.connect(lambda _i, c=combo: self._chosen(c))
        return combo

    def setEditorData(self, editor: QWidget, index: Index) -> None:  # noqa: N802 (Qt override)
        data = index.siblingAtColumn(NAME_COL).data(ROW_ROLE)
        if isinstance(editor, QComboBox) and data is not None:
            iid, position, k = data
            row = self.dock.rows[position]
            editor.setCurrentIndex(editor.findData(row.keypoints[k].v))

    def setModelData(self, editor: QWidget, model, index: Index) -> None:  # noqa: N802 (Qt override)
        if isinstance(editor, QComboBox):
            data = index.siblingAtColumn(NAME_COL).data(ROW_ROLE)
            if data is not None:
                iid, _position, k = data
                self.dock.request_visibility(iid, k, int(editor.currentData()))

    def _chosen(self, combo: QComboBox) -> None:
        self.commitData.emit(combo)
        self.closeEditor.emit(combo)


class InstancesDock(QDockWidget):
    """See the module docs."""

    def __init__(self, state: AppState, editor: Editor, parent: QWidget | None = None) -> None:
        super().__init__("Instances", parent)
        self.setObjectName("instances")
        self.state = state
        self.editor = editor
        self.rows: list[PersonRow] = []
        self._syncing = False
        self._expanded: set[int | None] = set()
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        layout.addWidget(self.summary_label)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.SelectedClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NAME_COL, QHeaderView.ResizeMode.Stretch)
        self.tree.setItemDelegateForColumn(STATUS_COL, VisibilityDelegate(self))
        layout.addWidget(self.tree, 1)
        hint = QLabel("Tab / Shift+Tab: next / previous person · double-click a visibility to change it")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: gray")
        layout.addWidget(hint)
        self.legend_label = QLabel(legend_html())  # the words of the Status column (app/words.py)
        self.legend_label.setToolTip(legend_tooltip())
        self.legend_label.setWordWrap(True)
        layout.addWidget(self.legend_label)
        self.setWidget(body)
        self.tree.currentItemChanged.connect(self._row_chosen)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.itemExpanded.connect(lambda item: self._expanded.add(self._iid(item)))
        self.tree.itemCollapsed.connect(lambda item: self._expanded.discard(self._iid(item)))
        state.instancesChanged.connect(self.refresh)
        state.personFlagsChanged.connect(self.refresh)
        state.selectionChanged.connect(self._sync_current)
        state.jointChanged.connect(self._sync_current)
        state.projectChanged.connect(self._expanded.clear)
        self.refresh()

    # ---------------------------------------------------------------- building
    @staticmethod
    def _iid(item: QTreeWidgetItem) -> int | None:
        data = item.data(NAME_COL, ROW_ROLE)
        return None if data is None else data[0]

    def refresh(self) -> None:
        """Rebuild from the shown frame's people (after an edit, a new frame, a hide or lock)."""
        self.rows = person_rows(self.state.instances)
        self._syncing = True
        self.tree.blockSignals(True)
        try:
            self.tree.clear()
            for row in self.rows:
                self.tree.addTopLevelItem(self._person_item(row))
        finally:
            self.tree.blockSignals(False)
            self._syncing = False
        self._summarise()
        self._sync_current()

    def _person_item(self, row: PersonRow) -> QTreeWidgetItem:
        item = QTreeWidgetItem(
            [f"{row.title} · {row.labelled}/17", row.status, _score(row.score), "", ""]
        )
        item.setData(NAME_COL, ROW_ROLE, (row.instance_id, row.position, None))
        item.setForeground(STATUS_COL, QBrush(QColor(*status_color(row.status))))
        tip = f"{row.title}: {row.status}, from {row.source or 'unknown'}"
        if row.accepted:
            tip += f" (accepted {row.accepted_from} prediction)"
        if row.instance_id is not None:
            tip += f" (instance id {row.instance_id})"
        item.setToolTip(NAME_COL, tip)
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if row.instance_id is not None:
            item.setFlags(flags | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(HIDE_COL, self._check(row.instance_id in self.state.hidden_ids))
            item.setCheckState(LOCK_COL, self._check(row.instance_id in self.state.locked_ids))
            item.setToolTip(HIDE_COL, "Hide this person on the image")
            item.setToolTip(LOCK_COL, "Lock this person: no drags or edits until unlocked")
        else:
            item.setFlags(flags)
        for kp in row.keypoints:
            item.addChild(self._keypoint_item(row, kp))
        if row.instance_id in self._expanded:
            item.setExpanded(True)
        return item

    def _keypoint_item(self, row: PersonRow, kp: KeypointRow) -> QTreeWidgetItem:
        child = QTreeWidgetItem([f"{kp.k:>2} {kp.name}", f"{kp.v} {kp.visibility}", _score(kp.score), "", ""])
        child.setData(NAME_COL, ROW_ROLE, (row.instance_id, row.position, kp.k))
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if row.instance_id is not None and self.state.is_editable(row.instance_id):
            flags |= Qt.ItemFlag.ItemIsEditable
            child.setToolTip(STATUS_COL, "Double-click to change (or press 2, 1, 0)")
        child.setFlags(flags)
        if kp.v == 0:
            child.setForeground(NAME_COL, QBrush(QColor(150, 150, 150)))
        return child

    @staticmethod
    def _check(on: bool) -> Qt.CheckState:
        return Qt.CheckState.Checked if on else Qt.CheckState.Unchecked

    def _summarise(self) -> None:
        if not self.rows:
            shown = self.state.image is not None
            self.summary_label.setText("Nobody on this frame" if shown else "No frame shown")
            return
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        parts = ", ".join(f"{n} {status}" for status, n in counts.items())
        self.summary_label.setText(f"{plural(len(self.rows), 'person', 'people')}: {parts}")

    # ---------------------------------------------------------------- lookups
    def person_item(self, position: int) -> QTreeWidgetItem | None:
        return self.tree.topLevelItem(position) if 0 <= position < self.tree.topLevelItemCount() else None

    def keypoint_item(self, position: int, k: int) -> QTreeWidgetItem | None:
        person = self.person_item(position)
        return person.child(k) if person is not None and 0 <= k < person.childCount() else None

    # ---------------------------------------------------------------- dock -> canvas
    def _row_chosen(self, current: QTreeWidgetItem | None, _previous=None) -> None:
        if self._syncing or current is None:
            return
        iid, position, k = current.data(NAME_COL, ROW_ROLE)
        if iid is None:
            self.state.set_selection((position,))
        else:
            self.state.select_joint(iid, k)

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._syncing or column not in (HIDE_COL, LOCK_COL):
            return
        iid = self._iid(item)
        if iid is None:
            return
        on = item.checkState(column) == Qt.CheckState.Checked
        # Later: the state's signal rebuilds this tree, which must not happen inside the view's own handler.
        setter = self.state.set_hidden if column == HIDE_COL else self.state.set_locked
        QTimer.singleShot(0, lambda: setter(iid, on))

    def request_visibility(self, instance_id: int | None, k: int, v: int) -> None:
        """The delegate's choice: one undoable edit, made once the editor has closed."""
        if instance_id is not None:
            QTimer.singleShot(0, lambda: self.editor.set_keypoint_visibility(instance_id, k, v))

    # ---------------------------------------------------------------- canvas -> dock
    def _sync_current(self) -> None:
        if self._syncing:
            return
        state = self.state
        position = state.selection[0] if state.selection else None
        item = None
        if position is not None:
            joint = state.joint
            iid = self.rows[position].instance_id if position < len(self.rows) else None
            if joint is not None and joint[0] == iid:
                item = self.keypoint_item(position, joint[1])
                parent = self.person_item(position)
                if parent is not None and not parent.isExpanded():
                    parent.setExpanded(True)
            else:
                item = self.person_item(position)
                if item is not None and not item.isExpanded():
                    item.setExpanded(True)  # a selected person shows its keypoints
        self._syncing = True
        try:
            if item is None:
                self.tree.clearSelection()
                self.tree.setCurrentItem(None)
            elif self.tree.currentItem() is not item:
                self.tree.setCurrentItem(item)
                self.tree.scrollToItem(item)
        finally:
            self._syncing = False
