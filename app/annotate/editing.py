"""The editor: turns what the user asked for (a key, a menu entry, a finished drag) into undo commands.

Asking and doing are apart (as SLEAP's ``commands.py`` does it): dialogs and mouse handling live in the
window and the canvas, which call these methods with plain values; each method checks what it needs (a
project, a frame, a selected joint), builds one :class:`~distilpose.app.annotate.commands.StoreCommand` and pushes it
through :meth:`AppState.push`. Problems are reported through ``state.editFailed``; methods return whether the
edit happened.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal

from distilpose.app.annotate import commands
from distilpose.app.annotate.canvas_items import is_prediction
from distilpose.app.annotate.snap import nearest_peak
from distilpose.app.annotate.template import template_instance
from distilpose.app.project.frame_rows import previous_frame_id
from distilpose.app.state import AppState
from distilpose.atomic import atomic_write_bytes
from distilpose.errors import DistilPoseError
from distilpose.keypoints import NAMES
from distilpose.prelabel import prediction_to_store, predictions_of  # noqa: F401  (moved to the library)
from distilpose.project import ProjectStore, splits
from distilpose.project.adding import image_additions, video_addition
from distilpose.types import Instance
from distilpose.video import ImageFolder, VideoReader, is_image_path, is_video_path


class Editor(QObject):
    """Edits of the open project; see the module docs."""

    #: A short message for the status bar (what happened, or what to do next).
    message = Signal(str)

    def __init__(self, state: AppState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state

    # ----------------------------------------------------------------- helpers
    def _fail(self, title: str, text: str) -> bool:
        self.state.editFailed.emit(title, text)
        return False

    def _store(self, what: str) -> ProjectStore | None:
        if self.state.project is None:
            self._fail(f"Cannot {what}", "No project is open: create one (File > New Project…) or open one.")
            return None
        return self.state.project

    def _frame_target(self, what: str) -> commands.FrameTarget | None:
        """The shown frame as a frame id, or a :class:`NewFrame` of a video frame not added yet."""
        if self._store(what) is None:
            return None
        state = self.state
        if state.frame_id is not None:
            return state.frame_id
        media_id = state.current_media_id()
        if media_id is not None and state.media_kind == "video":
            return commands.NewFrame(index=state.frame_index, media_id=media_id)
        self._fail(
            f"Cannot {what}",
            "The shown image is not in the project: add it first (File > Add Images…, Add Video Frames…).",
        )
        return None

    def _joint(self, what: str) -> tuple[int, int] | None:
        if self._store(what) is None:
            return None
        if self.state.joint is None or self.state.frame_id is None:
            self._fail(f"Cannot {what}", "Select a keypoint first (click it on the image).")
            return None
        return self.state.joint if self._unlocked(what, self.state.joint[0]) else None

    def _unlocked(self, what: str, instance_id: int) -> bool:
        """A locked or hidden person is left alone (the Instances dock's lock and eye toggles)."""
        if self.state.is_editable(instance_id):
            return True
        why = "locked" if instance_id in self.state.locked_ids else "hidden"
        return self._fail(f"Cannot {what}", f"The person is {why}: unlock or show it in the Instances dock.")

    def _person(self, what: str, instance_id: int | None) -> int | None:
        if self._store(what) is None:
            return None
        iid = instance_id if instance_id is not None else self.state.selected_instance_id()
        if iid is None or self.state.frame_id is None:
            self._fail(f"Cannot {what}", "Select a person first (click one of its keypoints).")
            return None
        return iid if self._unlocked(what, iid) else None

    # ----------------------------------------------------------------- keypoints
    def move_joint(self, instance_id: int, k: int, x: float, y: float) -> bool:
        """The end of a drag: ONE edit for the whole drag."""
        if self._store("move the keypoint") is None or self.state.frame_id is None:
            return False
        if not self._unlocked("move the keypoint", instance_id):
            return False
        return self.state.push(commands.move_keypoint(self.state.frame_id, instance_id, k, x, y))

    def place_joint(self, instance_id: int, k: int, x: float, y: float) -> bool:
        """Put a missing (v=0) keypoint where the user clicked; it becomes visible."""
        if self._store("place the keypoint") is None or self.state.frame_id is None:
            return False
        if not self._unlocked("place the keypoint", instance_id):
            return False
        return self.state.push(commands.place_keypoint(self.state.frame_id, instance_id, k, x, y))

    def set_visibility(self, v: int) -> bool:
        """0 not labelled (deletes the keypoint; its position is kept for undo), 1 occluded, 2 visible."""
        joint = self._joint("set the visibility")
        if joint is None:
            return False
        return self.set_keypoint_visibility(*joint, v)

    def set_keypoint_visibility(self, instance_id: int, k: int, v: int) -> bool:
        """Visibility of keypoint ``k`` of a person of the shown frame (the Instances dock edits it here)."""
        if self._store("set the visibility") is None or self.state.frame_id is None:
            return False
        if not self._unlocked("set the visibility", instance_id):
            return False
        iid = instance_id
        inst = self.state.instance_by_id(iid)
        if inst is not None and int(inst.keypoints[k, 2]) == int(v):
            self.message.emit(f"{NAMES[k]} already has v={v}")
            return False
        return self.state.push(commands.set_visibility(self.state.frame_id, iid, k, v))

    def missing_joints(self, instance_id: int | None = None) -> list[int]:
        """Keypoints of the (selected) person that are not labelled (v=0): what can be placed."""
        iid = instance_id if instance_id is not None else self.state.selected_instance_id()
        inst = self.state.instance_by_id(iid) if iid is not None else None
        return [] if inst is None else [k for k in range(len(NAMES)) if inst.keypoints[k, 2] == 0]

    def snap_joint(self, cursor_xy: tuple[float, float] | None = None) -> bool:
        """Move the selected joint to the peak of its teacher heatmap nearest ``cursor_xy`` (default: the joint
        itself), as one undoable edit."""
        joint = self._joint("snap to the heatmap peak")
        if joint is None:
            return False
        iid, k = joint
        hm = self.state.edit_heatmap
        if hm is None or hm.instance_id != iid or hm.frame_id != self.state.frame_id:
            return self._fail(
                "Cannot snap to the heatmap peak",
                "No teacher heatmap for this person yet: turn on Edit > Heatmap Assist with a teacher model "
                "(Model panel: 'Compare with'), then select the keypoint again.",
            )
        if cursor_xy is None:
            inst = self.state.instance_by_id(iid)
            cursor_xy = tuple(inst.keypoints[k, :2]) if inst is not None else (0.0, 0.0)
        peak = nearest_peak(hm.heatmaps[k], hm.crop, cursor_xy)
        if peak is None:
            return self._fail("Cannot snap to the heatmap peak", f"The heatmap of {NAMES[k]} has no peak.")
        command = commands.move_keypoint(self.state.frame_id, iid, k, *peak)
        command.setText(f"Snap {NAMES[k]} to heatmap peak")
        return self.state.push(command)

    # ----------------------------------------------------------------- persons
    def add_template(self, box_xywh: tuple[float, float, float, float]) -> bool:
        """A new person: the skeleton template scaled into the box."""
        target = self._frame_target("add a person")
        if target is None:
            return False
        try:
            inst = template_instance(box_xywh)
        except ValueError as exc:
            return self._fail("Cannot add a person", str(exc))
        return self.state.push(commands.add_instances(target, [inst], "Add person (template)"))

    def add_live_predictions(self, accept: bool) -> bool:
        """The live model's people on the shown frame into the project: as predictions to check, or
        accepted (verified, source 'user', remembering the model in ``accepted_from``)."""
        result = self.state.prediction
        if result is None or not result.instances:
            return self._fail("Nothing to add", "No live predictions on this frame: turn on live inference.")
        target = self._frame_target("add the predictions")
        if target is None:
            return False
        instances = predictions_of(result, result.instances[0].source, threshold=self.state.threshold)
        if accept:
            for inst in instances:
                inst.extras["accepted_from"] = inst.source
                inst.source = "user"
        text = f"{'Accept' if accept else 'Add'} {len(instances)} live prediction(s)"
        return self.state.push(commands.add_instances(target, instances, text, verified=accept))

    def delete_person(self, instance_id: int | None = None) -> bool:
        iid = self._person("delete the person", instance_id)
        if iid is None:
            return False
        return self.state.push(commands.delete_instance(self.state.frame_id, iid))

    def move_person(
        self, instance_id: int, dx: float, dy: float, scale: float = 1.0, center: tuple | None = None
    ) -> bool:
        if self._store("move the person") is None or self.state.frame_id is None:
            return False
        if not self._unlocked("move the person", instance_id):
            return False
        return self.state.push(
            commands.move_instance(self.state.frame_id, instance_id, dx, dy, scale, center)
        )

    def copy_previous(self) -> bool:
        """Copy every person of the previous project frame onto this one (as unverified user labels)."""
        target = self._frame_target("copy from the previous frame")
        if target is None:
            return False
        store = self.state.project
        media_id = self.state.current_media_id()
        index = 0 if self.state.media_kind == "image" else self.state.frame_index
        previous = previous_frame_id(store, media_id, index) if media_id is not None else None
        people = store.instances(previous) if previous is not None else []
        if not people:
            return self._fail("Nothing to copy", "The previous frame of the project has no persons.")
        copies = [
            Instance(keypoints=p.keypoints.copy(), bbox=p.bbox, source="user", track_id=p.track_id)
            for p in people
        ]
        text = f"Copy {len(copies)} person(s) from the previous frame"
        return self.state.push(commands.add_instances(target, copies, text))

    def _predictions(self, what: str, instance_id: int | None) -> list[int] | None:
        """The selected prediction, or every prediction of the frame when none is selected."""
        if self._store(what) is None or self.state.frame_id is None:
            self._fail(f"Cannot {what}", "Show a frame of the project first.")
            return None
        iid = instance_id if instance_id is not None else self.state.selected_instance_id()
        if iid is not None:
            inst = self.state.instance_by_id(iid)
            if inst is None or not is_prediction(inst):
                self._fail(f"Cannot {what}", "The selected person is not a model prediction.")
                return None
            return [iid]
        ids = [i.extras["id"] for i in self.state.instances if is_prediction(i)]
        if not ids:
            self._fail(f"Cannot {what}", "This frame has no predictions to check.")
            return None
        return ids

    def accept(self, instance_id: int | None = None) -> bool:
        ids = self._predictions("accept", instance_id)
        return ids is not None and self.state.push(commands.accept_predictions(self.state.frame_id, ids))

    def reject(self, instance_id: int | None = None) -> bool:
        ids = self._predictions("reject", instance_id)
        return ids is not None and self.state.push(commands.reject_predictions(self.state.frame_id, ids))

    def verify(self, instance_id: int | None = None) -> bool:
        """Mark the selected person (or every person of the frame) verified. Never un-verifies: after ``A``
        (accept, which verifies) a ``V`` only says so, as a check mark does in CVAT; ``unverify`` is its own
        action (``Shift+V``)."""
        return self._set_verified(instance_id, True)

    def unverify(self, instance_id: int | None = None) -> bool:
        """Take the verified mark off the selected person (or every person of the frame)."""
        return self._set_verified(instance_id, False)

    def _set_verified(self, instance_id: int | None, verified: bool) -> bool:
        what = "verify" if verified else "unverify"
        if self._store(what) is None or self.state.frame_id is None:
            return False
        iid = instance_id if instance_id is not None else self.state.selected_instance_id()
        people = [self.state.instance_by_id(iid)] if iid is not None else list(self.state.instances)
        people = [p for p in people if p is not None and self.state.is_editable(p.extras["id"])]
        if not people:
            return self._fail(f"Cannot {what}", "This frame has no persons to " + what + ".")
        todo = [p.extras["id"] for p in people if bool(p.extras.get("verified")) != verified]
        if not todo:
            who = "The person is" if len(people) == 1 else "Every person of the frame is"
            self.message.emit(f"{who} already {'verified' if verified else 'unverified'}")
            return False
        return self.state.push(commands.set_verified(self.state.frame_id, todo, verified))

    # ----------------------------------------------------------------- media
    def add_images(self, paths: Sequence[str | os.PathLike]) -> bool:
        """Add image files (one frame each); images already in the project are skipped. Shows the first."""
        store = self._store("add images")
        if store is None:
            return False
        files = [Path(p) for p in paths]
        bad = [str(p) for p in files if not (p.is_file() and is_image_path(p))]
        if bad:
            return self._fail("Cannot add images", "Not image files:\n" + "\n".join(bad[:20]))
        new, _ = image_additions(store, files)  # the same plan as `distilpose project add`
        if new:
            command = commands.add_media_frames(
                [(str(a.path), "image", a.indices) for a in new], f"Add {len(new)} image(s)"
            )
            if not self.state.push(command):
                return False
        self.message.emit(f"Added {len(new)} image(s); {len(files) - len(new)} already in the project")
        return self.show_media(files[0]) if files else True

    def add_folder(self, folder: str | os.PathLike) -> bool:
        """Every image directly inside ``folder`` (natural name order), each as an image of the project."""
        try:
            images = ImageFolder(folder).files
        except DistilPoseError as exc:
            return self._fail("Cannot add the folder", str(exc))
        return self.add_images(images)

    def add_video_frames(self, path: str | os.PathLike, step: int) -> bool:
        """Add every ``step``-th frame of a video (frame 0, step, 2*step, ...) to the project."""
        store = self._store("add video frames")
        if store is None:
            return False
        if step < 1:
            return self._fail("Cannot add video frames", f"the frame step must be at least 1, got {step}")
        p = Path(path)
        if not is_video_path(p):
            return self._fail("Cannot add video frames", f"{p}: not a video file")
        try:
            addition, _ = video_addition(store, p, step)  # the same plan as `distilpose project add`
        except DistilPoseError as exc:
            return self._fail("Cannot add video frames", str(exc))
        if addition is None:
            self.message.emit(f"Every {step}th frame of {p.name} is already in the project")
            return self.show_media(p)
        indices = addition.indices
        if addition.media_id is None:
            command = commands.add_media_frames(
                [(str(p), "video", indices)], f"Add {len(indices)} video frame(s)"
            )
        else:
            command = commands.add_frames(addition.media_id, indices, f"Add {len(indices)} video frame(s)")
        if not self.state.push(command):
            return False
        self.message.emit(f"Added {len(indices)} frame(s) of {p.name} (every {step}th)")
        if addition.problem:
            self.state.editFailed.emit(
                "The video is damaged", f"{addition.problem}; only the frames that decode were added"
            )
        return self.show_media(p, indices[0])

    def add_video_frame(self, path: str | os.PathLike, index: int) -> bool:
        """Add one frame of a video (and the video when new), then show it."""
        store = self._store("add the video frame")
        if store is None:
            return False
        p = Path(path)
        try:
            with VideoReader(p) as reader:
                count = len(reader)
        except DistilPoseError as exc:
            return self._fail("Cannot add the video frame", str(exc))
        if not 0 <= index < count:
            return self._fail(
                "Cannot add the video frame", f"{p}: frame {index} out of range (0..{count - 1})"
            )
        media = store.find_media(p)
        if media is None:
            target: commands.FrameTarget = commands.NewFrame(index=index, path=str(p), kind="video")
        elif store.frame_at(media.id, index) is None:
            target = commands.NewFrame(index=index, media_id=media.id)
        else:
            return self.show_media(p, index)
        if not self.state.push(commands.add_instances(target, [], f"Add frame {index} of {p.name}")):
            return False
        return self.show_media(p, index)

    def show_media(self, path: Path, index: int = 0) -> bool:
        store = self.state.project
        media = store.find_media(path) if store is not None else None
        frame = store.frame_at(media.id, index) if media is not None else None
        if frame is None:
            return True
        try:
            self.state.go_to_frame(frame.id)
        except DistilPoseError as exc:
            return self._fail("Cannot show the frame", str(exc))
        return True

    def freeze_and_add(self, model: str | None = None, teacher: str | None = None) -> int | None:
        """Add the shown live frame with its predictions to the project; returns the new frame's id.

        A video frame is added to the video's media (the video is added when new); a camera frame is saved
        as a PNG in ``<project>-captures/`` next to the project file first."""
        store = self._store("add the frame")
        state = self.state
        if store is None:
            return None
        if state.image is None or state.media_kind is None:
            self._fail("Cannot add the frame", "Nothing is shown: open a video or a camera.")
            return None
        result = state.prediction
        people = predictions_of(result, model or "live", teacher, self.state.threshold) if result else []
        kind = state.media_kind
        target: commands.FrameTarget
        if kind == "camera":
            path = self._save_capture(store, state.image)
            if path is None:
                return None
            target, index = commands.NewFrame(path=str(path), kind="image"), 0
        else:
            path = state.image_path
            index = state.frame_index if kind == "video" else 0
            media = store.find_media(path)
            frame = store.frame_at(media.id, index) if media is not None else None
            if frame is not None:
                target = frame.id
            elif media is not None:
                target = commands.NewFrame(index=index, media_id=media.id)
            else:
                target = commands.NewFrame(
                    index=index, path=str(path), kind="video" if kind == "video" else "image"
                )
        if isinstance(target, int) and not people:
            self.message.emit("This frame is already in the project (no predictions to add)")
            return target
        command = commands.add_instances(target, people, f"Add frame with {len(people)} prediction(s)")
        if not state.push(command):
            return None
        media = store.find_media(path)
        frame = store.frame_at(media.id, index) if media is not None else None
        return frame.id if frame is not None else None

    def _save_capture(self, store: ProjectStore, image: np.ndarray) -> Path | None:
        folder = store.folder / f"{store.path.stem}-captures"
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
        path = folder / f"capture-{stamp}.png"
        ok, data = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
        try:
            if not ok:
                raise OSError("PNG encoding failed")
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data.tobytes())
        except OSError as exc:
            self._fail("Cannot save the camera frame", f"{path}: {exc.strerror or exc}")
            return None
        return path

    # ----------------------------------------------------------------- dataset
    def split(self, val: float, test: float, seed: int, by: str) -> bool:
        store = self._store("split the project")
        if store is None:
            return False
        try:
            chosen = splits.compute_splits(store, val=val, test=test, seed=seed, by=by)
        except DistilPoseError as exc:
            return self._fail("Cannot split the project", str(exc))
        if not chosen:
            return self._fail("Cannot split the project", "The project has no frames yet.")
        return self.state.push(commands.set_splits(chosen))

    def suggest(self, method: str, count: int) -> bool:
        from distilpose.app.project.review import suggest_frames

        store = self._store("suggest frames")
        if store is None:
            return False
        chosen = suggest_frames(store, method, count)
        if not chosen:
            return self._fail(
                "No frames to suggest",
                f"No frame qualifies for '{method}' (pre-label frames first for confidence and disagreement; "
                "frames already suggested are skipped).",
            )
        return self.state.push(commands.suggest_frames(chosen, f"Suggest {len(chosen)} frame(s) ({method})"))

    def clear_suggestions(self) -> bool:
        store = self._store("clear suggestions")
        if store is None:
            return False
        ids = [f.id for f in store.frames() if f.suggested]
        if not ids:
            self.message.emit("No suggested frames")
            return False
        return self.state.push(commands.clear_suggestions(ids))
