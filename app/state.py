"""The app's observable state. Views subscribe to its signals and redraw; nobody pokes a view directly."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from distilpose.app.media import read_image
from distilpose.app.pending import PendingWork
from distilpose.coco import CocoDataset, CocoImage, load_coco
from distilpose.types import Instance


class AppState(QObject):
    """Current image, current COCO dataset, the instances shown for the image, and the selection.

    Loading methods read everything first and only then change the state, so a bad file leaves the previous
    state untouched; they raise :class:`DistilPoseError` subclasses for the window (or ``--screenshot``) to report.
    """

    imageChanged = Signal()
    #: The dataset (annotations file) was replaced; ``instancesChanged`` follows.
    annotationsChanged = Signal()
    instancesChanged = Signal()
    selectionChanged = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.image_path: Path | None = None
        self.image: np.ndarray | None = None  # RGB uint8 (H, W, 3), read-only
        self.annotations_path: Path | None = None
        self.dataset: CocoDataset | None = None
        self.coco_image: CocoImage | None = None  # the dataset's entry for the current image, if any
        self.instances: list[Instance] = []
        self.selection: tuple[int, ...] = ()  # indices into ``instances``
        self.undo_stack = QUndoStack(self)
        self.pending = PendingWork(self)

    # ----------------------------------------------------------------- loading
    def open_path(self, path: str | os.PathLike) -> None:
        """Open an image, or a COCO annotations file when the name ends in ``.json``."""
        if Path(path).suffix.lower() == ".json":
            self.open_annotations(path)
        else:
            self.open_image(path)

    def open_image(self, path: str | os.PathLike) -> None:
        """Make ``path`` the current image; raises :class:`MediaError` and keeps the old image on failure."""
        with self.pending.busy("loading image"):
            image = read_image(path)
            self.image_path = Path(path)
            self.image = image
            self._match_instances()
            self.imageChanged.emit()
            self.instancesChanged.emit()
            self._clear_selection()

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

    def _match_instances(self) -> None:
        """Find the current image in the dataset by file name (basename) and take its annotations."""
        self.coco_image = None
        self.instances = []
        if self.dataset is None or self.image_path is None:
            return
        entry = self.dataset.image_by_file_name(self.image_path.name)
        if entry is None:
            return
        self.coco_image = entry
        self.instances = [ann.to_instance() for ann in self.dataset.annotations_for_image(entry.id)]

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
