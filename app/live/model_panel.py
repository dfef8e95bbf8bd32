"""The model panel: which model runs live (registered, checkpoint file), on which runtime, with what boxes,
and what the user sees (threshold, uncertainty, teacher comparison).

It edits :class:`LiveSettings` through the :class:`LiveController` and shows what actually loaded, including
whether the weights are trained: a randomly initialised model is labelled as such, never passed off as real.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from distilpose.app.live.controller import LiveController
from distilpose.app.live.workers import ModelStatus
from distilpose.app.state import AppState
from distilpose.detection import CenterNetDetector
from distilpose.inference.options import DEFAULT_TEACHER, DETECTOR, RUNTIME
from distilpose.models import has_trained_weights, list_models, model_spec, zoo_missing
from distilpose.models.bundled import bundled_weights

CHECKPOINT_ITEM = "__checkpoint__"
#: The (disabled) heading of the untrained models, listed apart below the trained ones.
UNTRAINED_HEADER = "__untrained__"
#: (label, key) of what the panel offers, from the catalogue (distilpose.inference.options).
RUNTIMES = tuple((o.label, o.key) for o in RUNTIME.offered("live"))
DETECTORS = tuple((o.label, o.key) for o in DETECTOR.offered("live", "app"))
UNTRAINED_STYLE = "color: #e0a000; font-weight: bold"
TRAINED_STYLE = "color: #50c050"


def model_role(name: str) -> str:
    """What a registered model is to the user: a student, the teacher (the distillation default, or a heatmap
    teacher), or another pretrained network. The registry's role says who *can* teach, which makes MoveNet
    Lightning (the fast live default on video) a "teacher" too; the panel must not call it that."""
    spec = model_spec(name)
    if not spec.is_teacher:
        return "student"
    if name == DEFAULT_TEACHER or spec.kind == "heatmap":
        return "teacher"
    return "pretrained"


def _offer_models(combo: QComboBox) -> None:
    """Trained models first (shipped, zoo); the untrained ones apart below a separator and a heading: they
    give random keypoints and some take a minute to build, so nobody picks one from the main list by chance."""
    # the longest entry ("… not trained") sets the popup's width, not the panel's
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(26)
    names = list_models()
    untrained = [n for n in names if not has_trained_weights(n)]
    for name in (n for n in names if n not in untrained):
        combo.addItem(f"{name} ({model_role(name)})", name)
    if untrained:
        combo.insertSeparator(combo.count())
        combo.addItem("Not trained (random weights): train or load a checkpoint", UNTRAINED_HEADER)
        combo.model().item(combo.count() - 1).setEnabled(False)
        for name in untrained:
            combo.addItem(f"{name} ({model_role(name)}, not trained)", name)
    _mark_fetched(combo)


def _mark_fetched(combo: QComboBox) -> None:
    """Zoo entries are selectable exactly when their weights are in the cache."""
    for i in range(combo.count()):
        name = combo.itemData(i)
        item = combo.model().item(i)
        if not isinstance(name, str) or item is None or name == UNTRAINED_HEADER:
            continue
        missing = zoo_missing(name)
        item.setEnabled(not missing)
        item.setToolTip(
            f"Pretrained weights not fetched yet: run `distilpose models fetch {name}`" if missing else ""
        )


class ModelPanel(QDockWidget):
    """A dock with the live-inference controls; every change goes to the controller at once."""

    def __init__(
        self, state: AppState, live: LiveController, choose_checkpoint, parent: QWidget | None = None
    ):
        super().__init__("Model", parent)
        self.setObjectName("model_panel")
        self.state = state
        self.live = live
        self._choose_checkpoint = choose_checkpoint
        self._syncing = False
        body = QWidget()
        outer = QVBoxLayout(body)
        form = QFormLayout()
        outer.addLayout(form)

        self.enabled_box = QCheckBox("Run live inference")
        self.enabled_box.setToolTip("Run the model on every shown frame (Ctrl+R)")
        form.addRow(self.enabled_box)

        self.model_combo = QComboBox()
        _offer_models(self.model_combo)
        self.model_combo.addItem("Checkpoint file…", CHECKPOINT_ITEM)
        form.addRow("Model", self.model_combo)
        self.reason_label = QLabel()  # why this model runs: a source's default or the user's pick
        self.reason_label.setWordWrap(True)
        form.addRow("Why", self.reason_label)
        self.weights_label = QLabel()  # one short line: a wrapped label gets clipped in a form row
        form.addRow("Weights", self.weights_label)

        self.runtime_combo = QComboBox()
        for label, key in RUNTIMES:
            self.runtime_combo.addItem(label, key)
        form.addRow("Runtime", self.runtime_combo)
        self.flip_box = QCheckBox("Flip test (average with the mirrored image)")
        form.addRow(self.flip_box)

        threshold_row = QHBoxLayout()
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.0, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setDecimals(2)
        self.threshold_spin.setToolTip("Keypoints scoring below this are hidden")
        threshold_row.addWidget(self.threshold_spin)
        threshold_row.addStretch(1)
        form.addRow("Confidence ≥", threshold_row)

        self.teacher_combo = QComboBox()
        self.teacher_combo.addItem("None", None)
        _offer_models(self.teacher_combo)
        self.teacher_combo.setToolTip("Run a second model on the same boxes and show where they disagree")
        form.addRow("Compare with", self.teacher_combo)

        self.detector_combo = QComboBox()
        for label, key in DETECTORS:
            self.detector_combo.addItem(label, key)
        if not CenterNetDetector.available():
            item = self.detector_combo.model().item(1)
            item.setEnabled(False)
            item.setToolTip("Not fetched yet: run `distilpose models fetch centernet`")
        form.addRow("Person boxes", self.detector_combo)
        track_row = QHBoxLayout()
        self.tracking_box = QCheckBox("Track from keypoints, re-detect every")
        self.redetect_spin = QSpinBox()
        self.redetect_spin.setRange(1, 1000)
        self.redetect_spin.setSuffix(" frames")
        track_row.addWidget(self.tracking_box)
        track_row.addWidget(self.redetect_spin)
        track_row.addStretch(1)
        form.addRow(track_row)
        self.smoothing_box = QCheckBox("Smooth video keypoints (One-Euro)")
        form.addRow(self.smoothing_box)

        self.sigmas_box = QCheckBox("Show uncertainty ellipses (students)")
        self.teacher_overlay_box = QCheckBox("Show the comparison model")
        form.addRow(self.sigmas_box)
        form.addRow(self.teacher_overlay_box)
        self.live_layer_box = QCheckBox("Show live predictions over project frames (dimmed)")
        self.live_layer_box.setToolTip(
            "On a project frame the stored people are what you edit; the live model's people are drawn "
            "behind them, dimmed, only while this is ticked (View > Live Predictions Over Project, L)"
        )
        form.addRow(self.live_layer_box)

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.status_label)
        outer.addStretch(1)
        self.setWidget(body)

        self._sync_from_settings()
        self._sync_display()
        self.enabled_box.toggled.connect(live.set_enabled)
        self.model_combo.currentIndexChanged.connect(self._model_chosen)
        self.runtime_combo.currentIndexChanged.connect(self._changed)
        self.flip_box.toggled.connect(self._changed)
        self.teacher_combo.currentIndexChanged.connect(self._changed)
        self.detector_combo.currentIndexChanged.connect(self._changed)
        self.tracking_box.toggled.connect(self._changed)
        self.redetect_spin.valueChanged.connect(self._changed)
        self.smoothing_box.toggled.connect(self._changed)
        self.threshold_spin.valueChanged.connect(state.set_threshold)
        self.sigmas_box.toggled.connect(state.set_show_sigmas)
        self.teacher_overlay_box.toggled.connect(state.set_show_teacher)
        self.live_layer_box.toggled.connect(state.set_show_live_layer)
        state.liveLayerChanged.connect(self._sync_display)
        live.enabledChanged.connect(self._on_enabled)
        live.settingsChanged.connect(self._on_settings)
        live.statusChanged.connect(self._on_status)
        live.busyChanged.connect(self._on_busy)
        state.displayChanged.connect(self._sync_display)
        state.mediaChanged.connect(self._show_reason)
        state.projectChanged.connect(self._show_project_rows)
        self._show_project_rows()

    def refresh_models(self) -> None:
        """Re-check the zoo cache (after a fetch): newly fetched models become selectable, also as detectors."""
        _mark_fetched(self.model_combo)
        _mark_fetched(self.teacher_combo)
        item = self.detector_combo.model().item(1)
        available = CenterNetDetector.available()
        item.setEnabled(available)
        item.setToolTip("" if available else "Not fetched yet: run `distilpose models fetch centernet`")

    # ---------------------------------------------------------------- from the user
    def _model_chosen(self) -> None:
        if self._syncing:
            return
        if self.model_combo.currentData() == CHECKPOINT_ITEM:
            path = self._choose_checkpoint(
                self, "Open Checkpoint", "Checkpoints (*.safetensors *.pth *.pt);;All files (*)"
            )
            if not path:
                self._sync_from_settings()  # cancelled: back to the model in use
                return
            self.add_checkpoint(path)
        self._changed()

    def add_checkpoint(self, path: str | Path, label: str | None = None) -> None:
        """Offer ``path`` in the model list (as ``label``, default its file name) and select it."""
        text = str(path)
        index = self.model_combo.findData(text)
        shown = label or f"{Path(text).name} (checkpoint)"
        self._syncing = True
        if index < 0:
            index = self.model_combo.count() - 1  # before "Checkpoint file…"
            self.model_combo.insertItem(index, shown, text)
        elif label:
            self.model_combo.setItemText(index, shown)
        self._syncing = False
        self._syncing = True
        self.model_combo.setCurrentIndex(index)
        self._syncing = False

    def _changed(self) -> None:
        if self._syncing:
            return
        self.live.update_settings(
            model=self.model_combo.currentData(),
            runtime=self.runtime_combo.currentData(),
            flip=self.flip_box.isChecked(),
            teacher=self.teacher_combo.currentData(),
            detector=self.detector_combo.currentData(),
            tracking=self.tracking_box.isChecked(),
            redetect_every=self.redetect_spin.value(),
            smoothing=self.smoothing_box.isChecked(),
        )
        self._show_weights()

    # ---------------------------------------------------------------- from the controller
    def _sync_from_settings(self) -> None:
        s = self.live.settings
        self._syncing = True
        if self.model_combo.findData(s.model) < 0 and s.model:
            self.add_checkpoint(s.model)
            self._syncing = True
        self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(s.model)))
        self.runtime_combo.setCurrentIndex(max(0, self.runtime_combo.findData(s.runtime)))
        self.flip_box.setChecked(s.flip)
        self.teacher_combo.setCurrentIndex(max(0, self.teacher_combo.findData(s.teacher)))
        self.detector_combo.setCurrentIndex(max(0, self.detector_combo.findData(s.detector)))
        self.tracking_box.setChecked(s.tracking)
        self.redetect_spin.setValue(s.redetect_every)
        self.smoothing_box.setChecked(s.smoothing)
        self.enabled_box.setChecked(self.live.enabled)
        self._syncing = False
        self._show_weights()
        self._show_reason()

    def _show_project_rows(self) -> None:
        """The live-layer toggle matters only while a project is open."""
        self.live_layer_box.setVisible(self.state.project is not None)

    def _show_reason(self) -> None:
        self.reason_label.setText(self.live.model_reason())

    def _sync_display(self) -> None:
        for widget, value in (
            (self.threshold_spin, self.state.threshold),
            (self.sigmas_box, self.state.show_sigmas),
            (self.teacher_overlay_box, self.state.show_teacher),
            (self.live_layer_box, self.state.show_live_layer),
        ):
            widget.blockSignals(True)
            if isinstance(widget, QDoubleSpinBox):
                widget.setValue(value)
            else:
                widget.setChecked(value)
            widget.blockSignals(False)

    def _on_settings(self, _settings) -> None:
        self._sync_from_settings()

    def _on_enabled(self, on: bool) -> None:
        self.enabled_box.blockSignals(True)
        self.enabled_box.setChecked(on)
        self.enabled_box.blockSignals(False)
        if not on:
            self.status_label.setText("Live inference is off.")

    def _on_busy(self, text: str) -> None:
        if text:
            self.status_label.setText(text)

    def _on_status(self, status: ModelStatus | None) -> None:
        if status is None:
            model = Path(str(self.live.settings.model)).name
            self.status_label.setText(f"Loading {model}…" if self.live.enabled else "")
            return
        lines = [
            f"Running {status.model} on {status.runtime} (loaded in {status.load_s:.1f} s)"
        ]
        if status.teacher:
            trained = "trained" if status.teacher_trained else "NOT TRAINED"
            lines.append(f"Comparing with {status.teacher} ({trained})")
        lines.append(f"Person boxes: {status.detector}")
        self.status_label.setText("\n".join(lines))
        self._show_weights(status)

    def _show_weights(self, status: ModelStatus | None = None) -> None:
        """Trained or not, in plain words: the loaded model's facts, else what the choice implies."""
        choice = self.model_combo.currentData()
        if status is not None and status.model in (choice, Path(str(choice)).name):
            trained, where = status.trained, status.weights
        else:
            trained = bool(choice) and has_trained_weights(str(choice))
            where = str(choice) if Path(str(choice)).is_file() else "the model zoo cache"
        shipped = bundled_weights(str(choice)) if choice else None
        if trained and shipped is not None and not Path(str(choice)).is_file():
            self.weights_label.setText("trained: shipped with the app")
            self.weights_label.setToolTip(f"trained weights from {shipped}")
            self.weights_label.setStyleSheet(TRAINED_STYLE)
        elif trained:
            shown = Path(where).name if Path(where).is_file() else "pretrained (model zoo)"
            self.weights_label.setText(f"trained: {shown}")
            self.weights_label.setToolTip(f"trained weights from {where}")
            self.weights_label.setStyleSheet(TRAINED_STYLE)
        else:
            self.weights_label.setText("⚠ NOT TRAINED (random weights)")
            self.weights_label.setToolTip(
                "This model has random initial weights: its predictions are meaningless. "
                "Choose 'Checkpoint file…' to load trained weights."
            )
            self.weights_label.setStyleSheet(UNTRAINED_STYLE)
