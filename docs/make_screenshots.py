"""Regenerate every screenshot of ``docs/user-guide.md`` from the app itself.

    .venv/bin/python docs/make_screenshots.py [--out docs/images] [--work DIR] [--steps N]

Each main screen is rendered by ``distilpose-studio ... --screenshot`` (the same code a user runs), under
``xvfb-run`` when it is installed and there is no display, else on Qt's offscreen platform. The project and
training screens need real data, so the script makes it the way the guide tells a user to: the sample video
is pseudo-labelled by MoveNet Thunder, imported into a project and split, and a short real distillation job
is started from the app's "Distil a Student" dialog (driven in-process, headless) and run to the end.

Needs the zoo models in the cache (``distilpose models fetch all``); the "first run" screen points
``DISTILPOSE_HOME`` at an empty folder instead. Takes a few minutes on a CPU, most of it the training job.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "resources" / "samples"
IMAGE = SAMPLES / "astronaut.jpg"
VIDEO = SAMPLES / "sports2d-demo-640.mp4"
SIZE = "1280x800"
TEACHER = "movenet-thunder"
#: Every n-th frame of the sample video is pseudo-labelled for the demo project (230 frames -> 23).
EVERY = 10
#: Steps of the demo distillation job: enough for curves and a validation point, minutes on a CPU.
DEFAULT_STEPS = 60
#: The distil job is given at most this long before the script gives up (s).
JOB_TIMEOUT_S = 1800
TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"


@dataclass(frozen=True)
class Workspace:
    root: Path
    out: Path

    @property
    def config(self) -> Path:  # DISTILPOSE_STUDIO_CONFIG: recent files of the pictures, not the user's
        return self.root / "config"

    @property
    def empty_cache(self) -> Path:
        return self.root / "empty-cache"

    @property
    def pseudo(self) -> Path:
        return self.root / "pseudo"

    @property
    def project(self) -> Path:
        return self.root / "demo" / "sports2d.dpproj"


@dataclass(frozen=True)
class Shot:
    """One picture of the guide: its file name, what it shows, and the ``distilpose-studio`` arguments."""

    name: str
    shows: str
    args: Callable[[Workspace], list[str]]
    env: Callable[[Workspace], dict[str, str]] = lambda ws: {}
    size: str = SIZE
    #: What must exist first: "" nothing, "project" the demo project, "job" its finished distil job.
    needs: str = ""


#: Rendered by the Distil dialog driver (a dialog has no ``--screenshot`` of its own), not by a Shot.
DIALOG_SHOT = "distil-dialog.png"

SHOTS: tuple[Shot, ...] = (
    Shot(
        "welcome.png",
        "the welcome page with samples, recent files and projects, and the model state",
        lambda ws: [],
        needs="project",  # listed under Recent
    ),
    Shot(
        "first-run.png",
        "the welcome page on a first run: empty model cache, the fetch offer",
        lambda ws: [],
        env=lambda ws: {
            "DISTILPOSE_HOME": str(ws.empty_cache),
            "DISTILPOSE_STUDIO_CONFIG": str(ws.root / "new"),
        },
    ),
    Shot("image-keypoints.png", "an image with live keypoints", lambda ws: [str(IMAGE), "--model", TEACHER]),
    Shot(
        "video-heatmaps.png",
        "the sample video, a model and the heatmap dock",
        lambda ws: [str(VIDEO), "--model", TEACHER, "--frame", "30", "--heatmaps"],
    ),
    Shot(
        "compare.png",
        "comparison mode: a second model on the same boxes and the disagreement",
        lambda ws: [str(VIDEO), "--model", "movenet-lightning", "--teacher", TEACHER, "--frame", "120"],
    ),
    Shot(
        "project-review.png",
        "a project: frames, review queue, instances dock and a pre-labelled frame",
        lambda ws: [
            "--project",
            str(ws.project),
            str(VIDEO),
            "--frame",
            "35",
            "--model",
            TEACHER,
            "--prelabel",
        ],
        needs="project",
    ),
    Shot(
        "training-monitor.png",
        "the project with its finished distillation job in the training monitor",
        lambda ws: ["--project", str(ws.project), "--frame", "3"],
        needs="job",  # at the default size: the monitor must be readable there
    ),
)

#: Every PNG this script writes (the guide's test reads this).
SCREENSHOTS: tuple[str, ...] = (*(s.name for s in SHOTS), DIALOG_SHOT)


# ------------------------------------------------------------------------------------------- running


def _log(text: str) -> None:
    print(f"[screenshots] {text}", flush=True)


def gui_prefix() -> tuple[list[str], dict[str, str]]:
    """``xvfb-run`` when installed and no display is set; else the offscreen platform."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return [], {}
    xvfb = shutil.which("xvfb-run")
    if xvfb:
        return [xvfb, "-a", "-s", "-screen 0 1600x1000x24"], {}
    return [], {"QT_QPA_PLATFORM": "offscreen"}


def base_env(ws: Workspace) -> dict[str, str]:
    env = dict(os.environ, GLIBC_TUNABLES=TUNABLES, DISTILPOSE_STUDIO_CONFIG=str(ws.config))
    env.pop("QT_QPA_PLATFORM", None)
    return env


def run(argv: list[str], env: dict[str, str], what: str) -> None:
    started = time.monotonic()
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, errors="replace")
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-30:])
        raise SystemExit(f"{what} failed with exit code {done.returncode}:\n{tail}")
    _log(f"{what}: {time.monotonic() - started:.1f} s")


def cli(ws: Workspace, *args: str) -> None:
    run([sys.executable, "-m", "distilpose.cli", *args], base_env(ws), f"distilpose {' '.join(args[:2])}")


def studio(ws: Workspace, shot: Shot) -> None:
    prefix, extra = gui_prefix()
    env = {**base_env(ws), **extra, **shot.env(ws)}
    target = ws.out / shot.name
    argv = [*prefix, sys.executable, "-m", "distilpose.app.main", *shot.args(ws)]
    run([*argv, "--size", shot.size, "--screenshot", str(target)], env, shot.name)
    optimise(target)


def optimise(png: Path) -> None:
    """Keep the repository small: drop each channel's lowest bit (a change of 1 in 255 nobody sees, 12 %
    smaller) and re-encode at zlib's highest level (Qt writes a faster, larger PNG)."""
    import cv2

    image = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise SystemExit(f"{png}: the screenshot is not a readable PNG")
    if image.ndim == 3 and image.shape[2] == 4 and (image[:, :, 3] == 255).all():
        image = image[:, :, :3]  # an opaque window: no alpha channel to store
    image = (image & 0xFE) | (image >> 7)  # 7 bits per channel, white stays white
    if not cv2.imwrite(str(png), image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise SystemExit(f"{png}: cannot write the optimised PNG")


# ------------------------------------------------------------------------------------------- data


def write_recent(ws: Workspace) -> None:
    """What a returning user sees on the welcome page: the two samples and the demo project."""
    from distilpose.app.recent import RecentFiles

    files = RecentFiles(ws.config / "recent.json")
    for path in (IMAGE, VIDEO):
        files.add(path)
    RecentFiles(ws.config / "recent_projects.json").add(ws.project)


def build_project(ws: Workspace) -> None:
    """Pseudo-label the sample video with the teacher, import it as verified people, split 80/20."""
    cli(ws, "pseudo-label", str(VIDEO), "--out", str(ws.pseudo), "--teacher", TEACHER, "--every", str(EVERY))
    ws.project.parent.mkdir(parents=True, exist_ok=True)
    cli(ws, "project", "create", str(ws.project))
    ann = ws.pseudo / "person_keypoints.json"
    cli(ws, "project", "import-coco", str(ws.project), str(ann), "--images", str(ws.pseudo / "images"))
    cli(ws, "project", "split", str(ws.project), "--val", "0.2", "--seed", "0")


def drive_distil_dialog(project: Path, dialog_png: Path, steps: int) -> int:
    """In a headless app: open the project, fill in Training > Distil a Student, render the dialog, start
    the job and wait until it has finished and been exported to ONNX. Returns a process exit code."""
    from PySide6.QtWidgets import QApplication, QDialogButtonBox

    from distilpose.app.main import application
    from distilpose.app.main_window import MainWindow
    from distilpose.app.screenshot import save_widget_png
    from distilpose.app.state import AppState

    app = application()
    errors: list[str] = []
    window = MainWindow(AppState(), error_sink=lambda _p, title, text: errors.append(f"{title}: {text}"))
    window.resize(1280, 800)
    window.show()
    if not window.project.open_project(project):
        print(f"cannot open {project}: {window.last_error}", file=sys.stderr)
        return 1
    dialog = window.training.ask_distil()
    dialog.teacher_combo.setCurrentText(TEACHER)
    for _ in range(5):
        app.processEvents()
    save_widget_png(dialog, dialog_png)  # what a user sees: the defaults chosen for this machine
    optimise(dialog_png)
    # The demo job: the smallest student, a few steps (curves and one validation point in minutes).
    dialog.student_combo.setCurrentText("distilpose-t")
    dialog.steps_spin.setValue(steps)
    dialog.batch_spin.setValue(4)
    dialog.workers_spin.setValue(0)
    onnx: list[str] = []
    window.training.manager.onnxExported.connect(lambda _id, path: onnx.append(path))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()  # Start
    manager = window.training.manager
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        app.processEvents()
        jobs = list(manager.jobs.values())
        if jobs and jobs[-1].status in ("failed", "cancelled") or onnx:
            break
        time.sleep(0.05)
    job = list(manager.jobs.values())[-1] if manager.jobs else None
    status = job.status if job is not None else "not started"
    print(json.dumps({"job": job.id if job else None, "status": status, "onnx": onnx, "errors": errors}))
    window.close()
    QApplication.processEvents()
    return 0 if status == "done" and onnx and onnx[0] else 1


def run_distil_job(ws: Workspace, steps: int) -> None:
    prefix, extra = gui_prefix()
    argv = [*prefix, sys.executable, str(Path(__file__).resolve()), "--drive-distil", str(ws.project)]
    argv += [str(ws.out / DIALOG_SHOT), "--steps", str(steps)]
    run(argv, {**base_env(ws), **extra}, f"{DIALOG_SHOT} and a {steps}-step distillation job")


# ------------------------------------------------------------------------------------------- main


def check_zoo() -> None:
    from distilpose.zoo import is_cached

    missing = [n for n in (TEACHER, "movenet-lightning", "centernet") if not is_cached(n)]
    if missing:
        raise SystemExit(
            f"the screenshots need the zoo models {', '.join(missing)}: run `distilpose models fetch all` first"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="where the PNGs go")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="steps of the demo distil job")
    parser.add_argument("--drive-distil", nargs=2, metavar=("PROJECT", "DIALOG_PNG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drive_distil:
        return drive_distil_dialog(Path(args.drive_distil[0]), Path(args.drive_distil[1]), args.steps)

    check_zoo()
    args.out.mkdir(parents=True, exist_ok=True)
    scratch = args.work or Path(tempfile.mkdtemp(prefix="distilpose-screens-"))
    if args.work and scratch.exists():
        shutil.rmtree(scratch)  # every run starts from nothing, so the pictures never show old state
    scratch.mkdir(parents=True, exist_ok=True)
    ws = Workspace(scratch.resolve(), args.out.resolve())
    started = time.monotonic()
    try:
        write_recent(ws)
        made: set[str] = set()
        for shot in SHOTS:  # in order: the project and the job are made when a shot first needs them
            if shot.needs in ("project", "job") and "project" not in made:
                build_project(ws)
                made.add("project")
            if shot.needs == "job" and "job" not in made:
                run_distil_job(ws, args.steps)
                made.add("job")
            studio(ws, shot)
    finally:
        if args.work is None:
            shutil.rmtree(scratch, ignore_errors=True)
    total = sum((ws.out / n).stat().st_size for n in SCREENSHOTS)
    _log(
        f"{len(SCREENSHOTS)} screenshots, {total / 1e6:.2f} MB, in {time.monotonic() - started:.0f} s: {ws.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
