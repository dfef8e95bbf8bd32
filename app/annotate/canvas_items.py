"""Canvas items of one person: keypoint markers, limbs, and (when selected) the box with its scale handle.

Items are rebuilt from the state whenever the instances change; the only direct changes are the previews
during a drag (a marker following the mouse, the person following a Shift+drag), which the canvas drops or
replaces when the edit is committed and the state announces the new instances.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen, QTransform
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from distilpose.app.words import person_name
from distilpose.interpolation import is_interpolated
from distilpose.keypoints import KEYPOINT_COLORS, LIMB_COLORS, NAMES, SKELETON
from distilpose.types import Instance

MARKER_RADIUS_PX = 5.0
LIMB_WIDTH_PX = 3.0
SELECTED_LIMB_WIDTH_PX = 5.0
OCCLUDED_ALPHA = 150  # limbs to an occluded keypoint
OCCLUDED_RING_ALPHA = 220  # the hollow marker itself stays easy to see over a dashed limb
JOINT_RING_PX = 9.0  # the ring around the joint being edited
HANDLE_PX = 9.0  # side of the scale handle square
BOX_COLOR = QColor(255, 255, 255, 200)
PREDICTION_BOX_COLOR = QColor(255, 200, 0, 220)
#: Opacity of a predicted keypoint with score 0 and 1 (linear between): confidence shows as opacity.
MIN_ALPHA, MAX_ALPHA = 90, 255
PREDICTION_SOURCES = ("student", "teacher")


def qcolor(rgb: tuple[int, int, int], alpha: int = 255) -> QColor:
    return QColor(rgb[0], rgb[1], rgb[2], alpha)


def _score_alpha(score: float) -> int:
    s = float(min(max(score, 0.0), 1.0))
    return int(round(MIN_ALPHA + (MAX_ALPHA - MIN_ALPHA) * s))


def is_prediction(inst: Instance) -> bool:
    """A model's instance no person has accepted yet (shown dashed, with accept/reject)."""
    return inst.source in PREDICTION_SOURCES and not inst.extras.get("verified", False)


class KeypointItem(QGraphicsEllipseItem):
    """One keypoint marker: filled when visible (v=2), a dimmer hollow ring when occluded (v=1)."""

    def __init__(
        self,
        index: int,
        x: float,
        y: float,
        visibility: int,
        parent: QGraphicsItem | None = None,
        alpha: int = 255,
    ):
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
            self.setBrush(QBrush(qcolor(color, alpha)))
            self.setPen(QPen(QColor(20, 20, 20, min(alpha, 200)), 1.0))
            self.setToolTip(NAMES[index])
        else:
            self.setBrush(Qt.BrushStyle.NoBrush)
            self.setPen(QPen(qcolor(color, min(alpha, OCCLUDED_RING_ALPHA)), 2.0))
            self.setToolTip(f"{NAMES[index]} (occluded)")


class LimbItem(QGraphicsLineItem):
    """One skeleton limb between two labelled keypoints; dashed and dimmer when an end is occluded."""

    def __init__(
        self,
        limb: int,
        p: QPointF,
        q: QPointF,
        occluded: bool,
        parent: QGraphicsItem | None = None,
        alpha: int = 230,
    ):
        super().__init__(p.x(), p.y(), q.x(), q.y(), parent)
        self.limb = limb
        self.occluded = occluded
        self.alpha = OCCLUDED_ALPHA if occluded else alpha
        self.setZValue(0)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.set_highlight(False)

    def set_highlight(self, on: bool) -> None:
        pen = QPen(
            qcolor(LIMB_COLORS[self.limb], self.alpha), SELECTED_LIMB_WIDTH_PX if on else LIMB_WIDTH_PX
        )
        pen.setCosmetic(True)  # width in screen pixels whatever the zoom
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        if self.occluded:
            pen.setStyle(Qt.PenStyle.DashLine)
        self.setPen(pen)


class HandleItem(QGraphicsRectItem):
    """The scale handle at the bottom-right corner of the selected person's box (constant screen size)."""

    def __init__(self, instance_index: int, parent: QGraphicsItem) -> None:
        s = HANDLE_PX
        super().__init__(-s / 2, -s / 2, s, s, parent)
        self.instance_index = instance_index
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setBrush(QBrush(QColor(255, 255, 255, 230)))
        self.setPen(QPen(QColor(20, 20, 20), 1.0))
        self.setZValue(3)
        self.setCursor(Qt.CursorShape.SizeFDiagCursor)
        self.setToolTip("Drag to scale the person (about the opposite corner)")


class TagItem(QGraphicsSimpleTextItem):
    """A small caption on a dark plate (constant screen size), e.g. 'student 0.84 · A accept, R reject'.

    Its place is its anchor (``pos``, image pixels) plus an offset in screen pixels (:meth:`set_offset`);
    the canvas may push a caption further down or up (:meth:`set_shift`) so that captions never overlap."""

    PLATE = QColor(0, 0, 0, 170)
    #: The plate's margin around the text (px): what a caption covers on screen.
    MARGIN = (3.0, 1.0)
    offset = (0.0, 0.0)  # screen pixels from the anchor
    shift = 0.0  # screen pixels down (up when negative) from the offset, set by the canvas

    def set_offset(self, dx: float, dy: float) -> None:
        """The caption's place relative to its anchor, in screen pixels (before any shift)."""
        self.offset = (float(dx), float(dy))
        self.set_shift(0.0)

    def set_shift(self, dy: float) -> None:
        """Move the caption ``dy`` screen pixels from its place (the canvas's caption layout)."""
        dx, base = self.offset
        self.shift = float(dy)
        self.setTransform(QTransform.fromTranslate(dx, base + dy))

    def plate_rect(self) -> QRectF:
        """What the caption covers, in its own coordinates (text and plate)."""
        mx, my = self.MARGIN
        return self.boundingRect().adjusted(-mx, -my, mx, my)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.fillRect(self.plate_rect(), self.PLATE)
        super().paint(painter, option, widget)


class InstanceItem(QGraphicsItem):
    """The items of one person: limbs below, keypoints above; a box, handle and joint ring when selected.

    A plain parent item rather than a QGraphicsItemGroup, because a group swallows its children's mouse
    events. Project instances (``extras['id']``) are editable; a model's unaccepted prediction is drawn with
    its keypoints' confidence as opacity and a dashed box with a caption.
    """

    def __init__(self, index: int, instance: Instance, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self.index = index
        self.instance = instance
        self.instance_id: int | None = instance.extras.get("id")
        self.prediction = is_prediction(instance)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, True)
        self.setZValue(1)
        kp = instance.keypoints
        vis = kp[:, 2].astype(int)
        alphas = [255] * len(kp)
        if self.prediction and instance.scores is not None:
            alphas = [_score_alpha(float(s)) if s == s else 255 for s in instance.scores]  # NaN: no score
        self.limbs: list[LimbItem] = []
        self._limb_ends: dict[int, list[tuple[LimbItem, int]]] = {}
        for limb, (a, b) in enumerate(SKELETON):
            if vis[a] > 0 and vis[b] > 0:
                occluded = vis[a] < 2 or vis[b] < 2
                pa, pb = QPointF(kp[a, 0], kp[a, 1]), QPointF(kp[b, 0], kp[b, 1])
                item = LimbItem(limb, pa, pb, occluded, self, min(alphas[a], alphas[b], 230))
                self.limbs.append(item)
                self._limb_ends.setdefault(a, []).append((item, 0))
                self._limb_ends.setdefault(b, []).append((item, 1))
        self.keypoints: list[KeypointItem] = [
            KeypointItem(k, float(kp[k, 0]), float(kp[k, 1]), int(vis[k]), self, alphas[k])
            for k in range(len(kp))
            if vis[k] > 0
        ]
        self.marker_of = {m.index: m for m in self.keypoints}
        self.selected = False
        self.box_item: QGraphicsRectItem | None = None
        self.handle: HandleItem | None = None
        self.ring: QGraphicsEllipseItem | None = None
        self.tag: TagItem | None = None
        if self.prediction:
            self._add_tag()
        # the person's track id (and 'interpolated'), in the id's colour (issue 18; add_track_tag below)
        name = person_name(index, instance.track_id)  # as the Instances dock calls it
        self.track_tag = add_track_tag(self, instance, self.box_rect(), below=self.tag is not None, name=name)

    # ------------------------------------------------------------------ geometry
    def box_rect(self) -> QRectF | None:
        """The person's box in image pixels: its stored box, else the bounds of its labelled keypoints."""
        inst = self.instance
        box = inst.bbox if inst.bbox is not None else inst.bbox_from_keypoints(0.0)
        return None if box is None else QRectF(*(float(v) for v in box))

    def _add_tag(self) -> None:
        rect = self.box_rect()
        if rect is None:
            return
        inst = self.instance
        score = f" {inst.score:.2f}" if inst.score is not None else ""
        # the model that made it (a stored prediction records it), else its role: "teacher" would also name a
        # pretrained Lightning (the live default), which is no teacher here
        made_by = inst.extras.get("model")
        who = Path(str(made_by)).name if made_by else inst.source
        self.tag = TagItem(f"{who}{score} · A accept · R reject", self)
        font = QFont()
        font.setPointSizeF(8.0)
        self.tag.setFont(font)
        self.tag.setBrush(PREDICTION_BOX_COLOR)
        self.tag.setPos(rect.topLeft())
        self.tag.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.tag.set_offset(0, -16)
        self.tag.setZValue(3)
        self.tag.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._add_box(PREDICTION_BOX_COLOR, Qt.PenStyle.DashLine)

    def _add_box(self, color: QColor, style: Qt.PenStyle) -> None:
        rect = self.box_rect()
        if rect is None or self.box_item is not None:
            return
        self.box_item = QGraphicsRectItem(rect, self)
        pen = QPen(color, 1.5)
        pen.setCosmetic(True)
        pen.setStyle(style)
        self.box_item.setPen(pen)
        self.box_item.setZValue(-1)
        self.box_item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    # ------------------------------------------------------------------ selection
    def set_selected(self, on: bool) -> None:
        """Thicker limbs; for a project person also its box and the scale handle."""
        self.selected = on
        for limb in self.limbs:
            limb.set_highlight(on)
        _discard(self.handle)
        self.handle = None
        if not self.prediction:
            _discard(self.box_item)
            self.box_item = None
        if on and self.instance_id is not None:
            self._add_box(BOX_COLOR, Qt.PenStyle.DashLine)
            rect = self.box_rect()
            if rect is not None:
                self.handle = HandleItem(self.index, self)
                self.handle.setPos(rect.bottomRight())

    def set_joint(self, k: int | None) -> None:
        """Ring the joint being edited (None: no ring)."""
        _discard(self.ring)
        self.ring = None
        if k is None:
            return
        marker = self.marker_of.get(k)
        if marker is not None:
            pos, style = marker.pos(), Qt.PenStyle.SolidLine
        else:  # not labelled: a dashed ring where the joint was (a model's doubtful guess), if anywhere
            x, y = (float(v) for v in self.instance.keypoints[k, :2])
            if x == 0 and y == 0:
                return
            pos, style = QPointF(x, y), Qt.PenStyle.DashLine
        r = JOINT_RING_PX
        self.ring = QGraphicsEllipseItem(-r, -r, 2 * r, 2 * r, self)
        self.ring.setPos(pos)
        self.ring.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        pen = QPen(QColor(255, 255, 255, 240), 2.0)
        pen.setStyle(style)
        self.ring.setPen(pen)
        self.ring.setZValue(2)
        self.ring.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    # ------------------------------------------------------------------ drag previews
    def preview_joint(self, k: int, x: float, y: float) -> None:
        """Show joint ``k`` at (x, y) while it is dragged (the store is written on release)."""
        marker = self.marker_of.get(k)
        if marker is None:
            return
        marker.setPos(x, y)
        if self.ring is not None:
            self.ring.setPos(x, y)
        for limb, end in self._limb_ends.get(k, []):
            line = limb.line()
            if end == 0:
                limb.setLine(x, y, line.x2(), line.y2())
            else:
                limb.setLine(line.x1(), line.y1(), x, y)

    def preview_transform(
        self, dx: float, dy: float, scale: float = 1.0, anchor: QPointF | None = None
    ) -> None:
        """Show the person moved by (dx, dy) and scaled about ``anchor`` while it is dragged."""
        a = anchor or QPointF(0, 0)
        t = QTransform()
        t.translate(a.x() + dx, a.y() + dy)
        t.scale(scale, scale)
        t.translate(-a.x(), -a.y())
        self.setTransform(t)

    # ------------------------------------------------------------------ QGraphicsItem
    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return QRectF()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        pass  # children draw everything


def _discard(item: QGraphicsItem | None) -> None:
    if item is None:
        return
    if item.scene() is not None:
        item.scene().removeItem(item)
    item.setParentItem(None)


# ------------------------------------------------------------------ a person's identity (issue 18)
def track_color(track_id: int, alpha: int = 235) -> QColor:
    """One colour per person id: hues a golden-ratio step apart, so neighbouring ids never look alike."""
    hue = (int(track_id) * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 1.0)
    return QColor(int(r * 255), int(g * 255), int(b * 255), alpha)


def track_text(inst: Instance, name: str | None = None) -> str:
    """The caption of a person's identity: ``name`` (default 'track 3' when it has an id; see
    :func:`distilpose.app.words.person_name`), and 'interpolated' until a person verifies it."""
    if name is None:
        name = None if inst.track_id is None else person_name(0, inst.track_id)
    parts = [name] if name else []
    if is_interpolated(inst):
        parts.append("interpolated")
    return " · ".join(parts)


def add_track_tag(
    parent: QGraphicsItem, inst: Instance, rect: QRectF | None, below: bool = False, name: str | None = None
) -> TagItem | None:
    """A caption with the person's name (in its id's colour) at the top right of its box, or under its
    bottom right corner when ``below`` (a prediction's caption already sits above a narrow box); None when it
    has no name and is not interpolated, or has no box. The canvas moves captions apart
    (:meth:`Canvas.layout_captions`) so that crowded people's captions never cover each other."""
    text = track_text(inst, name)
    if not text or rect is None:
        return None
    tag = new_track_tag(parent)
    place_track_tag(tag, inst, text, rect, below)
    return tag


def new_track_tag(parent: QGraphicsItem) -> TagItem:
    tag = TagItem(parent)
    font = QFont()
    font.setPointSizeF(8.0)
    font.setBold(True)
    tag.setFont(font)
    tag.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
    tag.setZValue(3.6)
    tag.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
    return tag


def place_track_tag(tag: TagItem, inst: Instance, text: str, rect: QRectF, below: bool = False) -> None:
    if tag.text() != text:
        tag.setText(text)
    tag.setBrush(track_color(inst.track_id) if inst.track_id is not None else QColor(230, 230, 230))
    tag.setPos(rect.bottomRight() if below else rect.topRight())
    tag.set_offset(-tag.boundingRect().width(), 2 if below else -16)
