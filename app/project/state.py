"""The project side of :class:`~distilpose.app.state.AppState`: the open store, navigation over its frames,
the selection being edited, and applying undo commands (store first, stack second, then the signals).

A mixin so that ``state.py`` stays about what is shown; the signals it emits are declared on AppState.
"""

from __future__ import annotations

import os
from pathlib import Path

from distilpose.app.annotate.commands import Focus, StoreCommand
from distilpose.app.project.frame_rows import frame_rows
from distilpose.errors import DistilPoseError, MediaError
from distilpose.project import EditConflictError, ProjectStore
from distilpose.types import Instance
from distilpose.video import VideoReader


class ProjectMixin:
    """Methods of AppState for projects and editing (attributes and signals are AppState's)."""

    # --------------------------------------------------------------- project
    def create_project(self, path: str | os.PathLike) -> None:
        """Start a new, empty project file (ProjectError when it exists or cannot be written)."""
        store = ProjectStore.create(path, timeout=self.lock_timeout)
        self._set_project(store)

    def open_project(self, path: str | os.PathLike) -> None:
        """Open a project file; the shown frame's instances now come from it. Nothing changes on failure. A
        file SQLite's quick check finds damaged is refused (a cheap check, time-boxed); one that cannot be
        written (a full disk) opens read-only, ``project.read_only`` saying why."""
        with self.pending.busy("opening project"):
            store = ProjectStore.open(path, timeout=self.lock_timeout, check=True, or_read_only=True)
            self._set_project(store)

    def close_project(self) -> None:
        """Close the project (everything is already saved) and forget its undo history."""
        if self.project is None:
            return
        self.project.close()
        self._set_project(None)

    def _set_project(self, store: ProjectStore | None) -> None:
        if self.project is not None and store is not None:
            self.project.close()
        self.undo_stack.clear()  # commands refer to the store they were made on
        self.project = store
        self.frames = frame_rows(store) if store is not None else []
        self.frame_id = None
        self.joint = None
        self.hidden_ids, self.locked_ids = set(), set()
        self.set_edit_heatmap(None)
        self._match_instances()
        self.projectChanged.emit()
        self.framesChanged.emit()
        self.storeChanged.emit()
        self.instancesChanged.emit()
        self._clear_selection()
        self.jointChanged.emit()

    @property
    def project_path(self) -> Path | None:
        return self.project.path if self.project is not None else None

    def _project_frame_id(self) -> int | None:
        """The project frame of what is shown: the media found by path, the frame by index (0 for an image)."""
        store = self.project
        if store is None or self.image_path is None or self.source is None or self.source.kind == "camera":
            return None
        media = store.find_media(self.image_path)
        if media is None:
            return None
        frame = store.frame_at(media.id, 0 if media.kind == "image" else self.frame_index)
        return frame.id if frame is not None else None

    def current_media_id(self) -> int | None:
        """The project media shown now (None when the shown file is not in the project)."""
        if self.project is None or self.image_path is None:
            return None
        media = self.project.find_media(self.image_path)
        return media.id if media is not None else None

    def frame_position(self) -> int | None:
        """Row of the shown frame in :attr:`frames`."""
        for i, row in enumerate(self.frames):
            if row.frame_id == self.frame_id:
                return i
        return None

    def go_to_frame(self, frame_id: int) -> None:
        """Show project frame ``frame_id``: open its media (unless already open) at its index.

        MediaError (state unchanged) when the media file is missing or unreadable."""
        store = self._require_project()
        frame = store.frame(frame_id)
        media = store.media(frame.media_id)
        path = store.media_path(media.id)
        same = self.image_path is not None and self.source is not None and self.source.kind == media.kind
        if (
            media.kind == "video"
            and same
            and isinstance(self.source, VideoReader)
            and self.source.path == path
        ):
            self.set_frame(frame.index)
        elif media.kind == "image" and same and self.image_path == path:
            self.reload_instances()  # the same picture: the people may have changed (a worker, an import)
        elif media.kind == "video":
            self.open_video(path, frame.index)
        elif media.kind == "folder":
            self.open_folder(path, frame.index)
        else:
            if not path.is_file():
                raise MediaError(f"{path}: image not found (frame {frame.id} of {store.path.name})")
            self.open_image(path)

    def go_to_position(self, position: int) -> None:
        """Show the frame at ``position`` (clamped) of the frame list."""
        if not self.frames:
            return
        row = self.frames[min(max(int(position), 0), len(self.frames) - 1)]
        self.go_to_frame(row.frame_id)

    def step_frame(self, delta: int) -> None:
        """The next (``+1``) or previous (``-1``) frame of the frame list."""
        pos = self.frame_position()
        if pos is None:
            self.go_to_position(0 if delta > 0 else len(self.frames) - 1)
        else:
            self.go_to_position(pos + delta)

    def _require_project(self) -> ProjectStore:
        if self.project is None:
            raise DistilPoseError("no project is open: create one (File > New Project) or open one")
        return self.project

    def instance_by_id(self, instance_id: int) -> Instance | None:
        for inst in self.instances:
            if inst.extras.get("id") == instance_id:
                return inst
        return None

    def index_of_instance(self, instance_id: int) -> int | None:
        for i, inst in enumerate(self.instances):
            if inst.extras.get("id") == instance_id:
                return i
        return None

    # --------------------------------------------------------------- editing
    def select_joint(self, instance_id: int | None, k: int | None = None) -> None:
        """Select a person of the shown project frame (and one of its joints) for editing."""
        joint = None if instance_id is None or k is None else (int(instance_id), int(k))
        index = None if instance_id is None else self.index_of_instance(int(instance_id))
        self.set_selection(() if index is None else (index,))
        if joint is not None and index is None:
            joint = None
        if joint != self.joint:
            self.joint = joint
            self.jointChanged.emit()

    def set_hidden(self, instance_id: int, hidden: bool) -> None:
        """Hide (or show again) a person of the project in the view; a hidden person is not selectable."""
        changed = self._set_flag(self.hidden_ids, int(instance_id), hidden)
        if changed and hidden and self.selected_instance_id() == int(instance_id):
            self.select_joint(None)

    def set_locked(self, instance_id: int, locked: bool) -> None:
        """Lock (or unlock) a person: the mouse and the edit keys leave a locked person alone."""
        self._set_flag(self.locked_ids, int(instance_id), locked)

    def _set_flag(self, ids: set[int], instance_id: int, on: bool) -> bool:
        if (instance_id in ids) == bool(on):
            return False
        if on:
            ids.add(instance_id)
        else:
            ids.discard(instance_id)
        self.personFlagsChanged.emit()
        return True

    def is_editable(self, instance_id: int | None) -> bool:
        """Neither hidden nor locked."""
        return instance_id is not None and instance_id not in self.hidden_ids | self.locked_ids

    def select_person_step(self, delta: int) -> int | None:
        """Select the next (``+1``) or previous (``-1``) visible person of the frame, wrapping (Tab and
        Shift+Tab); returns its instance id, None when the frame has nobody to select."""
        ids = [i.extras.get("id") for i in self.instances]
        ids = [i for i in ids if i is not None and i not in self.hidden_ids]
        if not ids:
            return None
        current = self.selected_instance_id()
        pos = ids.index(current) + delta if current in ids else (0 if delta > 0 else len(ids) - 1)
        chosen = ids[pos % len(ids)]
        self.select_joint(chosen, None)
        return chosen

    def selected_instance_id(self) -> int | None:
        if self.selection and self.selection[0] < len(self.instances):
            return self.instances[self.selection[0]].extras.get("id")
        return None

    def _drop_stale_joint(self) -> None:
        if self.joint is not None and self.instance_by_id(self.joint[0]) is None:
            self.joint = None
            self.jointChanged.emit()

    def set_edit_heatmap(self, heatmap) -> None:
        if heatmap is not self.edit_heatmap:
            self.edit_heatmap = heatmap
            self.editHeatmapChanged.emit()

    def push(self, command: StoreCommand) -> bool:
        """Apply ``command`` to the store and, only if that worked, put it on the undo stack. A failure
        (locked or read-only project, an edit the store refuses) is reported by ``editFailed``."""
        store = self._require_project()
        command.state = self
        if not command.done:
            try:
                command.forward(store)
            except DistilPoseError as exc:
                self.editFailed.emit(f"Cannot {command.text().lower()}", str(exc))
                return False
        command.prepare()
        self.undo_stack.push(command)  # calls redo(), which only records
        self._after_edit(command.focus, command)
        return True

    def undo(self) -> bool:
        """Undo the last command (the store first; the stack moves only when that worked)."""
        return self._step_history(forward=False)

    def redo(self) -> bool:
        return self._step_history(forward=True)

    def _step_history(self, forward: bool) -> bool:
        """Undo or redo one step. A step refused because another window changed what it would set back
        (EditConflictError) can never apply truthfully: it leaves the history, as it is in the store (done for
        an undo, undone for a redo), so the steps before (after) it stay reachable. Any other failure (a lock)
        keeps it, to try again."""
        stack = self.undo_stack
        index = stack.index() if forward else stack.index() - 1
        command = stack.command(index) if 0 <= index < stack.count() else None
        if not isinstance(command, StoreCommand):
            return False
        if not self.run_command(command, forward):
            if command.conflict:
                command.setObsolete(True)  # Qt removes an obsolete command as it steps over it
                command.prepare()
                stack.redo() if forward else stack.undo()
                self.reload_instances()  # show what the other window wrote
                self.refresh_frames()
            return False
        command.prepare()
        if forward:
            stack.redo()
        else:
            stack.undo()
        return True

    def run_command(self, command: StoreCommand, forward: bool) -> bool:
        """Apply a command's edits one way (no stack change); report and return False on failure."""
        verb = "redo" if forward else "undo"
        try:
            store = self._require_project()
            command.forward(store) if forward else command.backward(store)
        except EditConflictError as exc:
            command.conflict = True
            self.editFailed.emit(
                f"Cannot {verb} {command.text().lower()}",
                f"{exc}\n\nThe step is left as it is and removed from the undo history.",
            )
            return False
        except DistilPoseError as exc:
            self.editFailed.emit(f"Cannot {verb} {command.text().lower()}", str(exc))
            return False
        self._after_edit(command.focus, command)
        return True

    def _after_edit(self, focus: Focus, command: StoreCommand | None = None) -> None:
        """After the store changed: show the edited frame, reload its instances, refresh the frame list."""
        if self.project is None:
            return
        self.frames = frame_rows(self.project)
        if focus.frame_id is not None and focus.frame_id != self.frame_id:
            try:
                self.go_to_frame(focus.frame_id)
            except DistilPoseError as exc:
                self.editFailed.emit("Cannot show the edited frame", str(exc))
        self.reload_instances()
        created = command.created_instance_ids() if command is not None else []
        target = focus.instance_id if focus.instance_id is not None else (created[0] if created else None)
        if target is not None and self.instance_by_id(target) is not None:
            self.select_joint(target, focus.k)
        self.framesChanged.emit()
        self.storeChanged.emit()

    def reload_instances(self) -> None:
        """Read the shown frame's instances from the store again (after an edit or a worker's write)."""
        if self.project is None:
            return
        selected = self.selected_instance_id()
        self._match_instances()
        index = self.index_of_instance(selected) if selected is not None else None
        self.selection = () if index is None else (index,)
        self.instancesChanged.emit()
        self.selectionChanged.emit()

    def refresh_frames(self) -> None:
        """Re-read the frame list (after a worker or an import wrote to the store)."""
        if self.project is not None:
            self.frames = frame_rows(self.project)
            self.framesChanged.emit()
            self.storeChanged.emit()
