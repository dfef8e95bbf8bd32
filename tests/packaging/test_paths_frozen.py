"""``distilpose.app.paths`` inside a PyInstaller bundle (``sys.frozen`` and ``sys._MEIPASS`` set)."""

from __future__ import annotations

import sys
from pathlib import Path

import distilpose.app.paths as paths
from tests.conftest import REPO_ROOT


def _bundle(tmp_path: Path) -> Path:
    resources = tmp_path / "_internal" / "resources"
    (resources / "samples").mkdir(parents=True)
    (resources / "icons").mkdir()
    (resources / "samples" / "astronaut.jpg").write_bytes(b"jpeg")
    (resources / "icons" / "distilpose-studio.svg").write_text("<svg/>")
    return tmp_path / "_internal"


def test_frozen_app_reads_resources_from_the_bundle(tmp_path: Path, monkeypatch) -> None:
    bundle = _bundle(tmp_path)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert paths.frozen_bundle_dir() == bundle
    assert paths.resources_dir() == bundle / "resources"
    assert paths.default_sample() == bundle / "resources" / "samples" / "astronaut.jpg"
    assert paths.app_icon_path() == bundle / "resources" / "icons" / "distilpose-studio.svg"
    assert paths.icon_path("zoom-in") is None  # not in this bundle: callers fall back to text


def test_editable_install_reads_the_repository_resources(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(_bundle(tmp_path)), raising=False)  # without sys.frozen: ignored
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert paths.frozen_bundle_dir() is None
    assert paths.resources_dir() == REPO_ROOT / "resources"
    assert paths.default_sample() == REPO_ROOT / "resources" / "samples" / "astronaut.jpg"
