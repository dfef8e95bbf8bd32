"""The heatmap dock: for the selected person and keypoint, the live model's heatmap (a student's simulated
heatmap from its coordinates and sigmas, or a teacher's own) beside the comparison model's, each with the
predicted keypoint marked, and their disagreement.

While a project person is edited with the heatmap assist on, the dock shows the teacher's heatmap of the
edited joint instead, with the joint's current position (following a drag) marked: where the peak is tells
where to drop it, and S snaps it there.

Heatmaps are in crop space (64 x 48 for every model here); the keypoint is mapped from image pixels into that
grid with the crop geometry the predictor used.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDockWidget, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from distilpose.app.annotate.snap import image_to_heatmap
from distilpose.app.state import AppState
from distilpose.keypoints import NAMES
from distilpose.similarity import box_iou
from distilpose.types import Instance

COLORMAP = "viridis"
MARKER_PEN = (255, 70, 70)


#: Characters per line of a pane's note (the pane is ~48 heatmap pixels wide at the dock's width).
NOTE_COLUMNS = 22

class HeatmapPane:
    """A titled image of one heatmap with a marker, in a GraphicsLayoutWidget cell."""

    def __init__(self, layout: pg.GraphicsLayoutWidget, col: int, title: str) -> None:
        self.plot = layout.addPlot(row=0, col=col, title=title)
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.hideAxis("bottom")
        self.plot.hideAxis("left")
        self.plot.setMouseEnabled(False, False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get(COLORMAP))
        self.plot.addItem(self.image)
        # A hollow ring: the heatmap's peak under it stays visible.
        self.marker = pg.ScatterPlotItem(size=14, pen=pg.mkPen(*MARKER_PEN, width=2), brush=pg.mkBrush(None))
        self.plot.addItem(self.marker)
        self.empty = pg.TextItem("", color=(200, 200, 200), anchor=(0.5, 0.5))
        self.plot.addItem(self.empty)
        self.heatmap: np.ndarray | None = None
        self.marked: np.ndarray | None = None
        self.title = title

    def show(self, title: str, heatmap: np.ndarray | None, marked: np.ndarray | None, note: str = "") -> None:
        self.plot.setTitle(title, size="9pt")
        self.title = title
        self.heatmap = heatmap
        self.marked = marked
        if heatmap is None:
            self.image.clear()
            self.marker.setData([], [])
            self.empty.setText(textwrap.fill(note, NOTE_COLUMNS))  # one long line would run off the pane
            self.empty.setPos(24, 32)
            self.plot.setRange(xRange=(0, 48), yRange=(0, 64), padding=0)
            return
        self.empty.setText("")
        h = np.asarray(heatmap, dtype=np.float32)
        self.image.setImage(h, levels=(float(h.min()), float(max(h.max(), h.min() + 1e-6))))
        self.image.setRect(0, 0, h.shape[1], h.shape[0])  # one unit per heatmap pixel
        if marked is not None:
            # Pixel centres sit at +0.5 in the image item's coordinates.
            self.marker.setData([float(marked[0]) + 0.5], [float(marked[1]) + 0.5])
        else:
            self.marker.setData([], [])
        self.plot.setRange(xRange=(0, h.shape[1]), yRange=(0, h.shape[0]), padding=0.02)


def _box(inst: Instance) -> tuple[float, float, float, float] | None:
    box = inst.bbox if inst.bbox is not None else inst.bbox_from_keypoints(0.0)
    return None if box is None else tuple(float(v) for v in box)


def _overlap(a: Instance, b: Instance) -> float:
    """Intersection over union of two people's boxes (0 when either has none)."""
    ba, bb = _box(a), _box(b)
    return 0.0 if ba is None or bb is None else float(box_iou(ba, bb)[0, 0])


class HeatmapDock(QDockWidget):
    """Heatmaps of the selected person and keypoint (pyqtgraph); follows the state's keypoint selection."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__("Heatmaps", parent)
        self.setObjectName("heatmap_dock")
        self.state = state
        body = QWidget()
        layout = QVBoxLayout(body)
        row = QHBoxLayout()
        row.addWidget(QLabel("Person"))
        self.person_spin = QSpinBox()
        self.person_spin.setRange(0, 0)
        row.addWidget(self.person_spin)
        row.addWidget(QLabel("Keypoint"))
        self.keypoint_combo = QComboBox()
        self.keypoint_combo.addItems(list(NAMES))
        row.addWidget(self.keypoint_combo, 1)
        layout.addLayout(row)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground((30, 30, 32))
        self.graphics.setMinimumHeight(180)  # the model panel above keeps room for its settings
        self.model_pane = HeatmapPane(self.graphics, 0, "model")
        self.teacher_pane = HeatmapPane(self.graphics, 1, "comparison")
        layout.addWidget(self.graphics, 1)
        self.info_label = QLabel()
        self.info_label.setWordWrap(True)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.info_label)
        self.setWidget(body)
        self._syncing = False
        self.person_spin.valueChanged.connect(self._chosen)
        self.keypoint_combo.currentIndexChanged.connect(self._chosen)
        state.predictionsChanged.connect(self.refresh)
        state.keypointSelectionChanged.connect(self.refresh)
        state.jointChanged.connect(self.refresh)
        state.editHeatmapChanged.connect(self.refresh)
        state.instancesChanged.connect(self.refresh)
        state.jointDragged.connect(self._on_joint_dragged)
        state.jointChanged.connect(self._follow_joint)
        self.visibilityChanged.connect(self._on_visible)
        self.refresh()

    def _follow_joint(self) -> None:
        """A keypoint chosen in the Instances dock (or on the canvas) is the one shown here: the same keypoint
        of the live model's person that overlaps that project person most (issue 25)."""
        joint = self.state.joint
        if joint is None or self.editing():
            return
        iid, k = joint
        inst = self.state.instance_by_id(iid)
        result = self.state.prediction
        person = 0
        if inst is not None and result is not None and result.instances:
            person = max(range(len(result.instances)), key=lambda i: _overlap(inst, result.instances[i]))
        self.state.select_keypoint(person, k)

    def _chosen(self) -> None:
        if not self._syncing:
            self.state.select_keypoint(self.person_spin.value(), self.keypoint_combo.currentIndex())

    def _on_visible(self, visible: bool) -> None:
        if visible:
            self.refresh()

    def editing(self) -> bool:
        """Whether the dock shows the edited joint's teacher heatmap (instead of live predictions)."""
        hm, joint = self.state.edit_heatmap, self.state.joint
        return hm is not None and joint is not None and hm.instance_id == joint[0]

    def _show_editing(self, position: tuple[float, float] | None = None) -> None:
        hm = self.state.edit_heatmap
        iid, k = self.state.joint
        if position is None:
            inst = self.state.instance_by_id(iid)
            position = tuple(inst.keypoints[k, :2]) if inst is not None else None
        marked = image_to_heatmap(position, hm.crop)[0] if position is not None else None
        self._syncing = True
        self.keypoint_combo.setCurrentIndex(k)  # the edited joint
        self.person_spin.setEnabled(False)  # the person is the one selected on the canvas
        self._syncing = False
        self.model_pane.show(f"heatmap of {hm.model}: {NAMES[k]}", hm.heatmaps[k], marked)
        self.teacher_pane.show("", None, None, "")
        self.info_label.setText(
            f"Editing person {iid}, {NAMES[k]}: the ring is the joint, bright is where {hm.model} puts it.\n"
            "S snaps the joint to the nearest peak (one undoable edit)."
        )

    def _on_joint_dragged(self, x: float, y: float) -> None:
        if self.editing() and self.isVisible():
            self._show_editing((x, y))

    def refresh(self) -> None:
        """Redraw both panes from the state (two 64 x 48 images, but several ms of pyqtgraph: a hidden dock
        only follows the selection and draws when shown, not for every played frame)."""
        if self.editing():
            self._show_editing()
            return
        self.person_spin.setEnabled(True)
        result = self.state.prediction
        selected = self.state.selected_keypoint or (0, self.keypoint_combo.currentIndex())
        person, k = selected
        n = len(result.instances) if result is not None else 0
        self._syncing = True
        self.person_spin.setRange(0, max(0, n - 1))
        self.person_spin.setValue(min(person, max(0, n - 1)))
        self.keypoint_combo.setCurrentIndex(k)
        self._syncing = False
        if not self.isVisible():
            return
        name = NAMES[k]
        if result is None or person >= n:
            note = "no prediction yet: turn on live inference" if result is None else "nobody detected"
            self.model_pane.show("model", None, None, note)
            self.teacher_pane.show("comparison", None, None, "")
            self.info_label.setText("")
            return
        student = result.instances[person]
        # "live model", not the instance's source: the live default (pretrained Lightning) is a "teacher" by
        # registry role, and the pane's kind (simulated or heatmap) already says what a student draws
        self.model_pane.show(*self._pane(student, k, "live model"))
        teacher = result.teacher[person] if result.teacher and person < len(result.teacher) else None
        if teacher is None:
            self.teacher_pane.show("comparison", None, None, "pick a model to\ncompare with")
        else:
            self.teacher_pane.show(*self._pane(teacher, k, "comparison"))
        lines = [
            f"person {person}, {name}: score {student.scores[k]:.2f}" if student.scores is not None else name
        ]
        if student.sigmas is not None:
            sx, sy = student.sigmas[k]
            lines.append(f"σ {sx:.1f} × {sy:.1f} px (simulated heatmap from coordinate and sigma)")
        if result.disagreement is not None and person < len(result.disagreement):
            lines.append(
                f"disagreement with the comparison model: {result.disagreement[person, k]:.3f} of the box size"
            )
        self.info_label.setText("\n".join(lines))

    @staticmethod
    def _pane(inst: Instance, k: int, title: str) -> tuple[str, np.ndarray | None, np.ndarray | None, str]:
        heatmaps = inst.extras.get("heatmaps")
        crop = inst.extras.get("crop")
        if heatmaps is None or crop is None:
            return title, None, None, "no heatmaps: open this\ndock before inference"
        marked = image_to_heatmap(inst.keypoints[k, :2], crop)[0]
        kind = "simulated" if inst.sigmas is not None else "heatmap"
        return f"{title}: {kind}", heatmaps[k], marked, ""
