"""Canvas items for live predictions: confidence-weighted skeletons, uncertainty ellipses, the teacher's
skeleton, teacher/student disagreement, person boxes and the selected keypoint.

Everything of one frame hangs under one :class:`PredictionLayer`, rebuilt when the predictions or the display
options change; markers and labels keep their screen size at any zoom, ellipses and boxes are in image pixels.
"""

from __future__ import annotations

import colorsys

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

from distilpose.app.canvas_items import (  # one look for every skeleton
    LIMB_WIDTH_PX,
    MARKER_RADIUS_PX,
    TagItem,
)
from distilpose.app.words import person_name
from distilpose.inference.live import FrameResult
from distilpose.interpolation import is_interpolated
from distilpose.keypoints import KEYPOINT_COLORS, LIMB_COLORS, NAMES, SKELETON
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
    tag = TagItem(text, parent)
    font = QFont()
    font.setPointSizeF(8.0)
    font.setBold(True)
    tag.setFont(font)
    tag.setBrush(track_color(inst.track_id) if inst.track_id is not None else QColor(230, 230, 230))
    tag.setPos(rect.bottomRight() if below else rect.topRight())
    tag.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
    tag.set_offset(-tag.boundingRect().width(), 2 if below else -16)
    tag.setZValue(3.6)
    tag.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
    return tag


def _rgb(color: tuple[int, int, int], alpha: int) -> QColor:
    return QColor(color[0], color[1], color[2], alpha)


def _cosmetic(color: QColor, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(color, width)
    pen.setCosmetic(True)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setStyle(style)
    return pen


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


class PredictedKeypointItem(QGraphicsEllipseItem):
    """One predicted keypoint; opacity follows its score, the tooltip names it with score and sigma."""

    def __init__(self, instance_index: int, index: int, inst: Instance, score: float, parent: QGraphicsItem):
        r = MARKER_RADIUS_PX
        super().__init__(-r, -r, 2 * r, 2 * r, parent)
        self.instance_index = instance_index
        self.index = index
        self.score = score
        x, y = inst.keypoints[index, :2]
        self.setPos(float(x), float(y))
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setZValue(3)
        alpha = score_alpha(score)
        self.setBrush(QBrush(_rgb(KEYPOINT_COLORS[index], alpha)))
        self.setPen(QPen(QColor(20, 20, 20, alpha), 1.0))
        tip = f"{NAMES[index]} · score {score:.2f}"
        if inst.sigmas is not None:
            sx, sy = inst.sigmas[index]
            tip += f" · σ {sx:.1f} × {sy:.1f} px"
        self.setToolTip(tip)
        self.setCursor(Qt.CursorShape.PointingHandCursor)


class SigmaEllipseItem(QGraphicsEllipseItem):
    """The student's 1-sigma uncertainty around a keypoint, in image pixels (grows with the zoom)."""

    def __init__(
        self, index: int, x: float, y: float, sx: float, sy: float, alpha: int, parent: QGraphicsItem
    ):
        super().__init__(-sx, -sy, 2 * sx, 2 * sy, parent)
        self.index = index
        self.setPos(x, y)
        self.setZValue(1)
        self.setPen(_cosmetic(_rgb(KEYPOINT_COLORS[index], min(alpha, 210)), 1.0, Qt.PenStyle.DashLine))
        self.setBrush(QBrush(_rgb(KEYPOINT_COLORS[index], 35)))
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)


class PredictionLayer(_Group):
    """Every overlay of one :class:`FrameResult`."""

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
        self.result = result
        self.tracked = tracked
        self.keypoints: list[PredictedKeypointItem] = []
        self.limbs: list[QGraphicsLineItem] = []
        self.ellipses: list[SigmaEllipseItem] = []
        self.boxes: list[QGraphicsRectItem] = []
        self.teacher_limbs: list[QGraphicsLineItem] = []
        self.teacher_markers: list[QGraphicsEllipseItem] = []
        self.disagreement_lines: list[QGraphicsLineItem] = []
        self.disagreement_labels: list[QGraphicsSimpleTextItem] = []
        self.selection_ring: QGraphicsEllipseItem | None = None
        self.track_tags: list[TagItem] = []  # one per person with an id (the live tracker's)
        self.track_boxes: list[QGraphicsRectItem] = []
        for box in result.boxes:
            item = QGraphicsRectItem(*(float(v) for v in box), self)
            item.setPen(_cosmetic(BOX_COLOR, 1.0, Qt.PenStyle.DashLine))
            item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
            self.boxes.append(item)
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
            r = SELECTED_RING_PX
            ring = QGraphicsEllipseItem(-r, -r, 2 * r, 2 * r, self)
            ring.setPos(float(x), float(y))
            ring.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
            ring.setPen(QPen(QColor(255, 255, 255, 240), 2.0))
            ring.setZValue(4)
            ring.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
            self.selection_ring = ring

    def _add_instance(self, i: int, inst: Instance, threshold: float, show_sigmas: bool) -> np.ndarray:
        scores = keypoint_scores(inst)
        shown = (inst.keypoints[:, 2] > 0) & (scores >= threshold)
        kp = inst.keypoints
        for limb, (a, b) in enumerate(SKELETON):
            if shown[a] and shown[b]:
                line = QGraphicsLineItem(kp[a, 0], kp[a, 1], kp[b, 0], kp[b, 1], self)
                line.setPen(
                    _cosmetic(_rgb(LIMB_COLORS[limb], score_alpha(min(scores[a], scores[b]))), LIMB_WIDTH_PX)
                )
                line.setZValue(2)
                line.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
                self.limbs.append(line)
        for k in np.flatnonzero(shown):
            self.keypoints.append(PredictedKeypointItem(i, int(k), inst, float(scores[k]), self))
            if show_sigmas and inst.sigmas is not None:
                sx, sy = (float(v) for v in inst.sigmas[k])
                if sx > 0 and sy > 0:
                    self.ellipses.append(
                        SigmaEllipseItem(
                            int(k), float(kp[k, 0]), float(kp[k, 1]), sx, sy, score_alpha(scores[k]), self
                        )
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
        outline = QGraphicsRectItem(rect, self)
        outline.setPen(_cosmetic(track_color(inst.track_id), 2.0))
        outline.setZValue(1.6)
        outline.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.track_boxes.append(outline)
        tag = add_track_tag(self, inst, rect)
        if tag is not None:
            self.track_tags.append(tag)

    def _add_teacher(self, inst: Instance, threshold: float) -> np.ndarray:
        scores = keypoint_scores(inst)
        shown = (inst.keypoints[:, 2] > 0) & (scores >= threshold)
        kp = inst.keypoints
        for a, b in SKELETON:
            if shown[a] and shown[b]:
                line = QGraphicsLineItem(kp[a, 0], kp[a, 1], kp[b, 0], kp[b, 1], self)
                line.setPen(_cosmetic(TEACHER_COLOR, 1.5, Qt.PenStyle.DashLine))
                line.setZValue(1.5)
                line.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
                self.teacher_limbs.append(line)
        for k in np.flatnonzero(shown):
            r = TEACHER_RADIUS_PX
            marker = QGraphicsEllipseItem(-r, -r, 2 * r, 2 * r, self)
            marker.setPos(float(kp[k, 0]), float(kp[k, 1]))
            marker.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
            marker.setPen(QPen(TEACHER_COLOR, 1.5))
            marker.setBrush(Qt.BrushStyle.NoBrush)
            marker.setZValue(2.5)
            marker.setToolTip(f"teacher: {NAMES[int(k)]} · score {scores[k]:.2f}")
            self.teacher_markers.append(marker)
        return shown

    def _add_disagreement(
        self, student: Instance, teacher: Instance, values: np.ndarray, shown: np.ndarray, with_labels: bool
    ) -> None:
        font = QFont()
        font.setPointSizeF(8.0)
        for k in np.flatnonzero(shown):
            p = student.keypoints[k, :2]
            q = teacher.keypoints[k, :2]
            color = disagreement_color(float(values[k]))
            line = QGraphicsLineItem(p[0], p[1], q[0], q[1], self)
            line.setPen(_cosmetic(color, 2.0))
            line.setZValue(2.2)
            line.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
            line.setToolTip(f"{NAMES[int(k)]}: disagreement {values[k]:.3f} of the box size")
            self.disagreement_lines.append(line)
            if with_labels:
                label = LabelItem(f"{values[k]:.2f}", self)
                label.setFont(font)
                label.setBrush(color)
                label.setPos(float(q[0]), float(q[1]))  # at the reference: spread out even when p collapses
                label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
                label.setTransform(QTransform.fromTranslate(MARKER_RADIUS_PX + 2, -MARKER_RADIUS_PX - 8))
                label.setZValue(3.5)
                label.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
                label.keypoint = int(k)
                self.disagreement_labels.append(label)


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
