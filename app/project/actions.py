"""The project and editing side of the window: its actions, menus, context menu, dialogs and jobs.

It asks (file dialogs, the frame step of a video, a progress dialog) and hands plain values to the
:class:`~distilpose.app.annotate.editing.Editor`, the state, or a worker; it reports every failure through the
window's ``report_error``. Keeping this out of ``main_window.py`` keeps the window a thin frame.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QProgressDialog

from distilpose.app.annotate import commands
from distilpose.app.annotate.assist import HeatmapAssist
from distilpose.app.annotate.canvas_items import is_prediction
from distilpose.app.annotate.editing import Editor
from distilpose.app.annotate.template import box_around
from distilpose.app.command_registry import command
from distilpose.app.project.frame_rows import next_to_check
from distilpose.app.project.prelabel import PrelabelThread
from distilpose.app.project.prelabel_dialog import PrelabelChoice, model_option, model_options, refusal
from distilpose.app.project.store_jobs import store_task
from distilpose.app.recent import RecentFiles, config_dir
from distilpose.app.tasks import BackgroundTask
from distilpose.errors import CocoFormatError, DistilPoseError
from distilpose.keypoints import NAMES
from distilpose.prelabel import outcome_counts
from distilpose.project.coco_io import import_coco
from distilpose.project.formats import DatasetFormat, dataset_format

PROJECT_SUFFIX = ".dpproj"
PROJECT_FILTER = f"DistilPose projects (*{PROJECT_SUFFIX});;All files (*)"
#: The answers to "this folder holds an export already" (the last one, Cancel, is the default).
OVERWRITE, CHOOSE_ANOTHER = "Overwrite", "Choose Another…"
#: The undo text of a relink step ("Relink 2 media"): undo/redo of it re-check the missing files.
RELINK_TEXT = "Relink"

def recent_projects() -> RecentFiles:
    return RecentFiles(config_dir() / "recent_projects.json")


class ProjectActions(QObject):
    """See the module docs. ``window`` is the MainWindow (state, canvas, live, camera, player, docks)."""

    #: A pre-label batch ended: number of frames written (0 when it failed or wrote nothing).
    prelabelFinished = Signal(int)
    #: A dataset export ended: True on success.
    exportFinished = Signal(bool)
    #: A search for missing media ended: how many media it relinked (0: none found, cancelled or failed).
    relinkFinished = Signal(int)

    def __init__(
        self,
        window,
        editor: Editor,
        assist: HeatmapAssist,
        model_loader,
        recent: RecentFiles | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.canvas = window.canvas
        self.editor = editor
        self.assist = assist
        self._loader = model_loader
        self.dialogs = window.dialogs
        self.recent = recent if recent is not None else recent_projects()
        self.prelabel_thread: PrelabelThread | None = None
        self.prelabel_dialog: QProgressDialog | None = None
        self.last_prelabel: PrelabelChoice | None = None  # preselected in the next pre-label dialog
        self.job: BackgroundTask | None = None
        self.last_export = None
        self.missing: list = []  # the open project's media files that are not there (relink.MissingMedia)
        self.relink_task: BackgroundTask | None = None
        self.relink_dialog: QProgressDialog | None = None
        self._relinked = 0
        self._make_actions()
        self._connect()
        self._update_enabled()

    # ---------------------------------------------------------------- actions
    def _make_actions(self) -> None:
        a = self.window.make_action  # added to the window: shortcuts work while any child has focus
        self.new_project_action = a("project.new", self.ask_new_project)
        self.open_project_action = a("project.open", self.ask_open_project)
        self.close_project_action = a("project.close", self.close_project)
        self.add_images_action = a("project.add_images", self.ask_add_images)
        self.add_folder_action = a("project.add_folder", self.ask_add_folder)
        self.add_video_action = a("project.add_video", self.ask_add_video)
        self.relink_action = a("project.relink", self.ask_relink)
        self.undo_action = a("edit.undo", self.state.undo)
        self.redo_action = a("edit.redo", self.state.redo)
        self.visible_action = a("edit.mark_visible", lambda: self.editor.set_visibility(2))
        self.occluded_action = a("edit.mark_occluded", lambda: self.editor.set_visibility(1))
        self.unlabel_action = a("edit.delete_keypoint", lambda: self.editor.set_visibility(0))
        self.snap_action = a("edit.snap", self.snap)
        self.assist_action = a("edit.heatmap_assist", self.set_assist)
        self.template_action = a("edit.new_person", self.canvas.start_template)
        self.accept_live_action = a("edit.accept_live", lambda: self.editor.add_live_predictions(True))
        self.delete_person_action = a("edit.delete_person", lambda: self.editor.delete_person())
        self.copy_previous_action = a("edit.copy_previous", self.editor.copy_previous)
        self.accept_action = a("edit.accept", lambda: self.editor.accept())
        self.reject_action = a("edit.reject", lambda: self.editor.reject())
        self.verify_action = a("edit.verify", lambda: self.editor.verify())
        self.unverify_action = a("edit.unverify", lambda: self.editor.unverify())
        self.next_person_action = a("edit.next_person", lambda: self._cycle_person(1))
        self.prev_person_action = a("edit.previous_person", lambda: self._cycle_person(-1))
        self.next_to_check_action = a("project.next_to_check", self.next_to_check)
        self.next_frame_action = a("project.next_frame", lambda: self._step(1))
        self.prev_frame_action = a("project.previous_frame", lambda: self._step(-1))
        self.prelabel_frame_action = a("project.prelabel_frame", lambda: self.ask_prelabel(False))
        self.prelabel_all_action = a("project.prelabel_all", lambda: self.ask_prelabel(True))
        self.freeze_action = a("project.freeze", self.freeze_and_add)

    def _project_only_actions(self) -> list[QAction]:
        """What acts on an open project (disabled without one); the menus' layout is the registry's."""
        return [
            self.visible_action, self.occluded_action, self.unlabel_action, self.snap_action,
            self.template_action, self.accept_live_action, self.copy_previous_action, self.delete_person_action,
            self.accept_action, self.reject_action, self.verify_action, self.unverify_action,
            self.next_person_action, self.prev_person_action,
            self.add_images_action, self.add_folder_action, self.add_video_action, self.relink_action,
            self.next_frame_action, self.prev_frame_action, self.next_to_check_action,
            self.prelabel_frame_action, self.prelabel_all_action, self.freeze_action, self.close_project_action,
        ]  # fmt: skip

    def fill_menu(self, menu: QMenu, actions: list[QAction | None]) -> None:
        """Add ``actions`` to a context menu (None: a separator)."""
        for action in actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)

    def adopt_recent_menu(self, menu: QMenu) -> None:
        """The Project menu's "Recent Projects" submenu (the window builds the menus from the registry)."""
        self.recent_projects_menu = menu
        menu.aboutToShow.connect(self.fill_recent_projects)
        self.fill_recent_projects()

    def _connect(self) -> None:
        state, canvas, editor = self.state, self.canvas, self.editor
        canvas.jointMoved.connect(editor.move_joint)
        canvas.jointPlaced.connect(editor.place_joint)
        canvas.personMoved.connect(lambda iid, dx, dy: editor.move_person(iid, dx, dy))
        canvas.personScaled.connect(lambda iid, s, cx, cy: editor.move_person(iid, 0.0, 0.0, s, (cx, cy)))
        canvas.templateBoxDrawn.connect(lambda x, y, w, h: editor.add_template((x, y, w, h)))
        canvas.contextMenuWanted.connect(self._show_context_menu)
        canvas.placingChanged.connect(self._on_placing)
        state.editFailed.connect(self.window.report_error)
        editor.message.connect(self._status)
        self.assist.enabledChanged.connect(self._on_assist)
        self.window.heatmap_dock.visibilityChanged.connect(self._on_heatmaps_visible)
        self.assist.errorOccurred.connect(self.window.report_error)
        stack = state.undo_stack
        stack.canUndoChanged.connect(self._update_history)
        stack.canRedoChanged.connect(self._update_history)
        stack.undoTextChanged.connect(self._update_history)
        stack.redoTextChanged.connect(self._update_history)
        state.projectChanged.connect(self._update_enabled)
        state.projectChanged.connect(self.update_missing_media)
        stack.indexChanged.connect(self._after_history)
        self.window.missing_media_banner.searchRequested.connect(self.ask_relink)
        self._update_history()

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 10_000)

    def _update_history(self) -> None:
        stack = self.state.undo_stack
        self.undo_action.setEnabled(stack.canUndo())
        self.redo_action.setEnabled(stack.canRedo())
        undo, redo = command("edit.undo").text, command("edit.redo").text
        self.undo_action.setText(f"{undo} {stack.undoText()}" if stack.canUndo() else undo)
        self.redo_action.setText(f"{redo} {stack.redoText()}" if stack.canRedo() else redo)

    def _update_enabled(self) -> None:
        has = self.state.project is not None
        for action in self._project_only_actions():
            action.setEnabled(has)

    # ---------------------------------------------------------------- projects
    def ask_new_project(self) -> None:
        path = self.dialogs.save_file(self.window, "New Project", PROJECT_FILTER)
        if path:
            if not Path(path).suffix:
                path += PROJECT_SUFFIX
            self.new_project(path)

    def ask_open_project(self) -> None:
        path = self.dialogs.open_file(self.window, "Open Project", PROJECT_FILTER)
        if path:
            self.open_project(path)

    def new_project(self, path: str | os.PathLike) -> bool:
        try:
            self.state.create_project(path)
        except DistilPoseError as exc:
            self.window.report_error("Cannot create the project", str(exc))
            return False
        self.recent.add(path)
        self._status(f"New project {path}: add images, a folder or video frames (Project menu)")
        return True

    def open_project(self, path: str | os.PathLike, position: int | None = 0) -> bool:
        """Open a project and show its frame at ``position`` of the frame list (None: show nothing)."""
        try:
            self.state.open_project(path)
        except DistilPoseError as exc:
            self.window.report_error("Cannot open the project", str(exc))
            return False
        self.recent.add(path)
        self._status(f"Opened project {path} ({len(self.state.frames)} frames)")
        for notice in self.state.project.notices:  # a stray write-ahead log moved aside, say
            self.window.report_error("The project was opened with a warning", notice)
        position = self.showable_position(position)  # self.missing: projectChanged has just checked
        if position is not None:
            self.show_position(position)
        return True

    def showable_position(self, position: int | None) -> int | None:
        """``position`` in the frame list, or the next frame after it (wrapping) whose media file is there:
        the missing ones are named in the bar, not in an error box for the frame that happens to be first."""
        rows = self.state.frames
        if position is None or not rows:
            return None
        gone = {m.record.id for m in self.missing}
        start = min(max(position, 0), len(rows) - 1)
        for offset in range(len(rows)):
            i = (start + offset) % len(rows)
            if rows[i].media_id not in gone:
                return i
        return None

    # ---------------------------------------------------------------- media that moved (ADR 0032)
    def update_missing_media(self) -> None:
        """Name the open project's missing media files in the window's bar (hidden when none); its search
        button is off while the project is read-only (a relink is an edit)."""
        from distilpose.project.relink import missing_media

        store = self.state.project
        try:
            self.missing = missing_media(store) if store is not None else []
        except DistilPoseError:  # the project is closing
            self.missing = []
        banner = self.window.missing_media_banner
        banner.show_missing(self.missing)
        self.window.frame_list.model.set_missing_media(m.record.id for m in self.missing)
        read_only = store.read_only if store is not None else None
        banner.search_button.setEnabled(not read_only)
        banner.search_button.setToolTip(
            f"The project is open read-only ({read_only}): relinking is an edit" if read_only else ""
        )

    def _after_history(self, index: int) -> None:
        """A relink was just pushed, undone or redone: check the files again (not after other edits: a check
        stats every media file, too much for every keypoint move of a large project)."""
        stack = self.state.undo_stack
        near = (stack.command(i) for i in (index - 1, index) if 0 <= i < stack.count())
        if any(c is not None and c.text().startswith(RELINK_TEXT) for c in near):
            self.update_missing_media()

    def ask_relink(self) -> bool:
        """Ask for a folder and start looking for the missing media under it off the GUI thread; what it finds
        is relinked as one undoable step when the search ends (``relinkFinished`` carries how many). False
        when no search started."""
        from distilpose.app.project.relink_search import relink_search_task, search_dialog
        from distilpose.project.relink import missing_media, present_media_paths

        store = self.state.project
        if store is None:
            return False
        if self.relink_task is not None:
            self._status("A search for the missing media is running")
            return False
        missing = missing_media(store)
        if not missing:
            self._status("No media file of the project is missing")
            return False
        if store.read_only:
            self.window.report_error("Cannot relink the media", f"The project is open read-only: {store.read_only}")
            return False
        folder = self.dialogs.folder(self.window, f"Search a Folder for {len(missing)} Missing Media File(s)")
        if not folder:
            return False
        task = relink_search_task(missing, folder, present_media_paths(store))
        task.succeeded.connect(lambda result: self._relink_found(task, store, missing, folder, result))
        task.failed.connect(lambda message: self.window.report_error(f"Cannot search {folder}", message))
        task.cancelled.connect(lambda _m: self._status(f"Search of {folder} cancelled: nothing relinked"))
        task.finished.connect(self._on_relink_done)
        self.relink_task, self._relinked = task, 0
        self.relink_dialog = search_dialog(task, folder, len(missing), self.window)
        self.state.pending.begin("relink search")
        task.start()
        return True

    def _relink_found(self, task: BackgroundTask, store, missing: list, folder: str, result) -> None:
        """The search ended: relink what it found as one step and say what is still missing; nothing when
        Cancel came after the walk ended or the project closed meanwhile."""
        from distilpose.project.relink import MAX_SEARCHED, found_edits

        if task.is_cancelled():
            self._status(f"Search of {folder} cancelled: nothing relinked")
            return
        if store is not self.state.project:
            self._status(f"The project closed while {folder} was searched: nothing relinked")
            return
        edits = found_edits(store, result.found)
        if edits and not self.state.push(commands.StoreCommand(f"{RELINK_TEXT} {len(edits)} media", edits)):
            return
        self._relinked = len(edits)
        still = [m for m in missing if m.record.id not in result.found]
        if still:
            self.window.report_error(
                "Some media files are still missing",
                f"Found {len(edits)} of {len(missing)} under {folder}. Still missing:\n"
                + "\n".join(_still_missing_lines(still, result.ambiguous, result.stopped, MAX_SEARCHED)),
            )
        else:
            self._status(f"Relinked {len(edits)} media file(s) found under {folder}")
        if edits and self.state.frame_id is not None:
            self.show_frame(self.state.frame_id)  # the shown frame reads its file again
        elif edits and (first := self.showable_position(0)) is not None:
            self.show_position(first)  # nothing could be shown while the file was missing

    def _on_relink_done(self) -> None:
        task, self.relink_task = self.relink_task, None
        if task is None:  # already handled (the window closed while it searched)
            return
        self.relink_dialog = _dispose_progress(self.relink_dialog)
        task.deleteLater()
        self.state.pending.end("relink search")
        self.relinkFinished.emit(self._relinked)

    def show_frame(self, frame_id: int) -> bool:
        return self._show(self.state.go_to_frame, frame_id)

    def show_position(self, position: int) -> bool:
        return self._show(self.state.go_to_position, position)

    def _show(self, go, where: int) -> bool:
        """Show a frame (``go`` is the state's way to it); a failure is reported, not raised."""
        try:
            go(where)
        except DistilPoseError as exc:
            self.window.report_error("Cannot show the frame", str(exc))
            return False
        return True

    def close_project(self) -> None:
        self.state.close_project()

    def fill_recent_projects(self) -> None:
        menu = self.recent_projects_menu
        menu.clear()
        entries = self.recent.existing()
        for path in entries:
            action = menu.addAction(str(path))
            action.setData(str(path))
            action.triggered.connect(lambda _=False, p=str(path): self.open_project(p))
        if not entries:
            menu.addAction("(none)").setEnabled(False)

    def _cycle_person(self, delta: int) -> None:
        if self.state.select_person_step(delta) is None:
            self._status("No person on this frame to select")

    def next_to_check(self) -> bool:
        """Show the next frame (after the shown one, wrapping) that still needs a person's look."""
        state = self.state
        if state.project is None:
            return False
        position = next_to_check(state.frames, state.frame_position())
        if position is None:
            self._status("No other frame to check: every frame is accepted, rejected or verified")
            return False
        if not self.show_position(position):
            return False
        self._status(f"Frame {position} of {len(state.frames)}: {state.frames[position].name} to check")
        return True

    def _step(self, delta: int) -> None:
        try:
            self.state.step_frame(delta)
        except DistilPoseError as exc:
            self.window.report_error("Cannot show the frame", str(exc))

    # ---------------------------------------------------------------- media
    def ask_add_images(self) -> None:
        from distilpose.video import IMAGE_SUFFIXES

        patterns = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        paths = self.dialogs.files(
            self.window, "Add Images to Project", f"Images ({patterns});;All files (*)"
        )
        if paths:
            self.editor.add_images(paths)

    def ask_add_folder(self) -> None:
        folder = self.dialogs.folder(self.window, "Add a Folder of Images to Project")
        if folder:
            self.editor.add_folder(folder)

    def ask_add_video(self) -> None:
        from distilpose.video import VIDEO_SUFFIXES

        patterns = " ".join(f"*{s}" for s in VIDEO_SUFFIXES)
        path = self.dialogs.open_file(
            self.window, "Add Video Frames", f"Videos ({patterns});;All files (*)"
        )
        if not path:
            return
        step = self.dialogs.integer(self.window, "Add Video Frames", "Add every N-th frame, N =", 30, 1)
        if step is not None:
            self.editor.add_video_frames(path, step)

    def freeze_and_add(self) -> int | None:
        """Live view -> project: the shown video or camera frame with its live predictions; then show it."""
        kind = self.state.media_kind
        settings = self.window.live.settings
        self.window.player.pause()
        frame_id = self.editor.freeze_and_add(settings.model, settings.teacher)
        if frame_id is None:
            return None
        if kind == "camera":
            self.window.camera.stop()
        try:
            self.state.go_to_frame(frame_id)
        except DistilPoseError as exc:
            self.window.report_error("Cannot show the frame", str(exc))
        return frame_id

    # ---------------------------------------------------------------- editing helpers
    def snap(self) -> bool:
        """Snap the selected joint: to the peak nearest where it is being dragged, else nearest the mouse."""
        dragged = self.canvas.cancel_drag()
        where = dragged if dragged is not None else self.canvas.cursor_scene_pos()
        return self.editor.snap_joint(None if where is None else (where.x(), where.y()))

    def set_assist(self, on: bool) -> None:
        self.assist.set_enabled(on)
        if self.assist.enabled:
            self.window.heatmap_dock.show()

    def _on_heatmaps_visible(self, visible: bool) -> None:
        """The heatmap dock shows what is edited: with a project and a teacher, opening it turns the assist on."""
        if visible and self.state.project is not None and self.assist.model() is not None:
            self.assist.set_enabled(True)

    def _on_assist(self, on: bool) -> None:
        self.assist_action.blockSignals(True)
        self.assist_action.setChecked(on)
        self.assist_action.blockSignals(False)

    def _on_placing(self, on: bool) -> None:
        target = self.canvas.place_target
        if on and target is not None:
            self._status(f"Click where {NAMES[target[1]]} goes (Esc cancels)")
        elif on:
            self._status("Drag a box for the new person, or click where it stands (Esc cancels)")
        else:
            self.window.statusBar().clearMessage()  # the hint is done: the person is placed or cancelled

    def build_context_menu(self, scene_pos: QPointF) -> QMenu:
        """The right-click menu for what is selected under the cursor (shared actions + placing)."""
        menu = QMenu(self.window)
        state = self.state
        if state.project is None:
            menu.addAction(self.new_project_action)
            menu.addAction(self.open_project_action)
            return menu
        iid = state.selected_instance_id()
        if state.joint is not None:
            menu.addSection(NAMES[state.joint[1]])
            self.fill_menu(
                menu, [self.visible_action, self.occluded_action, self.unlabel_action, self.snap_action]
            )
        if iid is not None:
            inst = state.instance_by_id(iid)
            missing = self.editor.missing_joints(iid)
            place = menu.addMenu("Place Missing Keypoint")
            place.setEnabled(bool(missing))
            for k in missing:
                action = place.addAction(NAMES[k])
                action.triggered.connect(lambda _=False, i=iid, k=k: self.canvas.start_place(i, k))
            if inst is not None and is_prediction(inst):
                self.fill_menu(menu, [self.accept_action, self.reject_action])
            self.fill_menu(menu, [self.verify_action, self.delete_person_action])
            menu.addSeparator()
        here = menu.addAction("New Person Here (Template)")
        image = state.image
        size = (image.shape[1], image.shape[0]) if image is not None else (1, 1)
        here.triggered.connect(
            lambda: self.editor.add_template(box_around(scene_pos.x(), scene_pos.y(), size))
        )
        self.fill_menu(menu, [self.copy_previous_action, self.accept_live_action])
        return menu

    def _show_context_menu(self, global_pos: QPoint, scene_pos: QPointF) -> None:
        menu = self.build_context_menu(scene_pos)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        menu.popup(global_pos)  # not exec(): never block the event loop

    # ---------------------------------------------------------------- pre-labelling
    def _prelabel_frames(self, all_frames: bool) -> list[int] | None:
        """The frames a batch covers, or None after saying why there is none to run."""
        state = self.state
        if state.project is None:
            self.window.report_error("Cannot pre-label", "No project is open.")
            return None
        if self.prelabel_thread is not None:
            self.window.report_error("Pre-labelling is running", "Wait for it to finish or cancel it.")
            return None
        ids = [row.frame_id for row in state.frames] if all_frames else [state.frame_id]
        if not ids or ids == [None]:
            self.window.report_error(
                "Cannot pre-label", "Show a frame of the project first (or add images to the project)."
            )
            return None
        return ids  # type: ignore[return-value]

    def ask_prelabel(self, all_frames: bool) -> bool:
        """Ask which model pre-labels (trained ones, most accurate first, flip on), then run it."""
        ids = self._prelabel_frames(all_frames)
        if ids is None:
            return False
        current = self.window.live.settings.model
        options = model_options(current)
        preselect = self.last_prelabel.model if self.last_prelabel is not None else None
        choice = self.dialogs.prelabel(self.window, options, len(ids), preselect)
        if choice is None:
            return False
        return self.prelabel(all_frames, choice=choice)

    def prelabel(self, all_frames: bool, dialog: bool = True, choice: PrelabelChoice | None = None) -> bool:
        """Run ``choice`` (by default the model panel's model and flip) and the comparison teacher on this
        frame or every frame, in a worker; refused, with the reason, for a model without trained weights.
        ``dialog``: show the progress dialog."""
        state = self.state
        ids = self._prelabel_frames(all_frames)
        if ids is None:
            return False
        settings = self.window.live.settings
        if choice is None:
            choice = PrelabelChoice(settings.model, settings.flip)
        option = model_option(choice.model)
        if not option.ready:
            self.window.report_error(f"Cannot pre-label with {choice.model}", refusal(option))
            return False
        self.last_prelabel = choice
        settings = replace(settings, model=choice.model, flip=choice.flip)
        thread = PrelabelThread(
            state.project_path,
            ids,
            settings,
            self._loader,
            timeout=state.lock_timeout,
            threshold=state.threshold,
            track=choice.track,
        )
        thread.failed.connect(self._on_prelabel_failed)
        thread.frameFailed.connect(lambda fid, msg: self._status(f"frame {fid} skipped: {msg}"))
        thread.finished.connect(self._on_prelabel_done)
        if dialog:
            flip = " with flip test" if choice.flip else ""
            text = f"Pre-labelling with {choice.model}{flip}…"
            box = QProgressDialog(text, "Cancel", 0, len(ids), self.window)
            box.setWindowTitle("Pre-label")
            box.setWindowModality(Qt.WindowModality.WindowModal)  # no edits while the worker writes
            box.setMinimumDuration(300)
            box.setAutoClose(False)
            box.setAutoReset(False)
            box.canceled.connect(thread.cancel)
            thread.progress.connect(box.setValue)
            self.prelabel_dialog = box
        self.prelabel_thread = thread
        state.pending.begin("pre-labelling")
        thread.start()
        return True

    def cancel_prelabel(self) -> None:
        if self.prelabel_thread is not None:
            self.prelabel_thread.cancel()

    def _on_prelabel_failed(self, message: str) -> None:
        self.window.report_error("Pre-labelling failed", message)

    def _on_prelabel_done(self) -> None:
        thread, self.prelabel_thread = self.prelabel_thread, None
        if thread is None:  # already handled (the window closed while the batch ran)
            return
        self.prelabel_dialog = _dispose_progress(self.prelabel_dialog)
        outcomes = thread.outcomes
        edits = [edit for outcome in outcomes for edit in outcome.undo_edits()]
        model = thread.settings.model
        counts = outcome_counts(outcomes)
        if edits and self.state.project is not None:
            text = f"Pre-label {len(outcomes)} frame(s) with {model}"
            self.state.push(commands.recorded(text, edits, commands.Focus(self.state.frame_id)))
        else:
            self.state.refresh_frames()
        if thread.cancelled:
            self._status(
                f"Pre-labelling cancelled: kept the {len(outcomes)} finished frame(s) of "
                f"{len(thread.frame_ids)} ({counts}); Ctrl+Z removes them"
            )
        elif outcomes:
            self._status(f"Pre-labelled {len(outcomes)} frame(s) with {model}: {counts}")
        thread.deleteLater()
        self.state.pending.end("pre-labelling")
        self.prelabelFinished.emit(len(outcomes))

    # ---------------------------------------------------------------- COCO / YOLO
    def ask_import_coco(self) -> None:
        ann = self.dialogs.open_file(
            self.window, "Import COCO Keypoints", "COCO keypoints (*.json);;All files (*)"
        )
        if not ann:
            return
        images = self.dialogs.folder(self.window, f"Images folder of {Path(ann).name}")
        if images:
            self.import_coco_file(ann, images)

    def import_coco_file(self, ann: str | os.PathLike, images_dir: str | os.PathLike) -> bool:
        """Merge a COCO file (one transaction): a malformed file is refused whole, every problem listed."""
        store = self.state.project
        if store is None:
            self.window.report_error("Cannot import", "No project is open.")
            return False
        try:
            report = import_coco(store, ann, images_dir)
        except CocoFormatError as exc:
            self.window.report_error("Cannot import the COCO file: nothing was imported", str(exc))
            self.window.dataset_panel.show_result(
                f"{len(exc.problems)} problem(s): nothing imported", ok=False
            )
            return False
        except DistilPoseError as exc:
            self.window.report_error("Cannot import the COCO file", str(exc))
            return False
        self.state.refresh_frames()
        self.state.reload_instances()
        text = f"Imported {Path(ann).name}: {report.summary()}"
        self.window.dataset_panel.show_result(text)
        self._status(text)
        return True

    def ask_export(self, fmt: str, only_verified: bool) -> None:
        """Ask for a folder (an existing one, or a new name: it is created), then export the project in format
        ``fmt`` (a name of the exporter registry). A folder holding an export already is overwritten only
        after the user says so; "Choose Another…" asks for the folder again."""
        exporter = dataset_format(fmt)
        caption = f"Export {exporter.title} Dataset to Folder"
        while True:
            folder = self.dialogs.new_folder(self.window, caption)
            if not folder:
                return
            overwrite = (Path(folder) / exporter.done).exists()
            if overwrite:
                choices = [OVERWRITE, CHOOSE_ANOTHER]
                answer = self.dialogs.option(
                    self.window,
                    "Overwrite the Export?",
                    f"{folder} already holds a {exporter.title} export ({exporter.done}).\n"
                    "Overwrite it with the project as it is now?",
                    choices,
                )
                if answer is None:
                    return
                if choices[answer] == CHOOSE_ANOTHER:
                    continue
            self.start_export(folder, only_verified, fmt, overwrite=overwrite)
            return

    def start_export(
        self, folder: str | os.PathLike, only_verified: bool, fmt: str = "coco", overwrite: bool = False
    ) -> bool:
        """Export in a worker thread with the registered writer of ``fmt`` (the CLI's and the tests'), into
        ``folder`` (created when missing); ``overwrite`` replaces an export there."""
        state = self.state
        if state.project is None or self.job is not None:
            self.window.report_error(
                "Cannot export", "No project is open." if state.project is None else "An export is running."
            )
            return False
        try:
            exporter = dataset_format(fmt)
            Path(folder).mkdir(parents=True, exist_ok=True)
        except DistilPoseError as exc:
            self.window.report_error("Cannot export", str(exc))
            return False
        except OSError as exc:
            self.window.report_error("Cannot export", f"{folder}: cannot create the folder: {exc.strerror or exc}")
            return False
        thread = store_task(
            state.project_path,
            lambda store: exporter.export(store, folder, only_verified=only_verified, overwrite=overwrite),
            f"{fmt}-export",
        )
        thread.succeeded.connect(lambda report: self._on_export_ok(report, exporter))
        thread.failed.connect(self._on_export_failed)
        thread.finished.connect(self._on_export_done)
        self.job = thread
        self.last_export = None
        state.pending.begin("dataset export")
        self.window.dataset_panel.show_result(f"Exporting {exporter.title}…")
        thread.start()
        return True

    def _on_export_ok(self, report, exporter: DatasetFormat) -> None:
        self.last_export = report
        check = f" and {exporter.check_note}" if exporter.check_note else ""
        text = f"Exported{check}: {report.summary()}"
        self.window.dataset_panel.show_result(text)
        self._status(text)

    def _on_export_failed(self, message: str) -> None:
        self.window.dataset_panel.show_result(message.splitlines()[0], ok=False)
        self.window.report_error("Export failed", message)

    def _on_export_done(self) -> None:
        thread, self.job = self.job, None
        if thread is not None:
            thread.deleteLater()
        self.state.pending.end("dataset export")
        self.exportFinished.emit(self.last_export is not None)

    def shutdown(self) -> None:
        """Window closing: stop the workers (a running QThread destroyed with its owner aborts)."""
        if self.prelabel_thread is not None:
            self.prelabel_thread.cancel()
            self.prelabel_thread.wait(60_000)
            self._on_prelabel_done()  # now, while the project is open: its queued call will find nothing
        if self.job is not None:
            self.job.wait(120_000)
        if (task := self.relink_task) is not None:
            task.cancel()  # stops at its next folder
            if not task.wait(SEARCH_SHUTDOWN_WAIT_MS):  # a hung mount: let it end on its own, never delete it running
                task.setParent(None)
                _STILL_RUNNING.add(task)
                task.finished.connect(lambda t=task: _STILL_RUNNING.discard(t))
                self.relink_task = None
                self.relink_dialog = _dispose_progress(self.relink_dialog)
                self.state.pending.end("relink search")
            else:
                self._on_relink_done()  # now: its queued call would find a closed window
        self.assist.shutdown()


#: How long closing the window waits for a cancelled relink search to stop at its next folder.
SEARCH_SHUTDOWN_WAIT_MS = 10_000
#: Background searches that outlived their window (a hung mount): kept referenced until they end.
_STILL_RUNNING: set[BackgroundTask] = set()


def _dispose_progress(dialog: QProgressDialog | None) -> None:
    """Close a worker's progress dialog for good (its Cancel no longer reaches the finished worker; ``reset``
    stops its show timer, which the disconnected ``cancel`` slot no longer does); returns None, for
    ``self.x_dialog = _dispose_progress(self.x_dialog)``."""
    if dialog is not None:
        dialog.canceled.disconnect()
        dialog.reset()
        dialog.close()
        dialog.deleteLater()
    return None


def _still_missing_lines(still, ambiguous: dict, stopped: bool, cap: int, shown: int = 8) -> list[str]:
    """The lines of "still missing": the files (the first ``shown``), the candidates of those nothing recorded
    can tell apart, and a search that stopped at its cap."""
    lines = [f"  {m.describe()}" for m in still[:shown]]
    if len(still) > shown:
        lines.append(f"  … and {len(still) - shown} more")
    for m in still:
        if m.record.id in ambiguous:
            options = ", ".join(str(p) for p in ambiguous[m.record.id][:3])
            lines.append(f"  {m.record.path} could be any of: {options} (nothing recorded tells them apart)")
    if stopped:
        lines.append(f"The search stopped after {cap:,} entries: choose a smaller folder.")
    return lines
