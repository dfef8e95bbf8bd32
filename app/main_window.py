"""The main window: menus, toolbar, docks, transport bar, status bar and drag and drop around the canvas; no
business logic.

Every action calls :class:`AppState` (which loads and validates), the :class:`LiveController` (inference) or a
worker thread (export), and reports failures without dying, so a bad file never takes the app down.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QSizePolicy,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from distilpose.app.assist import HeatmapAssist
from distilpose.app.canvas import Canvas
from distilpose.app.canvas_items import is_prediction
from distilpose.app.docks.dataset_panel import DatasetPanel
from distilpose.app.docks.frame_list import FrameListDock
from distilpose.app.docks.heatmap_dock import HeatmapDock
from distilpose.app.docks.model_panel import ModelPanel
from distilpose.app.docks.review_queue import ReviewQueueDock
from distilpose.app.editing import Editor
from distilpose.app.jobs.actions import TrainingActions
from distilpose.app.live import LiveController, LiveStats
from distilpose.app.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from distilpose.app.paths import icon_path
from distilpose.app.project_actions import (
    FilesChooser,
    IntChooser,
    ProjectActions,
    choose_files,
    choose_int,
)
from distilpose.app.recent import RecentFiles
from distilpose.app.state import AppState
from distilpose.app.transport import CameraFeed, Player, TransportBar
from distilpose.app.welcome import install_welcome_page
from distilpose.app.workers import ExportThread, ModelLoader, default_loader
from distilpose.errors import DistilPoseError
from distilpose.inference.prediction_export import ExportResult
from distilpose.video import Camera

APP_TITLE = "DistilPose Studio"
#: How long a status-bar message stays (ms).
STATUS_TIMEOUT_MS = 10_000
#: The same error text is not boxed again within this many seconds (a failing video would flood the screen).
REPEAT_BOX_S = 5.0
#: Width of the right-hand docks (px): the canvas keeps most of the window.
DOCK_WIDTH = 380
#: Width of the left-hand project docks (frame list, review queue).
PROJECT_DOCK_WIDTH = 300

#: ``(parent, title, text)`` -> None; shows an error to the user without blocking the caller.
ErrorSink = Callable[[QWidget, str, str], None]
#: ``(parent, caption, filter)`` -> chosen path or "" when cancelled.
FileChooser = Callable[[QWidget, str, str], str]
#: ``(parent, caption)`` -> chosen folder or "".
FolderChooser = Callable[[QWidget, str], str]
#: ``(parent)`` -> camera index or None when cancelled.
CameraChooser = Callable[[QWidget], int | None]


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


def choose_save_file(parent: QWidget, caption: str, name_filter: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, caption, "", name_filter)
    return path


def choose_folder(parent: QWidget, caption: str) -> str:
    return QFileDialog.getExistingDirectory(parent, caption)


def choose_camera(parent: QWidget) -> int | None:
    index, ok = QInputDialog.getInt(
        parent, "Open Camera", "Camera index (0 is the default camera):", 0, 0, 99
    )
    return index if ok else None


def dropped_paths(mime: QMimeData) -> list[Path]:
    """Local files in a drop that the app can open (images, videos, folders and .json), annotations first.

    Annotations go first so that an image dropped together with its COCO file shows its instances at once.
    """
    if not mime.hasUrls():
        return []
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    usable = [
        p for p in paths if p.is_dir() or p.suffix.lower() in (*IMAGE_SUFFIXES, *VIDEO_SUFFIXES, ".json")
    ]
    return sorted(usable, key=lambda p: p.suffix.lower() != ".json")


class MainWindow(QMainWindow):
    #: An export ended: True on success, False when it failed or was cancelled.
    exportFinished = Signal(bool)

    def __init__(
        self,
        state: AppState | None = None,
        *,
        error_sink: ErrorSink = show_error_box,
        file_chooser: FileChooser = choose_file,
        save_chooser: FileChooser = choose_save_file,
        folder_chooser: FolderChooser = choose_folder,
        camera_chooser: CameraChooser = choose_camera,
        model_loader: ModelLoader = default_loader,
        recent: RecentFiles | None = None,
        files_chooser: FilesChooser = choose_files,
        int_chooser: IntChooser = choose_int,
        recent_projects: RecentFiles | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state if state is not None else AppState(self)
        self._error_sink = error_sink
        self._file_chooser = file_chooser
        self._save_chooser = save_chooser
        self._folder_chooser = folder_chooser
        self._camera_chooser = camera_chooser
        self._model_loader = model_loader
        self.recent = recent if recent is not None else RecentFiles()
        self.last_error: str | None = None  # the full text of the last reported problem
        self._last_box: tuple[str, float] = ("", 0.0)
        self.export_thread: ExportThread | None = None
        self.export_result: ExportResult | None = None
        self._export_ok = False
        self.export_dialog: QProgressDialog | None = None
        self.setWindowTitle(APP_TITLE)

        self.canvas = Canvas(self.state, self)
        self.player = Player(self.state, self)
        self.transport = TransportBar(self.state, self.player)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.canvas, 1)
        column.addWidget(self.transport)
        self.setCentralWidget(central)
        # Drops go to the window (one handler), not to the graphics view which would swallow them.
        self.canvas.setAcceptDrops(False)
        self.canvas.viewport().setAcceptDrops(False)
        self.setAcceptDrops(True)

        self.live = LiveController(self.state, model_loader, self)
        self.live.attach_player(self.player)
        self.camera = CameraFeed(self.state, self)
        self.model_panel = ModelPanel(self.state, self.live, self._file_chooser, self)
        self.heatmap_dock = HeatmapDock(self.state, self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.model_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.heatmap_dock)
        self.resizeDocks([self.model_panel], [DOCK_WIDTH], Qt.Orientation.Horizontal)
        self.heatmap_dock.hide()

        # The annotation side: the editor turns intents into undo commands; docks show the project.
        self.editor = Editor(self.state, self)
        self.assist = HeatmapAssist(self.state, self.live, model_loader, self)
        self.frame_list = FrameListDock(self.state, self)
        self.review_queue = ReviewQueueDock(self.state, self.editor, self)
        self.dataset_panel = DatasetPanel(self.state, self.editor, self)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.frame_list)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.review_queue)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dataset_panel)
        self.tabifyDockWidget(
            self.model_panel, self.dataset_panel
        )  # a tab beside the model: room for heatmaps
        for dock in self._project_docks():
            dock.hide()
            if hasattr(dock, "errorOccurred"):
                dock.errorOccurred.connect(self.report_error)
        self._make_actions()
        self.project = ProjectActions(
            self, self.editor, self.assist, model_loader, files_chooser, int_chooser, recent_projects
        )
        self.training = TrainingActions(self, int_chooser)
        self.dataset_panel.importRequested.connect(self.project.ask_import_coco)
        self.dataset_panel.exportRequested.connect(lambda only: self.project.ask_export(only, "coco"))
        self.dataset_panel.yoloRequested.connect(lambda only: self.project.ask_export(only, "yolo"))
        self.state.projectChanged.connect(self._on_project_changed)
        self._make_menus()
        self._make_toolbar()
        self._make_status_bar()
        self.state.imageChanged.connect(self._refresh)
        self.state.frameChanged.connect(self._refresh)
        self.state.mediaChanged.connect(self._refresh)
        self.state.instancesChanged.connect(self._refresh)
        self.state.annotationsChanged.connect(self._refresh)
        self.state.framesChanged.connect(self._refresh)
        self.canvas.zoomChanged.connect(self._show_zoom)
        self.canvas.boxModeChanged.connect(self._on_box_mode)
        self.live.statsChanged.connect(self._show_stats)
        self.live.enabledChanged.connect(self._on_live_enabled)
        self.live.errorOccurred.connect(self.report_error)
        self.player.errorOccurred.connect(self.report_error)
        self.camera.errorOccurred.connect(self.report_error)
        self.heatmap_dock.visibilityChanged.connect(self._on_heatmaps_visible)
        self._refresh()
        self._show_zoom(self.canvas.zoom())
        self.welcome = install_welcome_page(self)  # in front of the canvas while nothing is open

    # ---------------------------------------------------------------- actions
    def _action(
        self, text: str, slot, shortcut=None, icon: QIcon | None = None, checkable: bool = False
    ) -> QAction:
        action = QAction(icon, text, self) if icon is not None else QAction(text, self)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([s if isinstance(s, QKeySequence) else QKeySequence(s) for s in shortcuts])
        action.setCheckable(checkable)
        (action.toggled if checkable else action.triggered).connect(slot)
        return action

    def _make_actions(self) -> None:
        style = self.style()
        self.open_image_action = self._action(
            "Open &Image…",
            self.ask_open_image,
            QKeySequence.StandardKey.Open,
            style.standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton),
        )
        self.open_video_action = self._action(
            "Open &Video…",
            self.ask_open_video,
            "Ctrl+Shift+V",
            style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay),
        )
        self.open_folder_action = self._action(
            "Open &Folder of Images…",
            self.ask_open_folder,
            "Ctrl+Shift+F",
            style.standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon),
        )
        self.open_camera_action = self._action("Open &Camera…", self.ask_open_camera)
        self.open_annotations_action = self._action(
            "Open &Annotations…",
            self.ask_open_annotations,
            "Ctrl+Shift+O",
            style.standardIcon(QStyle.StandardPixmap.SP_FileDialogDetailedView),
        )
        self.export_action = self._action("&Export Predictions…", self.ask_export, "Ctrl+E")
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.fit_action = self._action(
            "&Fit to Window",
            self.canvas.fit_to_window,
            Qt.Key.Key_F,
            themed_icon("zoom-fit-best", "zoom-fit"),
        )
        self.zoom_in_action = self._action(
            "Zoom &In",
            self.canvas.zoom_in,
            [QKeySequence.StandardKey.ZoomIn, Qt.Key.Key_Plus],
            themed_icon("zoom-in", "zoom-in"),
        )
        self.zoom_out_action = self._action(
            "Zoom &Out",
            self.canvas.zoom_out,
            [QKeySequence.StandardKey.ZoomOut, Qt.Key.Key_Minus],
            themed_icon("zoom-out", "zoom-out"),
        )
        self.live_action = self._action("&Live Inference", self.live.set_enabled, "Ctrl+R", checkable=True)
        self.draw_boxes_action = self._action(
            "&Draw Person Boxes", self.canvas.set_box_mode, "B", checkable=True
        )
        self.clear_boxes_action = self._action("&Clear Person Boxes", self.state.clear_user_boxes)
        self.play_action = self._action("&Play / Pause", self.player.toggle, "K")
        self.next_frame_action = self._action("&Next Frame", self._next_frame, Qt.Key.Key_Right)
        self.prev_frame_action = self._action("P&revious Frame", self._prev_frame, Qt.Key.Key_Left)
        self.forward_action = self._action("Forward 10 Frames", self._forward_10, "Shift+Right")
        self.back_action = self._action("Back 10 Frames", self._back_10, "Shift+Left")
        self.jump_action = self._action("&Jump to Frame…", self._focus_frame_box, "Ctrl+G")

    def _next_frame(self) -> None:
        self.player.step(1)

    def _prev_frame(self) -> None:
        self.player.step(-1)

    def _forward_10(self) -> None:
        self.player.step(10)

    def _back_10(self) -> None:
        self.player.step(-10)

    def _focus_frame_box(self) -> None:
        if self.transport.isVisible():
            self.transport.frame_box.setFocus()
            self.transport.frame_box.selectAll()

    def _project_docks(self) -> list:
        return [self.frame_list, self.review_queue, self.dataset_panel]

    def _on_project_changed(self) -> None:
        """Show the project docks while a project is open (the live-inference screen stays uncluttered)."""
        has = self.state.project is not None
        for dock in self._project_docks():
            dock.setVisible(has)
        if has:
            self.dataset_panel.raise_()
            self.resizeDocks([self.frame_list], [PROJECT_DOCK_WIDTH], Qt.Orientation.Horizontal)
            self.resizeDocks([self.frame_list, self.review_queue], [380, 320], Qt.Orientation.Vertical)
            self.resizeDocks([self.dataset_panel], [DOCK_WIDTH], Qt.Orientation.Horizontal)
        self._refresh()

    def _make_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.project.add_file_menu_items(file_menu)
        file_menu.addSeparator()
        for action in (self.open_image_action, self.open_video_action, self.open_folder_action):
            file_menu.addAction(action)
        file_menu.addAction(self.open_camera_action)
        file_menu.addAction(self.open_annotations_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = self.menuBar().addMenu("&Edit")
        self.project.fill_menu(edit_menu, self.project.edit_actions())
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.fit_action)
        view_menu.addAction(self.zoom_in_action)
        view_menu.addAction(self.zoom_out_action)
        view_menu.addSeparator()
        self.model_panel_action = self.model_panel.toggleViewAction()
        self.model_panel_action.setText("&Model Panel")
        self.heatmaps_action = self.heatmap_dock.toggleViewAction()
        self.heatmaps_action.setText("&Heatmaps")
        self.heatmaps_action.setShortcut(QKeySequence("H"))
        view_menu.addAction(self.model_panel_action)
        view_menu.addAction(self.heatmaps_action)
        for dock, text in (
            (self.frame_list, "F&rames"),
            (self.review_queue, "Re&view Queue"),
            (self.dataset_panel, "&Dataset"),
        ):
            toggle = dock.toggleViewAction()
            toggle.setText(text)
            view_menu.addAction(toggle)
        project_menu = self.menuBar().addMenu("&Project")
        self.project.fill_menu(project_menu, self.project.project_actions())
        self.training.fill_menu(self.menuBar().addMenu("&Training"))
        inference_menu = self.menuBar().addMenu("&Inference")
        for action in (self.live_action, self.draw_boxes_action, self.clear_boxes_action):
            inference_menu.addAction(action)
        playback_menu = self.menuBar().addMenu("&Playback")
        for action in self._playback_actions():
            playback_menu.addAction(action)
        self._fill_recent_menu()

    def _make_toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("main_toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.open_image_action, self.open_video_action, self.open_annotations_action):
            bar.addAction(action)
        bar.addSeparator()
        for action in (self.fit_action, self.zoom_in_action, self.zoom_out_action):
            bar.addAction(action)
        bar.addSeparator()
        bar.addAction(self.live_action)
        bar.addAction(self.draw_boxes_action)

    def _make_status_bar(self) -> None:
        self.path_label = QLabel()
        self.size_label = QLabel()
        self.zoom_label = QLabel()
        self.instances_label = QLabel()
        self.live_label = QLabel()
        # The path gives way first when the bar is short: the live numbers matter more.
        self.path_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar = self.statusBar()
        bar.addWidget(self.path_label, 1)
        for label in (self.live_label, self.size_label, self.zoom_label, self.instances_label):
            label.setContentsMargins(10, 0, 10, 0)
            bar.addPermanentWidget(label)

    def _playback_actions(self) -> tuple[QAction, ...]:
        """The Playback menu's actions, usable only on a video or a folder."""
        return (
            self.play_action,
            self.next_frame_action,
            self.prev_frame_action,
            self.forward_action,
            self.back_action,
            self.jump_action,
        )

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        entries = self.recent.existing()
        for path in entries:
            action = self.recent_menu.addAction(str(path))
            action.setData(str(path))
            action.triggered.connect(self._open_recent)
        if not entries:
            empty = self.recent_menu.addAction("(none)")
            empty.setEnabled(False)

    def _open_recent(self) -> None:
        action = self.sender()
        if isinstance(action, QAction) and action.data():
            self.open_path(action.data())

    # ---------------------------------------------------------------- opening
    def ask_open_image(self) -> None:
        patterns = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        path = self._file_chooser(self, "Open Image", f"Images ({patterns});;All files (*)")
        if path:
            self.open_image(path)

    def ask_open_video(self) -> None:
        patterns = " ".join(f"*{s}" for s in VIDEO_SUFFIXES)
        path = self._file_chooser(self, "Open Video", f"Videos ({patterns});;All files (*)")
        if path:
            self.open_video(path)

    def ask_open_folder(self) -> None:
        path = self._folder_chooser(self, "Open Folder of Images")
        if path:
            self.open_folder(path)

    def ask_open_camera(self) -> None:
        index = self._camera_chooser(self)
        if index is not None:
            self.open_camera(index)

    def ask_open_annotations(self) -> None:
        path = self._file_chooser(self, "Open COCO Annotations", "COCO keypoints (*.json);;All files (*)")
        if path:
            self.open_annotations(path)

    def open_image(self, path: str | os.PathLike) -> bool:
        return self._open(path, self.state.open_image, "Cannot open image")

    def open_video(self, path: str | os.PathLike) -> bool:
        return self._open(path, self.state.open_video, "Cannot open video")

    def open_folder(self, path: str | os.PathLike) -> bool:
        return self._open(path, self.state.open_folder, "Cannot open folder")

    def open_annotations(self, path: str | os.PathLike) -> bool:
        return self._open(path, self.state.open_annotations, "Cannot open annotations", remember=False)

    def open_path(self, path: str | os.PathLike) -> bool:
        """Open an image, a video, a folder, or annotations for a ``.json`` name."""
        return self._open(path, self.state.open_path, "Cannot open file")

    def open_camera(self, device: int | str, capture_factory=None) -> bool:
        """Start showing camera ``device``; a camera that fails to open is reported and nothing changes."""
        try:
            camera = Camera(device, capture_factory)
        except DistilPoseError as exc:
            self.report_error("Cannot open camera", str(exc))
            return False
        self.camera.start(camera)
        self.statusBar().showMessage(f"Showing camera {device}", STATUS_TIMEOUT_MS)
        return True

    def _open(
        self,
        path: str | os.PathLike,
        load: Callable[[str | os.PathLike], None],
        title: str,
        remember: bool = True,
    ) -> bool:
        if self.state.media_kind == "camera" and Path(path).suffix.lower() != ".json":
            self.camera.stop()
        try:
            load(path)
        except DistilPoseError as exc:
            self.report_error(title, str(exc))
            return False
        except Exception as exc:  # a bug in a reader must not take the window down with it
            traceback.print_exc(file=sys.stderr)
            self.report_error(title, f"{path}: unexpected error: {type(exc).__name__}: {exc}")
            return False
        if remember and Path(path).suffix.lower() != ".json":
            self.recent.add(path)
        message = f"Opened {path}"
        if getattr(self.state.source, "truncated", False):
            source = self.state.source
            message = f"{path}: the file looks truncated: {len(source)} of {source.index.declared_frames} frames are readable"
            self.report_error("Video is incomplete", message)
        self.statusBar().showMessage(message, STATUS_TIMEOUT_MS)
        return True

    def go_to_frame(self, index: int) -> bool:
        """Show frame ``index`` of the open video or folder (reports problems)."""
        return self.player.seek(index)

    def report_error(self, title: str, text: str) -> None:
        """Show a problem in the status bar (first line) and in a non-blocking message box (all of it)."""
        self.last_error = text
        self.statusBar().showMessage(text.splitlines()[0] if text else title, STATUS_TIMEOUT_MS)
        now = time.monotonic()
        if self._last_box[0] == text and now - self._last_box[1] < REPEAT_BOX_S:
            return
        self._last_box = (text, now)
        self._error_sink(self, title, text)

    # ---------------------------------------------------------------- export
    def ask_export(self) -> None:
        if self.state.media_kind not in ("video", "folder", "image"):
            self.report_error("Nothing to export", "Open a video, a folder of images or an image first.")
            return
        path = self._save_chooser(self, "Export Predictions (COCO results JSON)", "COCO results (*.json)")
        if path:
            self.start_export(path)

    def start_export(self, results_path: str | os.PathLike, video: bool = True) -> bool:
        """Export the open media's predictions to ``results_path`` (+ ``.images.json`` and, with ``video``,
        a rendered ``.mp4`` beside it) in a worker thread, with a progress dialog that can cancel."""
        source = self.state.source
        if source is None or source.kind == "camera":
            self.report_error("Nothing to export", "Open a video, a folder of images or an image first.")
            return False
        if self.export_thread is not None:
            self.report_error("Export running", "Wait for the current export to finish or cancel it.")
            return False
        results = Path(results_path)
        if results.suffix.lower() != ".json":
            results = results.with_name(results.name + ".json")
        video_path = results.with_suffix(".mp4") if video else None
        settings = replace(self.live.settings, user_boxes=tuple(self.state.user_boxes), heatmaps=False)
        source_path = source.path if hasattr(source, "path") else None
        if source_path is None:
            return False
        thread = ExportThread(
            source_path, settings, results, video_path, self.state.threshold, self._model_loader
        )
        thread.progress.connect(self._on_export_progress)
        thread.succeeded.connect(self._on_export_succeeded)
        thread.failed.connect(self._on_export_failed)
        thread.cancelled.connect(self._on_export_cancelled)
        thread.finished.connect(self._on_export_thread_done)
        dialog = QProgressDialog("Exporting predictions…", "Cancel", 0, max(1, len(source)), self)
        dialog.setWindowTitle("Export")
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(thread.cancel)
        dialog.open()
        self.export_dialog = dialog
        self.export_thread = thread
        self.export_result = None
        self._export_ok = False
        self.state.pending.begin("export")
        thread.start()
        return True

    def cancel_export(self) -> None:
        if self.export_thread is not None:
            self.export_thread.cancel()

    def _on_export_progress(self, done: int, total: int) -> None:
        # a local reference: a window-modal setValue() processes events, and the export may finish (and clear
        # self.export_dialog) inside it
        dialog = self.export_dialog
        if dialog is not None:
            dialog.setMaximum(total)
            dialog.setValue(done)
            dialog.setLabelText(f"Exporting predictions… frame {done} of {total}")

    def _on_export_succeeded(self, result: ExportResult) -> None:
        self.export_result = result
        written = [str(result.results_path), str(result.images_path)]
        if result.video_path is not None:
            written.append(str(result.video_path))
        self.statusBar().showMessage(
            f"Exported {result.instances} predictions from {result.frames} frames: {', '.join(written)}",
            STATUS_TIMEOUT_MS,
        )
        self._export_ok = True

    def _on_export_failed(self, message: str) -> None:
        self.report_error("Export failed", message)

    def _on_export_cancelled(self, message: str) -> None:
        self.statusBar().showMessage(f"{message}; nothing was written", STATUS_TIMEOUT_MS)

    def _on_export_thread_done(self) -> None:
        """The thread has ended (after its last signal): close the dialog and tell listeners."""
        thread, self.export_thread = self.export_thread, None
        if thread is not None:
            thread.deleteLater()
        if self.export_dialog is not None:
            self.export_dialog.canceled.disconnect()
            self.export_dialog.close()
            self.export_dialog.deleteLater()
            self.export_dialog = None
        self.state.pending.end("export")
        self.exportFinished.emit(self._export_ok)

    # ---------------------------------------------------------------- live inference
    def _on_live_enabled(self, on: bool) -> None:
        self.live_action.blockSignals(True)
        self.live_action.setChecked(on)
        self.live_action.blockSignals(False)
        if not on:
            self.live_label.setText("")

    def _show_stats(self, stats: LiveStats) -> None:
        self.live_label.setText(stats.text())

    def _on_heatmaps_visible(self, visible: bool) -> None:
        if visible:
            # Heatmaps need the room more than the model panel's empty bottom does.
            self.resizeDocks([self.model_panel, self.heatmap_dock], [420, 480], Qt.Orientation.Vertical)
        if visible != self.live.settings.heatmaps:
            self.live.update_settings(heatmaps=visible)

    def _on_box_mode(self, on: bool) -> None:
        if on and self.canvas.template_mode:
            return  # a box for a new template person, not a person box for the detector
        self.draw_boxes_action.blockSignals(True)
        self.draw_boxes_action.setChecked(on)
        self.draw_boxes_action.blockSignals(False)
        if on and self.live.settings.detector != "user-boxes":
            self.live.update_settings(detector="user-boxes")
            self.statusBar().showMessage(
                "Drag on the image to draw person boxes; Esc to stop", STATUS_TIMEOUT_MS
            )

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

    # ---------------------------------------------------------------- closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        """Stop every thread before the window goes: a running QThread destroyed with its owner aborts."""
        self.player.pause()
        self.camera.stop()
        if self.export_thread is not None:
            self.export_thread.cancel()
            self.export_thread.wait(60_000)
        self.live.shutdown()
        self.project.shutdown()
        self.training.shutdown()  # jobs keep running; the next window reattaches to them
        self.state.close_project()  # everything is saved already; this releases the file
        super().closeEvent(event)

    # ---------------------------------------------------------------- display
    def _refresh(self) -> None:
        state = self.state
        kind = state.media_kind
        name = state.image_path.name if state.image_path is not None else None
        if kind == "camera":
            name = state.source.name if state.source is not None else "camera"
        if kind in ("video", "folder") and name:
            name = f"{name} [{state.frame_index}/{state.frame_count - 1}]"
        parts = [p for p in (name, state.project_path.name if state.project_path else None, APP_TITLE) if p]
        self.setWindowTitle(" — ".join(parts))
        self.setWindowFilePath(str(state.project_path) if state.project_path else "")
        if kind == "camera" and state.source is not None:
            self.path_label.setText(f"{state.source.name}, frame {state.frame_index}")
        else:
            self.path_label.setText(str(state.image_path) if state.image_path is not None else "No image")
        if state.image is not None:
            h, w = state.image.shape[:2]
            self.size_label.setText(f"{w} × {h}")
        else:
            self.size_label.setText("")
        self.instances_label.setText(self._instances_text())
        steppable = kind in ("video", "folder")
        for action in self._playback_actions():
            action.setEnabled(steppable)
        self.export_action.setEnabled(kind in ("video", "folder", "image"))

    def _instances_text(self) -> str:
        state = self.state
        if state.project is not None:
            if state.frame_id is None:
                return "not in the project" if state.image is not None else "project: no frame shown"
            n = len(state.instances)
            to_check = sum(1 for inst in state.instances if is_prediction(inst))
            extra = f" ({to_check} to check)" if to_check else ""
            return f"{n} person{'s' if n != 1 else ''}{extra} · autosaved"
        if state.dataset is None:
            return "no annotations"
        if state.image_path is None:
            return "annotations loaded"
        if state.coco_image is None:
            return f"{state.current_name()} not in annotations"
        n = len(state.instances)
        return f"{n} instance{'s' if n != 1 else ''}"

    def _show_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f}%")
