"""The registry's commands as Qt actions: words and keys onto a ``QAction``, the menu bar and the toolbar
laid out from :mod:`distilpose.app.command_registry`. The one place that turns its key names into
``QKeySequence``s, so the window and the tests read keys the same way."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QToolBar

from distilpose.app.command_registry import (
    COMMANDS,
    GUIDE_ROWS,
    MENUS,
    SEPARATOR,
    STANDARD_PREFIX,
    SUBMENU_PREFIX,
    SUBMENUS,
    TOOLBAR,
    Command,
    menu_commands,
)


def key_sequences(cmd: Command) -> list[QKeySequence]:
    """The command's shortcuts; ``std:Name`` is Qt's platform-standard ``QKeySequence.StandardKey.Name``
    (may expand to several sequences, as Qt defines it)."""
    sequences: list[QKeySequence] = []
    for key in cmd.keys:
        if key.startswith(STANDARD_PREFIX):
            standard = getattr(QKeySequence.StandardKey, key.removeprefix(STANDARD_PREFIX))
            sequences.extend(QKeySequence.keyBindings(standard)[:1])
        else:
            sequences.append(QKeySequence(key))
    return sequences


def apply_command(action: QAction, cmd: Command) -> None:
    """Give ``action`` the command's text, shortcuts, tip and checkability (its id as object name)."""
    action.setObjectName(cmd.id)
    action.setText(cmd.text)
    action.setShortcuts(key_sequences(cmd))
    action.setCheckable(cmd.checkable)
    if cmd.tip:
        action.setStatusTip(cmd.tip)
        action.setToolTip(cmd.tip)


def _fill(
    menu: QMenu | QToolBar, entries: tuple[str, ...], actions: Mapping[str, QAction]
) -> dict[str, QMenu]:
    submenus: dict[str, QMenu] = {}
    for entry in entries:
        if entry == SEPARATOR:
            menu.addSeparator()
        elif entry.startswith(SUBMENU_PREFIX):
            sub = SUBMENUS[entry.removeprefix(SUBMENU_PREFIX)]
            submenus[sub.id] = menu.addMenu(sub.text)
        else:
            menu.addAction(actions[entry])
    return submenus


def build_menus(bar: QMenuBar, actions: Mapping[str, QAction]) -> dict[str, QMenu]:
    """Add the registry's menus to ``bar`` from the bound ``actions`` (id -> action); returns the dynamic
    submenus by id for their owners to fill. A command without a bound action is a KeyError naming it."""
    missing = [command_id for _, command_id in menu_commands() if command_id not in actions]
    if missing:
        raise KeyError(f"commands in the menus that nothing binds: {', '.join(missing)}")
    submenus: dict[str, QMenu] = {}
    for title, entries in MENUS:
        submenus.update(_fill(bar.addMenu(title), entries, actions))
    return submenus


def fill_toolbar(bar: QToolBar, actions: Mapping[str, QAction]) -> None:
    _fill(bar, TOOLBAR, actions)


def shortcut_text(cmd: Command) -> list[str]:
    """The command's keys as the user guide writes them (Qt's portable text: ``Ctrl+O``, ``Del``, ``PgDown``)."""
    return [sequence.toString(QKeySequence.SequenceFormat.PortableText) for sequence in key_sequences(cmd)]


def guide_shortcut_rows() -> list[str]:
    """The user guide's shortcut table rows (markdown), from the registry's ``GUIDE_ROWS``."""
    rows = []
    for ids in GUIDE_ROWS:
        commands = [COMMANDS[i] for i in ids]
        keys = ", ".join(f"`{key}`" for cmd in commands for key in shortcut_text(cmd))
        rows.append(f"| {keys} | {', '.join(cmd.guide_text for cmd in commands)} |")
    return rows
