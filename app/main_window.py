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
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject, QSize, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QIcon,
    QKeyEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from distilpose.app.annotate.assist import HeatmapAssist
from distilpose.app.annotate.canvas_items import is_prediction
from distilpose.app.annotate.editing import Editor
from distilpose.app.annotate.heatmap_dock import HeatmapDock
from distilpose.app.annotate.instances_dock import InstancesDock
from distilpose.app.annotate.track_timeline import TrackTimelineWidget
from distilpose.app.annotate.tracks import TrackActions
from distilpose.app.canvas import Canvas
from distilpose.app.command_actions import apply_command, build_menus, fill_toolbar
from distilpose.app.command_registry import command
from distilpose.app.dialogs import Dialogs
from distilpose.app.jobs.actions import TrainingActions
from distilpose.app.live.controller import LiveController, LiveStats
from distilpose.app.live.model_panel import ModelPanel
from distilpose.app.live.prediction_export import PredictionExport
from distilpose.app.live.transport import CameraFeed, Player, TransportBar
from distilpose.app.live.workers import ModelLoader, default_loader
from distilpose.app.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from distilpose.app.paths import icon_path
from distilpose.app.preferences import run_on_open, set_run_on_open
from distilpose.app.project.actions import ProjectActions
from distilpose.app.project.dataset_panel import DatasetPanel
from distilpose.app.project.frame_list import FrameListDock
from distilpose.app.project.missing_banner import MissingMediaBanner
from distilpose.app.project.review_queue import ReviewQueueDock
from distilpose.app.recent import RecentFiles
from distilpose.app.state import AppState
from distilpose.app.welcome.page import WelcomePage, nothing_open
from distilpose.app.words import plural
from distilpose.errors import DistilPoseError
from distilpose.video import Camera, VideoReader

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


def scroll_when_short(dock: QDockWidget) -> None:
    """Put a dock's contents in a scroll area: a tall form scrolls instead of making the window taller than
    the screen (issue 25: the training dock grew the window past it, hiding the status bar and playback)."""
    body = dock.widget()
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # only the height gives way
    area.setWidget(body)
    area.setMinimumWidth(body.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width())
    dock.setWidget(area)


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
    """The window. What it offers the action objects: ``state``, ``dialogs`` (the questions to the user),
    :meth:`make_action`, :meth:`report_error`, the canvas, the live controller and the docks."""

    def __init__(
        self,
        state: AppState | None = None,
        *,
        dialogs: Dialogs | None = None,
        error_sink: ErrorSink = show_error_box,
        model_loader: ModelLoader = default_loader,
        recent: RecentFiles | None = None,
        recent_projects: RecentFiles | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state if state is not None else AppState(self)
        self.dialogs = dialogs if dialogs is not None else Dialogs()
        self._error_sink = error_sink
        self._model_loader = model_loader
        self.recent = recent if recent is not None else RecentFiles()
        self.last_error: str | None = None  # the full text of the last reported problem
        self._last_box: tuple[str, float] = ("", 0.0)
        #: Every bound command's action by registry id (``make_action``/``adopt_action`` fill it).
        self.command_actions: dict[str, QAction] = {}
        self.setWindowTitle(APP_TITLE)

        self.canvas = Canvas(self.state, self)
        self.player = Player(self.state, self)
        self.transport = TransportBar(self.state, self.player)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.canvas, 1)
        self.track_timeline = TrackTimelineWidget(self.state)  # under the video: one bar per track
        self.track_timeline.frameClicked.connect(self._timeline_clicked)
        column.addWidget(self.track_timeline)
        column.addWidget(self.transport)
        # The welcome page goes in front of this view while nothing is open (added once the actions exist).
        self.central_stack = QStackedWidget()
        self.central_stack.setObjectName("central_stack")
        self.central_stack.addWidget(central)
        # Above everything: why the open project cannot be edited (a full disk), while that is so.
        self.read_only_banner = QLabel()
        self.read_only_banner.setObjectName("read_only_banner")
        self.read_only_banner.setWordWrap(True)
        self.read_only_banner.setStyleSheet("background: #8a5a00; color: white; padding: 6px;")
        self.read_only_banner.hide()
        outer = QWidget()
        outer_column = QVBoxLayout(outer)
        outer_column.setContentsMargins(0, 0, 0, 0)
        outer_column.setSpacing(0)
        outer_column.addWidget(self.read_only_banner)
        self.missing_media_banner = MissingMediaBanner()  # media files of the project that moved (ADR 0032)
        outer_column.addWidget(self.missing_media_banner)
        outer_column.addWidget(self.central_stack, 1)
        self.setCentralWidget(outer)
        # Drops go to the window (one handler), not to the graphics view which would swallow them.
        self.canvas.setAcceptDrops(False)
        self.canvas.viewport().setAcceptDrops(False)
        self.setAcceptDrops(True)

        self.live = LiveController(self.state, model_loader, self)
        self.live.attach_player(self.player)
        self.camera = CameraFeed(self.state, self)
        self.model_panel = ModelPanel(self.state, self.live, lambda *a: self.dialogs.open_file(*a), self)
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
        self.instances_dock = InstancesDock(self.state, self.editor, self)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.frame_list)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.review_queue)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.instances_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dataset_panel)
        # tabs beside the model: room for heatmaps
        self.tabifyDockWidget(self.model_panel, self.instances_dock)
        self.tabifyDockWidget(self.model_panel, self.dataset_panel)
        # Frames and Review share the left column as tabs: the Frames list keeps the whole height (issue 25:
        # under the training monitor it was left with 4-5 rows)
        self.tabifyDockWidget(self.frame_list, self.review_queue)
        for dock in self._project_docks():
            dock.hide()
            if hasattr(dock, "errorOccurred"):
                dock.errorOccurred.connect(self.report_error)
        self._make_actions()
        self.predictions = PredictionExport(self, model_loader)
        self.project = ProjectActions(self, self.editor, self.assist, model_loader, recent_projects)
        self.training = TrainingActions(self)
        self.tracks = TrackActions(self)  # the Tracks menu (app/annotate/tracks.py)
        # Docks never push the window past the screen: tall forms scroll, and a dock shown or hidden leaves
        # the window at the size it had (issue 25).
        for dock in (self.model_panel, self.dataset_panel, self.training.monitor):
            scroll_when_short(dock)
        self._size_before_docks: QSize | None = None
        for dock in self.findChildren(QDockWidget):
            dock.visibilityChanged.connect(self._on_dock_visibility)
        self.training.monitor.visibilityChanged.connect(self._arrange_monitor)
        self.dataset_panel.importRequested.connect(self.project.ask_import_coco)
        self.dataset_panel.exportRequested.connect(self.project.ask_export)
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
        self.live.busyChanged.connect(self._show_busy)
        self.live.enabledChanged.connect(self._on_live_enabled)
        self.live.errorOccurred.connect(self.report_error)
        self.player.errorOccurred.connect(self.report_error)
        self.player.playingChanged.connect(self._refresh)  # the title's frame number (not while playing)
        self.camera.errorOccurred.connect(self.report_error)
        self.heatmap_dock.visibilityChanged.connect(self._on_heatmaps_visible)
        # After a frame number and Enter the keys belong to the image again (K, Ctrl+E, ...): a spin box
        # would otherwise keep the focus and eat them.
        self.transport.frame_box.installEventFilter(self)
        self.installEventFilter(self)  # WindowUnblocked (eventFilter)
        self._refresh()
        self._show_zoom(self.canvas.zoom())
        self.welcome = self._make_welcome_page()

    # ---------------------------------------------------------------- welcome page
    def _make_welcome_page(self) -> WelcomePage:
        """The page in front of the canvas while nothing is open; opening anything shows the canvas."""
        page = WelcomePage(
            open_file=self.open_path,
            open_project=self.project.open_project,
            recent_files=self.recent,
            recent_projects=self.project.recent,
            actions=[
                self.open_image_action,
                self.open_video_action,
                self.open_folder_action,
                self.project.new_project_action,
                self.project.open_project_action,
            ],
        )
        page.model_box.modelsChanged.connect(self.model_panel.refresh_models)  # fetched: selectable at once
        self.central_stack.insertWidget(0, page)
        state = self.state
        for signal in (state.mediaChanged, state.imageChanged, state.projectChanged, state.annotationsChanged):
            signal.connect(self._show_welcome_or_view)
        self._show_welcome_or_view()
        return page

    def _show_welcome_or_view(self) -> None:
        self.central_stack.setCurrentIndex(0 if nothing_open(self.state) else 1)

    # ---------------------------------------------------------------- actions
    def make_action(self, command_id: str, slot, icon: QIcon | None = None) -> QAction:
        """The action of the registry's command ``command_id`` (its words, keys, tip and checkability come
        from :mod:`distilpose.app.command_registry`), wired to ``slot``: ``triggered``, or ``toggled`` when
        checkable. It is added to the window, so its shortcut works wherever the focus is in the window."""
        action = QAction(icon, "", self) if icon is not None else QAction(self)
        self.adopt_action(command_id, action)
        (action.toggled if action.isCheckable() else action.triggered).connect(slot)
        self.addAction(action)
        return action

    def adopt_action(self, command_id: str, action: QAction) -> QAction:
        """Give an action made elsewhere (a dock's toggle) the registry's words and keys for ``command_id``,
        and record it, so the menus and the toolbar find it by id."""
        apply_command(action, command(command_id))
        self.command_actions[command_id] = action
        return action

    def _make_actions(self) -> None:
        style = self.style()
        a, icon = self.make_action, style.standardIcon
        self.open_image_action = a(
            "file.open_image", self.ask_open_image, icon(QStyle.StandardPixmap.SP_DialogOpenButton)
        )
        self.open_video_action = a("file.open_video", self.ask_open_video, icon(QStyle.StandardPixmap.SP_MediaPlay))
        self.open_folder_action = a(
            "file.open_folder", self.ask_open_folder, icon(QStyle.StandardPixmap.SP_DirOpenIcon)
        )
        self.open_camera_action = a("file.open_camera", self.ask_open_camera)
        self.open_annotations_action = a(
            "file.open_annotations", self.ask_open_annotations, icon(QStyle.StandardPixmap.SP_FileDialogDetailedView)
        )
        self.export_action = a("file.export_predictions", self._ask_export)
        self.quit_action = a("file.quit", self.close)
        self.fit_action = a("view.fit", self.canvas.fit_to_window, themed_icon("zoom-fit-best", "zoom-fit"))
        self.zoom_in_action = a("view.zoom_in", self.canvas.zoom_in, themed_icon("zoom-in", "zoom-in"))
        self.zoom_out_action = a("view.zoom_out", self.canvas.zoom_out, themed_icon("zoom-out", "zoom-out"))
        self.live_action = a("inference.live", self.live.set_enabled)
        self.run_on_open_action = a("inference.run_on_open", set_run_on_open)
        self.run_on_open_action.blockSignals(True)
        self.run_on_open_action.setChecked(run_on_open())  # remembered between sessions
        self.run_on_open_action.blockSignals(False)
        self.live_layer_action = a("view.live_layer", self.state.set_show_live_layer)
        self.state.liveLayerChanged.connect(self.live_layer_action.setChecked)
        self.draw_boxes_action = a("inference.draw_boxes", self.canvas.set_box_mode)
        self.clear_boxes_action = a("inference.clear_boxes", self.state.clear_user_boxes)
        self.play_action = a("playback.play", self.player.toggle)
        self.next_frame_action = a("playback.next_frame", self._next_frame)
        self.prev_frame_action = a("playback.previous_frame", self._prev_frame)
        self.forward_action = a("playback.forward_10", self._forward_10)
        self.back_action = a("playback.back_10", self._back_10)
        self.jump_action = a("playback.jump", self._focus_frame_box)

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
        return [self.frame_list, self.review_queue, self.instances_dock, self.dataset_panel]

    def return_focus(self) -> None:
        """Make the window active with the focus on the canvas (when the canvas is what the window shows)."""
        if not self.isVisible() or QApplication.activeModalWidget() is not None:
            return  # closing, or another dialog is open
        self.activateWindow()
        if self.central_stack.currentIndex() == 1:
            self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        """Enter or Esc in the frame box hands the focus back to the canvas (after the box has acted). After
        any modal dialog (a file chooser, a question, a message box) the keys belong to the image again: J and
        Ctrl+Shift+V work at once, without a click on the canvas first (issue 25).

        A filter on the window, not an ``event()`` override: an override wraps every event of the window in a
        Python call, so Qt would repaint and flush the whole window (waiting for the X server) holding the
        GIL, and the inference worker's Python steps would wait behind it (ADR 0020)."""
        if watched is self and event.type() == QEvent.Type.WindowUnblocked:
            QTimer.singleShot(0, self.return_focus)
        if (
            watched is self.transport.frame_box
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape)
        ):
            QTimer.singleShot(0, self.canvas.setFocus)
        return super().eventFilter(watched, event)

    def _on_dock_visibility(self, _visible: bool) -> None:
        if self._size_before_docks is None:
            self._size_before_docks = self.size()  # before the layout makes room for the dock
            QTimer.singleShot(0, self._settle_size)

    def _settle_size(self) -> None:
        """Back to the size the window had before docks came or went (Qt grows a window to fit a dock's
        minimum and never shrinks it back), within the screen's available area."""
        wanted, self._size_before_docks = self._size_before_docks, None
        if wanted is None or self.isMaximized() or self.isFullScreen() or not self.isVisible():
            return
        screen = self.screen()
        if screen is not None:
            room = screen.availableGeometry().size() - (self.frameGeometry().size() - self.size())
            if self.height() > room.height():
                wanted = wanted.boundedTo(QSize(max(wanted.width(), room.width()), room.height()))
        if self.size() != wanted:
            self.resize(wanted)

    def _arrange_monitor(self, visible: bool) -> None:
        """The training monitor gets the height it needs to show everything without scrolling (about a
        quarter of the window), no more: the Frames list and the canvas keep the rest (issue 25)."""
        if visible:
            monitor = self.training.monitor
            margin = self.style().pixelMetric(QStyle.PixelMetric.PM_DockWidgetTitleMargin)
            title = monitor.fontMetrics().height() + 2 * margin + 4
            needed = monitor.widget().widget().minimumSizeHint().height() + title
            height = max(min(monitor.sizeHint().height(), self.height() // 4), needed)
            self.resizeDocks([monitor], [height], Qt.Orientation.Vertical)

    def _on_project_changed(self) -> None:
        """Show the project docks while a project is open (the live-inference screen stays uncluttered)."""
        has = self.state.project is not None
        reason = self.state.project.read_only if has else None
        self.read_only_banner.setText(
            f"This project is open read-only: {reason}. You can look, check and export; edits are refused."
            if reason
            else ""
        )
        self.read_only_banner.setVisible(bool(reason))
        for dock in self._project_docks():
            dock.setVisible(has)
        if has:
            self.instances_dock.raise_()
            self.resizeDocks([self.frame_list], [PROJECT_DOCK_WIDTH], Qt.Orientation.Horizontal)
            self.frame_list.raise_()
            self.resizeDocks([self.dataset_panel], [DOCK_WIDTH], Qt.Orientation.Horizontal)
        self._refresh()


    def _make_menus(self) -> None:
        """The menu bar, laid out from the registry (``MENUS``); docks' show/hide toggles join it first."""
        self.model_panel_action = self.adopt_action("view.model_panel", self.model_panel.toggleViewAction())
        self.heatmaps_action = self.adopt_action("view.heatmaps", self.heatmap_dock.toggleViewAction())
        for command_id, dock in (
            ("view.frames", self.frame_list),
            ("view.review_queue", self.review_queue),
            ("view.instances", self.instances_dock),
            ("view.dataset", self.dataset_panel),
        ):
            self.adopt_action(command_id, dock.toggleViewAction())
        submenus = build_menus(self.menuBar(), self.command_actions)
        self.recent_menu = submenus["recent_files"]
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.project.adopt_recent_menu(submenus["recent_projects"])
        self._fill_recent_menu()

    def _make_toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("main_toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        fill_toolbar(bar, self.command_actions)

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
        path = self.dialogs.open_file(self, "Open Image", f"Images ({patterns});;All files (*)")
        if path:
            self.open_image(path)

    def ask_open_video(self) -> None:
        patterns = " ".join(f"*{s}" for s in VIDEO_SUFFIXES)
        path = self.dialogs.open_file(self, "Open Video", f"Videos ({patterns});;All files (*)")
        if path:
            self.open_video(path)

    def ask_open_folder(self) -> None:
        path = self.dialogs.folder(self, "Open Folder of Images")
        if path:
            self.open_folder(path)

    def ask_open_camera(self) -> None:
        index = self.dialogs.camera(self)
        if index is not None:
            self.open_camera(index)

    def ask_open_annotations(self) -> None:
        path = self.dialogs.open_file(self, "Open COCO Annotations", "COCO keypoints (*.json);;All files (*)")
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
        self._run_on_open()
        return True

    def _run_on_open(self) -> None:
        """What the user opens gets the live model at once (Inference > Run Inference on What I Open)."""
        if self.run_on_open_action.isChecked() and not self.live.enabled:
            self.live.set_enabled(True)

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
            self._run_on_open()
        message = f"Opened {path}"
        problem = self.state.source.problem() if isinstance(self.state.source, VideoReader) else None
        if problem:  # truncated, or frames that do not decode (decoded to count them: distilpose/video.py)
            message = problem
            self.report_error("Video is incomplete", message)
        self.statusBar().showMessage(message, STATUS_TIMEOUT_MS)
        return True

    def go_to_frame(self, index: int) -> bool:
        """Show frame ``index`` of the open video or folder (reports problems)."""
        return self.player.seek(index)

    def _timeline_clicked(self, index: int, track_id: int | None) -> None:
        """A click on the track timeline: show the frame, and select the track's person there."""
        if not self.go_to_frame(index) or track_id is None:
            return
        found = [i for i, p in enumerate(self.state.instances) if p.track_id == track_id]
        if found:
            self.state.set_selection(found[:1])

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
    def _ask_export(self) -> None:
        self.predictions.ask()  # looked up at call time: tests and plug-ins may replace the export object

    # ---------------------------------------------------------------- live inference
    def _on_live_enabled(self, on: bool) -> None:
        self.live_action.blockSignals(True)
        self.live_action.setChecked(on)
        self.live_action.blockSignals(False)
        if not on:
            self.live_label.setText("")

    def _show_busy(self, text: str) -> None:
        """'live: loading distilpose-s (torch)…' while a model loads (the old skeletons are gone already)."""
        if text and self.live.enabled:
            self.live_label.setText(f"live: {text}")

    def _show_stats(self, stats: LiveStats) -> None:
        self.live_label.setText(stats.text() if self.live.enabled else "")

    def _on_heatmaps_visible(self, visible: bool) -> None:
        if visible:
            # Heatmaps need the room more than the model panel's empty bottom does.
            QTimer.singleShot(0, self._split_model_and_heatmaps)  # once the window has its size
        if visible != self.live.settings.heatmaps:
            self.live.update_settings(heatmaps=visible)

    def _split_model_and_heatmaps(self) -> None:
        """The model panel keeps the height its settings need (it scrolls only when the window is short)."""
        needed = self.model_panel.widget().widget().sizeHint().height() + self.model_panel.fontMetrics().height() + 12
        rest = max(self.height() - needed, 300)
        self.resizeDocks([self.model_panel, self.heatmap_dock], [needed, rest], Qt.Orientation.Vertical)

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
        self.predictions.shutdown()
        self.welcome.fetcher.shutdown()
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
        if kind in ("video", "folder") and name and not self.player.playing:
            # not while playing: each new title is a request to the window system (and a title bar repaint)
            # per frame; the transport bar shows the frame (ADR 0020)
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
            return f"{plural(n, 'person', 'people')}{extra} · autosaved"
        if state.dataset is None:
            return "no annotations"
        if state.image_path is None:
            return "annotations loaded"
        if state.coco_image is None:
            return f"{state.current_name()} not in annotations"
        n = len(state.instances)
        return plural(n, "instance")

    def _show_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f}%")
