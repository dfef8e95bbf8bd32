"""Snap-to-peak on synthetic heatmaps (peaks, sub-pixel refinement, nearest to the cursor) and in the window:
the teacher heatmap of the dragged joint in the heatmap dock, S during a drag, one undoable edit."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from distilpose.app.annotate.assist import EditHeatmap
from distilpose.app.annotate.snap import heatmap_peaks, heatmap_to_image, image_to_heatmap, nearest_peak
from distilpose.inference.predictor import CropGeometry

from .conftest import scene_to_view

# A 200 x 300 px crop whose top-left is the image origin, on a 48 x 64 heatmap: one heatmap pixel is
# 200 / 48 = 4.1667 px wide and 300 / 64 = 4.6875 px high.
CROP = CropGeometry(center=np.array([100.0, 150.0]), scale=np.array([1.0, 1.5]), input_size_wh=(192, 256),
                    heatmap_size_wh=(48, 64))  # fmt: skip


def _gauss(cx: float, cy: float, peak: float, sigma: float = 2.0) -> np.ndarray:
    y, x = np.mgrid[0:64, 0:48]
    return peak * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))


def _two_peaks() -> np.ndarray:
    return np.maximum(_gauss(10, 20, 1.0), _gauss(30, 40, 0.6))


def test_peaks_and_their_image_positions_by_hand() -> None:
    peaks = heatmap_peaks(_two_peaks())
    np.testing.assert_allclose(peaks, [[10, 20, 1.0], [30, 40, 0.6]], atol=1e-9)  # highest first
    np.testing.assert_allclose(
        heatmap_to_image(peaks[:, :2], CROP), [[10 * 200 / 48, 20 * 300 / 64], [125, 187.5]]
    )
    np.testing.assert_allclose(image_to_heatmap([[125, 187.5]], CROP), [[30, 40]])
    # Near the weaker mode the joint goes there, not to the global maximum.
    assert nearest_peak(_two_peaks(), CROP, (110.0, 170.0)) == pytest.approx((125.0, 187.5))
    assert nearest_peak(_two_peaks(), CROP, (0.0, 0.0)) == pytest.approx((41.6667, 93.75), abs=1e-3)


def test_sub_pixel_peak_and_what_is_not_a_peak() -> None:
    [(x, y, _)] = heatmap_peaks(_gauss(20.3, 30.0, 1.0))
    assert x == pytest.approx(20.3, abs=0.05) and y == pytest.approx(30.0, abs=1e-9)
    noise = _gauss(10, 10, 1.0) + _gauss(40, 60, 0.05)  # 5 % of the maximum: ignored
    assert len(heatmap_peaks(noise)) == 1
    assert nearest_peak(np.zeros((64, 48)), CROP, (5.0, 5.0)) is None
    with pytest.raises(ValueError, match="2-D"):
        heatmap_peaks(np.zeros(5))


def _synthetic(state, iid: int, k: int) -> np.ndarray:
    heatmaps = np.zeros((17, 64, 48), np.float32)
    heatmaps[k] = _two_peaks()
    state.set_edit_heatmap(EditHeatmap(state.frame_id, iid, (0, 0, 200, 300), heatmaps, CROP, "synthetic"))
    return heatmaps


def test_snap_during_a_drag_is_one_undoable_edit(qtbot, project_window) -> None:
    win, state, canvas = project_window, project_window.state, project_window.canvas
    assert win.editor.add_template((40, 20, 100, 200))
    iid, k = state.selected_instance_id(), 9
    before = state.project.instance(iid).keypoints.copy()
    heatmaps = _synthetic(state, iid, k)
    win.heatmap_dock.show()
    qtbot.waitUntil(win.heatmap_dock.isVisible)
    QApplication.processEvents()  # the canvas is laid out anew before the mouse goes down
    count = state.undo_stack.count()
    start = scene_to_view(canvas, *before[k, :2])
    viewport = canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    near_weak = scene_to_view(canvas, 118, 180)  # nearer the weak peak at (125, 187.5)
    qtbot.mouseMove(viewport, start + QPoint(5, 5))
    qtbot.mouseMove(viewport, near_weak)
    assert canvas.dragging
    dragged = canvas.mapToScene(near_weak)
    # The dock shows the joint's teacher heatmap with the marker where the joint is being dragged.
    pane = win.heatmap_dock.model_pane
    assert np.array_equal(pane.heatmap, heatmaps[k]) and pane.title == "heatmap of synthetic: left_wrist"
    np.testing.assert_allclose(pane.marked, image_to_heatmap([[dragged.x(), dragged.y()]], CROP)[0])
    win.project.snap_action.trigger()  # S
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=near_weak)  # ends nothing: snapped already
    assert tuple(state.project.instance(iid).keypoints[k]) == pytest.approx((125.0, 187.5, 2))
    assert state.undo_stack.count() == count + 1
    assert state.undo_stack.text(count) == "Snap left_wrist to heatmap peak"
    win.project.undo_action.trigger()
    np.testing.assert_array_equal(state.project.instance(iid).keypoints, before)


def test_snap_needs_the_heatmap_of_the_selected_person(project_window) -> None:
    win, state = project_window, project_window.state
    assert win.editor.add_template((40, 20, 100, 200))
    iid = state.selected_instance_id()
    state.select_joint(iid, 0)
    assert not win.editor.snap_joint((10.0, 10.0))
    assert "Heatmap Assist" in win.errors[-1][1]
    _synthetic(state, iid, 0)
    assert win.editor.snap_joint((10.0, 10.0))  # from the joint's own position by default too
    assert tuple(state.project.instance(iid).keypoints[0, :2]) == pytest.approx((41.6667, 93.75), abs=1e-3)


def test_heatmap_assist_runs_the_teacher_on_the_selected_person(qtbot, project_window, fake_loader) -> None:
    win, state = project_window, project_window.state
    assert win.editor.add_template((40, 20, 100, 200))
    iid = state.selected_instance_id()
    win.live.update_settings(teacher="tokenpose-stemnet")
    win.project.assist_action.trigger()
    assert win.assist.enabled and win.heatmap_dock.isVisible()
    state.select_joint(iid, 5)
    qtbot.waitUntil(lambda: state.edit_heatmap is not None, timeout=20_000)
    hm = state.edit_heatmap
    assert (hm.frame_id, hm.instance_id, hm.model, hm.heatmaps.shape) == (
        state.frame_id,
        iid,
        "tokenpose-stemnet",
        (17, 64, 48),
    )
    assert hm.box == (40.0, 20.0, 100.0, 200.0)
    assert ("tokenpose-stemnet", "torch", False) in fake_loader.loaded
    assert win.heatmap_dock.editing()
    # Moving one joint keeps the crop: the cached heatmaps are reused, no new teacher run.
    calls = fake_loader.runtimes[-1].calls
    win.editor.move_joint(iid, 5, 60.0, 70.0)
    assert state.edit_heatmap is hm and fake_loader.runtimes[-1].calls == calls
