"""The image canvas: the picture, one item per person, zoom around the cursor, pan, fit to window.

Scene coordinates are image pixel coordinates (the image item sits at the origin), so a keypoint at COCO
(x, y) is drawn at scene point (x, y). Markers and limb widths keep a constant size on screen at any zoom.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from distilpose.app.overlays import PredictedKeypointItem, PredictionLayer, UserBoxItem, rubber_band_rect
from distilpose.app.state import AppState
from distilpose.keypoints import KEYPOINT_COLORS, LIMB_COLORS, NAMES, SKELETON
from distilpose.types import Instance

MARKER_RADIUS_PX = 5.0
LIMB_WIDTH_PX = 3.0
SELECTED_LIMB_WIDTH_PX = 5.0
OCCLUDED_ALPHA = 150  # limbs to an occluded keypoint
OCCLUDED_RING_ALPHA = 220  # the hollow marker itself stays easy to see over a dashed limb
ZOOM_STEP = 1.25
MIN_ZOOM = 1 / 64
MAX_ZOOM = 64.0
#: Above this zoom the image is drawn with nearest-neighbour sampling so single pixels can be seen.
PIXELATED_ZOOM = 4.0
BACKGROUND = QColor(45, 45, 48)


def numpy_to_pixmap(image: np.ndarray) -> QPixmap:
    """An RGB uint8 (H, W, 3) array as a QPixmap (the QImage is copied, so the array may go away)."""
    rgb = np.ascontiguousarray(image, dtype=np.uint8)
    h, w = rgb.shape[:2]
    qimage = QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(qimage.copy())


def _qcolor(rgb: tuple[int, int, int], alpha: int = 255) -> QColor:
    return QColor(rgb[0], rgb[1], rgb[2], alpha)


class KeypointItem(QGraphicsEllipseItem):
    """One keypoint marker: filled when visible (v=2), a dimmer hollow ring when occluded (v=1)."""

    def __init__(self, index: int, x: float, y: float, visibility: int, parent: QGraphicsItem | None = None):
        r = MARKER_RADIUS_PX
        super().__init__(-r, -r, 2 * r, 2 * r, parent)
        self.index = index
        self.visibility = visibility
        self.setPos(x, y)
        # Constant screen size: the marker is drawn in device pixels, only its position follows the zoom.
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setZValue(1)
        color = KEYPOINT_COLORS[index]
        if visibility >= 2:
            self.setBrush(QBrush(_qcolor(color)))
            self.setPen(QPen(QColor(20, 20, 20, 200), 1.0))
            self.setToolTip(NAMES[index])
        else:
            self.setBrush(Qt.BrushStyle.NoBrush)
            self.setPen(QPen(_qcolor(color, OCCLUDED_RING_ALPHA), 2.0))
            self.setToolTip(f"{NAMES[index]} (occluded)")


class LimbItem(QGraphicsLineItem):
    """One skeleton limb between two labelled keypoints; dashed and dimmer when an end is occluded."""

    def __init__(
        self, limb: int, p: QPointF, q: QPointF, occluded: bool, parent: QGraphicsItem | None = None
    ):
        super().__init__(p.x(), p.y(), q.x(), q.y(), parent)
        self.limb = limb
        self.occluded = occluded
        self.setZValue(0)
        self.set_highlight(False)

    def set_highlight(self, on: bool) -> None:
        color = _qcolor(LIMB_COLORS[self.limb], OCCLUDED_ALPHA if self.occluded else 230)
        pen = QPen(color, SELECTED_LIMB_WIDTH_PX if on else LIMB_WIDTH_PX)
        pen.setCosmetic(True)  # width in screen pixels whatever the zoom
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        if self.occluded:
            pen.setStyle(Qt.PenStyle.DashLine)
        self.setPen(pen)


class InstanceItem(QGraphicsItem):
    """The items of one person: limbs below, keypoints above.

    A plain parent item rather than a QGraphicsItemGroup, because a group swallows its children's mouse
    events and keypoints will become draggable for editing.
    """

    def __init__(self, index: int, instance: Instance, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self.index = index
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, True)
        self.setZValue(1)
        kp = instance.keypoints
        vis = kp[:, 2].astype(int)
        self.limbs: list[LimbItem] = []
        for limb, (a, b) in enumerate(SKELETON):
            if vis[a] > 0 and vis[b] > 0:
                occluded = vis[a] < 2 or vis[b] < 2
                pa, pb = QPointF(kp[a, 0], kp[a, 1]), QPointF(kp[b, 0], kp[b, 1])
                self.limbs.append(LimbItem(limb, pa, pb, occluded, self))
        self.keypoints: list[KeypointItem] = [
            KeypointItem(k, float(kp[k, 0]), float(kp[k, 1]), int(vis[k]), self)
            for k in range(len(kp))
            if vis[k] > 0
        ]
        self.selected = False

    def set_selected(self, on: bool) -> None:
        self.selected = on
        for limb in self.limbs:
            limb.set_highlight(on)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return QRectF()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        pass  # children draw everything


class Canvas(QGraphicsView):
    """Shows the current image and instances of an :class:`AppState`; redraws on its signals."""

    #: The view scale (1.0 = one image pixel per screen pixel) after any zoom or fit.
    zoomChanged = Signal(float)
    #: The user left box-drawing mode (after drawing a box or pressing Escape).
    boxModeChanged = Signal(bool)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setBackgroundBrush(BACKGROUND)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.image_item = QGraphicsPixmapItem()
        self.image_item.setZValue(0)
        self.image_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.image_item)
        self.instance_items: list[InstanceItem] = []
        self.prediction_layer: PredictionLayer | None = None
        self.user_box_items: list[UserBoxItem] = []
        self._shown_image: np.ndarray | None = None
        self._fit_mode = True  # keep fitting on resize until the user zooms
        self._pan_from: QPoint | None = None
        self._space_held = False
        self.box_mode = False
        self._box_from: QPointF | None = None
        self._rubber_band: UserBoxItem | None = None
        state.imageChanged.connect(self._on_image_changed)
        state.frameChanged.connect(self._on_frame_changed)
        state.instancesChanged.connect(self._on_instances_changed)
        state.selectionChanged.connect(self._on_selection_changed)
        state.predictionsChanged.connect(self._on_predictions_changed)
        state.displayChanged.connect(self._on_predictions_changed)
        state.keypointSelectionChanged.connect(self._on_predictions_changed)
        state.userBoxesChanged.connect(self._on_user_boxes_changed)
        self._on_image_changed()
        self._on_instances_changed()

    # ------------------------------------------------------------ state slots
    def _on_image_changed(self) -> None:
        self._show_image()
        self.fit_to_window()

    def _on_frame_changed(self) -> None:
        """Another frame of the same media: new pixels, same view (zoom and pan stay)."""
        if self.state.image is not self._shown_image:
            self._show_image()

    def _show_image(self) -> None:
        image = self.state.image
        self._shown_image = image
        self.image_item.setPixmap(QPixmap() if image is None else numpy_to_pixmap(image))

    def _on_predictions_changed(self) -> None:
        if self.prediction_layer is not None:
            self.scene().removeItem(self.prediction_layer)
            self.prediction_layer = None
        state = self.state
        if state.prediction is not None:
            self.prediction_layer = PredictionLayer(
                state.prediction,
                state.threshold,
                state.show_sigmas,
                state.show_teacher,
                state.selected_keypoint,
            )
            self.scene().addItem(self.prediction_layer)

    def _on_user_boxes_changed(self) -> None:
        for item in self.user_box_items:
            self.scene().removeItem(item)
        self.user_box_items = [UserBoxItem(box) for box in self.state.user_boxes]
        for item in self.user_box_items:
            self.scene().addItem(item)

    def set_box_mode(self, on: bool) -> None:
        """While on, a left drag draws a person box instead of panning."""
        if on == self.box_mode:
            return
        self.box_mode = on
        self._cancel_rubber_band()
        if on:
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        else:
            self._update_cursor()
        self.boxModeChanged.emit(on)

    def _cancel_rubber_band(self) -> None:
        if self._rubber_band is not None:
            self.scene().removeItem(self._rubber_band)
        self._rubber_band = None
        self._box_from = None

    def predicted_keypoint_at(self, pos: QPoint) -> PredictedKeypointItem | None:
        for item in self.items(pos):
            if isinstance(item, PredictedKeypointItem):
                return item
        return None

    def _on_instances_changed(self) -> None:
        for item in self.instance_items:
            self.scene().removeItem(item)
        self.instance_items = [InstanceItem(i, inst) for i, inst in enumerate(self.state.instances)]
        for item in self.instance_items:
            self.scene().addItem(item)
        self._on_selection_changed()

    def _on_selection_changed(self) -> None:
        selected = set(self.state.selection)
        for item in self.instance_items:
            item.set_selected(item.index in selected)

    # ------------------------------------------------------------------- zoom
    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        return self.transform().m11()

    def has_image(self) -> bool:
        return not self.image_item.pixmap().isNull()

    def fit_to_window(self) -> None:
        """Show the whole image, as large as the viewport allows, and keep doing so on resize."""
        self._fit_mode = True
        self._update_scene_margin()
        if self.has_image():
            self.fitInView(self.image_item, Qt.AspectRatioMode.KeepAspectRatio)
        else:
            self.resetTransform()
        self._after_zoom()

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP)

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Scale by ``factor`` keeping the scene point under ``anchor`` (viewport pixels; default centre) fixed."""
        if not self.has_image():
            return
        target = min(max(self.zoom() * factor, MIN_ZOOM), MAX_ZOOM)
        factor = target / self.zoom()
        if factor == 1.0:
            return
        if anchor is None:
            anchor = self.viewport().rect().center()
        fixed = self.mapToScene(anchor)
        self._fit_mode = False
        self.scale(factor, factor)
        self._update_scene_margin()
        # Scroll so that ``fixed`` is back under ``anchor`` (no effect when the image is smaller than the view).
        offset = self.mapToScene(self.viewport().rect().center()) - self.mapToScene(anchor)
        self.centerOn(fixed + offset)
        self._after_zoom()

    def _after_zoom(self) -> None:
        mode = Qt.TransformationMode.SmoothTransformation
        if self.zoom() >= PIXELATED_ZOOM:
            mode = Qt.TransformationMode.FastTransformation
        self.image_item.setTransformationMode(mode)
        self.zoomChanged.emit(self.zoom())

    def _update_scene_margin(self) -> None:
        """Let the image be panned until its edge reaches the middle of the view, as image viewers do."""
        if not self.has_image():
            self.setSceneRect(QRectF())
            return
        rect = self.image_item.boundingRect()
        if self._fit_mode:
            self.setSceneRect(rect)
            return
        z = self.zoom()
        mx = self.viewport().width() / (2 * z)
        my = self.viewport().height() / (2 * z)
        self.setSceneRect(rect.adjusted(-mx, -my, mx, my))

    # ------------------------------------------------------------------ input
    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt override)
        steps = event.angleDelta().y() / 120.0
        if steps == 0:
            event.ignore()
            return
        self.zoom_by(ZOOM_STEP**steps, event.position().toPoint())
        event.accept()

    def _interactive_item_at(self, pos: QPoint) -> QGraphicsItem | None:
        """An item the user can grab (movable/selectable) under ``pos``; the image and markers are not."""
        grab = QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
        for item in self.items(pos):
            if item.flags() & grab:
                return item
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        pos = event.position().toPoint()
        middle = event.button() == Qt.MouseButton.MiddleButton
        left = event.button() == Qt.MouseButton.LeftButton
        if left and self.box_mode and not self._space_held and self.has_image():
            self._box_from = self.mapToScene(pos)
            self._rubber_band = UserBoxItem((self._box_from.x(), self._box_from.y(), 0.0, 0.0))
            self.scene().addItem(self._rubber_band)
            event.accept()
            return
        keypoint = self.predicted_keypoint_at(pos) if left and not self._space_held else None
        if keypoint is not None:
            self.state.select_keypoint(keypoint.instance_index, keypoint.index)
            event.accept()
            return
        if middle or (left and (self._space_held or self._interactive_item_at(pos) is None)):
            self._pan_from = pos
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self._rubber_band is not None and self._box_from is not None:
            self._rubber_band.setRect(rubber_band_rect(self._box_from, self._clamped_scene_pos(event)))
            event.accept()
            return
        if self._pan_from is not None:
            pos = event.position().toPoint()
            delta = pos - self._pan_from
            self._pan_from = pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def _clamped_scene_pos(self, event: QMouseEvent) -> QPointF:
        p = self.mapToScene(event.position().toPoint())
        rect = self.image_item.boundingRect()
        return QPointF(min(max(p.x(), rect.left()), rect.right()), min(max(p.y(), rect.top()), rect.bottom()))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self._rubber_band is not None and self._box_from is not None:
            rect = rubber_band_rect(self._box_from, self._clamped_scene_pos(event))
            self._cancel_rubber_band()
            if rect.width() >= 4 and rect.height() >= 4:  # a click is not a box
                self.state.add_user_box((rect.x(), rect.y(), rect.width(), rect.height()))
            event.accept()
            return
        if self._pan_from is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_from = None
            self._update_cursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if event.key() == Qt.Key.Key_Escape and self.box_mode:
            self.set_box_mode(False)
            event.accept()
            return
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = True
            self._update_cursor()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self._update_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def _update_cursor(self) -> None:
        if self._space_held:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif self.box_mode:
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.viewport().unsetCursor()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit_to_window()
        else:
            self._update_scene_margin()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 (Qt override)
        """A hint in the empty view, so a new user knows what to do first."""
        if self.has_image():
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(QColor(170, 170, 170))
        painter.drawText(
            self.viewport().rect(),
            Qt.AlignmentFlag.AlignCenter,
            "Open an image (Ctrl+O), a video or a folder, or drop one (or a COCO .json file) here",
        )
        painter.restore()
