"""The window's commands come from one table (app/command_registry.py): the menus, the toolbar, the keys and
the user guide's shortcut table are generated from it and checked against it, not copied (issue 21)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QToolBar

from distilpose.app.command_actions import guide_shortcut_rows, key_sequences
from distilpose.app.command_registry import (
    COMMANDS,
    GUIDE_ROWS,
    MENUS,
    SEPARATOR,
    SUBMENU_PREFIX,
    SUBMENUS,
    TOOLBAR,
    command,
    menu_commands,
)

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "user-guide.md"


def _expected_entries(entries: tuple[str, ...]) -> list[str]:
    """What a menu shows for the registry's entries: texts, and "-" for separators."""
    out = []
    for entry in entries:
        if entry == SEPARATOR:
            out.append("-")
        elif entry.startswith(SUBMENU_PREFIX):
            out.append(SUBMENUS[entry.removeprefix(SUBMENU_PREFIX)].text)
        else:
            out.append(COMMANDS[entry].text)
    return out


def _shown_entries(menu) -> list[str]:
    return ["-" if a.isSeparator() else a.text() for a in menu.actions()]


def test_the_menu_bar_is_the_registry_s_layout(window) -> None:
    bar_menus = [a.menu() for a in window.menuBar().actions()]
    assert [m.title() for m in bar_menus] == [title for title, _ in MENUS]
    for menu, (title, entries) in zip(bar_menus, MENUS, strict=True):
        assert _shown_entries(menu) == _expected_entries(entries), title


def test_the_toolbar_is_the_registry_s(window) -> None:
    (bar,) = [b for b in window.findChildren(QToolBar) if b.objectName() == "main_toolbar"]
    assert _shown_entries(bar) == _expected_entries(TOOLBAR)


def test_every_command_is_bound_once_with_its_keys(window) -> None:
    assert sorted(window.command_actions) == sorted(COMMANDS)
    for command_id, cmd in COMMANDS.items():
        action = window.command_actions[command_id]
        assert action.objectName() == command_id
        assert action.isCheckable() == cmd.checkable, command_id
        assert [s.toString() for s in action.shortcuts()] == [s.toString() for s in key_sequences(cmd)], (
            command_id
        )
        if cmd.tip:
            assert action.statusTip() == cmd.tip, command_id
        assert len(window.findChildren(QAction, command_id)) == 1, command_id


def test_no_two_commands_share_a_key() -> None:
    keys = Counter(s.toString() for cmd in COMMANDS.values() for s in key_sequences(cmd))
    assert [k for k, n in keys.items() if n > 1] == []


def test_every_command_sits_in_a_menu_once() -> None:
    """A command only reachable by a key is one a person cannot discover."""
    placed = Counter(command_id for _, command_id in menu_commands())
    assert sorted(placed) == sorted(COMMANDS)
    assert max(placed.values()) == 1


def test_the_guide_lists_every_key_as_the_registry_says() -> None:
    """docs/user-guide.md's shortcut table is the registry's rows, and every command with a key is in it."""
    listed = Counter(i for row in GUIDE_ROWS for i in row)
    assert sorted(listed) == sorted(i for i, cmd in COMMANDS.items() if cmd.keys)
    assert max(listed.values()) == 1
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("## Keyboard shortcuts", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| keys")]
    assert table == guide_shortcut_rows()


def test_an_unknown_command_is_named() -> None:
    with pytest.raises(KeyError, match="no command 'edit.undoo'"):
        command("edit.undoo")


def test_standard_keys_follow_the_platform() -> None:
    """``std:`` keys are Qt's standard sequences (Cmd on macOS), not fixed strings."""
    assert key_sequences(COMMANDS["file.open_image"]) == [QKeySequence(QKeySequence.StandardKey.Open)]
