"""``distilpose-studio --project P [PATH] --frame N --screenshot``: the project opens (or is created), PATH is
added, the frame is drawn with its people, and the frame list, review and dataset docks are on screen."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from distilpose.app.main import build_parser, main, open_project_args
from distilpose.app.main_window import MainWindow
from distilpose.app.screenshot import wait_until_idle
from distilpose.app.state import AppState
from distilpose.keypoints import KEYPOINT_COLORS
from distilpose.project import ProjectStore
from distilpose.types import Instance

from .conftest import PERSON_A
from .test_screenshot import _image_rect_on_screen


def _project(tmp_path, figure_files, frames: int = 2):
    path = tmp_path / "shot.dpproj"
    with ProjectStore.create(path) as store:
        for i in range(frames - 1):
            extra = tmp_path / f"before{i}.png"
            assert cv2.imwrite(str(extra), np.zeros((40, 40, 3), np.uint8))
            store.add_frame(store.add_media(extra), 0)
        frame = store.add_frame(store.add_media(figure_files.image), 0)
        store.add_instance(frame, Instance(keypoints=PERSON_A.copy()), verified=True)
    return path


def test_screenshot_of_a_project_frame(qapp, tmp_path, figure_files) -> None:
    path = _project(tmp_path, figure_files)
    out = tmp_path / "shot.png"
    assert main(["--project", str(path), "--frame", "1", "--screenshot", str(out), "--size", "1280x800"]) == 0
    shot = cv2.imread(str(out))[..., ::-1]
    assert shot.shape == (800, 1280, 3)
    left, top, scale = _image_rect_on_screen(shot)
    sx, sy = int(left + PERSON_A[0, 0] * scale), int(top + PERSON_A[0, 1] * scale)
    assert np.abs(shot[sy, sx].astype(int) - KEYPOINT_COLORS[0]).max() <= 12  # the nose marker
    assert left > 200  # the frame list dock sits left of the canvas


def test_project_window_shows_the_docks(qtbot, tmp_path, figure_files) -> None:
    path = _project(tmp_path, figure_files)
    win = MainWindow(AppState())
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    assert open_project_args(win, build_parser().parse_args(["--project", str(path), "--frame", "1"]))
    wait_until_idle(win.state.pending)
    assert win.state.frames[1].frame_id == win.state.frame_id
    assert len(win.canvas.instance_items) == 1
    for dock in (win.frame_list, win.review_queue, win.dataset_panel):
        assert dock.isVisibleTo(win), dock.objectName()
    assert win.frame_list.table.currentIndex().row() == 1
    assert win.dataset_panel.stats_text.toPlainText().startswith("frames   2 (1 labelled, 0 suggested)")


def test_project_option_creates_the_project_and_adds_the_image(qapp, tmp_path, figure_files) -> None:
    path = tmp_path / "new.dpproj"
    out = tmp_path / "new.png"
    assert (
        main(["--project", str(path), str(figure_files.image), "--screenshot", str(out), "--size", "800x600"])
        == 0
    )
    with ProjectStore.open(path) as store:
        [media] = store.media_list()
        assert store.media_path(media.id) == figure_files.image
        assert len(store.frames()) == 1
    # Again: the image is already there, nothing is added twice.
    assert (
        main(["--project", str(path), str(figure_files.image), "--screenshot", str(out), "--size", "800x600"])
        == 0
    )
    with ProjectStore.open(path) as store:
        assert len(store.media_list()) == 1


def test_a_bad_project_file_fails_the_screenshot(qapp, tmp_path, capsys) -> None:
    bad = tmp_path / "bad.dpproj"
    bad.write_text("not sqlite", encoding="utf-8")
    assert main(["--project", str(bad), "--screenshot", str(tmp_path / "x.png")]) == 1
    assert "not a SQLite database" in capsys.readouterr().err


@pytest.mark.parametrize("frame", ["0", "5"])
def test_frame_position_is_clamped(qtbot, tmp_path, figure_files, frame) -> None:
    path = _project(tmp_path, figure_files, frames=3)
    win = MainWindow(AppState())
    qtbot.addWidget(win)
    assert open_project_args(win, build_parser().parse_args(["--project", str(path), "--frame", frame]))
    assert win.state.frame_position() == min(int(frame), 2)
