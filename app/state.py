"""The app's observable state. Views subscribe to its signals and redraw; nobody pokes a view directly.

With a project open (:mod:`distilpose.project`), the instances shown are the store's for the current frame,
and every edit goes through :meth:`AppState.push` as an undo command (:mod:`distilpose.app.annotate.commands`): the
store is written first (autosave, one transaction), the command is recorded only when that worked, and then
the signals tell the views what to redraw.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from distilpose.app.pending import PendingWork
from distilpose.app.project.frame_rows import FrameRow
from distilpose.app.project.state import ProjectMixin
from distilpose.coco import CocoDataset, CocoImage, load_coco
from distilpose.errors import MediaError
from distilpose.pipeline import FrameResult
from distilpose.project import ProjectStore
from distilpose.types import Instance
from distilpose.video import Camera, FrameSource, ImageFile, ImageFolder, VideoReader, is_video_path

#: Keypoints scoring below this are hidden by default (the user changes it in the model panel).
DEFAULT_THRESHOLD = 0.2


class AppState(ProjectMixin, QObject):
    """Current media (image, folder, video or camera) and frame, the COCO dataset, the instances shown for the
    frame, the live predictions, and the selection.

    Loading methods read everything first and only then change the state, so a bad file leaves the previous
    state untouched; they raise :class:`DistilPoseError` subclasses for the window (or ``--screenshot``) to report.
    """

    #: A new picture to fit into the view: new media, or a frame of another size.
    imageChanged = Signal()
    #: The shown frame changed (any reason, new media included): redraw the picture, run the model.
    frameChanged = Signal()
    #: Another source was opened or closed (frame count, kind, transport controls).
    mediaChanged = Signal()
    #: The dataset (annotations file) was replaced; ``instancesChanged`` follows.
    annotationsChanged = Signal()
    instancesChanged = Signal()
    selectionChanged = Signal()
    #: New live predictions (or none) for the shown media.
    predictionsChanged = Signal()
    #: The selected predicted person/keypoint (heatmap dock) changed.
    keypointSelectionChanged = Signal()
    #: Display options changed: threshold, uncertainty ellipses, teacher overlay.
    displayChanged = Signal()
    #: Person boxes drawn by the user changed.
    userBoxesChanged = Signal()
    #: A project was opened, created or closed.
    projectChanged = Signal()
    #: The project's frame list or a frame's status (instances, verified, split, suggested) changed.
    framesChanged = Signal()
    #: Anything in the project store changed (review queue and statistics refresh).
    storeChanged = Signal()
    #: The joint being edited (``joint``: instance id and keypoint) changed.
    jointChanged = Signal()
    #: The teacher heatmap of the edited joint (``edit_heatmap``) changed.
    editHeatmapChanged = Signal()
    #: The edited joint is being dragged: its position now (image pixels), not yet committed.
    jointDragged = Signal(float, float)
    #: An edit could not be written (title, message); the undo stack did not change.
    editFailed = Signal(str, str)
    #: People hidden or locked in the view changed (``hidden_ids``, ``locked_ids``).
    personFlagsChanged = Signal()
    #: Whether live predictions are drawn over a project frame changed (``show_live_layer``).
    liveLayerChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.image_path: Path | None = None  # the image file, the folder's current file, or the video file
        self.image: np.ndarray | None = None  # RGB uint8 (H, W, 3), read-only
        self.source: FrameSource | None = None
        self.frame_index = 0
        self.decode_ms = 0.0  # time to read the shown frame
        #: Milliseconds the views spent on what is shown, by stage ("image", "overlay", "paint"), added up until
        #: the live statistics take them (:class:`~distilpose.app.live.controller.LiveController`).
        self.view_ms: dict[str, float] = {}
        self.annotations_path: Path | None = None
        self.dataset: CocoDataset | None = None
        self.coco_image: CocoImage | None = None  # the dataset's entry for the current image, if any
        self.instances: list[Instance] = []
        self.selection: tuple[int, ...] = ()  # indices into ``instances``
        self.prediction: FrameResult | None = None
        self.selected_keypoint: tuple[int, int] | None = None  # (index into prediction.instances, keypoint)
        self.threshold = DEFAULT_THRESHOLD
        self.show_sigmas = True
        self.show_teacher = True
        #: Live predictions over a project frame: a dimmed layer behind the stored (editable) people, off by
        #: default while a project is open (view state, like ``hidden_ids``).
        self.show_live_layer = False
        self.user_boxes: list[tuple[float, float, float, float]] = []
        self._frame_clock = 0.0
        self.undo_stack = QUndoStack(self)
        self.pending = PendingWork(self)
        self.project: ProjectStore | None = None
        self.frame_id: int | None = None  # the project frame shown; None when the frame is not in it
        self.frames: list[FrameRow] = []
        self.joint: tuple[int, int] | None = None  # (instance id, keypoint) being edited
        self.edit_heatmap = None  # EditHeatmap of the edited joint, from the heatmap assist
        #: Project people (instance ids) not drawn, and not editable with the mouse or keys: a view choice,
        #: not stored in the project (like CVAT's and X-AnyLabeling's eye and lock toggles).
        self.hidden_ids: set[int] = set()
        self.locked_ids: set[int] = set()
        #: Seconds an edit waits for another program's write lock before failing (tests shorten it).
        self.lock_timeout = 5.0

    # ----------------------------------------------------------------- queries
    @property
    def media_kind(self) -> str | None:
        """'image', 'folder', 'video', 'camera' or None."""
        return self.source.kind if self.source is not None else None

    @property
    def frame_count(self) -> int:
        """Frames in the source (0 for a camera or nothing)."""
        return len(self.source) if self.source is not None else 0

    def frame_time(self, index: int | None = None) -> float:
        """Seconds of frame ``index`` (default: the shown one), for smoothing: video pts, else 30 fps."""
        index = self.frame_index if index is None else index
        if isinstance(self.source, VideoReader):
            return self.source.time_of(index)
        if self.source is not None and self.source.kind == "camera":
            return self._frame_clock  # when the frame arrived: cameras drop and delay frames
        return index / 30.0

    # ----------------------------------------------------------------- loading
    def open_path(self, path: str | os.PathLike) -> None:
        """Open annotations (``.json``), a folder of images, a video, or an image, by what ``path`` is."""
        p = Path(path)
        if p.suffix.lower() == ".json":
            self.open_annotations(p)
        elif p.is_dir():
            self.open_folder(p)
        elif is_video_path(p):
            self.open_video(p)
        else:
            self.open_image(p)

    def open_image(self, path: str | os.PathLike) -> None:
        """Make ``path`` the current image; raises :class:`MediaError` and keeps the old image on failure."""
        with self.pending.busy("loading image"):
            self._set_source(ImageFile(path), 0)

    def open_folder(self, path: str | os.PathLike, index: int = 0) -> None:
        """Step through the images of a folder (natural name order), starting at ``index``."""
        with self.pending.busy("loading folder"):
            self._set_source(ImageFolder(path), index)

    def open_video(self, path: str | os.PathLike, index: int = 0) -> None:
        """Open a video file at frame ``index``; MediaError for unreadable, corrupt or truncated files."""
        with self.pending.busy("loading video"):
            self._set_source(VideoReader(path), index)

    def open_camera(self, camera: Camera) -> None:
        """Show frames pushed from ``camera`` (already opened, so a failing device never gets this far)."""
        self._close_source()
        self.source = camera
        self.image_path = None
        self.image = None
        self.frame_index = -1
        self._set_prediction(None)
        self.mediaChanged.emit()

    def push_frame(self, image: np.ndarray) -> None:
        """The next camera frame."""
        first = self.image is None or self.image.shape != image.shape
        self.image = image
        self.frame_index += 1
        self._frame_clock = time.monotonic()
        if first:
            self.imageChanged.emit()
        self.frameChanged.emit()

    def close_media(self) -> None:
        """Forget the current source (the camera stopped, say); the last frame stays on screen."""
        if self.source is not None and self.source.kind == "camera":
            self.source.close()
            self.source = None
            self.mediaChanged.emit()

    def _set_source(self, source: FrameSource, index: int) -> None:
        try:
            start = time.perf_counter()
            image = source.frame(index)
            decode_ms = (time.perf_counter() - start) * 1000.0
        except MediaError:
            source.close()
            raise
        self._close_source()
        self.source = source
        self.frame_index = index
        self.decode_ms = decode_ms
        self.image = image
        self.image_path = self._path_of(index)
        self._match_instances()
        self._set_prediction(None)
        self.mediaChanged.emit()
        self.imageChanged.emit()
        self.frameChanged.emit()
        self.instancesChanged.emit()
        self._clear_selection()

    def _close_source(self) -> None:
        if self.source is not None:
            self.source.close()
        self.source = None

    def _path_of(self, index: int) -> Path | None:
        source = self.source
        if isinstance(source, ImageFolder | ImageFile):
            return source.frame_path(index)
        if isinstance(source, VideoReader):
            return source.path
        return None

    def set_frame(self, index: int) -> None:
        """Show frame ``index`` of the current folder or video; MediaError (state unchanged) when unreadable."""
        source = self.source
        if source is None or source.kind in ("image", "camera"):
            return
        index = int(index)
        if not 0 <= index < len(source):
            raise MediaError(f"{source.name}: frame {index} out of range (0..{len(source) - 1})")
        if index == self.frame_index and self.image is not None:
            return
        start = time.perf_counter()
        image = source.frame(index)
        self.decode_ms = (time.perf_counter() - start) * 1000.0
        self._show_frame(index, image)

    def show_frame(self, index: int, image: np.ndarray, prediction: FrameResult | None) -> None:
        """Show frame ``index``, already decoded as ``image``, together with its live result in one step:
        while playing with live inference the picture never runs ahead of its skeletons."""
        source = self.source
        if source is None or source.kind in ("image", "camera") or not 0 <= int(index) < len(source):
            return
        self.prediction = prediction
        self._show_frame(int(index), image)
        self.predictionsChanged.emit()

    def _show_frame(self, index: int, image: np.ndarray) -> None:
        source = self.source
        assert source is not None
        resized = self.image is None or image.shape != self.image.shape
        self.frame_index = index
        self.image = image
        if source.kind == "folder" or self.project is not None:
            self.image_path = self._path_of(index)
            had = bool(self.instances) or self.frame_id is not None
            self._match_instances()
            if had or self.instances or self.frame_id is not None:
                self.instancesChanged.emit()
                self._clear_selection()
        if resized:
            self.imageChanged.emit()
        self.frameChanged.emit()

    def open_annotations(self, path: str | os.PathLike) -> None:
        """Make ``path`` the current COCO dataset and show its instances for the current image.

        Raises :class:`CocoFormatError` listing the file's problems and keeps the old dataset on failure.
        """
        with self.pending.busy("loading annotations"):
            dataset = load_coco(path)
            self.annotations_path = Path(path)
            self.dataset = dataset
            self._match_instances()
            self.annotationsChanged.emit()
            self.instancesChanged.emit()
            self._clear_selection()

    def current_name(self) -> str | None:
        """The name the dataset knows the shown frame by: the file name, or ``video.mp4#frame=N``."""
        if isinstance(self.source, VideoReader):
            return self.source.frame_name(self.frame_index)
        return self.image_path.name if self.image_path is not None else None

    def _match_instances(self) -> None:
        """The instances of the shown frame: from the project when one is open, else from the COCO dataset
        (the current image found by file name)."""
        self.coco_image = None
        self.instances = []
        if self.project is not None:
            self.frame_id = self._project_frame_id()
            if self.frame_id is not None:
                self.instances = self.project.instances(self.frame_id)
            self._drop_stale_joint()
            return
        name = self.current_name()
        if self.dataset is None or name is None:
            return
        entry = self.dataset.image_by_file_name(name)
        if entry is None:
            return
        self.coco_image = entry
        self.instances = [ann.to_instance() for ann in self.dataset.annotations_for_image(entry.id)]

    # --------------------------------------------------------------- predictions
    def set_prediction(self, result: FrameResult | None) -> None:
        """Show the live pipeline's result (None clears); keeps the keypoint selection when still valid."""
        self._set_prediction(result)

    def _set_prediction(self, result: FrameResult | None) -> None:
        if result is None and self.prediction is None:
            return
        self.prediction = result
        self.predictionsChanged.emit()

    def select_keypoint(self, instance: int | None, keypoint: int | None = None) -> None:
        """Select a predicted person and keypoint (None clears) for the heatmap dock."""
        chosen = None if instance is None else (int(instance), int(keypoint or 0))
        if chosen != self.selected_keypoint:
            self.selected_keypoint = chosen
            self.keypointSelectionChanged.emit()

    # --------------------------------------------------------------- display
    def set_threshold(self, value: float) -> None:
        value = float(min(max(value, 0.0), 1.0))
        if value != self.threshold:
            self.threshold = value
            self.displayChanged.emit()

    def set_show_sigmas(self, on: bool) -> None:
        if bool(on) != self.show_sigmas:
            self.show_sigmas = bool(on)
            self.displayChanged.emit()

    def set_show_teacher(self, on: bool) -> None:
        if bool(on) != self.show_teacher:
            self.show_teacher = bool(on)
            self.displayChanged.emit()

    def set_show_live_layer(self, on: bool) -> None:
        if bool(on) != self.show_live_layer:
            self.show_live_layer = bool(on)
            self.liveLayerChanged.emit(self.show_live_layer)

    # --------------------------------------------------------------- user boxes
    def add_user_box(self, box_xywh: tuple[float, float, float, float]) -> None:
        x, y, w, h = (float(v) for v in box_xywh)
        if w <= 0 or h <= 0:
            raise ValueError(f"a person box needs a positive size, got {w}x{h}")
        self.user_boxes.append((x, y, w, h))
        self.userBoxesChanged.emit()

    def clear_user_boxes(self) -> None:
        if self.user_boxes:
            self.user_boxes = []
            self.userBoxesChanged.emit()

    # --------------------------------------------------------------- selection
    def set_selection(self, indices: tuple[int, ...] | list[int]) -> None:
        """Select instances by index; out-of-range indices are a programming error."""
        chosen = tuple(sorted(set(int(i) for i in indices)))
        for i in chosen:
            if not 0 <= i < len(self.instances):
                raise IndexError(f"instance index {i} out of range (0..{len(self.instances) - 1})")
        if chosen != self.selection:
            self.selection = chosen
            self.selectionChanged.emit()

    def _clear_selection(self) -> None:
        if self.selection:
            self.selection = ()
            self.selectionChanged.emit()
