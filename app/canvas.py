"""The image canvas: the picture, one item per person, zoom around the cursor, pan, fit to window, and the
mouse side of editing.

Scene coordinates are image pixel coordinates (the image item sits at the origin), so a keypoint at COCO
(x, y) is drawn at scene point (x, y). Markers and limb widths keep a constant size on screen at any zoom.

Editing: the canvas never writes the project. A drag only previews (the marker or the person follows the
mouse); on release the canvas emits ONE intent signal (``jointMoved``, ``personMoved``, ``personScaled``,
``jointPlaced``, ``templateBoxDrawn``) that a controller turns into one undo command. When the store took the
edit, the state announces new instances and the items are rebuilt from them; when it did not, the preview is
dropped the same way. A keypoint drag moves only that keypoint; the whole person moves only with Shift+drag or
the scale handle of the selected person's box, so nobody drags a person by accident.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QCursor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from distilpose.app.annotate.canvas_items import (
    HANDLE_PX,
    LIMB_WIDTH_PX,
    MARKER_RADIUS_PX,
    SELECTED_LIMB_WIDTH_PX,
    InstanceItem,
    KeypointItem,
    LimbItem,
    TagItem,
)
from distilpose.app.annotate.template import box_around
from distilpose.app.live.overlays import PredictedKeypointItem, PredictionLayer, UserBoxItem, rubber_band_rect
from distilpose.app.state import AppState

__all__ = [
    "LIMB_WIDTH_PX",
    "MARKER_RADIUS_PX",
    "SELECTED_LIMB_WIDTH_PX",
    "Canvas",
    "InstanceItem",
    "KeypointItem",
    "LimbItem",
    "numpy_to_pixmap",
]

#: A press within this many screen pixels of a keypoint grabs it (markers are small).
HIT_RADIUS_PX = 9.0
#: The mouse must move this far (screen pixels) before a press becomes a drag: a click only selects.
DRAG_THRESHOLD_PX = 3.0
#: Scale limits of one handle drag.
MIN_SCALE, MAX_SCALE = 0.05, 20.0
ZOOM_STEP = 1.25
MIN_ZOOM = 1 / 64
MAX_ZOOM = 64.0
#: Above this zoom the image is drawn with nearest-neighbour sampling so single pixels can be seen.
PIXELATED_ZOOM = 4.0
BACKGROUND = QColor(45, 45, 48)
#: Opacity of the live layer over a project frame: the stored (editable) people stay in front and clear.
LIVE_OVER_PROJECT_OPACITY = 0.4
#: Screen pixels between two captions moved apart by the caption layout.
CAPTION_GAP_PX = 2.0


def numpy_to_pixmap(image: np.ndarray) -> QPixmap:
    """An RGB uint8 (H, W, 3) array as a QPixmap that owns its pixels (the array may go away)."""
    pixmap, _pixels = shared_pixmap(image)
    return pixmap.copy()


def shared_pixmap(image: np.ndarray) -> tuple[QPixmap, np.ndarray]:
    """An RGB uint8 (H, W, 3) array as a QPixmap in one pass, and the array holding its pixels: keep that
    array as long as the pixmap is shown, the pixmap reads its memory.

    OpenCV writes the pixmap's own 32-bit layout (B, G, R, 255 bytes = ``Format_RGB32``), which Qt's raster
    pixmap takes as it is; an RGB888 QImage was copied, then converted by Qt, every frame (ADR 0020)."""
    bgra = cv2.cvtColor(np.ascontiguousarray(image, dtype=np.uint8), cv2.COLOR_RGB2BGRA)
    h, w = bgra.shape[:2]
    qimage = QImage(bgra.data, w, h, bgra.strides[0], QImage.Format.Format_RGB32)
    return QPixmap.fromImage(qimage), bgra


class FrameItem(QGraphicsPixmapItem):
    """The picture. Drawn without the view's antialiasing, which only softens the edges of a transformed
    pixmap and made Qt take its slow path: 2-3x the cost of the smooth-scaled blit itself (ADR 0020)."""

    def paint(self, painter: QPainter, option, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        super().paint(painter, option, widget)


@dataclass
class _Drag:
    """A drag in progress: of one joint, of a whole person (Shift), or of the selected person's scale handle."""

    kind: str  # "joint", "move" or "scale"
    item: InstanceItem
    press: QPoint  # viewport pixels
    start: QPointF  # scene
    k: int | None = None
    anchor: QPointF | None = None  # scale: the fixed corner
    moved: bool = False
    current: QPointF | None = None
    scale: float = 1.0


class Canvas(QGraphicsView):
    """Shows the current image and instances of an :class:`AppState`; redraws on its signals."""

    #: The view scale (1.0 = one image pixel per screen pixel) after any zoom or fit.
    zoomChanged = Signal(float)
    #: The user left box-drawing mode (after drawing a box or pressing Escape).
    boxModeChanged = Signal(bool)
    #: A keypoint was dragged and released here: (instance id, keypoint, x, y) in image pixels.
    jointMoved = Signal(int, int, float, float)
    #: A missing keypoint was placed by a click: (instance id, keypoint, x, y).
    jointPlaced = Signal(int, int, float, float)
    #: A person was Shift+dragged: (instance id, dx, dy).
    personMoved = Signal(int, float, float)
    #: A person was scaled with the handle: (instance id, scale, fixed corner x, y).
    personScaled = Signal(int, float, float, float)
    #: A box for a new template person was drawn (or clicked): x, y, w, h.
    templateBoxDrawn = Signal(float, float, float, float)
    #: Right click: global position for the menu, scene position (what is under it is selected first).
    contextMenuWanted = Signal(QPoint, QPointF)
    #: Placing a missing keypoint or drawing a template box started (True) or ended (False).
    placingChanged = Signal(bool)

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
        self.image_item = FrameItem()
        self.image_item.setZValue(0)
        self.image_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.image_item)
        self.instance_items: list[InstanceItem] = []
        self.prediction_layer: PredictionLayer | None = None
        self._live_mode = "normal"  # how the live layer was last drawn (live_layer_mode)
        self.user_box_items: list[UserBoxItem] = []
        self._shown_image: np.ndarray | None = None
        self._pixels: np.ndarray | None = None  # the memory the picture's pixmap reads (shared_pixmap)
        self._fit_mode = True  # keep fitting on resize until the user zooms
        self._pan_from: QPoint | None = None
        self._space_held = False
        self.box_mode = False
        self._box_from: QPointF | None = None
        self._rubber_band: UserBoxItem | None = None
        self.template_mode = False  # a drawn box (or a click) makes a template person
        self.place_target: tuple[int, int] | None = None  # (instance id, keypoint) placed by the next click
        self._drag: _Drag | None = None
        self._rebuilds = 0
        state.imageChanged.connect(self._on_image_changed)
        state.frameChanged.connect(self._on_frame_changed)
        state.instancesChanged.connect(self._on_instances_changed)
        state.selectionChanged.connect(self._on_selection_changed)
        state.predictionsChanged.connect(self._on_predictions_changed)
        state.displayChanged.connect(self._on_predictions_changed)
        state.keypointSelectionChanged.connect(self._on_predictions_changed)
        state.userBoxesChanged.connect(self._on_user_boxes_changed)
        state.jointChanged.connect(self._on_joint_changed)
        state.personFlagsChanged.connect(self._apply_person_flags)
        state.liveLayerChanged.connect(self._on_predictions_changed)
        state.projectChanged.connect(self._on_predictions_changed)
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
        start = time.perf_counter()
        image = self.state.image
        self._shown_image = image
        pixmap, pixels = (QPixmap(), None) if image is None else shared_pixmap(image)
        self.image_item.setPixmap(pixmap)
        self._pixels = pixels  # the old pixmap is gone from the item: its memory may go
        self._spent("image", start)

    def _spent(self, stage: str, start: float) -> None:
        """Add the time since ``start`` to the state's per-stage view timing (``--stats-json``)."""
        times = self.state.view_ms
        times[stage] = times.get(stage, 0.0) + (time.perf_counter() - start) * 1000.0

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt override)
        start = time.perf_counter()
        super().paintEvent(event)
        self._spent("paint", start)

    def live_layer_mode(self) -> str:
        """How live predictions are drawn: 'normal'; over a project frame (whose stored people are the
        editable layer) 'dimmed' behind them when View > Live Predictions Over Project is on, else 'hidden'."""
        state = self.state
        if state.project is None or state.frame_id is None:
            return "normal"
        return "dimmed" if state.show_live_layer else "hidden"

    def _on_predictions_changed(self) -> None:
        start = time.perf_counter()
        self._show_predictions()
        self._spent("overlay", start)

    def _show_predictions(self) -> None:
        """The live result's overlay: a new result moves the layer's items (a played frame replaces them all)."""
        state = self.state
        mode = self._live_mode = self.live_layer_mode()
        tracked = state.media_kind in ("video", "camera")
        layer = self.prediction_layer
        if layer is not None and (state.prediction is None or mode == "hidden" or layer.tracked != tracked):
            self.scene().removeItem(layer)
            self.prediction_layer = layer = None
        if state.prediction is not None and mode != "hidden":
            options = (state.threshold, state.show_sigmas, state.show_teacher, state.selected_keypoint)
            if layer is not None:
                layer.show(state.prediction, *options)
            else:
                layer = self.prediction_layer = PredictionLayer(state.prediction, *options, tracked=tracked)
                self.scene().addItem(layer)
            dimmed = mode == "dimmed"
            layer.setOpacity(LIVE_OVER_PROJECT_OPACITY if dimmed else 1.0)
            layer.setZValue(0.5 if dimmed else 2)  # dimmed: behind the stored people (z 1)
        self.layout_captions()

    # ------------------------------------------------------------ captions
    def caption_items(self) -> list[TagItem]:
        """Every person caption on screen: the stored people's (accept hint, name) and the live layer's."""
        tags = [
            tag
            for item in self.instance_items
            if item.isVisible()
            for tag in (item.tag, item.track_tag)
            if tag is not None
        ]
        if self.prediction_layer is not None:
            tags += self.prediction_layer.track_tags
        return tags

    def caption_rect(self, tag: TagItem) -> QRectF:
        """What ``tag`` covers in the viewport (pixels), plate included."""
        return tag.deviceTransform(self.viewportTransform()).mapRect(tag.plate_rect())

    def layout_captions(self) -> None:
        """Move captions apart on screen (after a rebuild, a zoom or a resize) so that none covers another:
        each caption, top to bottom, takes the nearest free place in steps of its height below or above where
        it belongs. Crowded people (issue 25) no longer get 'teacher 0.59 · A a[track 1] reject'."""
        tags = self.caption_items()
        for tag in tags:
            tag.set_shift(0.0)
        rects = [(self.caption_rect(tag), tag) for tag in tags]
        rects.sort(key=lambda rt: (rt[0].top(), rt[0].left()))
        placed: list[QRectF] = []
        for rect, tag in rects:
            step = rect.height() + CAPTION_GAP_PX
            shift = 0.0
            for k in range(2 * len(placed) + 2):
                shift = ((k + 1) // 2) * step * (1 if k % 2 else -1)  # 0, +1, -1, +2, -2 ... steps
                if not any(rect.translated(0, shift).intersects(p) for p in placed):
                    break
            else:  # every near place taken: below all of them
                shift = max(p.bottom() for p in placed) + CAPTION_GAP_PX - rect.top()
            tag.set_shift(shift)
            placed.append(rect.translated(0, shift))

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
        if not on and self.template_mode:
            self.template_mode = False
            self.placingChanged.emit(False)
        if on:
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        else:
            self._update_cursor()
        self.boxModeChanged.emit(on)

    def start_template(self) -> None:
        """The next drawn box (or click, for a default-sized box) becomes a template person."""
        self.cancel_placing()
        self.template_mode = True  # before the box mode signal: listeners tell the two box modes apart
        self.set_box_mode(True)
        self.placingChanged.emit(True)

    def start_place(self, instance_id: int, k: int) -> None:
        """The next left click puts keypoint ``k`` of person ``instance_id`` there."""
        self.set_box_mode(False)
        self.place_target = (int(instance_id), int(k))
        self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        self.placingChanged.emit(True)

    def cancel_placing(self) -> None:
        if self.place_target is not None:
            self.place_target = None
            self._update_cursor()
            self.placingChanged.emit(False)
        if self.template_mode:
            self.set_box_mode(False)

    # ------------------------------------------------------------------ hit tests
    def joint_at(self, pos: QPoint) -> tuple[InstanceItem, int] | None:
        """The editable keypoint nearest ``pos`` (viewport pixels) within the grab radius; the selected
        person wins ties."""
        best: tuple[float, int, InstanceItem, int] | None = None
        for item in self.instance_items:
            if not self.state.is_editable(item.instance_id):
                continue
            for marker in item.keypoints:
                d = float(np.hypot(*(self.mapFromScene(marker.scenePos()) - pos).toTuple()))
                if d <= HIT_RADIUS_PX:
                    rank = (d, 0 if item.selected else 1, item, marker.index)
                    if best is None or rank[:2] < best[:2]:
                        best = rank
        return None if best is None else (best[2], best[3])

    def person_at(self, pos: QPoint) -> InstanceItem | None:
        """The editable person whose box holds ``pos``: the selected one first, else the smallest box."""
        p = self.mapToScene(pos)
        hits = []
        for item in self.instance_items:
            rect = item.box_rect() if self.state.is_editable(item.instance_id) else None
            if rect is not None and rect.contains(p):
                hits.append((0 if item.selected else 1, rect.width() * rect.height(), item.index, item))
        return min(hits)[3] if hits else None

    def handle_at(self, pos: QPoint) -> InstanceItem | None:
        for item in self.instance_items:
            if item.handle is not None and self.state.is_editable(item.instance_id):
                d = self.mapFromScene(item.handle.scenePos()) - pos
                if max(abs(d.x()), abs(d.y())) <= HANDLE_PX:
                    return item
        return None

    def cursor_scene_pos(self) -> QPointF | None:
        """Where the mouse is, in image pixels, when it is over the canvas."""
        pos = self.viewport().mapFromGlobal(QCursor.pos())
        return self.mapToScene(pos) if self.viewport().rect().contains(pos) else None

    def cancel_drag(self) -> QPointF | None:
        """Stop a drag without committing it; returns where a dragged joint was (for snap-to-peak)."""
        drag, self._drag = self._drag, None
        if drag is None:
            return None
        self._on_instances_changed()  # drop the preview
        return drag.current if drag.kind == "joint" else None

    @property
    def dragging(self) -> bool:
        return self._drag is not None and self._drag.moved

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
        self._rebuilds += 1
        self._drag = None  # its item is gone; the new items show what the store holds
        for item in self.instance_items:
            self.scene().removeItem(item)
        self.instance_items = [InstanceItem(i, inst) for i, inst in enumerate(self.state.instances)]
        for item in self.instance_items:
            self.scene().addItem(item)
        self._apply_person_flags()
        self._on_selection_changed()
        if self.live_layer_mode() != self._live_mode:
            self._on_predictions_changed()  # a project frame now, or not: the live layer drawn, dimmed or hidden

    def _apply_person_flags(self) -> None:
        """Hidden people are not drawn (hit tests skip them and locked ones: ``state.is_editable``)."""
        for item in self.instance_items:
            item.setVisible(item.instance_id not in self.state.hidden_ids)
        self.layout_captions()

    def _on_selection_changed(self) -> None:
        selected = set(self.state.selection)
        for item in self.instance_items:
            item.set_selected(item.index in selected)
        self._on_joint_changed()

    def _on_joint_changed(self) -> None:
        joint = self.state.joint
        for item in self.instance_items:
            on = joint is not None and item.instance_id == joint[0]
            item.set_joint(joint[1] if on else None)

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
        self.layout_captions()  # captions keep their screen size: their overlaps change with the zoom
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
        if left and not self._space_held and self._press_to_edit(event, pos):
            event.accept()
            return
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

    def _press_to_edit(self, event: QMouseEvent, pos: QPoint) -> bool:
        """Start placing, scaling, moving or dragging; True when the press was taken for editing."""
        if not self.has_image():
            return False
        if self.place_target is not None:
            iid, k = self.place_target
            p = self._clamped_scene_pos(event)
            self.cancel_placing()
            self.jointPlaced.emit(iid, k, p.x(), p.y())
            return True
        if self.box_mode:
            return False
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        start = self.mapToScene(pos)
        handle = self.handle_at(pos)
        if handle is not None:
            rect = handle.box_rect()
            self._drag = _Drag("scale", handle, pos, rect.bottomRight(), anchor=rect.topLeft())
            return True
        hit = self.joint_at(pos)
        if hit is not None and not shift:
            item, k = hit
            self.state.select_joint(item.instance_id, k)
            self._drag = _Drag("joint", item, pos, start, k=k)
            return True
        person = hit[0] if hit is not None else (self.person_at(pos) if shift else None)
        if person is not None and shift:
            self.state.select_joint(person.instance_id, None)
            self._drag = _Drag("move", person, pos, start)
            return True
        return False

    def _drag_to(self, event: QMouseEvent) -> None:
        drag = self._drag
        assert drag is not None
        pos = event.position().toPoint()
        if not drag.moved:
            d = pos - drag.press
            if float(np.hypot(d.x(), d.y())) < DRAG_THRESHOLD_PX:
                return
            drag.moved = True
        p = self._clamped_scene_pos(event) if drag.kind == "joint" else self.mapToScene(pos)
        drag.current = p
        if drag.kind == "joint":
            drag.item.preview_joint(drag.k, p.x(), p.y())
            self.state.jointDragged.emit(p.x(), p.y())
        elif drag.kind == "move":
            drag.item.preview_transform(p.x() - drag.start.x(), p.y() - drag.start.y())
        else:
            v0 = drag.start - drag.anchor
            v = p - drag.anchor
            norm = QPointF.dotProduct(v0, v0)
            scale = QPointF.dotProduct(v, v0) / norm if norm > 0 else 1.0
            drag.scale = float(min(max(scale, MIN_SCALE), MAX_SCALE))
            drag.item.preview_transform(0.0, 0.0, drag.scale, drag.anchor)

    def _finish_drag(self) -> None:
        """Emit the one intent of a drag; if nobody rebuilt the items from a new state, drop the preview."""
        drag, self._drag = self._drag, None
        if drag is None or not drag.moved or drag.current is None:
            return
        before = self._rebuilds
        iid = drag.item.instance_id
        p = drag.current
        if drag.kind == "joint":
            self.jointMoved.emit(iid, drag.k, p.x(), p.y())
        elif drag.kind == "move":
            self.personMoved.emit(iid, p.x() - drag.start.x(), p.y() - drag.start.y())
        else:
            self.personScaled.emit(iid, drag.scale, drag.anchor.x(), drag.anchor.y())
        if self._rebuilds == before:  # the edit failed or nobody listened: show the store's state again
            self._on_instances_changed()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self._drag is not None:
            self._drag_to(event)
            event.accept()
            return
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
        if self._drag is not None and event.button() == Qt.MouseButton.LeftButton:
            self._finish_drag()
            event.accept()
            return
        if self._rubber_band is not None and self._box_from is not None:
            end = self._clamped_scene_pos(event)
            rect = rubber_band_rect(self._box_from, end)
            self._cancel_rubber_band()
            if self.template_mode:
                self._template_from(rect, end)
            elif rect.width() >= 4 and rect.height() >= 4:  # a click is not a box
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

    def _template_from(self, rect: QRectF, end: QPointF) -> None:
        """A drawn box, or for a click a default-sized one around it, becomes a template person."""
        self.set_box_mode(False)
        if rect.width() >= 4 and rect.height() >= 4:
            box = (rect.x(), rect.y(), rect.width(), rect.height())
        else:
            h, w = self.state.image.shape[:2] if self.state.image is not None else (1, 1)
            box = box_around(end.x(), end.y(), (w, h))
        self.templateBoxDrawn.emit(*box)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 (Qt override)
        """Select what is under the cursor, then ask the controller for the menu (it owns the actions)."""
        if self._drag is not None:
            return
        pos = event.pos()
        hit = self.joint_at(pos)
        if hit is not None:
            self.state.select_joint(hit[0].instance_id, hit[1])
        else:
            person = self.person_at(pos)
            if person is not None:
                self.state.select_joint(person.instance_id, None)
        self.contextMenuWanted.emit(event.globalPos(), self.mapToScene(pos))
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if event.key() == Qt.Key.Key_Escape and self._drag is not None:
            self.cancel_drag()
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape and (self.place_target is not None or self.template_mode):
            self.cancel_placing()
            event.accept()
            return
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
        elif self.box_mode or self.place_target is not None:
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
