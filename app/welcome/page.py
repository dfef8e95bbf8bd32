"""The first-run welcome page: what to open (samples, recent files, projects) and, in its
:class:`~distilpose.app.welcome.model_box.ModelBox`, whether the default model is ready with a one-click fetch of the
model zoo.

It stands in front of the canvas while nothing is open (:func:`nothing_open`: no media, no project, no
annotations) so a new user sees where to start instead of an empty grey view; the window swaps it for the
normal view when anything is opened, by any route.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QFont, QIcon, QImage, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from distilpose.app.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from distilpose.app.paths import app_icon_path, resources_dir
from distilpose.app.recent import RecentFiles
from distilpose.app.welcome.model_box import ModelBox
from distilpose.app.welcome.widgets import card, dim, heading
from distilpose.app.welcome.zoo_fetcher import ZooFetcher

#: Thumbnail size of a sample (16:9, the sample video's shape).
THUMB_SIZE = QSize(176, 99)
#: The page's content column never grows wider than this (px): long lines are hard to read.
CONTENT_WIDTH = 880
#: At most this many recent entries (files and projects together).
RECENT_SHOWN = 8


def sample_files(folder: Path | None = None) -> list[Path]:
    """The images and videos in ``resources/samples`` (sorted by name); empty when not shipped."""
    folder = folder if folder is not None else resources_dir() / "samples"
    if not folder.is_dir():
        return []
    usable = (*IMAGE_SUFFIXES, *VIDEO_SUFFIXES)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in usable)


def nothing_open(state) -> bool:
    """True while the window has nothing to show: no media, no camera, no project and no annotations."""
    return state.image is None and state.source is None and state.project is None and state.dataset is None


def _rgb_pixmap(rgb: np.ndarray) -> QPixmap:
    h, w = rgb.shape[:2]
    image = QImage(np.ascontiguousarray(rgb).data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


def thumbnail(path: Path, size: QSize = THUMB_SIZE) -> QPixmap | None:
    """A picture of the file filling ``size`` (cropped to it): the image, or a video's first frame."""
    if path.suffix.lower() in VIDEO_SUFFIXES:
        capture = cv2.VideoCapture(str(path))
        ok, bgr = capture.read()
        capture.release()
        if not ok or bgr is None:
            return None
        pixmap = _rgb_pixmap(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    else:
        pixmap = QPixmap(str(path))
    if pixmap.isNull():
        return None
    scaled = pixmap.scaled(
        size, Qt.AspectRatioMode.KeepAspectRatioByExpanding, Qt.TransformationMode.SmoothTransformation
    )
    x = (scaled.width() - size.width()) // 2
    y = (scaled.height() - size.height()) // 2
    return scaled.copy(x, y, size.width(), size.height())


def _kind_text(path: Path) -> str:
    return "video" if path.suffix.lower() in VIDEO_SUFFIXES else "image"


class WelcomePage(QWidget):
    """See the module docs. ``open_file`` / ``open_project`` open a path and return whether it worked."""

    def __init__(
        self,
        open_file: Callable[[Path], bool],
        open_project: Callable[[Path], bool],
        recent_files: RecentFiles,
        recent_projects: RecentFiles,
        actions: Sequence[QAction] = (),
        samples: Sequence[Path] | None = None,
        fetcher: ZooFetcher | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._open_file = open_file
        self._open_project = open_project
        self.recent_files = recent_files
        self.recent_projects = recent_projects
        self.samples = list(samples) if samples is not None else sample_files()
        self.fetcher = fetcher if fetcher is not None else ZooFetcher(self)
        self._thumbnails_loaded = False

        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        body = QWidget()
        scroll.setWidget(body)
        centring = QHBoxLayout(body)
        centring.setContentsMargins(24, 24, 24, 24)
        content = QWidget()
        content.setMaximumWidth(CONTENT_WIDTH)
        content.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        centring.addStretch(1)
        centring.addWidget(content, 100)
        centring.addStretch(1)
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(18)

        column.addLayout(self._header())
        column.addLayout(self._action_row(actions))
        columns = QHBoxLayout()
        columns.setSpacing(18)
        left = QVBoxLayout()
        left.setSpacing(18)
        left.addWidget(self._samples_card())
        left.addWidget(self._recent_card(), 1)
        columns.addLayout(left, 3)
        self.model_box = ModelBox(self.fetcher)
        columns.addWidget(self.model_box, 2)
        column.addLayout(columns, 1)
        column.addStretch(1)
        self.refresh()

    # ---------------------------------------------------------------- layout
    def _header(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(16)
        icon_path = app_icon_path()
        if icon_path is not None:
            logo = QLabel()
            logo.setPixmap(QIcon(str(icon_path)).pixmap(64, 64))
            row.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        text = QVBoxLayout()
        text.setSpacing(4)
        title = QLabel("Welcome to DistilPose Studio")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setWeight(QFont.Weight.Bold)
        title.setFont(font)
        text.addWidget(title)
        text.addWidget(
            dim(
                "Fast 2D human pose estimation and pose annotation. Open an image, a video or a folder to run "
                "a model on it, or a project to annotate. You can also drop files anywhere in this window."
            )
        )
        row.addLayout(text, 1)
        return row

    def _action_row(self, actions: Sequence[QAction]) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(8)
        self.action_buttons: list[QPushButton] = []
        for action in actions:
            button = QPushButton(action.icon(), action.text().replace("&", ""))
            button.setToolTip(action.toolTip())
            button.clicked.connect(action.trigger)
            self.action_buttons.append(button)
            row.addWidget(button)
        row.addStretch(1)
        return row

    def _samples_card(self) -> QFrame:
        frame, column = card()
        column.addWidget(heading("Try a sample"))
        self.sample_buttons: dict[str, QToolButton] = {}
        if not self.samples:
            column.addWidget(dim("No sample media in this installation (resources/samples)."))
            return frame
        grid = QGridLayout()
        grid.setSpacing(10)
        style = self.style()
        for i, path in enumerate(self.samples):
            button = QToolButton()
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            button.setIconSize(THUMB_SIZE)
            button.setAutoRaise(True)
            button.setText(f"{path.name}\n{_kind_text(path)}")
            button.setToolTip(f"Open {path}")
            kind_icon = (
                QStyle.StandardPixmap.SP_MediaPlay
                if path.suffix.lower() in VIDEO_SUFFIXES
                else QStyle.StandardPixmap.SP_FileIcon
            )
            button.setIcon(style.standardIcon(kind_icon))  # replaced by the thumbnail once shown
            button.clicked.connect(lambda _=False, p=path: self.open_file(p))
            self.sample_buttons[path.name] = button
            grid.addWidget(button, i // 2, i % 2)
        column.addLayout(grid)
        return frame

    def _recent_card(self) -> QFrame:
        frame, column = card()
        column.addWidget(heading("Recent"))
        self.recent_list = QListWidget()
        self.recent_list.setFrameShape(QFrame.Shape.NoFrame)
        self.recent_list.setIconSize(QSize(18, 18))
        self.recent_list.setUniformItemSizes(True)
        self.recent_list.itemClicked.connect(self._on_recent)
        self.recent_list.itemActivated.connect(self._on_recent)
        self.recent_empty = dim(
            "Nothing opened yet. Files and projects you open are listed here for next time."
        )
        column.addWidget(self.recent_list)
        column.addWidget(self.recent_empty)
        column.addStretch(1)
        return frame

    # ---------------------------------------------------------------- content
    def refresh(self) -> None:
        """Re-read the recent lists and the model state (they change while the page is hidden)."""
        self._fill_recent()
        self.model_box.refresh()

    def _fill_recent(self) -> None:
        style = self.style()
        self.recent_list.clear()
        entries = [(p, True) for p in self.recent_projects.existing()]
        entries += [(p, False) for p in self.recent_files.existing()]
        for path, is_project in entries[:RECENT_SHOWN]:
            if is_project:
                icon, kind = QStyle.StandardPixmap.SP_DriveHDIcon, "project"
            elif path.is_dir():
                icon, kind = QStyle.StandardPixmap.SP_DirIcon, "folder"
            elif path.suffix.lower() in VIDEO_SUFFIXES:
                icon, kind = QStyle.StandardPixmap.SP_MediaPlay, "video"
            else:
                icon, kind = QStyle.StandardPixmap.SP_FileIcon, "image"
            item = QListWidgetItem(style.standardIcon(icon), f"{path.name}   ({kind}, {path.parent})")
            item.setToolTip(str(path))
            item.setData(Qt.ItemDataRole.UserRole, (str(path), is_project))
            self.recent_list.addItem(item)
        has = self.recent_list.count() > 0
        self.recent_list.setVisible(has)
        self.recent_empty.setVisible(not has)
        if has:
            rows = self.recent_list.sizeHintForRow(0) * self.recent_list.count()
            self.recent_list.setFixedHeight(rows + 2 * self.recent_list.frameWidth() + 4)

    def _load_thumbnails(self) -> None:
        for path in self.samples:
            pixmap = thumbnail(path)
            if pixmap is not None:
                self.sample_buttons[path.name].setIcon(QIcon(pixmap))
        self._thumbnails_loaded = True

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        if not self._thumbnails_loaded:  # decoded on first sight, not for every window a test builds
            self._load_thumbnails()
        self.refresh()
        super().showEvent(event)

    # ---------------------------------------------------------------- opening
    def open_file(self, path: Path) -> bool:
        if not self.isVisible():  # a double click's second event after the first one opened the file
            return False
        return self._open_file(path)

    def _on_recent(self, item: QListWidgetItem) -> None:
        if not self.isVisible():
            return
        path, is_project = item.data(Qt.ItemDataRole.UserRole)
        (self._open_project if is_project else self._open_file)(Path(path))
