"""The frame list: every frame of the project with its status (people, verified, split, suggested), and
navigation. A table model over :func:`distilpose.app.project.frame_rows.frame_rows`, refreshed on ``framesChanged``
without losing the scroll position when only statuses changed. The track filter shows only the frames that
hold one person (track) of the shown video; the arrows then step through those frames."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from distilpose.app.project.frame_rows import FrameRow
from distilpose.app.state import AppState
from distilpose.app.words import (
    EMPTY,
    FRAME_RULE,
    LABELLED,
    TO_CHECK,
    VERIFIED,
    legend_html,
    legend_tooltip,
    plural,
    status_color,
)
from distilpose.errors import DistilPoseError

COLUMNS = ("#", "Frame", "People", "Split", "Status")
STATUS_COLORS = {status: QColor(*status_color(status)) for status in (EMPTY, TO_CHECK, LABELLED, VERIFIED)}
MISSING_COLOR = QColor(128, 128, 128)  # a frame whose media file is missing (its row, whatever its status)

Index = QModelIndex | QPersistentModelIndex


class FrameTableModel(QAbstractTableModel):
    """Rows of :class:`FrameRow`; the first column is the position in the list, from 0 like every frame number
    of the app (``--project P --frame N`` shows row N)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[FrameRow] = []
        #: Media whose file is missing (ADR 0032): their frames are greyed and say so.
        self.missing_media: frozenset[int] = frozenset()

    def set_missing_media(self, media_ids) -> None:
        self.missing_media = frozenset(media_ids)
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(COLUMNS) - 1))

    def set_rows(self, rows: list[FrameRow]) -> None:
        if [r.frame_id for r in rows] == [r.frame_id for r in self.rows]:
            self.rows = list(rows)
            if rows:
                self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 (Qt override)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 (Qt override)
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(row, index.row(), col)
        gone = row.media_id in self.missing_media
        if role == Qt.ItemDataRole.ForegroundRole and gone:
            return QBrush(MISSING_COLOR)
        if role == Qt.ItemDataRole.ForegroundRole and col == 4:
            return QBrush(STATUS_COLORS[row.status])
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"frame id {row.frame_id}: {row.media_path}" + (
                f" frame {row.index}" if row.kind != "image" else ""
            )
            if gone:
                tip += "\nits file is missing: Project > Relink Missing Media"
            if row.suggested:
                tip += f"\nsuggested for review: {row.suggest_reason or 'no reason given'}"
            return tip
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (0, 2):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def text(row: FrameRow, position: int, col: int) -> str:
        if col == 0:
            return str(position)
        if col == 1:
            return row.name
        if col == 2:
            return str(row.instances)
        if col == 3:
            return "" if row.split == "none" else row.split
        return ("★ " if row.suggested else "") + row.status


class FrameListDock(QDockWidget):
    """Frames of the project; clicking one shows it."""

    errorOccurred = Signal(str, str)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__("Frames", parent)
        self.setObjectName("frame_list")
        self.state = state
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        self.summary_label = QLabel()
        self.prev_button = QToolButton(text="▲")
        self.prev_button.setToolTip("Previous frame of the project (Page Up)")
        self.next_button = QToolButton(text="▼")
        self.next_button.setToolTip("Next frame of the project (Page Down)")
        top.addWidget(self.summary_label, 1)
        top.addWidget(self.prev_button)
        top.addWidget(self.next_button)
        layout.addLayout(top)
        # -- track filter (issue 18)
        self.track_box = QComboBox()
        self.track_box.setToolTip("Show only the frames that hold one person (track) of the shown video")
        self.track_filter: tuple[int, int] | None = None  # (media id, track id)
        self._track_media: int | None = None  # the media whose tracks the box lists
        layout.addWidget(self.track_box)
        # --
        self.model = FrameTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.setAlternatingRowColors(True)
        # A long video name gives way in the middle: the frame number at its end stays readable.
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        # the Status column's words, the same the Instances dock uses for people (app/words.py)
        shown = (TO_CHECK, LABELLED, VERIFIED, EMPTY)
        self.legend_label = QLabel(legend_html(shown))
        self.legend_label.setToolTip(legend_tooltip(shown, FRAME_RULE))
        self.legend_label.setWordWrap(True)
        layout.addWidget(self.legend_label)
        self.setWidget(body)
        self._syncing = False
        self.table.selectionModel().currentRowChanged.connect(self._row_chosen)
        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        state.framesChanged.connect(self.refresh)
        state.instancesChanged.connect(self._sync_current)
        state.frameChanged.connect(self._sync_current)
        state.frameChanged.connect(self._media_tracks)
        self.track_box.currentIndexChanged.connect(self._track_chosen)
        self.refresh()

    def refresh(self) -> None:
        rows = self.state.frames
        self._fill_tracks()
        self.model.set_rows(self._filtered(rows))
        verified = sum(1 for r in rows if r.status == "verified")
        to_check = sum(1 for r in rows if r.predictions)
        if self.state.project is None:
            self.summary_label.setText("No project open")
        else:
            self.summary_label.setText(f"{plural(len(rows), 'frame')} · {verified} verified · {to_check} to check")
        self._sync_current()

    # ---------------------------------------------------------------- track filter
    def set_track_filter(self, media_id: int | None, track_id: int | None = None) -> None:
        """Show only the frames of ``media_id`` holding ``track_id`` (None: every frame)."""
        self.track_filter = None if media_id is None or track_id is None else (int(media_id), int(track_id))
        self._fill_tracks(force=True)
        self.model.set_rows(self._filtered(self.state.frames))
        self._sync_current()

    def _filtered(self, rows: list[FrameRow]) -> list[FrameRow]:
        store = self.state.project
        if self.track_filter is None or store is None:
            return rows
        keep = set(store.tracking.track_frames(*self.track_filter))
        return [r for r in rows if r.frame_id in keep]

    def _media_tracks(self) -> None:
        if self.state.current_media_id() != self._track_media:
            self._fill_tracks()

    def _fill_tracks(self, force: bool = False) -> None:
        """List the tracks of the shown video (and keep the chosen filter listed)."""
        store = self.state.project
        media_id = self.state.current_media_id() if store is not None else None
        if store is None:
            self.track_filter = None
        options: list[tuple[str, tuple[int, int] | None]] = [("All frames (no track filter)", None)]
        if store is not None:
            shown = {media_id} if media_id is not None else set()
            if self.track_filter is not None:
                shown.add(self.track_filter[0])
            for m in sorted(shown):
                name = store.media(m).path.rsplit("/", 1)[-1]
                for t in store.tracking.tracks(m):
                    text = f"{name} · track {t.track_id} · {plural(t.frames, 'frame')}, {t.first}–{t.last}"
                    options.append((text, (m, t.track_id)))
        current = [self.track_box.itemData(i) for i in range(self.track_box.count())]
        if not force and media_id == self._track_media and [o[1] for o in options] == current:
            return
        self._track_media = media_id
        self.track_box.blockSignals(True)
        try:
            self.track_box.clear()
            for text, data in options:
                self.track_box.addItem(text, data)
            keys = [o[1] for o in options]
            if self.track_filter not in keys:
                self.track_filter = None
            self.track_box.setCurrentIndex(keys.index(self.track_filter))
        finally:
            self.track_box.blockSignals(False)

    def _track_chosen(self, index: int) -> None:
        data = self.track_box.itemData(index)
        self.set_track_filter(*(data if data is not None else (None, None)))

    # ---------------------------------------------------------------- navigation
    def _sync_current(self) -> None:
        position = self._position()
        self._syncing = True
        try:
            if position is None:
                self.table.selectionModel().clearSelection()
                self.table.setCurrentIndex(QModelIndex())
            elif self.table.currentIndex().row() != position:
                index = self.model.index(position, 0)
                self.table.setCurrentIndex(index)
                self.table.scrollTo(index)
        finally:
            self._syncing = False

    def _row_chosen(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._syncing or not current.isValid():
            return
        self.show_row(current.row())

    def show_row(self, position: int) -> bool:
        """Show the frame at ``position`` of the list (what a click does)."""
        try:
            self.state.go_to_frame(self.model.rows[position].frame_id)
        except DistilPoseError as exc:
            self.errorOccurred.emit("Cannot show the frame", str(exc))
            self._sync_current()
            return False
        return True

    def _position(self) -> int | None:
        """Row of the shown frame in the (filtered) list."""
        for i, row in enumerate(self.model.rows):
            if row.frame_id == self.state.frame_id:
                return i
        return None

    def step(self, delta: int) -> None:
        try:
            if self.track_filter is not None and self.model.rows:
                here = self._position()
                target = (0 if delta > 0 else len(self.model.rows) - 1) if here is None else here + delta
                self.show_row(min(max(target, 0), len(self.model.rows) - 1))
                return
            self.state.step_frame(delta)
        except DistilPoseError as exc:
            self.errorOccurred.emit("Cannot show the frame", str(exc))
