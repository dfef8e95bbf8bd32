"""Issue 25, item 8: the dataset export creates its folder, and a folder holding an export already is
overwritten only after the user chooses Overwrite (or chooses another folder)."""

from __future__ import annotations

import json

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog


def _annotations(folder) -> list:
    return json.loads((folder / "annotations" / "person_keypoints.json").read_text())["annotations"]


def _export(qtbot, win, ok: bool = True) -> None:
    with qtbot.waitSignal(win.project.exportFinished, timeout=15_000) as finished:
        win.dataset_panel.exportRequested.emit("coco", False)  # the panel's Export COCO button
    assert finished.args == [ok]


def test_export_creates_the_folder_and_asks_before_overwriting(qtbot, project_window, tmp_path) -> None:
    win = project_window
    assert win.editor.add_template((40, 20, 100, 200))
    target = tmp_path / "new" / "nested" / "coco"
    other = tmp_path / "other"
    folders = [str(target)]
    questions: list[tuple[str, list[str]]] = []
    answers: list[int | None] = []  # the option's index; None: Cancel
    win.dialogs.new_folder = lambda _parent, _caption: folders.pop(0) if folders else ""
    win.dialogs.folder = lambda *_: ""  # the chooser of existing folders is not the export's
    win.dialogs.option = lambda _p, _title, text, options: questions.append((text, options)) or answers.pop(0)

    _export(qtbot, win)  # a folder that does not exist yet: created
    assert len(_annotations(target)) == 1 and questions == []

    # Exporting there again asks; "Choose Another…" asks for the folder again.
    folders[:] = [str(target), str(other)]
    answers[:] = [1]  # Choose Another…
    _export(qtbot, win)
    [(text, buttons)] = questions
    assert buttons == ["Overwrite", "Choose Another…"]  # and Cancel, the default
    assert str(target) in text and "already holds a COCO export" in text
    assert len(_annotations(other)) == 1

    # Cancel leaves the old export alone and starts nothing.
    assert win.editor.add_template((120, 20, 100, 200))
    folders[:] = [str(target)]
    answers[:] = [None]  # Cancel
    win.dataset_panel.exportRequested.emit("coco", False)
    assert win.project.job is None and len(questions) == 2 and len(_annotations(target)) == 1

    # Overwrite writes the project as it is now.
    folders[:] = [str(target)]
    answers[:] = [0]  # Overwrite
    _export(qtbot, win)
    assert len(_annotations(target)) == 2 and not win.errors


def test_the_folder_dialog_takes_a_new_name(qtbot, project_window, tmp_path) -> None:
    from distilpose.app.dialogs import choose_new_or_existing_folder

    fresh = tmp_path / "fresh-export"

    def type_a_new_name() -> None:
        shown = [w for w in QApplication.topLevelWidgets() if isinstance(w, QFileDialog) and w.isVisible()]
        if not shown:
            QTimer.singleShot(50, type_a_new_name)  # not open yet
            return
        dialog = shown[0]
        dialog.selectFile(str(fresh))
        dialog.accept()
        for box in QApplication.topLevelWidgets():  # a refusal (Qt's "Directory not found") would block
            if box.isVisible() and box is not project_window:
                box.close()

    QTimer.singleShot(0, type_a_new_name)
    assert choose_new_or_existing_folder(project_window, "Export") == str(fresh)
    assert not fresh.exists()  # the export creates it, not the question
