"""Fixtures for the app tests: a generated image with a stick figure and a matching COCO file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from distilpose.keypoints import SKELETON, coco_category

#: Image size (w, h) and background colour (RGB): a sand colour that no widget or marker uses.
FIGURE_SIZE = (240, 240)
FIGURE_BG_RGB = (235, 225, 190)

# Person A: every keypoint labelled except left_wrist (v=0); right_knee occluded (v=1).
PERSON_A = np.array(
    [
        [70, 40, 2], [75, 35, 2], [65, 35, 2], [80, 40, 2], [60, 40, 2],  # nose, eyes, ears
        [90, 70, 2], [50, 70, 2], [100, 100, 2], [40, 100, 2],  # shoulders, elbows
        [110, 130, 0], [30, 130, 2],  # wrists: the left one is not labelled
        [82, 140, 2], [58, 140, 2], [85, 180, 2], [55, 180, 1],  # hips, knees: right knee occluded
        [88, 220, 2], [52, 220, 2],  # ankles
    ],
    dtype=np.float64,
)  # fmt: skip
# Person B: only the nose and the shoulders.
PERSON_B = np.zeros((17, 3))
PERSON_B[0] = (180, 60, 2)
PERSON_B[5] = (195, 90, 2)
PERSON_B[6] = (165, 90, 2)
# Hand-counted from SKELETON: A has 16 markers and 18 limbs (19 minus left_elbow-left_wrist), 2 of them
# touching the occluded right knee; B has 3 markers and 1 limb (the shoulders).
EXPECTED_MARKERS = (16, 3)
EXPECTED_LIMBS = (18, 1)


@dataclass
class FigureFiles:
    image: Path
    ann: Path
    persons: list[np.ndarray]


def write_figure_image(path: Path) -> None:
    """A sand-coloured picture with person A's skeleton drawn in dark grey (PNG: lossless, exact colours)."""
    w, h = FIGURE_SIZE
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[:] = FIGURE_BG_RGB
    for a, b in SKELETON:
        if PERSON_A[a, 2] > 0 and PERSON_A[b, 2] > 0:
            pa = tuple(int(v) for v in PERSON_A[a, :2])
            pb = tuple(int(v) for v in PERSON_A[b, :2])
            cv2.line(rgb, pa, pb, (70, 70, 70), 2, cv2.LINE_AA)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def _annotation(ann_id: int, image_id: int, kp: np.ndarray) -> dict:
    labelled = kp[kp[:, 2] > 0, :2]
    x0, y0 = labelled.min(axis=0)
    x1, y1 = labelled.max(axis=0)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "keypoints": [float(v) if i % 3 < 2 else int(v) for i, v in enumerate(kp.reshape(-1))],
        "num_keypoints": int((kp[:, 2] > 0).sum()),
        "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
        "area": float((x1 - x0) * (y1 - y0)),
        "iscrowd": 0,
    }


def write_coco(path: Path, image_name: str) -> None:
    """A COCO file with the figure image (2 people) and another image whose person must not show."""
    w, h = FIGURE_SIZE
    other = PERSON_A.copy()
    other[:, :2] += 3
    doc = {
        "images": [
            {"id": 7, "file_name": f"subdir/{image_name}", "width": w, "height": h},
            {"id": 8, "file_name": "other.png", "width": w, "height": h},
        ],
        "annotations": [_annotation(1, 7, PERSON_A), _annotation(2, 7, PERSON_B), _annotation(3, 8, other)],
        "categories": [coco_category()],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")


@pytest.fixture(autouse=True)
def _gui_thread_garbage_collection(qapp):
    """Collect garbage on the GUI thread only, as the app does (app/gc_main_thread.py); the root conftest
    hands automatic collection back after each test."""
    from distilpose.app import gc_main_thread

    gc_main_thread.install(qapp)


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path_factory, monkeypatch) -> None:
    """Recent files, settings, frame indexes and ONNX exports go to temp folders, never the user's; the zoo
    cache is empty here, so "auto" person boxes mean the whole frame (fast, no downloads)."""
    root = tmp_path_factory.mktemp("app-dirs")
    monkeypatch.setenv("DISTILPOSE_STUDIO_CONFIG", str(root / "config"))
    monkeypatch.setenv("DISTILPOSE_HOME", str(root / "cache"))
    # Opening a file does not start a model here unless a test asks (the users' default is on: a test
    # that opens a picture should not load a real model by the way).
    from distilpose.app.preferences import set_run_on_open

    set_run_on_open(False)


@pytest.fixture
def figure_files(tmp_path: Path) -> FigureFiles:
    image = tmp_path / "figure.png"
    ann = tmp_path / "figure_coco.json"
    write_figure_image(image)
    write_coco(ann, image.name)
    return FigureFiles(image=image, ann=ann, persons=[PERSON_A, PERSON_B])


@pytest.fixture
def window(qtbot):
    """A shown 800x600 main window whose error messages are captured in ``window.errors``."""
    from distilpose.app.main_window import MainWindow
    from distilpose.app.state import AppState

    errors: list[tuple[str, str]] = []
    win = MainWindow(AppState(), error_sink=lambda _parent, title, text: errors.append((title, text)))
    win.errors = errors
    qtbot.addWidget(win)
    win.resize(800, 600)
    win.show()
    qtbot.waitExposed(win)
    return win


# ------------------------------------------------------------------------------ live inference helpers

#: Normalised crop coordinates (x, y) the fake student predicts: a standing person, COCO-17 order.
POSE = np.array(
    [[.5, .15], [.53, .13], [.47, .13], [.56, .14], [.44, .14], [.62, .27], [.38, .27], [.68, .42], [.32, .42],
     [.7, .55], [.3, .55], [.58, .55], [.42, .55], [.6, .72], [.4, .72], [.6, .88], [.4, .88]]
)  # fmt: skip
#: Per-keypoint scores of the fake student: spread over [0.05, 0.95] so thresholds hide some.
SCORES = np.linspace(0.05, 0.95, 17)
#: The model pre-label tests choose: a trained one (shipped weights; pre-labelling refuses untrained ones),
#: run by the fake loader, without flip so its output is exactly POSE.
PRELABEL_MODEL = "distilpose-mnv2-lt"


def prelabel_choice(flip: bool = False):
    from distilpose.app.project.prelabel_dialog import PrelabelChoice

    return PrelabelChoice(PRELABEL_MODEL, flip=flip)


class FakeStudentRuntime:
    """Predicts POSE (+ ``offset``) in every crop with SCORES and 2 heatmap-pixel sigmas; counts calls."""

    name = "fake"
    output_names = ("coords", "scores", "sigmas")

    def __init__(self, offset: float = 0.0, delay_s: float = 0.0) -> None:
        self.offset = offset
        self.delay_s = delay_s
        self.calls = 0

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        import time

        if self.delay_s:
            time.sleep(self.delay_s)
        self.calls += 1
        n = len(batch)
        return {
            "coords": np.broadcast_to(POSE + self.offset, (n, 17, 2)).astype(np.float32).copy(),
            "scores": np.broadcast_to(SCORES[:, None], (n, 17, 1)).astype(np.float32).copy(),
            "sigmas": np.full((n, 17, 2), 2.0, np.float32),
        }


class SleepyRuntime:
    """Wraps a real runtime and sleeps before each call: a slow model without burning the 2 CPU cores."""

    def __init__(self, inner, delay_s: float) -> None:
        self.inner = inner
        self.delay_s = delay_s
        self.name = f"sleepy-{inner.name}"
        self.output_names = inner.output_names

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        import time

        time.sleep(self.delay_s)
        return self.inner.run(batch)


class FakeLoader:
    """A model loader for the window: fake students (offset per name) that record what was loaded."""

    def __init__(self, delay_s: float = 0.0, load_delay_s: float = 0.0, fail: set[str] | None = None) -> None:
        self.delay_s = delay_s
        self.load_delay_s = load_delay_s
        self.fail = fail or set()
        self.loaded: list[tuple[str, str, bool]] = []
        self.runtimes: list[FakeStudentRuntime] = []

    def __call__(self, name: str, runtime: str, flip: bool):
        import time

        from distilpose.errors import CheckpointError
        from distilpose.inference.loading import LoadedModel
        from distilpose.inference.predictor import Predictor
        from distilpose.models import model_spec

        if self.load_delay_s:
            time.sleep(self.load_delay_s)
        if name in self.fail:
            raise CheckpointError(f"{name}: not a readable checkpoint (test)")
        self.loaded.append((name, runtime, flip))
        offset = 0.05 if name.startswith("tokenpose") else 0.0
        rt = FakeStudentRuntime(offset, self.delay_s)
        self.runtimes.append(rt)
        arch = name if not name.endswith(".safetensors") else "distilpose-t"
        trained = name.endswith(".safetensors")
        predictor = Predictor(rt, model_spec(arch), flip=flip)
        return LoadedModel(
            predictor, name, "regression", runtime, trained, name if trained else "random", 0.0
        )


def write_video(path: Path, frames: int, size: tuple[int, int] = (160, 120)) -> Path:
    """A small H.264 clip whose frame i is filled with grey level 10*i (frames are told apart by colour)."""
    from distilpose.render import H264Writer

    w, h = size
    with H264Writer(path, 10, size) as writer:
        for i in range(frames):
            writer.write(np.full((h, w, 3), min(250, 10 * i), np.uint8))
    return path


@pytest.fixture
def small_video(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip.mp4", 12)


@pytest.fixture
def fake_loader() -> FakeLoader:
    return FakeLoader()


@pytest.fixture
def live_window(qtbot, fake_loader):
    """A shown main window whose models come from ``fake_loader``; errors collected in ``window.errors``."""
    from distilpose.app.main_window import MainWindow
    from distilpose.app.state import AppState

    errors: list[tuple[str, str]] = []
    win = MainWindow(
        AppState(), error_sink=lambda _p, title, text: errors.append((title, text)), model_loader=fake_loader
    )
    win.errors = errors
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    # pinned: these tests script the fake loader's outputs for an untrained student, whatever the default is
    win.live.update_settings(model="distilpose-t", runtime="torch", detector="full-frame", tracking=False)
    return win


def wait_idle(qtbot, state, timeout: int = 20_000) -> None:
    """Until no model load or inference is in flight."""
    qtbot.waitUntil(state.pending.is_idle, timeout=timeout)


# ------------------------------------------------------------------------------ project helpers


@pytest.fixture
def project_window(qtbot, tmp_path, figure_files, fake_loader):
    """A shown 1100x750 window with a new project holding the figure image (frame shown, no people yet);
    errors collected in ``window.errors``; the store waits 0.3 s for a lock (tests of locked files)."""
    from distilpose.app.main_window import MainWindow
    from distilpose.app.state import AppState

    errors: list[tuple[str, str]] = []
    state = AppState()
    state.lock_timeout = 0.3
    win = MainWindow(
        state, error_sink=lambda _p, title, text: errors.append((title, text)), model_loader=fake_loader
    )
    win.errors = errors
    qtbot.addWidget(win)
    win.resize(1100, 750)
    win.show()
    qtbot.waitExposed(win)
    assert win.project.new_project(tmp_path / "poses.dpproj")
    assert win.editor.add_images([figure_files.image])
    assert win.state.frame_id is not None
    # pinned: these tests script the fake loader's outputs for an untrained student, whatever the default is
    win.live.update_settings(model="distilpose-t", runtime="torch", detector="full-frame", tracking=False)
    return win


def add_grey_images(win, folder: Path, count: int, size: int = 20, step: int = 10) -> list[Path]:
    """Write ``count`` plain grey PNGs (level ``step * i``) to ``folder`` and add them to the window's project."""
    import cv2

    paths = []
    for i in range(count):
        path = folder / f"img{i}.png"
        assert cv2.imwrite(str(path), np.full((size, size, 3), step * i, np.uint8))
        paths.append(path)
    assert win.editor.add_images(paths)
    return paths


def scene_to_view(canvas, x: float, y: float):
    """Viewport pixel of an image point."""
    from PySide6.QtCore import QPointF

    return canvas.mapFromScene(QPointF(x, y))


def mouse_drag(qtbot, canvas, start, end, modifier=None, steps: int = 4) -> None:
    """Press at ``start``, move in ``steps`` to ``end`` and release there (viewport pixels), with qtbot."""
    from PySide6.QtCore import QPoint, Qt

    mod = modifier if modifier is not None else Qt.KeyboardModifier.NoModifier
    viewport = canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, mod, start)
    for i in range(1, steps + 1):
        p = QPoint(
            start.x() + round((end.x() - start.x()) * i / steps),
            start.y() + round((end.y() - start.y()) * i / steps),
        )
        qtbot.mouseMove(viewport, p)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, mod, end)
