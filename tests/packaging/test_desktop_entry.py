"""The freedesktop entry and its icon: the keys a launcher needs, an ``Exec`` that runs the console script, a
MIME list covering every file type the app opens, and a 256x256 icon rendered from the app's SVG."""

from __future__ import annotations

import configparser
import mimetypes
import struct
from pathlib import Path

import cv2
import numpy as np
import tomllib

from distilpose.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from tests.conftest import REPO_ROOT
from tests.packaging.support import load_packaging_module

layout = load_packaging_module("bundle_layout")
GROUP = "Desktop Entry"
#: Keys the Desktop Entry Specification (1.5) defines; anything else must be X- prefixed.
SPEC_KEYS = {
    "Type", "Version", "Name", "GenericName", "NoDisplay", "Comment", "Icon", "Hidden", "OnlyShowIn",
    "NotShowIn", "DBusActivatable", "TryExec", "Exec", "Path", "Terminal", "Actions", "MimeType", "Categories",
    "Implements", "Keywords", "StartupNotify", "StartupWMClass", "URL", "PrefersNonDefaultGPU", "SingleMainWindow",
}  # fmt: skip
MAIN_CATEGORIES = {
    "AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics", "Network", "Office",
    "Science", "Settings", "System", "Utility",
}  # fmt: skip
#: The shared-mime-info type of every suffix the app opens (distilpose.video), written out by hand.
EXPECTED_MIME = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".bmp": "image/bmp", ".tif": "image/tiff",
    ".tiff": "image/tiff", ".webp": "image/webp", ".mp4": "video/mp4", ".mov": "video/quicktime",
    ".avi": "video/x-msvideo", ".mkv": "video/x-matroska", ".webm": "video/webm", ".m4v": "video/x-m4v",
    ".mpg": "video/mpeg", ".mpeg": "video/mpeg", ".wmv": "video/x-ms-wmv", ".ts": "video/mp2t",
    ".mts": "video/mp2t", ".m2ts": "video/mp2t",
}  # fmt: skip


def _entry() -> dict[str, str]:
    text = layout.DESKTOP_FILE.read_text(encoding="utf-8")
    first = next(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    assert first == f"[{GROUP}]", "the first group must be [Desktop Entry]"
    parser = configparser.ConfigParser(interpolation=None, strict=True)  # strict: duplicate keys fail
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(text, str(layout.DESKTOP_FILE))
    return dict(parser[GROUP])


def _list(value: str) -> list[str]:
    assert value.endswith(";"), f"list value {value!r} must end with ';'"
    return value[:-1].split(";")


def test_required_keys_and_only_known_ones() -> None:
    entry = _entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "DistilPose Studio"
    assert entry["Terminal"] == "false"
    unknown = [key.split("[")[0] for key in entry if key.split("[")[0] not in SPEC_KEYS]
    assert all(key.startswith("X-") for key in unknown), f"unknown keys: {unknown}"
    categories = _list(entry["Categories"])
    assert {"Graphics", "Science"} <= set(categories) and MAIN_CATEGORIES & set(categories)


def test_exec_runs_the_console_script_with_files() -> None:
    entry = _entry()
    command, *codes = entry["Exec"].split()
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert command == layout.APP_NAME and scripts[command] == "distilpose.app.main:main"
    assert codes == ["%F"]  # several files at once: the app's path argument takes images, videos, folders
    assert entry["TryExec"] == layout.APP_NAME
    assert entry["Icon"] == layout.APP_NAME == layout.ICON_PNG.stem  # a theme name, installed as <name>.png


def test_mime_types_cover_every_suffix_the_app_opens() -> None:
    assert set(EXPECTED_MIME) == set(IMAGE_SUFFIXES) | set(VIDEO_SUFFIXES), (
        "update EXPECTED_MIME and the entry"
    )
    builtin = mimetypes.MimeTypes()  # Python's own table (not the system's): a cross-check where it knows
    for suffix, mime in EXPECTED_MIME.items():
        assert builtin.guess_type(f"x{suffix}")[0] in (None, mime), suffix
    assert sorted(_list(_entry()["MimeType"])) == sorted(set(EXPECTED_MIME.values()))


def test_icon_is_a_256_png_rendered_from_the_svg(qapp, tmp_path: Path) -> None:
    data = layout.ICON_PNG.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (256, 256)
    committed = cv2.imread(str(layout.ICON_PNG), cv2.IMREAD_UNCHANGED)
    assert committed.shape == (256, 256, 4)
    assert (
        committed[0, 0, 3] == 0 and committed[128, 128, 3] == 255
    )  # rounded tile: clear corner, solid middle
    render_icon = load_packaging_module("render_icon")
    fresh = cv2.imread(str(render_icon.render(layout.ICON_SVG, tmp_path / "icon.png")), cv2.IMREAD_UNCHANGED)
    difference = np.abs(fresh.astype(np.int16) - committed.astype(np.int16))
    assert difference.mean() < 1.0, "the committed PNG is stale: run python packaging/render_icon.py"
