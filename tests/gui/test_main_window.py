"""The main window: opening files (menus, drops), the status bar, and surviving bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from distilpose.app.dialogs import Dialogs
from distilpose.app.main_window import MainWindow
from distilpose.app.state import AppState

from .conftest import FIGURE_SIZE


def test_opens_an_image_and_shows_it_in_the_status_bar(window, figure_files) -> None:
    assert window.open_image(figure_files.image)
    assert window.state.image_path == figure_files.image
    assert window.state.image.shape == (FIGURE_SIZE[1], FIGURE_SIZE[0], 3)
    assert window.canvas.has_image()
    assert window.path_label.text() == str(figure_files.image)
    assert window.size_label.text() == f"{FIGURE_SIZE[0]} × {FIGURE_SIZE[1]}"
    assert window.zoom_label.text() == f"{window.canvas.zoom() * 100:.0f}%"
    assert window.instances_label.text() == "no annotations"
    assert window.windowTitle().startswith("figure.png")
    window.open_annotations(figure_files.ann)
    assert window.instances_label.text() == "2 instances"
    assert window.errors == []


def test_menu_actions_open_what_the_file_chooser_returns(qtbot, figure_files) -> None:
    answers = [str(figure_files.ann), str(figure_files.image), ""]
    win = MainWindow(AppState(), dialogs=Dialogs(open_file=lambda *_: answers.pop(0)))
    qtbot.addWidget(win)
    win.open_annotations_action.trigger()
    assert win.state.annotations_path == figure_files.ann
    win.open_image_action.trigger()
    assert win.state.image_path == figure_files.image
    assert len(win.canvas.instance_items) == 2
    win.open_image_action.trigger()  # cancelled dialog: nothing changes
    assert win.state.image_path == figure_files.image


def test_corrupt_and_missing_files_are_reported_and_the_window_stays_usable(
    window, figure_files, tmp_path
) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(np.random.default_rng(1).bytes(4096))
    missing = tmp_path / "missing.jpg"
    assert window.open_image(figure_files.image)

    assert not window.open_image(corrupt)
    title, text = window.errors[-1]
    assert title == "Cannot open image"
    assert text == f"{corrupt}: not a readable image (corrupt file or unsupported format)"
    assert window.statusBar().currentMessage() == text
    assert window.state.image_path == figure_files.image  # the previous image is still shown
    assert window.canvas.has_image()

    assert not window.open_image(missing)
    assert window.errors[-1][1] == f"{missing}: file not found"

    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"images": [], "annotations": [{"id": 1}]}', encoding="utf-8")
    assert not window.open_path(bad_json)
    title, text = window.errors[-1]
    assert title == "Cannot open file"
    assert str(bad_json) in text and "categories" in text
    assert window.state.dataset is None

    other = tmp_path / "good.png"
    import cv2

    assert cv2.imwrite(str(other), np.full((20, 30, 3), 200, np.uint8))
    assert window.open_image(other)
    assert window.state.image_path == other
    assert window.canvas.image_item.pixmap().width() == 30
    assert len(window.errors) == 3


def test_default_error_box_does_not_block(qtbot, tmp_path) -> None:
    win = MainWindow(AppState())
    qtbot.addWidget(win)
    win.show()
    missing = tmp_path / "nope.png"
    assert not win.open_image(missing)  # returns at once: the box is opened, not exec()'d
    boxes = [b for b in win.findChildren(QMessageBox) if b.isVisible()]
    assert len(boxes) == 1
    assert boxes[0].text() == f"{missing}: file not found"
    boxes[0].accept()
    qtbot.waitUntil(lambda: not any(b.isVisible() for b in win.findChildren(QMessageBox)))


def _mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def _drag_and_drop(target, mime: QMimeData) -> bool:
    """Send enter/move/drop to ``target`` the way Qt delivers a drag; returns whether the drop was accepted."""
    pos = QPointF(50, 50)
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(pos, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    move = QDragMoveEvent(pos, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, move)
    drop = QDropEvent(
        pos, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QEvent.Type.Drop
    )
    QApplication.sendEvent(target, drop)
    return drop.isAccepted()


def test_dropping_an_image_and_its_annotations_onto_the_canvas_loads_both(window, figure_files) -> None:
    # Dropped onto the canvas (where a user drops), image first: annotations are still applied to it.
    assert _drag_and_drop(window.canvas.viewport(), _mime(figure_files.image, figure_files.ann))
    assert window.state.image_path == figure_files.image
    assert window.state.annotations_path == figure_files.ann
    assert len(window.canvas.instance_items) == 2
    assert window.errors == []


def test_dropping_other_things_is_refused(window, tmp_path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert not _drag_and_drop(window.canvas.viewport(), _mime(text))
    plain = QMimeData()
    plain.setText("just text")
    assert not _drag_and_drop(window, plain)
    assert window.state.image_path is None


def test_dropping_a_corrupt_image_reports_it(window, tmp_path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG not really")
    assert _drag_and_drop(window, _mime(bad))
    assert window.errors[-1][1] == f"{bad}: not a readable image (corrupt file or unsupported format)"
    assert window.state.image is None
