"""``make run`` (``python -m distilpose.app.launch``) on a machine without a display, and display detection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from distilpose.app.display import has_display, use_offscreen_if_headless
from distilpose.app.launch import default_model_ready, default_view, launch_arguments
from distilpose.app.paths import default_sample, resources_dir
from distilpose.models.bundled import default_live_model

# Written here, not taken from the module under test: the sample video `make run` opens, and its model is the
# live default at the time it runs (tests/unit/test_bundled_models.py pins which that is).
DEFAULT_VIDEO = "sports2d-demo-640.mp4"


def test_display_detection() -> None:
    assert not has_display({})
    assert not has_display({"DISPLAY": ""})
    assert has_display({"DISPLAY": ":0"})
    assert has_display({"WAYLAND_DISPLAY": "wayland-0"})
    assert has_display({"QT_QPA_PLATFORM": "offscreen"})
    env: dict[str, str] = {}
    assert use_offscreen_if_headless(env) and env == {"QT_QPA_PLATFORM": "offscreen"}
    env = {"DISPLAY": ":1"}
    assert not use_offscreen_if_headless(env) and env == {"DISPLAY": ":1"}


def test_resources_are_found() -> None:
    assert (resources_dir() / "samples").is_dir()
    sample = default_sample()
    assert sample is not None and sample.name == "astronaut.jpg"


@pytest.mark.slow
def test_launch_without_a_display_writes_the_screenshot(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run(
        [sys.executable, "-m", "distilpose.app.launch"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = tmp_path / "out" / "distilpose-studio.png"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No display found" in proc.stdout
    assert f"Screenshot saved: {out}" in proc.stdout
    shot = cv2.imread(str(out), cv2.IMREAD_COLOR)
    assert shot is not None and shot.shape == (800, 1280, 3)
    if default_model_ready():  # this process sees the same cache and resources as the one it started
        # The sample video on the default model: a real frame fills the canvas and the model panel names it.
        model = default_live_model()
        assert shot[200:600, 100:800].std() > 20
        assert f"model {model}" in proc.stdout or model in " ".join(launch_arguments(True, out))
    else:
        # The astronaut's orange suit fills much of the fitted 512x512 sample: the picture is not an empty window.
        b, g, r = (shot[..., i].astype(int) for i in range(3))
        orange = (r > 180) & (g > 60) & (g < 160) & (b < 90)
        assert orange.sum() > 20_000
        assert "not fetched yet" in proc.stderr


def test_default_view_opens_the_video_on_the_default_model_when_it_is_ready(monkeypatch) -> None:
    from distilpose.app import launch

    monkeypatch.setattr(launch, "default_model_ready", lambda name=None: True)
    args = default_view()
    assert args[0].endswith(DEFAULT_VIDEO) and args[1:3] == ["--model", default_live_model()]
    monkeypatch.setattr(launch, "default_model_ready", lambda name=None: False)
    assert default_view() == [str(default_sample())]


def test_make_run_decides_its_model_when_it_starts(monkeypatch) -> None:
    """What is fetched when `make run` starts counts: without the zoo the shipped student plays the sample,
    with it the measured default (today the student's prior, tests/unit/test_bundled_models.py)."""
    import distilpose.zoo

    monkeypatch.setattr(distilpose.zoo, "is_cached", lambda name: False)
    offline = default_view()
    monkeypatch.setattr(distilpose.zoo, "is_cached", lambda name: True)
    fetched = default_view()
    assert offline[1:3] == ["--model", "distilpose-mnv2-lt"]
    assert fetched[1:3] == ["--model", default_live_model()] and fetched[2] != offline[2]


def test_readiness_of_zoo_models_and_of_the_shipped_student(monkeypatch) -> None:
    import distilpose.zoo

    monkeypatch.setattr(distilpose.zoo, "is_cached", lambda name: True)
    assert default_model_ready("movenet-thunder")
    monkeypatch.setattr(distilpose.zoo, "is_cached", lambda name: False)
    assert not default_model_ready("movenet-thunder")
    assert not default_model_ready("distilpose-t")  # a registered student without shipped weights


_INTERACTIVE_SCRIPT = """
import sys
from PySide6.QtCore import QTimer
from distilpose.app.main import application, main
from distilpose.app.main_window import MainWindow

app = application()

def report():
    win = next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))
    print("visible", win.isVisible())
    print("image", win.state.image_path)
    print("error", win.last_error)
    app.quit()

QTimer.singleShot(300, report)
sys.exit(main(sys.argv[1:]))
"""


def _run_interactive(tmp_path: Path, *args: str) -> list[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-c", _INTERACTIVE_SCRIPT, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines()


@pytest.mark.slow
def test_interactive_start_opens_the_argument(tmp_path: Path) -> None:
    sample = default_sample()
    assert sample is not None
    lines = _run_interactive(tmp_path, str(sample))
    assert lines == ["visible True", f"image {sample}", "error None"]


@pytest.mark.slow
def test_interactive_start_with_a_bad_file_keeps_running(tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    lines = _run_interactive(tmp_path, str(missing))
    assert lines == ["visible True", "image None", f"error {missing}: file not found"]
