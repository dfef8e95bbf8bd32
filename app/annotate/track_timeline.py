"""The track timeline under the video: one coloured bar per track over the frames, as SLEAP and CVAT draw it.

Each row is a track of the shown video, in the canvas' colour for that id (:func:`track_color`); its bar runs
over the project frames that hold the track (a gap where a project frame lacks it), lighter where the pose is
interpolated. Verified people are filled diamonds, people placed by hand and not verified yet hollow ones
(the keyframes interpolation starts from). A line marks the shown frame, and the selected person's track is
highlighted. A click shows that frame and selects the track's person there.

A view: it reads ``store.tracking.track_timeline`` (two queries) when the store, the project or the media
changes, and only repaints for a new frame or selection. It hides itself while the shown media has no tracks.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from distilpose.app.live.overlays import track_color
from distilpose.app.state import AppState
from distilpose.project.tracks import SEQUENCE_KINDS, TrackTimeline

ROW_PX = 14  # height of one track's row (rows shrink, down to MIN_ROW_PX, when there are many tracks)
MIN_ROW_PX = 5
MAX_HEIGHT_PX = 8 * ROW_PX
GUTTER_PX = 64  # the id labels on the left
MARGIN_PX = 3
PLAYHEAD = QColor(230, 40, 40)
BACKGROUND = QColor(40, 40, 44)
HIGHLIGHT = QColor(255, 255, 255, 45)
#: Bar opacity: a person seen (predicted, placed or verified), or an interpolated guess.
ALPHA = {"predicted": 210, "interpolated": 95}


class TrackTimelineWidget(QWidget):
    """See the module docs. ``frameClicked(index, track_id or None)`` asks the window to show a frame."""

    frameClicked = Signal(int, object)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("track_timeline")
        self.state = state
        self.timeline = TrackTimeline((), {})
        self.media_id: int | None = None
        self._shown_path = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self.setToolTip("")
        for signal in (state.storeChanged, state.projectChanged, state.mediaChanged):
            signal.connect(self.reload)
        state.frameChanged.connect(self._on_frame)
        state.selectionChanged.connect(self.update)
        state.instancesChanged.connect(self.update)
        self.reload()

    # ---------------------------------------------------------------- data
    def reload(self) -> None:
        """Read the shown video's tracks again (after an edit, a pre-label batch, another media)."""
        state = self.state
        self._shown_path = state.image_path
        media_id = state.current_media_id()
        store = state.project
        if store is None or media_id is None or store.media(media_id).kind not in SEQUENCE_KINDS:
            self.media_id, self.timeline = None, TrackTimeline((), {})
        else:
            self.media_id, self.timeline = media_id, store.tracking.track_timeline(media_id)
        self.setFixedHeight(self._height())
        self.setVisible(bool(self.timeline.marks))
        self.update()

    def _on_frame(self) -> None:
        if self.state.image_path != self._shown_path:
            self.reload()  # another video or folder of the project
        else:
            self.update()  # the playhead moved

    @property
    def tracks(self) -> list[int]:
        return list(self.timeline.marks)

    def frame_count(self) -> int:
        """Frames the axis spans: the shown video's, at least past its last project frame."""
        last = self.timeline.frames[-1] + 1 if self.timeline.frames else 1
        return max(self.state.frame_count, last, 1)

    def selected_track(self) -> int | None:
        iid = self.state.selected_instance_id() if self.state.project is not None else None
        person = self.state.instance_by_id(iid) if iid is not None else None
        return person.track_id if person is not None else None

    # ---------------------------------------------------------------- geometry
    def _height(self) -> int:
        rows = len(self.timeline.marks)
        return min(rows * ROW_PX, MAX_HEIGHT_PX) + 2 * MARGIN_PX if rows else 0

    def _row_px(self) -> float:
        rows = max(len(self.timeline.marks), 1)
        return max((self.height() - 2 * MARGIN_PX) / rows, MIN_ROW_PX)

    def x_of(self, index: float) -> float:
        """The x of the centre of frame ``index``."""
        width = max(self.width() - GUTTER_PX - MARGIN_PX, 1)
        return GUTTER_PX + (index + 0.5) * width / self.frame_count()

    def frame_at(self, x: float) -> int:
        width = max(self.width() - GUTTER_PX - MARGIN_PX, 1)
        index = int((x - GUTTER_PX) * self.frame_count() / width)
        return min(max(index, 0), self.frame_count() - 1)

    def track_at(self, y: float) -> int | None:
        row = int((y - MARGIN_PX) // self._row_px())
        return self.tracks[row] if 0 <= row < len(self.tracks) else None

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(400, self._height())

    # ---------------------------------------------------------------- drawing
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.fillRect(self.rect(), BACKGROUND)
        row_px = self._row_px()
        selected = self.selected_track()
        font = QFont(self.font())
        font.setPointSizeF(max(min(row_px * 0.55, 8.5), 5.0))
        step = max((self.width() - GUTTER_PX) / self.frame_count(), 1.0)
        for row, (track, marks) in enumerate(self.timeline.marks.items()):
            top = MARGIN_PX + row * row_px
            band = QRectF(0, top, self.width(), row_px)
            if track == selected:
                painter.fillRect(band, HIGHLIGHT)
            font.setBold(track == selected)
            painter.setFont(font)
            swatch = min(
                row_px * 0.6, 8.0
            )  # the track's colour, then its name in light text (readable on any hue)
            painter.fillRect(QRectF(3, top + (row_px - swatch) / 2, swatch, swatch), track_color(track))
            painter.setPen(QColor(235, 235, 235) if track == selected else QColor(190, 190, 190))
            if row_px >= 9:
                painter.drawText(
                    QRectF(6 + swatch, top, GUTTER_PX - 8 - swatch, row_px),
                    Qt.AlignmentFlag.AlignVCenter,
                    f"track {track}",
                )
            for x0, x1, kind in self._segments(marks, step):
                colour = track_color(track, ALPHA[kind])
                painter.fillRect(QRectF(x0, top + row_px * 0.2, max(x1 - x0, 2.0), row_px * 0.6), colour)
            if track == selected:
                painter.setPen(QPen(QColor(255, 255, 255, 200), 1))
                painter.drawLine(
                    QPointF(GUTTER_PX, top + row_px - 0.5), QPointF(self.width(), top + row_px - 0.5)
                )
            for index, kind in marks.items():
                if kind in ("verified", "keyframe"):
                    self._diamond(
                        painter, self.x_of(index), top + row_px / 2, row_px * 0.38, kind == "verified"
                    )
        x = self.x_of(self.state.frame_index)
        painter.setPen(QPen(PLAYHEAD, 2))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.end()

    def _segments(self, marks: dict[int, str], step: float) -> list[tuple[float, float, str]]:
        """(x from, x to, kind) of a track's bar: a frame's part runs on to the next project frame when that
        one holds the track too (a gap where it does not); neighbours of one kind are one piece, so no
        seams show between them."""
        frames = self.timeline.frames
        pieces: list[tuple[float, float, str]] = []
        for i, index in enumerate(frames):
            kind = marks.get(index)
            if kind is None:
                continue
            following = frames[i + 1] if i + 1 < len(frames) else None
            x0 = self.x_of(index) - step / 2
            x1 = (
                self.x_of(following) - step / 2 if following is not None and following in marks else x0 + step
            )
            shade = "interpolated" if kind == "interpolated" else "predicted"  # one bar colour per shade
            if pieces and pieces[-1][2] == shade and abs(pieces[-1][1] - x0) < 1e-6:
                pieces[-1] = (pieces[-1][0], x1, shade)
            else:
                pieces.append((x0, x1, shade))
        return pieces

    @staticmethod
    def _diamond(painter: QPainter, x: float, y: float, r: float, filled: bool) -> None:
        shape = QPolygonF([QPointF(x, y - r), QPointF(x + r, y), QPointF(x, y + r), QPointF(x - r, y)])
        painter.setPen(QPen(QColor(20, 20, 20), 1.2))
        painter.setBrush(QColor(255, 255, 255) if filled else Qt.BrushStyle.NoBrush)
        if not filled:
            painter.setPen(QPen(QColor(255, 255, 255), 1.5))
        painter.drawPolygon(shape)

    # ---------------------------------------------------------------- mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.LeftButton and self.timeline.marks:
            pos = event.position()
            self.frameClicked.emit(self.frame_at(pos.x()), self.track_at(pos.y()))
            event.accept()
            return
        super().mousePressEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and self.timeline.marks:
            pos = event.pos()  # type: ignore[attr-defined]
            index, track = self.frame_at(pos.x()), self.track_at(pos.y())
            kind = self.timeline.marks.get(track, {}).get(index) if track is not None else None
            text = (
                f"frame {index}"
                + (f" · id {track}" if track is not None else "")
                + (f" · {kind}" if kind else "")
            )
            QToolTip.showText(event.globalPos(), text, self)  # type: ignore[attr-defined]
            return True
        return super().event(event)
