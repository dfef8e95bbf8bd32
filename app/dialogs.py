"""The window's questions to the user: which file, which folder, where to save, which files, which camera,
which number, which of a few options, which model pre-labels. One object the actions call
(``window.dialogs``) instead of reaching into the window, and that a test replaces member by member with
plain functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from distilpose.app.prelabel_dialog import ModelOption, PrelabelChoice, ask_prelabel

#: ``(parent, caption, filter)`` -> chosen path or "" when cancelled.
FileChooser = Callable[[QWidget, str, str], str]
#: ``(parent, caption)`` -> chosen folder or "".
FolderChooser = Callable[[QWidget, str], str]
#: ``(parent, caption, filter)`` -> chosen paths, [] when cancelled.
FilesChooser = Callable[[QWidget, str, str], list[str]]
#: ``(parent)`` -> camera index or None when cancelled.
CameraChooser = Callable[[QWidget], int | None]
#: ``(parent, title, label, value, minimum)`` -> the number, or None when cancelled.
IntChooser = Callable[[QWidget, str, str, int, int], int | None]
#: ``(parent, title, text, options)`` -> index of the option chosen, or None when cancelled.
OptionChooser = Callable[[QWidget, str, str, list[str]], int | None]
#: ``(parent, models, frames, preselected model)`` -> the pre-label choice, or None when cancelled.
PrelabelChooser = Callable[[QWidget, list[ModelOption], int, str | None], PrelabelChoice | None]


def choose_file(parent: QWidget, caption: str, name_filter: str) -> str:
    path, _ = QFileDialog.getOpenFileName(parent, caption, "", name_filter)
    return path


def choose_save_file(parent: QWidget, caption: str, name_filter: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, caption, "", name_filter)
    return path


def choose_folder(parent: QWidget, caption: str) -> str:
    return QFileDialog.getExistingDirectory(parent, caption)


def choose_files(parent: QWidget, caption: str, name_filter: str) -> list[str]:
    paths, _ = QFileDialog.getOpenFileNames(parent, caption, "", name_filter)
    return list(paths)


def choose_camera(parent: QWidget) -> int | None:
    index, ok = QInputDialog.getInt(
        parent, "Open Camera", "Camera index (0 is the default camera):", 0, 0, 99
    )
    return index if ok else None


def choose_int(parent: QWidget, title: str, label: str, value: int, minimum: int) -> int | None:
    number, ok = QInputDialog.getInt(parent, title, label, value, minimum, 1_000_000)
    return number if ok else None


def choose_option(parent: QWidget, title: str, text: str, options: list[str]) -> int | None:
    """A question with one button per option (the first is the default) and Cancel."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, parent)
    buttons = [box.addButton(label, QMessageBox.ButtonRole.AcceptRole) for label in options]
    box.setDefaultButton(buttons[0])
    box.exec()
    clicked = box.clickedButton()
    box.deleteLater()
    return buttons.index(clicked) if clicked in buttons else None


@dataclass
class Dialogs:
    """See the module docs; every member defaults to the Qt dialog."""

    open_file: FileChooser = choose_file
    save_file: FileChooser = choose_save_file
    folder: FolderChooser = choose_folder
    files: FilesChooser = choose_files
    camera: CameraChooser = choose_camera
    integer: IntChooser = choose_int
    option: OptionChooser = choose_option
    prelabel: PrelabelChooser = ask_prelabel
