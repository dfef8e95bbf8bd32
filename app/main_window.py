"""The main window: menus, toolbar, status bar and drag and drop around the canvas; no business logic.

Every action calls :class:`AppState` (which loads and validates) and reports failures without dying, so a bad
file never takes the app down.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QAction, QDragEnterEvent, QDragMoveEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QStyle, QWidget

from distilpose.app.canvas import Canvas
from distilpose.app.media import IMAGE_SUFFIXES
from distilpose.app.paths import icon_path
from distilpose.app.state import AppState
from distilpose.errors import DistilPoseError

APP_TITLE = "DistilPose Studio"
#: How long a status-bar message stays (ms).
STATUS_TIMEOUT_MS = 10_000

#: ``(parent, title, text)`` -> None; shows an error to the user without blocking the caller.
ErrorSink = Callable[[QWidget, str, str], None]
#: ``(parent, caption, filter)`` -> chosen path or "" when cancelled.
FileChooser = Callable[[QWidget, str, str], str]


def show_error_box(parent: QWidget, title: str, text: str) -> None:
    """A window-modal message box opened with ``open()``: it never blocks the event loop (or a test)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    box.open()


def themed_icon(theme_name: str, fallback: str) -> QIcon:
    """The desktop theme's icon when there is one, else our own SVG from ``resources/icons``."""
    if QIcon.hasThemeIcon(theme_name):
        return QIcon.fromTheme(theme_name)
    path = icon_path(fallback)
    return QIcon(str(path)) if path is not None else QIcon()


def choose_file(parent: QWidget, caption: str, name_filter: str) -> str:
    path, _ = QFileDialog.getOpenFileName(parent, caption, "", name_filter)
    return path


def dropped_paths(mime: QMimeData) -> list[Path]:
    """Local files in a drop that the app can open (images and .json), annotations first.

    Annotations go first so that an image dropped together with its COCO file shows its instances at once.
    """
    if not mime.hasUrls():
        return []
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    usable = [p for p in paths if p.suffix.lower() in (*IMAGE_SUFFIXES, ".json")]
    return sorted(usable, key=lambda p: p.suffix.lower() != ".json")


class MainWindow(QMainWindow):
    def __init__(
        self,
        state: AppState | None = None,
        *,
        error_sink: ErrorSink = show_error_box,
        file_chooser: FileChooser = choose_file,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state if state is not None else AppState(self)
        self._error_sink = error_sink
        self._file_chooser = file_chooser
        self.last_error: str | None = None  # the full text of the last reported problem
        self.setWindowTitle(APP_TITLE)
        self.canvas = Canvas(self.state, self)
        self.setCentralWidget(self.canvas)
        # Drops go to the window (one handler), not to the graphics view which would swallow them.
        self.canvas.setAcceptDrops(False)
        self.canvas.viewport().setAcceptDrops(False)
        self.setAcceptDrops(True)
        self._make_actions()
        self._make_menus()
        self._make_toolbar()
        self._make_status_bar()
        self.state.imageChanged.connect(self._refresh)
        self.state.instancesChanged.connect(self._refresh)
        self.state.annotationsChanged.connect(self._refresh)
        self.canvas.zoomChanged.connect(self._show_zoom)
        self._refresh()
        self._show_zoom(self.canvas.zoom())

    # ---------------------------------------------------------------- actions
    def _make_actions(self) -> None:
        style = self.style()
        self.open_image_action = QAction(
            style.standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton), "Open &Image…", self
        )
        self.open_image_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_image_action.triggered.connect(self.ask_open_image)
        self.open_annotations_action = QAction(
            style.standardIcon(QStyle.StandardPixmap.SP_FileDialogDetailedView), "Open &Annotations…", self
        )
        self.open_annotations_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.open_annotations_action.triggered.connect(self.ask_open_annotations)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)
        self.fit_action = QAction(themed_icon("zoom-fit-best", "zoom-fit"), "&Fit to Window", self)
        self.fit_action.setShortcut(QKeySequence(Qt.Key.Key_F))
        self.fit_action.triggered.connect(self.canvas.fit_to_window)
        self.zoom_in_action = QAction(themed_icon("zoom-in", "zoom-in"), "Zoom &In", self)
        self.zoom_in_action.setShortcuts([QKeySequence.StandardKey.ZoomIn, QKeySequence(Qt.Key.Key_Plus)])
        self.zoom_in_action.triggered.connect(self.canvas.zoom_in)
        self.zoom_out_action = QAction(themed_icon("zoom-out", "zoom-out"), "Zoom &Out", self)
        self.zoom_out_action.setShortcuts([QKeySequence.StandardKey.ZoomOut, QKeySequence(Qt.Key.Key_Minus)])
        self.zoom_out_action.triggered.connect(self.canvas.zoom_out)

    def _make_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.open_image_action)
        file_menu.addAction(self.open_annotations_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.fit_action)
        view_menu.addAction(self.zoom_in_action)
        view_menu.addAction(self.zoom_out_action)

    def _make_toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("main_toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.open_image_action, self.open_annotations_action):
            bar.addAction(action)
        bar.addSeparator()
        for action in (self.fit_action, self.zoom_in_action, self.zoom_out_action):
            bar.addAction(action)

    def _make_status_bar(self) -> None:
        self.path_label = QLabel()
        self.size_label = QLabel()
        self.zoom_label = QLabel()
        self.instances_label = QLabel()
        bar = self.statusBar()
        bar.addWidget(self.path_label, 1)
        for label in (self.size_label, self.zoom_label, self.instances_label):
            label.setContentsMargins(10, 0, 10, 0)
            bar.addPermanentWidget(label)

    # ---------------------------------------------------------------- opening
    def ask_open_image(self) -> None:
        patterns = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        path = self._file_chooser(self, "Open Image", f"Images ({patterns});;All files (*)")
        if path:
            self.open_image(path)

    def ask_open_annotations(self) -> None:
        path = self._file_chooser(self, "Open COCO Annotations", "COCO keypoints (*.json);;All files (*)")
        if path:
            self.open_annotations(path)

    def open_image(self, path: str | os.PathLike) -> bool:
        return self._open(path, self.state.open_image, "Cannot open image")

    def open_annotations(self, path: str | os.PathLike) -> bool:
        return self._open(path, self.state.open_annotations, "Cannot open annotations")

    def open_path(self, path: str | os.PathLike) -> bool:
        """Open an image, or annotations for a ``.json`` name."""
        return self._open(path, self.state.open_path, "Cannot open file")

    def _open(self, path: str | os.PathLike, load: Callable[[str | os.PathLike], None], title: str) -> bool:
        try:
            load(path)
        except DistilPoseError as exc:
            self.report_error(title, str(exc))
            return False
        except Exception as exc:  # a bug in a reader must not take the window down with it
            traceback.print_exc(file=sys.stderr)
            self.report_error(title, f"{path}: unexpected error: {type(exc).__name__}: {exc}")
            return False
        self.statusBar().showMessage(f"Opened {path}", STATUS_TIMEOUT_MS)
        return True

    def report_error(self, title: str, text: str) -> None:
        """Show a problem in the status bar (first line) and in a non-blocking message box (all of it)."""
        self.last_error = text
        self.statusBar().showMessage(text.splitlines()[0] if text else title, STATUS_TIMEOUT_MS)
        self._error_sink(self, title, text)

    # ------------------------------------------------------------ drag & drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 (Qt override)
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        paths = dropped_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        for path in paths:
            self.open_path(path)

    # ---------------------------------------------------------------- display
    def _refresh(self) -> None:
        state = self.state
        name = state.image_path.name if state.image_path is not None else None
        self.setWindowTitle(f"{name} — {APP_TITLE}" if name else APP_TITLE)
        self.path_label.setText(str(state.image_path) if state.image_path is not None else "No image")
        if state.image is not None:
            h, w = state.image.shape[:2]
            self.size_label.setText(f"{w} × {h}")
        else:
            self.size_label.setText("")
        self.instances_label.setText(self._instances_text())

    def _instances_text(self) -> str:
        state = self.state
        if state.dataset is None:
            return "no annotations"
        if state.image_path is None:
            return "annotations loaded"
        if state.coco_image is None:
            return f"{state.image_path.name} not in annotations"
        n = len(state.instances)
        return f"{n} instance{'s' if n != 1 else ''}"

    def _show_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f}%")
