"""The bar above the image that says which media files of the open project are missing, with the button that
searches a folder for them (ADR 0032). A bar, not a question box: opening a project never stops on a modal
dialog (a scripted ``--project`` run, a screenshot), and the note stays while the files are missing."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from distilpose.project.relink import MissingMedia

#: Missing files named in the bar; the rest are counted.
SHOWN = 3


class MissingMediaBanner(QWidget):
    """Hidden while nothing is missing; ``searchRequested`` when the user asks to search."""

    searchRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("missing_media_banner")
        self.setStyleSheet("#missing_media_banner { background: #8a5a00; } QLabel { color: white; }")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)  # a plain QWidget draws no background
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 4, 6, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        row.addWidget(self.label, 1)
        self.search_button = QPushButton("Search a Folder…")
        self.search_button.setToolTip("Look for the missing files by name under a folder; each is linked only "
                                      "when its size and content are the ones the project recorded")  # fmt: skip
        self.search_button.clicked.connect(self.searchRequested)
        row.addWidget(self.search_button)
        self.hide()

    def show_missing(self, missing: list[MissingMedia]) -> None:
        names = ", ".join(m.record.path for m in missing[:SHOWN])
        more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
        self.label.setText(
            f"{len(missing)} media file(s) of this project are not where the project says: {names}{more}. "
            "Their frames cannot be shown, trained on or exported until they are found."
            if missing
            else ""
        )
        self.setVisible(bool(missing))
