"""Which model pre-labels: the question asked before a pre-label batch writes anything.

Pre-labelling stores a model's people in the project, so the user picks the model (CVAT's and
X-AnyLabeling's automatic annotation ask too): trained models are offered most accurate first (the recorded
stills AP, :func:`distilpose.models.bundled.by_accuracy`) with flip test on, and a model without trained
weights is listed apart with the reason and cannot be chosen. Readiness is
:mod:`distilpose.models.readiness`'s answer, the one the model panel and the welcome page give.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from distilpose.models import list_models, model_readiness, zoo_missing
from distilpose.models.bundled import by_accuracy, recorded_stills_ap

NOT_READY_STYLE = "color: #c03000"


@dataclass(frozen=True)
class PrelabelChoice:
    """What a pre-label batch runs: the model, with flip test or not, with track ids for videos or not."""

    model: str
    flip: bool = True
    track: bool = True


@dataclass(frozen=True)
class ModelOption:
    """One entry of the model list: whether it can pre-label and the sentence that says why (not)."""

    name: str
    ready: bool
    detail: str
    ap: float | None = None  # the mean stills AP recorded for it, when measured


def model_option(name: str) -> ModelOption:
    """The readiness of one model (a registered name or a checkpoint file) as the dialog lists it."""
    if zoo_missing(name):
        return ModelOption(
            name, False, f"Pretrained weights not fetched yet: run `distilpose models fetch {name}`"
        )
    readiness = model_readiness(name)
    return ModelOption(name, readiness.ready, readiness.detail)


def model_options(extra: str | os.PathLike | None = None) -> list[ModelOption]:
    """Every registered model (and ``extra``, a checkpoint file in use), trained ones first, most accurate
    first; the ones that cannot pre-label after them, in registry order."""
    names = list_models()
    if extra is not None and Path(os.fspath(extra)).is_file():
        names.append(os.fspath(extra))
    recorded = recorded_stills_ap()
    options = [replace(model_option(n), ap=recorded.get(n)) for n in names]
    ready = {o.name: o for o in options if o.ready}
    return [ready[n] for n in by_accuracy(list(ready))] + [o for o in options if not o.ready]


def _label(option: ModelOption) -> str:
    if not option.ready:
        return f"{option.name} (not trained: cannot pre-label)"
    return option.name if option.ap is None else f"{option.name} (stills AP {option.ap:.2f})"


def refusal(option: ModelOption) -> str:
    """Why a model cannot pre-label, for the dialog and the error box."""
    return f"{option.name} cannot pre-label: {option.detail}. Choose a trained model."


class PrelabelDialog(QDialog):
    """See the module docs. ``frames`` is how many frames the batch covers (said in the text)."""

    def __init__(
        self,
        options: list[ModelOption],
        frames: int,
        preselect: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Pre-label")
        self.options = options
        layout = QVBoxLayout(self)
        what = "this frame" if frames == 1 else f"all {frames} frames"
        intro = QLabel(
            f"Run a model on {what} and store its people as predictions to accept or reject "
            "(unverified predictions there are replaced; people you placed or verified are kept)."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        layout.addLayout(form)
        self.model_combo = QComboBox()
        for option in options:
            if not option.ready and self.model_combo.count() and self._ready_before():
                self.model_combo.insertSeparator(self.model_combo.count())  # the ones that cannot run, apart
            self.model_combo.addItem(_label(option), option.name)
            self.model_combo.setItemData(
                self.model_combo.count() - 1, option.detail, Qt.ItemDataRole.ToolTipRole
            )
        ready = [o.name for o in options if o.ready]
        start = preselect if preselect in ready else (ready[0] if ready else None)
        if start is not None:
            self.model_combo.setCurrentIndex(self.model_combo.findData(start))
        form.addRow("Model", self.model_combo)
        self.detail_label = QLabel()  # under the form: a wrapped label in a form row gets clipped
        self.detail_label.setWordWrap(True)
        self.detail_label.setMinimumHeight(2 * self.fontMetrics().lineSpacing() + 4)  # room for a refusal
        layout.addWidget(self.detail_label)
        self.flip_box = QCheckBox("Flip test (also run on the mirrored image: slower, more accurate)")
        self.flip_box.setChecked(True)
        layout.addWidget(self.flip_box)
        self.track_box = QCheckBox("Track people in videos (each person keeps one id across frames)")
        self.track_box.setChecked(True)
        layout.addWidget(self.track_box)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Pre-label")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.model_combo.currentIndexChanged.connect(self._show_model)
        self._show_model()

    def _ready_before(self) -> bool:
        """Whether the last entry so far is a model that can pre-label (the separator goes once)."""
        last = self.model_combo.itemData(self.model_combo.count() - 1)
        return any(o.name == last and o.ready for o in self.options)

    def option(self) -> ModelOption | None:
        return next((o for o in self.options if o.name == self.model_combo.currentData()), None)

    def _show_model(self) -> None:
        option = self.option()
        ok = option is not None and option.ready
        self.detail_label.setText("" if option is None else (option.detail if ok else refusal(option)))
        self.detail_label.setStyleSheet("" if ok else NOT_READY_STYLE)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def accept(self) -> None:  # a model that cannot pre-label is refused, whatever pressed OK
        option = self.option()
        if option is None or not option.ready:
            self._show_model()
            return
        super().accept()

    def choice(self) -> PrelabelChoice | None:
        """The user's choice once accepted (None before, or when the dialog was cancelled)."""
        option = self.option()
        if self.result() != QDialog.DialogCode.Accepted or option is None:
            return None
        return PrelabelChoice(option.name, self.flip_box.isChecked(), self.track_box.isChecked())


def ask_prelabel(
    parent: QWidget, options: list[ModelOption], frames: int, preselect: str | None
) -> PrelabelChoice | None:
    """Show the dialog modally; the choice, or None when cancelled."""
    dialog = PrelabelDialog(options, frames, preselect, parent)
    try:
        dialog.exec()
        return dialog.choice()
    finally:
        dialog.deleteLater()
