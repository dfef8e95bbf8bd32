"""The user guide stays true: its pictures exist and come from ``docs/make_screenshots.py``, every command it
shows parses with the real argument parsers. (Its shortcut table is checked against the command registry, and the
window against the same registry, in ``tests/gui/test_command_registry.py``.)"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
import struct
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "user-guide.md"
SCRIPT = ROOT / "docs" / "make_screenshots.py"
IMAGES = ROOT / "docs" / "images"
#: The pictures are committed: keep the repository light.
MAX_TOTAL_BYTES = 3_300_000


def _guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def _script():
    name = "docs_make_screenshots"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)  # importing runs nothing: main() is behind __name__
    return sys.modules[name]


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name}: not a PNG"
    return struct.unpack(">II", head[16:24])


# ------------------------------------------------------------------------------------------- images


def test_every_picture_is_in_the_guide_on_disk_and_made_by_the_script() -> None:
    referenced = re.findall(r"!\[[^\]]*\]\(images/([^)\s]+)\)", _guide())
    assert len(referenced) >= 7
    assert len(referenced) == len(set(referenced)), "a picture is shown twice"
    produced = _script().SCREENSHOTS
    assert set(referenced) == set(produced), (
        f"only in the guide: {sorted(set(referenced) - set(produced))}; "
        f"only in the script: {sorted(set(produced) - set(referenced))}"
    )
    for name in referenced:
        assert (IMAGES / name).is_file(), f"docs/images/{name} is missing: run docs/make_screenshots.py"
    total = sum((IMAGES / n).stat().st_size for n in referenced)
    assert total < MAX_TOTAL_BYTES, f"the pictures take {total / 1e6:.1f} MB"
    leftovers = {p.name for p in IMAGES.glob("*.png")} - set(produced)
    assert not leftovers, f"PNGs no script makes (stale?): {sorted(leftovers)}"


def test_the_window_pictures_have_the_size_the_script_asks_for() -> None:
    module = _script()
    assert module.DIALOG_SHOT in module.SCREENSHOTS
    for shot in module.SHOTS:
        w, h = (int(v) for v in shot.size.split("x"))
        assert _png_size(IMAGES / shot.name) == (w, h), shot.name


# ------------------------------------------------------------------------------------------- commands


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return set(parser._option_string_actions)


def _command_lines(text: str) -> list[str]:
    """Commands in fenced code blocks (continuation lines joined) and in inline code spans."""
    lines: list[str] = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        lines += [line.split("  #")[0].strip() for line in joined.splitlines()]
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    lines += [span.replace("\\|", "|") for span in re.findall(r"`([^`\n]+)`", prose)]
    return [line for line in lines if re.match(r"(\.venv/bin/)?distilpose(-studio)?( |$)", line)]


def _check(line: str, cli: argparse.ArgumentParser, studio: argparse.ArgumentParser) -> None:
    tokens = shlex.split(line.replace("$J", "J"))
    program = tokens[0].removeprefix(".venv/bin/")
    parser, rest = (studio, tokens[1:]) if program == "distilpose-studio" else (cli, tokens[1:])
    if program == "distilpose" and rest and not rest[0].startswith("-"):
        commands = _subparsers(cli)
        assert rest[0] in commands, f"{line!r}: {rest[0]!r} is not a distilpose subcommand"
        parser, rest = commands[rest[0]], rest[1:]
        actions = _subparsers(parser)
        if actions and rest and rest[0] not in ("...", "|"):
            first = rest[0].split("|")  # `project create|import-coco|...` names several
            for name in first:
                assert name in actions, f"{line!r}: {name!r} is not an action of {tokens[1]}"
            parser, rest = actions[first[0]], rest[1:]
    for token in rest:
        if token.startswith("--"):
            option = token.split("=")[0]
            assert option in _options(parser), f"{line!r}: {parser.prog} has no option {option}"


def test_every_command_in_the_guide_is_real() -> None:
    from distilpose.app.main import build_parser as studio_parser
    from distilpose.cli import build_parser

    cli, studio = build_parser(), studio_parser()
    lines = _command_lines(_guide())
    checked = {shlex.split(line)[1] for line in lines if len(shlex.split(line)) > 1}
    # Every subcommand the guide documents is exercised (and the parsing finds the commands at all).
    assert set(_subparsers(cli)) <= checked, f"not shown: {set(_subparsers(cli)) - checked}"
    for line in lines:
        _check(line, cli, studio)


@pytest.mark.parametrize(
    "line",
    [
        "distilpose fit model",  # no such subcommand
        "distilpose models download all",  # no such action
        "distilpose eval --model x --labels y",  # no such option
        "distilpose-studio video.mp4 --fps 30",
    ],
)
def test_the_command_check_rejects_what_does_not_exist(line: str) -> None:
    from distilpose.app.main import build_parser as studio_parser
    from distilpose.cli import build_parser

    with pytest.raises(AssertionError):
        _check(line, build_parser(), studio_parser())
