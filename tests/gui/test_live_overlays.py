"""Prediction overlays on the canvas: confidence as opacity, threshold, names on hover, uncertainty
ellipses, teacher/student disagreement, picking a keypoint, and person boxes drawn with the mouse.

The fake student predicts POSE in the crop. For the user box [60, 20, 120, 160] (already 3:4) the crop is
150 x 200 px at (45, 0), so a normalised (x, y) lands at image (45 + 150 x, 200 y).
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from distilpose.app.live.overlays import MAX_ALPHA, MIN_ALPHA, PredictedKeypointItem, SigmaEllipseItem
from distilpose.keypoints import KEYPOINT_COLORS, NAMES, SKELETON

from .conftest import POSE, SCORES, wait_idle

BOX = (60.0, 20.0, 120.0, 160.0)


def expected_xy(k: int, offset: float = 0.0) -> tuple[float, float]:
    x, y = POSE[k] + offset
    return 45 + 150 * x, 200 * y


@pytest.fixture
def predicted(qtbot, live_window, figure_files):
    win = live_window
    assert win.open_image(figure_files.image)
    win.state.add_user_box(BOX)
    win.live.update_settings(detector="user-boxes")
    win.live.set_enabled(True)
    wait_idle(qtbot, win.state)
    assert win.state.prediction is not None
    return win


def test_keypoints_at_their_places_with_score_as_opacity(predicted) -> None:
    layer = predicted.canvas.prediction_layer
    np.testing.assert_array_equal(predicted.state.prediction.boxes, [BOX])
    # Threshold 0.2 hides the nose and eyes (scores 0.05, 0.106, 0.163); the other 14 are drawn.
    assert predicted.state.threshold == pytest.approx(0.2)
    assert sorted(m.index for m in layer.keypoints) == list(range(3, 17))
    for marker in layer.keypoints:
        x, y = expected_xy(marker.index)
        assert marker.scenePos().x() == pytest.approx(x, abs=1e-4)  # float32 model outputs
        assert marker.scenePos().y() == pytest.approx(y, abs=1e-4)
        color = marker.brush().color()
        assert color.getRgb()[:3] == KEYPOINT_COLORS[marker.index]
        assert color.alpha() == round(MIN_ALPHA + (MAX_ALPHA - MIN_ALPHA) * SCORES[marker.index])
    shown = set(range(3, 17))
    assert len(layer.limbs) == sum(1 for a, b in SKELETON if a in shown and b in shown) == 14
    wrist = next(m for m in layer.keypoints if m.index == 9)
    assert (
        wrist.toolTip() == f"left_wrist · score {SCORES[9]:.2f} · σ 6.2 × 6.2 px"
    )  # 2 heatmap px = 6.25 image px
    top = predicted.canvas.items(predicted.canvas.mapFromScene(QPointF(*expected_xy(9))))
    assert isinstance(top[0], PredictedKeypointItem) and top[0].index == 9  # what hovering finds


def test_threshold_from_the_panel_hides_low_scores(predicted) -> None:
    predicted.model_panel.threshold_spin.setValue(0.52)
    assert predicted.state.threshold == pytest.approx(0.52)
    layer = predicted.canvas.prediction_layer
    assert (
        sorted(m.index for m in layer.keypoints)
        == [k for k in range(17) if SCORES[k] >= 0.52]
        == list(range(9, 17))
    )


def test_uncertainty_ellipses_in_image_pixels(predicted) -> None:
    layer = predicted.canvas.prediction_layer
    assert len(layer.ellipses) == 14
    ellipse = next(e for e in layer.ellipses if e.index == 9)
    # sigma 2 heatmap px: 2 * 150/48 = 6.25 px wide, 2 * 200/64 = 6.25 px tall (1 sigma each side).
    assert ellipse.rect().width() == pytest.approx(12.5) and ellipse.rect().height() == pytest.approx(12.5)
    predicted.canvas.zoom_by(3.0)
    assert predicted.canvas.prediction_layer.ellipses[0].rect().width() == pytest.approx(
        12.5
    )  # scales with zoom
    predicted.model_panel.sigmas_box.setChecked(False)
    assert not predicted.state.show_sigmas
    assert predicted.canvas.prediction_layer.ellipses == []
    items = predicted.canvas.scene().items()
    assert not [i for i in items if isinstance(i, SigmaEllipseItem) and i.isVisible()]  # kept for reuse, hidden


def test_teacher_comparison_draws_both_and_the_disagreement(qtbot, predicted) -> None:
    panel = predicted.model_panel
    panel.teacher_combo.setCurrentIndex(panel.teacher_combo.findData("tokenpose-hrnet-w48"))
    wait_idle(qtbot, predicted.state)
    result = predicted.state.prediction
    assert result.teacher is not None and len(result.teacher) == 1
    # The fake teacher is offset by 0.05 of the crop: (7.5, 10) px, 12.5 px over sqrt(120*160) = 138.56.
    expected = 12.5 / np.sqrt(120 * 160)
    np.testing.assert_allclose(result.disagreement, np.full((1, 17), expected), rtol=1e-6)
    layer = predicted.canvas.prediction_layer
    assert len(layer.teacher_markers) == 14 and len(layer.teacher_limbs) == 14
    assert len(layer.disagreement_lines) == 14
    assert sorted(label.keypoint for label in layer.disagreement_labels) == list(range(3, 17))
    assert {label.text() for label in layer.disagreement_labels} == {f"{expected:.2f}"}
    label = next(lb for lb in layer.disagreement_labels if lb.keypoint == 9)
    assert (label.pos().x(), label.pos().y()) == pytest.approx(
        expected_xy(9, 0.05), abs=1e-3
    )  # at the teacher
    line = next(ln for ln in layer.disagreement_lines if NAMES[9] in ln.toolTip())
    (x0, y0), (x1, y1) = expected_xy(9), expected_xy(9, 0.05)
    assert (line.line().x1(), line.line().y1()) == pytest.approx((x0, y0))
    assert (line.line().x2(), line.line().y2()) == pytest.approx((x1, y1))
    predicted.model_panel.teacher_overlay_box.setChecked(False)
    assert predicted.canvas.prediction_layer.teacher_markers == []


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


def test_clicking_a_keypoint_selects_it_for_the_heatmap_dock(predicted) -> None:
    canvas = predicted.canvas
    pos = canvas.mapFromScene(QPointF(*expected_xy(9)))
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    before = canvas.mapToScene(canvas.viewport().rect().center())
    _mouse(canvas, QEvent.Type.MouseButtonPress, pos, left, left)
    _mouse(canvas, QEvent.Type.MouseButtonRelease, pos, left, none)
    assert predicted.state.selected_keypoint == (0, 9)
    ring = canvas.prediction_layer.selection_ring
    assert ring is not None and (ring.scenePos().x(), ring.scenePos().y()) == pytest.approx(expected_xy(9))
    assert predicted.heatmap_dock.keypoint_combo.currentText() == "left_wrist"
    assert canvas.mapToScene(canvas.viewport().rect().center()) == before  # a click on a keypoint is no pan


def test_drawing_a_person_box_with_the_mouse(qtbot, live_window, figure_files) -> None:
    win = live_window
    assert win.open_image(figure_files.image)
    win.live.set_enabled(True)
    wait_idle(qtbot, win.state)
    canvas = win.canvas
    win.draw_boxes_action.trigger()
    assert canvas.box_mode and win.live.settings.detector == "user-boxes"
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    a = canvas.mapFromScene(QPointF(30, 40))
    b = canvas.mapFromScene(QPointF(150, 200))
    _mouse(canvas, QEvent.Type.MouseButtonPress, a, left, left)
    _mouse(canvas, QEvent.Type.MouseMove, (a + b) / 2, none, left)
    _mouse(canvas, QEvent.Type.MouseMove, b, none, left)
    _mouse(canvas, QEvent.Type.MouseButtonRelease, b, left, none)
    assert len(win.state.user_boxes) == 1
    x, y, w, h = win.state.user_boxes[0]
    tol = 1.5 / canvas.zoom()  # one screen pixel of rounding at each end
    assert (x, y, w, h) == pytest.approx((30, 40, 120, 160), abs=2 * tol)
    assert len(canvas.user_box_items) == 1
    wait_idle(qtbot, win.state)
    np.testing.assert_allclose(win.state.prediction.boxes, [win.state.user_boxes[0]])
    _mouse(canvas, QEvent.Type.MouseButtonPress, a, left, left)  # a click draws nothing
    _mouse(canvas, QEvent.Type.MouseButtonRelease, a, left, none)
    assert len(win.state.user_boxes) == 1
    win.clear_boxes_action.trigger()
    wait_idle(qtbot, win.state)
    assert win.state.user_boxes == [] and canvas.user_box_items == []
    assert win.state.prediction.instances == []  # no boxes, nobody to predict
