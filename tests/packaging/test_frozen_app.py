"""The frozen one-folder build (``make package``): it starts, renders the sample exactly like the source install,
offscreen and under X11, runs a training job the way the job manager starts one, and serves the CLI.

Slow: building takes minutes. The build in ``dist/`` is reused while it is newer than every input (spec, layout,
sources, resources); otherwise it is rebuilt when this test is selected with ``-m slow`` or
``DISTILPOSE_BUILD_FROZEN=1``, and skipped with the reason in a plain run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

import distilpose
from distilpose.app.jobs.process import train_command
from distilpose.training.events import read_events
from distilpose.training.synthetic import smoke_config, write_random_teacher
from tests.conftest import REPO_ROOT
from tests.packaging.support import SPEC_FILE, load_packaging_module

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

layout = load_packaging_module("bundle_layout")
DIST = REPO_ROOT / "dist"
BUNDLE = DIST / layout.APP_NAME
EXE = BUNDLE / layout.APP_NAME
INTERNAL = BUNDLE / "_internal"
BUILD_ENV = "DISTILPOSE_BUILD_FROZEN"
SAMPLE = REPO_ROOT / "resources" / "samples" / "astronaut.jpg"
SIZE = (900, 600)


def _inputs() -> list[Path]:
    """Every file whose change makes a build stale."""
    files = [
        SPEC_FILE,
        layout.ENTRY_SCRIPT,
        layout.DESKTOP_FILE,
        layout.ICON_PNG,
        REPO_ROOT / "pyproject.toml",
    ]
    files.append(REPO_ROOT / "packaging" / "bundle_layout.py")
    for folder in layout.PACKAGE_DIRS.values():
        files += (REPO_ROOT / folder).rglob("*.py")
    for source, _ in layout.data_entries():
        files += [p for p in source.rglob("*") if p.is_file()] if source.is_dir() else [source]
    return files


def _stale_reason() -> str | None:
    if not EXE.is_file():
        return f"{EXE} does not exist"
    built = EXE.stat().st_mtime
    newer = [p for p in _inputs() if p.stat().st_mtime > built]
    return f"{len(newer)} inputs changed since the build (e.g. {newer[0]})" if newer else None


def _build_requested(config: pytest.Config) -> bool:
    expr = config.option.markexpr or ""
    return os.environ.get(BUILD_ENV) == "1" or ("slow" in expr and "not slow" not in expr)


@pytest.fixture(scope="module")
def frozen_app(request: pytest.FixtureRequest) -> Path:
    reason = _stale_reason()
    if reason is None:
        return EXE
    if not _build_requested(request.config):
        pytest.skip(f"no up-to-date frozen build: {reason}; run `make package`, or select with -m slow "
                    f"or {BUILD_ENV}=1 to build it here (minutes)")  # fmt: skip
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed: pip install -e '.[package]'")
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--distpath", str(DIST)]
    command += ["--workpath", str(REPO_ROOT / "build" / "pyinstaller"), str(SPEC_FILE)]
    started = time.monotonic()
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-4000:]
    print(f"frozen build: {time.monotonic() - started:.0f} s")
    return EXE


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The user's environment with the app's settings redirected, so the runs neither read nor add recent files."""
    return {**os.environ, "DISTILPOSE_STUDIO_CONFIG": str(tmp_path / "config"), **extra}


def _screenshot(command: list[str], out: Path, env: dict[str, str]) -> np.ndarray:
    args = [str(SAMPLE), "--size", f"{SIZE[0]}x{SIZE[1]}", "--screenshot", str(out)]
    done = subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    image = cv2.imread(str(out))
    assert image is not None, f"{out}: no PNG written"
    return image


def test_frozen_app_renders_the_sample_like_the_source_install(frozen_app: Path, tmp_path: Path) -> None:
    env = _env(tmp_path, QT_QPA_PLATFORM="offscreen")
    frozen = _screenshot([str(frozen_app)], tmp_path / "frozen.png", env)
    assert frozen.shape == (SIZE[1], SIZE[0], 3)
    assert frozen.std() > 10 and len(np.unique(frozen.reshape(-1, 3), axis=0)) > 1000  # a picture, not a fill
    source = _screenshot([sys.executable, "-m", "distilpose.app.main"], tmp_path / "source.png", env)
    differing = (np.abs(frozen.astype(np.int16) - source.astype(np.int16)).max(axis=2) > 8).mean()
    assert differing < 0.01, f"{differing:.1%} of the pixels differ from the source install's window"


@pytest.fixture
def x_display() -> Iterator[str]:
    """A private Xvfb server's display name (the xcb platform needs a real X server)."""
    read, write = os.pipe()
    try:
        server = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        os.close(read)
        os.close(write)
        pytest.skip("Xvfb is not installed (make sysdeps installs it)")
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        if not number:
            pytest.skip("Xvfb did not start")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def test_frozen_app_starts_under_x11(frozen_app: Path, tmp_path: Path, x_display: str) -> None:
    env = _env(tmp_path, QT_QPA_PLATFORM="xcb", DISPLAY=x_display)
    image = _screenshot([str(frozen_app)], tmp_path / "xcb.png", env)
    assert image.shape == (SIZE[1], SIZE[0], 3) and image.std() > 10


def test_frozen_app_runs_a_training_job_like_the_job_manager(
    frozen_app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher = write_random_teacher(tmp_path / "teacher.safetensors")
    config = tmp_path / "config.json"
    # One DataLoader worker: the frozen executable must also serve as the worker process.
    config.write_text(json.dumps(smoke_config(tmp_path, teacher_weights=teacher, max_steps=1, workers=1)))
    out = tmp_path / "run"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(frozen_app))
    argv = train_command(config, out, out / "events.jsonl")
    monkeypatch.undo()
    assert argv[0] == str(frozen_app) and argv[1] != "-m"
    done = subprocess.run(argv, env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    events = read_events(out / "events.jsonl")
    assert [e["type"] for e in events][0] == "start" and events[-1]["type"] == "done"
    assert events[-1]["status"] == "completed" and Path(events[-1]["final_weights"]).is_file()


def test_frozen_cli_flag_and_bundle_contents(frozen_app: Path) -> None:
    entry = load_packaging_module("frozen_entry")
    done = subprocess.run(
        [str(frozen_app), entry.CLI_FLAG, "--version"], capture_output=True, text=True, timeout=120
    )
    assert (
        done.returncode == 0 and done.stdout.strip() == f"distilpose {distilpose.__version__}"
    )  # metadata kept
    plugins = INTERNAL / "PySide6" / "Qt" / "plugins"
    for plugin in ("platforms/libqoffscreen.so", "platforms/libqxcb.so", "iconengines/libqsvgicon.so"):
        assert (plugins / plugin).is_file(), plugin
    assert (INTERNAL / "resources" / "samples" / "astronaut.jpg").is_file()
    assert (INTERNAL / "share" / "applications" / layout.DESKTOP_FILE.name).is_file()
    assert (INTERNAL / "torch" / "bin" / "torch_shm_manager").is_file()
    assert (
        not (INTERNAL / "torch" / "test").exists() and not (INTERNAL / "torch" / "bin" / "test_api").exists()
    )
