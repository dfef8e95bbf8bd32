"""The model panel (choices, checkpoint files, the untrained warning) and the heatmap dock (pyqtgraph images
of the selected keypoint, marker placement, the comparison model)."""

from __future__ import annotations

import numpy as np
import pytest

from distilpose.app.annotate.snap import image_to_heatmap
from distilpose.app.live.model_panel import CHECKPOINT_ITEM, UNTRAINED_HEADER
from distilpose.inference.predictor import CropGeometry
from distilpose.models import list_models

from .conftest import POSE, wait_idle

BOX = (60.0, 20.0, 120.0, 160.0)  # crop 150 x 200 px at (45, 0), see test_live_overlays


def test_image_to_heatmap_by_hand() -> None:
    crop = CropGeometry(np.array([120.0, 100.0]), np.array([0.75, 1.0]), (192, 256), (48, 64))
    # crop 150 x 200 px from (45, 0); heatmap 48 x 64: (150, 110) -> (105 * 48/150, 110 * 64/200)
    np.testing.assert_allclose(image_to_heatmap([[150, 110], [45, 0]], crop), [[33.6, 35.2], [0, 0]])


def test_panel_offers_every_model_and_says_when_weights_are_untrained(live_window) -> None:
    panel = live_window.model_panel
    data = [panel.model_combo.itemData(i) for i in range(panel.model_combo.count())]
    assert sorted(d for d in data if d not in (None, UNTRAINED_HEADER, CHECKPOINT_ITEM)) == list_models()
    assert data[-1] == CHECKPOINT_ITEM  # untrained models apart: test_desk_layers_and_words.py
    assert "student" in panel.model_combo.itemText(data.index("distilpose-t"))
    assert "teacher" in panel.model_combo.itemText(data.index("tokenpose-hrnet-w48"))
    # the distillation teacher is the teacher; the fast Lightnings (one is the video default) are not
    assert panel.model_combo.itemText(data.index("movenet-thunder")).startswith("movenet-thunder (teacher")
    for name in ("movenet-lightning", "movenet-lightning-256x192"):
        assert panel.model_combo.itemText(data.index(name)).startswith(f"{name} (pretrained")
    assert panel.weights_label.text() == "⚠ NOT TRAINED (random weights)"
    assert "predictions are meaningless" in panel.weights_label.toolTip()
    assert [panel.runtime_combo.itemData(i) for i in range(panel.runtime_combo.count())] == [
        "auto",
        "torch",
        "torch-bf16",
        "onnx",
    ]
    # No CenterNet in this test's (empty) cache: offered, but disabled with the command that fetches it.
    centernet = panel.detector_combo.model().item(panel.detector_combo.findData("centernet"))
    assert not centernet.isEnabled() and "distilpose models fetch centernet" in centernet.toolTip()


def test_panel_edits_the_live_settings(live_window) -> None:
    panel, live = live_window.model_panel, live_window.live
    panel.teacher_combo.setCurrentIndex(panel.teacher_combo.findData("tokenpose-stemnet"))
    panel.detector_combo.setCurrentIndex(panel.detector_combo.findData("full-frame"))
    panel.tracking_box.setChecked(True)
    panel.redetect_spin.setValue(4)
    panel.smoothing_box.setChecked(True)
    panel.runtime_combo.setCurrentIndex(panel.runtime_combo.findData("torch-bf16"))
    s = live.settings
    assert (s.teacher, s.detector, s.tracking, s.redetect_every, s.smoothing, s.runtime) == (
        "tokenpose-stemnet",
        "full-frame",
        True,
        4,
        True,
        "torch-bf16",
    )
    panel.enabled_box.setChecked(True)
    assert live.enabled and live_window.live_action.isChecked()
    live_window.live_action.setChecked(False)
    assert not live.enabled and not panel.enabled_box.isChecked()


def test_a_checkpoint_file_is_loaded_and_shown_as_trained(
    qtbot, live_window, figure_files, fake_loader, tmp_path
) -> None:
    ckpt = tmp_path / "mine.safetensors"
    ckpt.write_bytes(b"weights")
    answers = ["", str(ckpt)]
    live_window.model_panel._choose_checkpoint = lambda *_: answers.pop(0)
    assert live_window.open_image(figure_files.image)
    live_window.live.set_enabled(True)
    wait_idle(qtbot, live_window.state)
    panel = live_window.model_panel
    panel.model_combo.setCurrentIndex(panel.model_combo.findData(CHECKPOINT_ITEM))  # cancelled
    # cancelling the file dialog keeps the model in use
    assert (
        panel.model_combo.currentData() == "distilpose-t"
        and live_window.live.settings.model == "distilpose-t"
    )
    panel.model_combo.setCurrentIndex(panel.model_combo.findData(CHECKPOINT_ITEM))
    assert panel.model_combo.currentData() == str(ckpt)
    assert panel.model_combo.currentText() == "mine.safetensors (checkpoint)"
    wait_idle(qtbot, live_window.state)
    assert fake_loader.loaded[-1] == (str(ckpt), "torch", False)
    assert panel.weights_label.text() == "trained: mine.safetensors"
    assert panel.weights_label.toolTip() == f"trained weights from {ckpt}"


@pytest.fixture
def with_heatmaps(qtbot, live_window, figure_files):
    win = live_window
    assert win.open_image(figure_files.image)
    win.state.add_user_box(BOX)
    win.live.update_settings(detector="user-boxes")
    win.heatmap_dock.show()
    assert win.live.settings.heatmaps  # opening the dock asks the worker for heatmaps
    win.live.set_enabled(True)
    wait_idle(qtbot, win.state)
    win.state.select_keypoint(0, 9)
    return win


def test_heatmap_dock_shows_the_selected_keypoint(with_heatmaps) -> None:
    dock = with_heatmaps.heatmap_dock
    inst = with_heatmaps.state.prediction.instances[0]
    pane = dock.model_pane
    np.testing.assert_array_equal(pane.heatmap, inst.extras["heatmaps"][9])
    assert pane.title == "live model: simulated"
    # left_wrist at normalised (0.7, 0.55) of the crop -> heatmap (33.6, 35.2); the ring sits on its pixel centre.
    np.testing.assert_allclose(pane.marked, POSE[9] * (48, 64), atol=1e-4)
    x, y = pane.marker.getData()
    assert (x[0], y[0]) == pytest.approx((33.6 + 0.5, 35.2 + 0.5), abs=1e-4)
    peak_y, peak_x = np.unravel_index(np.argmax(pane.heatmap), pane.heatmap.shape)
    assert abs(peak_x - 33.6) <= 1 and abs(peak_y - 35.2) <= 1  # the simulated peak is under the marker
    assert dock.teacher_pane.heatmap is None
    assert "left_wrist: score 0.56" in dock.info_label.text()
    dock.keypoint_combo.setCurrentIndex(15)  # choosing in the dock selects on the canvas too
    assert with_heatmaps.state.selected_keypoint == (0, 15)
    np.testing.assert_array_equal(pane.heatmap, inst.extras["heatmaps"][15])


def test_heatmap_dock_shows_the_comparison_model(qtbot, with_heatmaps) -> None:
    with_heatmaps.live.update_settings(teacher="tokenpose-hrnet-w48")
    wait_idle(qtbot, with_heatmaps.state)
    dock = with_heatmaps.heatmap_dock
    teacher = with_heatmaps.state.prediction.teacher[0]
    np.testing.assert_array_equal(dock.teacher_pane.heatmap, teacher.extras["heatmaps"][9])
    np.testing.assert_allclose(dock.teacher_pane.marked, (POSE[9] + 0.05) * (48, 64), atol=1e-4)
    assert "disagreement with the comparison model: 0.090" in dock.info_label.text()


def test_heatmap_dock_without_predictions(live_window) -> None:
    live_window.heatmap_dock.show()
    pane = live_window.heatmap_dock.model_pane
    assert pane.heatmap is None and "turn on live inference" in pane.empty.toPlainText()


def test_the_shipped_student_is_shown_as_trained_and_shipped(live_window) -> None:
    from distilpose.models.bundled import DEFAULT_STUDENT, bundled_weights

    if bundled_weights(DEFAULT_STUDENT) is None:
        pytest.skip("no shipped student in this checkout's resources/models")
    panel = live_window.model_panel
    panel.model_combo.setCurrentIndex(panel.model_combo.findData(DEFAULT_STUDENT))
    assert panel.weights_label.text() == "trained: shipped with the app"
    assert str(bundled_weights(DEFAULT_STUDENT)) in panel.weights_label.toolTip()
