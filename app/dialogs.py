"""The window's questions to the user: which file, which folder, where to save, which files, which camera,
which number, which of a few options, which model pre-labels. One object the actions call
(``window.dialogs``) instead of reaching into the window, and that a test replaces member by member with
plain functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QMessageBox, QWidget

from distilpose.app.project.prelabel_dialog import ModelOption, PrelabelChoice, ask_prelabel

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


class _NewOrExistingFolderDialog(QFileDialog):
    """Qt's folder dialog, which also takes the name of a folder that does not exist yet (Qt's own refuses
    one): the export creates it."""

    def accept(self) -> None:
        chosen = self.selectedFiles()
        if chosen and not Path(chosen[0]).exists():
            self.chosen = chosen[0]
            QDialog.accept(self)
            return
        super().accept()


def choose_new_or_existing_folder(parent: QWidget, caption: str) -> str:
    dialog = _NewOrExistingFolderDialog(parent, caption)
    dialog.setFileMode(QFileDialog.FileMode.Directory)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)  # accept() above is Qt's own dialog's
    dialog.setLabelText(QFileDialog.DialogLabel.FileName, "Folder (new or existing):")
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return ""
    return getattr(dialog, "chosen", "") or (dialog.selectedFiles() or [""])[0]


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
    """A question with one button per option and Cancel, which is the default (Enter never starts an
    overwrite or a fill by accident) and what Escape or closing the box means."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, parent)
    buttons = [box.addButton(label, QMessageBox.ButtonRole.AcceptRole) for label in options]
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
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
    new_folder: FolderChooser = choose_new_or_existing_folder
    option: OptionChooser = choose_option
    prelabel: PrelabelChooser = ask_prelabel
