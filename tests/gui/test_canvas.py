"""The canvas: instance items at the right places, constant-size markers, zoom around the cursor, pan."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from distilpose.app.canvas import MARKER_RADIUS_PX, SELECTED_LIMB_WIDTH_PX, ZOOM_STEP, KeypointItem
from distilpose.keypoints import KEYPOINT_COLORS, NAMES, SKELETON

from .conftest import EXPECTED_LIMBS, EXPECTED_MARKERS, FIGURE_SIZE


@pytest.fixture
def loaded(window, figure_files):
    window.state.open_annotations(figure_files.ann)
    window.state.open_image(figure_files.image)
    return window


def test_image_and_instances_are_drawn_where_the_annotations_say(loaded, figure_files) -> None:
    canvas = loaded.canvas
    pixmap = canvas.image_item.pixmap()
    assert (pixmap.width(), pixmap.height()) == FIGURE_SIZE
    assert canvas.image_item.pos() == QPointF(0, 0)  # scene coordinates are image pixels
    items = canvas.instance_items
    assert len(items) == 2  # the third annotation belongs to another image
    expected = zip(items, figure_files.persons, EXPECTED_MARKERS, EXPECTED_LIMBS, strict=True)
    for item, person, n_markers, n_limbs in expected:
        assert len(item.keypoints) == n_markers
        assert len(item.limbs) == n_limbs
        drawn = {m.index for m in item.keypoints}
        assert drawn == {k for k in range(17) if person[k, 2] > 0}  # v=0 is not drawn
        for marker in item.keypoints:
            x, y, v = person[marker.index]
            assert (marker.scenePos().x(), marker.scenePos().y()) == (x, y)
            assert marker.visibility == v
        for limb in item.limbs:
            a, b = SKELETON[limb.limb]
            line = limb.line()
            assert (line.x1(), line.y1(), line.x2(), line.y2()) == (*person[a, :2], *person[b, :2])


def test_visible_markers_are_filled_and_occluded_ones_hollow(loaded) -> None:
    person_a = loaded.canvas.instance_items[0]
    by_index = {m.index: m for m in person_a.keypoints}
    nose, right_knee = by_index[0], by_index[14]
    assert nose.brush().style() == Qt.BrushStyle.SolidPattern
    assert nose.brush().color().getRgb()[:3] == KEYPOINT_COLORS[0]
    assert right_knee.brush().style() == Qt.BrushStyle.NoBrush
    assert right_knee.pen().color().getRgb()[:3] == KEYPOINT_COLORS[14]
    assert right_knee.pen().color().alpha() < 255
    dashed = [limb for limb in person_a.limbs if limb.pen().style() == Qt.PenStyle.DashLine]
    assert sorted(SKELETON[limb.limb] for limb in dashed) == [(14, 12), (16, 14)]


def test_hovering_a_keypoint_finds_its_name(loaded, figure_files) -> None:
    canvas = loaded.canvas
    for k in (0, 7, 16):
        x, y, _ = figure_files.persons[0][k]
        top = canvas.items(canvas.mapFromScene(QPointF(x, y)))[0]
        assert isinstance(top, KeypointItem)
        assert top.toolTip() == NAMES[k]
    knee = {m.index: m for m in canvas.instance_items[0].keypoints}[14]
    assert knee.toolTip() == "right_knee (occluded)"


def _screen_size(canvas, item) -> float:
    return item.deviceTransform(canvas.viewportTransform()).mapRect(item.boundingRect()).width()


def test_markers_keep_their_screen_size_when_zooming(loaded) -> None:
    canvas = loaded.canvas
    marker = canvas.instance_items[0].keypoints[0]
    before = _screen_size(canvas, marker)
    canvas.zoom_by(3.0)
    assert canvas.zoom() > 2
    assert _screen_size(canvas, marker) == pytest.approx(before)
    assert before == pytest.approx(2 * MARKER_RADIUS_PX, abs=1.5)  # pen width included


def test_zoom_actions_and_fit(loaded) -> None:
    canvas = loaded.canvas
    vw, vh = canvas.viewport().width(), canvas.viewport().height()
    w, h = FIGURE_SIZE
    fit = canvas.zoom()
    # fitInView keeps a margin of a few pixels; the fitted scale is between the two bounds.
    assert min((vw - 6) / w, (vh - 6) / h) <= fit <= min(vw / w, vh / h)
    assert canvas.transform().m11() == canvas.transform().m22()
    loaded.zoom_in_action.trigger()
    assert canvas.zoom() == pytest.approx(fit * ZOOM_STEP)
    loaded.zoom_in_action.trigger()
    assert canvas.zoom() == pytest.approx(fit * ZOOM_STEP**2)
    loaded.zoom_out_action.trigger()
    assert canvas.zoom() == pytest.approx(fit * ZOOM_STEP)
    assert loaded.zoom_label.text() == f"{fit * ZOOM_STEP * 100:.0f}%"
    loaded.fit_action.trigger()
    assert canvas.zoom() == pytest.approx(fit)
    assert loaded.fit_action.shortcut().toString() == "F"


def test_fit_mode_follows_resizes_until_the_user_zooms(loaded, qtbot) -> None:
    canvas = loaded.canvas
    fit = canvas.zoom()
    loaded.resize(1000, 800)
    qtbot.waitUntil(lambda: canvas.zoom() > fit * 1.1)
    zoomed = canvas.zoom() * ZOOM_STEP
    canvas.zoom_in()
    loaded.resize(700, 500)
    qtbot.waitUntil(lambda: canvas.viewport().width() < 700)
    assert canvas.zoom() == pytest.approx(zoomed)


def _wheel(canvas, pos: QPoint, delta: int) -> None:
    event = QWheelEvent(
        QPointF(pos),
        QPointF(canvas.viewport().mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, delta),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas.viewport(), event)


def test_wheel_zooms_around_the_cursor(loaded) -> None:
    canvas = loaded.canvas
    canvas.zoom_by(3.0)
    centre = canvas.viewport().rect().center()
    cursor = centre + QPoint(60, -40)
    before_zoom = canvas.zoom()
    under_cursor = canvas.mapToScene(cursor)
    _wheel(canvas, cursor, 120)
    assert canvas.zoom() == pytest.approx(before_zoom * ZOOM_STEP)
    after = canvas.mapToScene(cursor)
    # The same image point stays under the cursor (to a screen pixel).
    assert abs(after.x() - under_cursor.x()) <= 1.5 / canvas.zoom()
    assert abs(after.y() - under_cursor.y()) <= 1.5 / canvas.zoom()
    _wheel(canvas, cursor, -240)
    assert canvas.zoom() == pytest.approx(before_zoom / ZOOM_STEP)


def _mouse(canvas, kind: QEvent.Type, pos: QPoint, button: Qt.MouseButton, buttons: Qt.MouseButton) -> None:
    event = QMouseEvent(
        kind,
        QPointF(pos),
        QPointF(canvas.viewport().mapToGlobal(pos)),
        button,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(canvas.viewport(), event)


@pytest.mark.parametrize("button", [Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton])
def test_dragging_pans_the_view(loaded, button) -> None:
    canvas = loaded.canvas
    canvas.zoom_by(4.0)
    centre = canvas.viewport().rect().center()
    start = canvas.mapToScene(centre)
    p0 = centre
    p1 = centre + QPoint(30, 20)
    p2 = centre + QPoint(60, 40)
    _mouse(canvas, QEvent.Type.MouseButtonPress, p0, button, button)
    _mouse(canvas, QEvent.Type.MouseMove, p1, Qt.MouseButton.NoButton, button)
    _mouse(canvas, QEvent.Type.MouseMove, p2, Qt.MouseButton.NoButton, button)
    _mouse(canvas, QEvent.Type.MouseButtonRelease, p2, button, Qt.MouseButton.NoButton)
    moved = canvas.mapToScene(centre) - start
    # Dragging right/down by (60, 40) screen pixels shows what was left/up: the centre moves by -delta / zoom.
    assert moved.x() == pytest.approx(-60 / canvas.zoom(), abs=1.5 / canvas.zoom())
    assert moved.y() == pytest.approx(-40 / canvas.zoom(), abs=1.5 / canvas.zoom())
    # Moving without a button afterwards does not pan.
    _mouse(canvas, QEvent.Type.MouseMove, centre, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
    assert canvas.mapToScene(centre) - start == moved


def test_selection_highlights_the_instance(loaded) -> None:
    items = loaded.canvas.instance_items
    loaded.state.set_selection([1])
    assert [item.selected for item in items] == [False, True]
    assert items[1].limbs[0].pen().widthF() == SELECTED_LIMB_WIDTH_PX
    assert items[0].limbs[0].pen().widthF() < SELECTED_LIMB_WIDTH_PX
    with pytest.raises(IndexError):
        loaded.state.set_selection([5])


def test_new_image_replaces_the_instances(loaded, tmp_path) -> None:
    import cv2

    other = tmp_path / "unannotated.png"
    assert cv2.imwrite(str(other), np.zeros((30, 50, 3), np.uint8))
    loaded.state.open_image(other)
    assert loaded.canvas.instance_items == []
    assert [i for i in loaded.canvas.scene().items() if isinstance(i, KeypointItem)] == []
    assert loaded.canvas.image_item.pixmap().width() == 50
    assert loaded.instances_label.text() == "unannotated.png not in annotations"


def _key(canvas, kind: QEvent.Type) -> None:
    from PySide6.QtGui import QKeyEvent

    QApplication.sendEvent(canvas, QKeyEvent(kind, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier))


def test_space_drag_pans_even_over_an_item_that_takes_the_mouse(loaded) -> None:
    from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem

    canvas = loaded.canvas
    canvas.zoom_by(4.0)
    centre = canvas.viewport().rect().center()
    under = canvas.mapToScene(centre)
    grabbable = QGraphicsRectItem(under.x() - 20, under.y() - 20, 40, 40)
    grabbable.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, True)
    grabbable.setZValue(5)
    canvas.scene().addItem(grabbable)
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton

    def drag() -> None:
        _mouse(canvas, QEvent.Type.MouseButtonPress, centre, left, left)
        _mouse(canvas, QEvent.Type.MouseMove, centre + QPoint(40, 0), none, left)
        _mouse(canvas, QEvent.Type.MouseButtonRelease, centre + QPoint(40, 0), left, none)

    drag()  # without space, the movable item gets the drag: the view does not pan
    assert canvas.mapToScene(centre) == under
    assert grabbable.pos().x() > 0
    _key(canvas, QEvent.Type.KeyPress)
    drag()
    _key(canvas, QEvent.Type.KeyRelease)
    assert canvas.mapToScene(centre).x() == pytest.approx(
        under.x() - 40 / canvas.zoom(), abs=1.5 / canvas.zoom()
    )


def test_stepping_a_video_keeps_the_zoom(window, small_video) -> None:
    assert window.open_video(small_video)
    canvas = window.canvas
    canvas.zoom_by(2.0)
    zoom = canvas.zoom()
    window.next_frame_action.trigger()
    assert window.state.frame_index == 1
    assert canvas.zoom() == pytest.approx(zoom)
    assert canvas.image_item.pixmap().toImage().pixelColor(80, 60).red() == pytest.approx(10, abs=4)
