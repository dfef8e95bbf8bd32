"""The `distilpose` entry point: version, help listing every subcommand, a clean exit on bad usage."""

from __future__ import annotations

import subprocess
import sys

import pytest

from distilpose import __version__
from distilpose.cli import SUBCOMMAND_MODULES, build_parser, main


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"distilpose {__version__}"
    assert main([]) == 0
    text = capsys.readouterr().out
    commands = build_parser()._subparsers._group_actions[0].choices  # every registered subcommand
    assert len(commands) >= len(SUBCOMMAND_MODULES) and all(name in text for name in commands)
    assert "pseudo-label" in commands


def test_console_script_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "distilpose.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "COMMAND" in done.stdout


def test_unknown_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_help_does_not_import_torch():
    """`distilpose --help` and quick subcommands (eval --results, project) must not pay ~1 s for torch."""
    code = "import sys, distilpose.cli as c; c.build_parser(); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
