"""Canvas items for live predictions: confidence-weighted skeletons, uncertainty ellipses, the teacher's
skeleton, teacher/student disagreement, person boxes and the selected keypoint.

Everything of one frame hangs under one :class:`PredictionLayer`, rebuilt when the predictions or the display
options change; markers and labels keep their screen size at any zoom, ellipses and boxes are in image pixels.
"""

from __future__ import annotations

import colorsys
import functools
from collections.abc import Callable

import numpy as np
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

from distilpose.app.annotate.canvas_items import (  # one look for every skeleton
    LIMB_WIDTH_PX,
    MARKER_RADIUS_PX,
    TagItem,
    new_track_tag,
    place_track_tag,
    track_color,
    track_text,
)
from distilpose.keypoints import KEYPOINT_COLORS, LIMB_COLORS, NAMES, SKELETON
from distilpose.pipeline import FrameResult
from distilpose.render import keypoint_scores
from distilpose.types import Instance

TEACHER_RADIUS_PX = 3.5
SELECTED_RING_PX = 10.0
#: Opacity of a keypoint with score 0 and score 1 (linear in between): confidence shows as opacity.
MIN_ALPHA, MAX_ALPHA = 70, 255
TEACHER_COLOR = QColor(245, 245, 245, 220)
BOX_COLOR = QColor(255, 230, 0, 200)
USER_BOX_COLOR = QColor(0, 230, 255, 230)
#: Disagreement (distance / box size) shown fully red; 0 is green.
DISAGREEMENT_RED = 0.2


def score_alpha(score: float) -> int:
    s = float(min(max(score, 0.0), 1.0))
    return int(round(MIN_ALPHA + (MAX_ALPHA - MIN_ALPHA) * s))


def disagreement_color(value: float) -> QColor:
    """Green (agree) through yellow to red (>= DISAGREEMENT_RED apart)."""
    t = float(min(max(value / DISAGREEMENT_RED, 0.0), 1.0))
    r, g, b = colorsys.hsv_to_rgb((1.0 - t) / 3.0, 0.9, 1.0)
    return QColor(int(r * 255), int(g * 255), int(b * 255), 235)


def _rgb(color: tuple[int, int, int], alpha: int) -> QColor:
    return QColor(color[0], color[1], color[2], alpha)


@functools.lru_cache(maxsize=4096)
def _pen(rgba: tuple[int, int, int, int], width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(QColor(*rgba), width)
    pen.setCosmetic(True)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setStyle(style)
    return pen


def _cosmetic(color: QColor, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    """A pen of constant screen width (made once per colour, width and style: a played frame restyles ~100
    items)."""
    return _pen(color.getRgb(), float(width), style)


class _Group(QGraphicsItem):
    """A contentless parent (not a QGraphicsItemGroup, which would swallow its children's mouse events)."""

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, True)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return QRectF()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        pass


class _Pool:
    """The items of one kind under a layer, kept from frame to frame: each frame moves and restyles the ones
    it needs and hides the rest. Building and destroying a hundred items per played frame cost more than
    everything else the window does (ADR 0020)."""

    def __init__(self, parent: QGraphicsItem, make: Callable[[QGraphicsItem], QGraphicsItem]) -> None:
        self.parent = parent
        self.make = make
        self.items: list = []
        self.used = 0

    def take(self):
        if self.used == len(self.items):
            self.items.append(self.make(self.parent))
        item = self.items[self.used]
        self.used += 1
        if not item.isVisible():
            item.setVisible(True)
        return item

    def finish(self) -> list:
        """Hide what this frame did not use; returns the items in use."""
        for item in self.items[self.used :]:
            if item.isVisible():
                item.setVisible(False)
        used, self.used = self.items[: self.used], 0
        return used


def _passive(item: QGraphicsItem, z: float) -> QGraphicsItem:
    item.setZValue(z)
    item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
    return item


class PredictedKeypointItem(QGraphicsEllipseItem):
    """One predicted keypoint; opacity follows its score, the tooltip names it with score and sigma."""

    def __init__(self, parent: QGraphicsItem):
        r = MARKER_RADIUS_PX
        super().__init__(-r, -r, 2 * r, 2 * r, parent)
        self.instance_index = 0
        self.index = 0
        self.score = 0.0
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setZValue(3)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def show_keypoint(self, instance_index: int, index: int, inst: Instance, score: float) -> None:
        self.instance_index = instance_index
        self.index = index
        self.score = score
        x, y = inst.keypoints[index, :2]
        self.setPos(float(x), float(y))
        alpha = score_alpha(score)
        self.setBrush(QBrush(_rgb(KEYPOINT_COLORS[index], alpha)))
        self.setPen(_pen((20, 20, 20, alpha), 1.0))
        tip = f"{NAMES[index]} · score {score:.2f}"
        if inst.sigmas is not None:
            sx, sy = inst.sigmas[index]
            tip += f" · σ {sx:.1f} × {sy:.1f} px"
        self.setToolTip(tip)


class SigmaEllipseItem(QGraphicsEllipseItem):
    """The student's 1-sigma uncertainty around a keypoint, in image pixels (grows with the zoom)."""

    def __init__(self, parent: QGraphicsItem):
        super().__init__(parent)
        self.index = 0
        _passive(self, 1)

    def show_sigma(self, index: int, x: float, y: float, sx: float, sy: float, alpha: int) -> None:
        self.index = index
        self.setRect(-sx, -sy, 2 * sx, 2 * sy)
        self.setPos(x, y)
        self.setPen(_cosmetic(_rgb(KEYPOINT_COLORS[index], min(alpha, 210)), 1.0, Qt.PenStyle.DashLine))
        self.setBrush(QBrush(_rgb(KEYPOINT_COLORS[index], 35)))


def _marker(parent: QGraphicsItem, radius: float, z: float) -> QGraphicsEllipseItem:
    item = QGraphicsEllipseItem(-radius, -radius, 2 * radius, 2 * radius, parent)
    item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
    item.setZValue(z)
    return item


def _teacher_marker(parent: QGraphicsItem) -> QGraphicsEllipseItem:
    marker = _marker(parent, TEACHER_RADIUS_PX, 2.5)
    marker.setPen(QPen(TEACHER_COLOR, 1.5))
    marker.setBrush(Qt.BrushStyle.NoBrush)
    return marker


def _selection_ring(parent: QGraphicsItem) -> QGraphicsEllipseItem:
    ring = _passive(_marker(parent, SELECTED_RING_PX, 4), 4)
    ring.setPen(QPen(QColor(255, 255, 255, 240), 2.0))
    return ring


def _label(parent: QGraphicsItem) -> TagItem:
    label = _passive(LabelItem(parent), 3.5)
    font = QFont()
    font.setPointSizeF(8.0)
    label.setFont(font)
    label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
    label.setTransform(QTransform.fromTranslate(MARKER_RADIUS_PX + 2, -MARKER_RADIUS_PX - 8))
    return label


class PredictionLayer(_Group):
    """Every overlay of one :class:`FrameResult`. :meth:`show` draws the next result with the same items,
    moved and restyled (a played video changes the result every frame)."""

    def __init__(
        self,
        result: FrameResult,
        threshold: float,
        show_sigmas: bool,
        show_teacher: bool,
        selected: tuple[int, int] | None,
        parent: QGraphicsItem | None = None,
        tracked: bool = True,
    ) -> None:
        """``tracked``: the source is a video or camera, whose people keep ids; a still image's people get
        no 'track 1' caption."""
        super().__init__(parent)
        self.setZValue(2)
        self.tracked = tracked
        line = QGraphicsLineItem
        self._pools = {
            "keypoints": _Pool(self, PredictedKeypointItem),
            "limbs": _Pool(self, lambda p: _passive(line(p), 2)),
            "ellipses": _Pool(self, SigmaEllipseItem),
            "boxes": _Pool(self, lambda p: _passive(QGraphicsRectItem(p), 0)),
            "teacher_limbs": _Pool(self, lambda p: _passive(line(p), 1.5)),
            "teacher_markers": _Pool(self, _teacher_marker),
            "disagreement_lines": _Pool(self, lambda p: _passive(line(p), 2.2)),
            "disagreement_labels": _Pool(self, _label),
            "track_tags": _Pool(self, new_track_tag),  # one per person with an id (the live tracker's)
            "track_boxes": _Pool(self, lambda p: _passive(QGraphicsRectItem(p), 1.6)),
            "rings": _Pool(self, _selection_ring),
        }
        self.show(result, threshold, show_sigmas, show_teacher, selected)

    def show(
        self,
        result: FrameResult,
        threshold: float,
        show_sigmas: bool,
        show_teacher: bool,
        selected: tuple[int, int] | None,
    ) -> None:
        """Draw ``result`` (replacing what was drawn) with the items already made, making more only when
        this result needs more than any before."""
        self.result = result
        pools = self._pools
        for box in result.boxes:
            item = pools["boxes"].take()
            item.setRect(*(float(v) for v in box))
            item.setPen(_cosmetic(BOX_COLOR, 1.0, Qt.PenStyle.DashLine))
        teacher = result.teacher if show_teacher else None
        labelled = selected[0] if selected is not None else 0
        for i, inst in enumerate(result.instances):
            shown = self._add_instance(i, inst, threshold, show_sigmas)
            self._add_track(inst)
            if teacher is not None and i < len(teacher):
                t_shown = self._add_teacher(teacher[i], threshold)
                values = result.disagreement[i] if result.disagreement is not None else None
                if values is not None:
                    self._add_disagreement(
                        inst, teacher[i], values, shown & t_shown, with_labels=i == labelled
                    )
        if selected is not None and selected[0] < len(result.instances):
            x, y = result.instances[selected[0]].keypoints[selected[1], :2]
            pools["rings"].take().setPos(float(x), float(y))
        used = {name: pool.finish() for name, pool in pools.items()}
        self.keypoints: list[PredictedKeypointItem] = used["keypoints"]
        self.limbs: list[QGraphicsLineItem] = used["limbs"]
        self.ellipses: list[SigmaEllipseItem] = used["ellipses"]
        self.boxes: list[QGraphicsRectItem] = used["boxes"]
        self.teacher_limbs: list[QGraphicsLineItem] = used["teacher_limbs"]
        self.teacher_markers: list[QGraphicsEllipseItem] = used["teacher_markers"]
        self.disagreement_lines: list[QGraphicsLineItem] = used["disagreement_lines"]
        self.disagreement_labels: list[QGraphicsSimpleTextItem] = used["disagreement_labels"]
        self.track_tags: list[TagItem] = used["track_tags"]
        self.track_boxes: list[QGraphicsRectItem] = used["track_boxes"]
        self.selection_ring: QGraphicsEllipseItem | None = used["rings"][0] if used["rings"] else None

    def _add_instance(self, i: int, inst: Instance, threshold: float, show_sigmas: bool) -> np.ndarray:
        scores = keypoint_scores(inst)
        shown = (inst.keypoints[:, 2] > 0) & (scores >= threshold)
        kp = inst.keypoints
        limbs, keypoints, ellipses = (self._pools[n] for n in ("limbs", "keypoints", "ellipses"))
        for limb, (a, b) in enumerate(SKELETON):
            if shown[a] and shown[b]:
                line = limbs.take()
                line.setLine(kp[a, 0], kp[a, 1], kp[b, 0], kp[b, 1])
                line.setPen(
                    _cosmetic(_rgb(LIMB_COLORS[limb], score_alpha(min(scores[a], scores[b]))), LIMB_WIDTH_PX)
                )
        for k in np.flatnonzero(shown):
            keypoints.take().show_keypoint(i, int(k), inst, float(scores[k]))
            if show_sigmas and inst.sigmas is not None:
                sx, sy = (float(v) for v in inst.sigmas[k])
                if sx > 0 and sy > 0:
                    ellipses.take().show_sigma(
                        int(k), float(kp[k, 0]), float(kp[k, 1]), sx, sy, score_alpha(scores[k])
                    )
        return shown

    def _add_track(self, inst: Instance) -> None:
        """The person's id: its box outlined in the id's colour, and a caption (video and camera only)."""
        if inst.track_id is None or not self.tracked:
            return
        box = inst.bbox if inst.bbox is not None else inst.bbox_from_keypoints(0.0)
        if box is None:
            return
        rect = QRectF(*(float(v) for v in box))
        outline = self._pools["track_boxes"].take()
        outline.setRect(rect)
        outline.setPen(_cosmetic(track_color(inst.track_id), 2.0))
        text = track_text(inst)
        if text:
            place_track_tag(self._pools["track_tags"].take(), inst, text, rect)

    def _add_teacher(self, inst: Instance, threshold: float) -> np.ndarray:
        scores = keypoint_scores(inst)
        shown = (inst.keypoints[:, 2] > 0) & (scores >= threshold)
        kp = inst.keypoints
        for a, b in SKELETON:
            if shown[a] and shown[b]:
                line = self._pools["teacher_limbs"].take()
                line.setLine(kp[a, 0], kp[a, 1], kp[b, 0], kp[b, 1])
                line.setPen(_cosmetic(TEACHER_COLOR, 1.5, Qt.PenStyle.DashLine))
        for k in np.flatnonzero(shown):
            marker = self._pools["teacher_markers"].take()
            marker.setPos(float(kp[k, 0]), float(kp[k, 1]))
            marker.setToolTip(f"teacher: {NAMES[int(k)]} · score {scores[k]:.2f}")
        return shown

    def _add_disagreement(
        self, student: Instance, teacher: Instance, values: np.ndarray, shown: np.ndarray, with_labels: bool
    ) -> None:
        for k in np.flatnonzero(shown):
            p = student.keypoints[k, :2]
            q = teacher.keypoints[k, :2]
            color = disagreement_color(float(values[k]))
            line = self._pools["disagreement_lines"].take()
            line.setLine(p[0], p[1], q[0], q[1])
            line.setPen(_cosmetic(color, 2.0))
            line.setToolTip(f"{NAMES[int(k)]}: disagreement {values[k]:.3f} of the box size")
            if with_labels:
                label = self._pools["disagreement_labels"].take()
                label.setText(f"{values[k]:.2f}")
                label.setBrush(color)
                label.setPos(float(q[0]), float(q[1]))  # at the reference: spread out even when p collapses
                label.keypoint = int(k)


#: Numbers on the overlay use the canvas's caption item: a small text on a dark plate, constant screen size.
LabelItem = TagItem


class UserBoxItem(QGraphicsRectItem):
    """A person box the user drew (image pixels)."""

    def __init__(self, box: tuple[float, float, float, float], parent: QGraphicsItem | None = None) -> None:
        super().__init__(*box, parent)
        self.setPen(_cosmetic(USER_BOX_COLOR, 2.0))
        self.setBrush(QBrush(QColor(0, 230, 255, 25)))
        self.setZValue(1.8)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)


def rubber_band_rect(a: QPointF, b: QPointF) -> QRectF:
    return QRectF(a, b).normalized()
