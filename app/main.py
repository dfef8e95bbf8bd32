"""The ``distilpose-studio`` console script: parse arguments, build the window, run (or screenshot) it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from distilpose import __version__
from distilpose.app import gc_main_thread
from distilpose.app.display import paint_on_gui_thread, use_offscreen_if_headless
from distilpose.app.jobs.process import RUN_TRAIN_FLAG
from distilpose.app.main_window import MainWindow
from distilpose.app.paths import app_icon_path
from distilpose.app.screenshot import take_screenshot
from distilpose.app.state import DEFAULT_THRESHOLD, AppState
from distilpose.cpu_pools import opencv_on_calling_thread
from distilpose.errors import DistilPoseError, MediaError
from distilpose.inference.options import add_inference_args
from distilpose.keypoints import NAMES
from distilpose.video import ImageFolder, is_video_path

APP_NAME = "DistilPose Studio"
ORGANIZATION = "DistilPose"
DEFAULT_SIZE = (1280, 800)


def parse_size(text: str) -> tuple[int, int]:
    """``"WxH"`` -> (W, H), both positive; an argparse type."""
    parts = text.lower().split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x800, got {text!r}") from None
    if w <= 0 or h <= 0 or w > 16384 or h > 16384:
        raise argparse.ArgumentTypeError(f"size must be between 1x1 and 16384x16384, got {text!r}")
    return w, h


def parse_model(text: str) -> str:
    """A registered model name or an existing checkpoint file; an argparse type (fails before any window)."""
    from distilpose.models import list_models

    if Path(text).is_file():
        return str(Path(text).resolve())
    from distilpose.models import DEFAULT_ALIAS

    names = list_models()
    if text in names or text == DEFAULT_ALIAS:  # "default": the app picks by source (LiveController)
        return text
    if os.sep in text or Path(text).suffix:
        raise argparse.ArgumentTypeError(f"{text}: no such checkpoint file")
    raise argparse.ArgumentTypeError(f"unknown model {text!r}; available: {', '.join(names)}")


def parse_threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"threshold must be a number between 0 and 1, got {text!r}"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"threshold must be between 0 and 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distilpose-studio",
        description="Desktop tool for 2D human pose estimation: live inference on images, image folders, "
        "videos and cameras with DistilPose students and heatmap teachers.",
        epilog="Example: distilpose-studio video.mp4 --model distilpose-t --frame 30 --heatmaps "
        "--screenshot out.png",
    )
    parser.add_argument(
        "path",
        nargs="?",
        help="image, video, folder of images, or a COCO .json annotations file; with --project, the image, "
        "folder or video frame is added to the project (if new) and shown",
    )
    parser.add_argument(
        "--project",
        metavar="P.dpproj",
        help="open this annotation project (created when the file does not exist yet)",
    )
    parser.add_argument(
        "--prelabel",
        action="store_true",
        help="with --project: pre-label the shown frame with --model (and --teacher as comparison)",
    )
    parser.add_argument("--ann", metavar="COCO.json", help="COCO keypoint annotations to show on the image")
    parser.add_argument(
        "--camera", type=int, metavar="INDEX", help="show camera INDEX (OpenCV) instead of a file"
    )
    parser.add_argument(
        "--frame",
        type=int,
        default=0,
        metavar="N",
        help="start at frame N of a video or folder; with --project and no path, the N-th frame (from 0) of "
        "the project's frame list",
    )
    parser.add_argument(
        "--model",
        type=parse_model,
        metavar="NAME|CHECKPOINT",
        help="run this model live from the start (a registered name or a checkpoint file)",
    )
    add_inference_args(parser, detector=None, flip="flip test: average with the mirrored image")
    parser.add_argument(
        "--teacher",
        type=parse_model,
        metavar="NAME|CHECKPOINT",
        help="comparison mode: also run this model on the same boxes and show the disagreement",
    )
    add_inference_args(parser, runtime=None, detector="live", flip=None)
    parser.add_argument(
        "--threshold",
        type=parse_threshold,
        default=DEFAULT_THRESHOLD,
        metavar="T",
        help=f"hide keypoints scoring below T (default {DEFAULT_THRESHOLD})",
    )
    parser.add_argument("--smooth", action="store_true", help="One-Euro smoothing of video keypoints")
    parser.add_argument("--heatmaps", action="store_true", help="open the heatmap dock")
    parser.add_argument(
        "--keypoint",
        choices=NAMES,
        default="left_wrist",
        metavar="NAME",
        help="keypoint selected in the heatmap dock (default left_wrist)",
    )
    parser.add_argument(
        "--screenshot",
        metavar="OUT.png",
        help="render the window to a PNG once everything is loaded (and inferred), then exit",
    )
    parser.add_argument(
        "--play",
        action="store_true",
        help="play the video once through the window with live inference on, then quit (a measurement of the "
        "app itself; with --stats-json)",
    )
    parser.add_argument(
        "--stats-json",
        metavar="OUT.json",
        help="with --play: write the play-through's figures (fps, frame_ms_p99, dropped, detector_runs, frames "
        "shown with their own result) to OUT.json",
    )
    parser.add_argument(
        "--play-rate",
        type=float,
        default=None,
        metavar="FPS",
        help="with --play: frames per second to play at (default: the video's rate, dropping frames the model "
        "cannot keep up with; 0: unpaced, each frame decoded as soon as the model took the previous one)",
    )
    parser.add_argument(
        "--size", type=parse_size, default=DEFAULT_SIZE, metavar="WxH", help="window size (default 1280x800)"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def application() -> QApplication:
    """The process's QApplication (reused when one exists, e.g. under pytest-qt) with the app's identity set."""
    paint_on_gui_thread()  # before anything paints: Qt reads it when its pool is first asked for
    opencv_on_calling_thread()  # the frame's conversion to the canvas's pixels, the crops, the detector's resize
    app = QApplication.instance() or QApplication(sys.argv[:1])
    gc_main_thread.install(app)  # Qt objects are never destroyed by a worker thread's collection
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationVersion(__version__)
    icon = app_icon_path()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))  # for every window and dialog
    return app


def configure(window: MainWindow, args: argparse.Namespace) -> None:
    """Apply the display and live-inference options (before or after opening media, both work)."""
    state = window.state
    state.set_threshold(args.threshold)
    window.live.update_settings(
        model=args.model or window.live.settings.model,
        runtime=args.runtime,
        flip=args.flip or (window.live.settings.flip and not args.model),  # a source default keeps its flip
        teacher=args.teacher,
        detector=args.detector,
        smoothing=args.smooth,
    )
    if args.heatmaps:
        window.heatmap_dock.show()
        window.live.update_settings(heatmaps=True)
        state.select_keypoint(0, NAMES.index(args.keypoint))
    if (args.model or args.teacher) and not args.prelabel:
        window.live.set_enabled(True)


def open_project_args(window: MainWindow, args: argparse.Namespace) -> bool:
    """``--project P [PATH] [--frame N]``: open (or create) P, add PATH when new, show the frame asked for.
    Problems are reported through the window; returns False when the project could not be opened."""
    project = window.project
    path = Path(args.project)
    opened = project.open_project(path, position=None) if path.exists() else project.new_project(path)
    if not opened:
        return False
    editor = window.editor
    if args.path:
        target = Path(args.path)
        if target.is_dir():
            if editor.add_folder(target) and args.frame:
                files = ImageFolder(target).files
                editor.show_media(files[min(args.frame, len(files) - 1)])
        elif is_video_path(target):
            editor.add_video_frame(target, args.frame)
        else:
            editor.add_images([target])
    elif (position := project.showable_position(args.frame)) is not None:
        project.show_position(position)  # a frame whose file is there (the bar names the missing ones)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [RUN_TRAIN_FLAG]:  # a frozen app re-invoked by the job manager: be `distilpose train`
        from distilpose.cli import main as cli_main

        return cli_main(["train", *argv[1:]])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.play and (not args.path or not is_video_path(args.path) or args.screenshot or args.project):
        parser.error("--play needs a video file (and no --screenshot or --project)")
    if args.stats_json and not args.play:
        parser.error("--stats-json needs --play")
    if args.play_rate is not None and args.play_rate < 0:
        parser.error("--play-rate must be 0 (unpaced) or a positive number of frames per second")
    if args.play:
        use_offscreen_if_headless()  # a measurement needs no display
        return play(args)
    if args.screenshot:
        use_offscreen_if_headless()  # a screenshot needs no display; without one Qt would abort
    app = application()
    state = AppState()
    window = MainWindow(state)
    window.resize(*args.size)

    if args.screenshot:

        def load() -> None:  # errors propagate: a screenshot of a half-loaded window is worse than none
            if args.project:
                errors: list[str] = []
                state.editFailed.connect(lambda _t, text: errors.append(text))
                if not open_project_args(window, args) or errors:
                    raise DistilPoseError(window.last_error or errors[0])
                configure(window, args)
                if args.prelabel and not window.project.prelabel(False, dialog=False):
                    raise DistilPoseError(window.last_error or "pre-labelling did not start")
                return
            if args.ann:
                state.open_annotations(args.ann)
            if args.path:
                state.open_path(args.path)
                if args.frame:
                    state.set_frame(args.frame)
            elif args.camera is not None and not window.open_camera(args.camera):
                raise MediaError(window.last_error or f"camera {args.camera}: cannot be opened")
            configure(window, args)

        code = take_screenshot(window, state.pending, args.screenshot, load=load)
        window.live.shutdown()
        window.deleteLater()
        return code

    window.show()
    configure(window, args)
    if args.project:
        if open_project_args(window, args) and args.prelabel:
            window.project.prelabel(False)
        code = app.exec()
        window.live.shutdown()
        return code
    if args.ann:
        window.open_annotations(args.ann)
    if args.path:
        if window.open_path(args.path) and args.frame:
            window.go_to_frame(args.frame)
    elif args.camera is not None:
        window.open_camera(args.camera)
    code = app.exec()
    window.live.shutdown()
    return code


def play(args: argparse.Namespace) -> int:
    """``--play``: open the video in a shown window, wait for the model and the first frame's result, play
    it once through live inference, write ``--stats-json`` and quit. Exit 1 when anything failed."""
    import json

    from PySide6.QtCore import QEventLoop, QTimer

    from distilpose.atomic import atomic_write_json

    application()  # the QApplication must exist before any widget
    state = AppState()
    errors: list[str] = []
    window = MainWindow(state, error_sink=lambda _parent, title, text: errors.append(f"{title}: {text}"))
    window.resize(*args.size)
    window.show()
    configure(window, args)
    if not window.open_path(args.path):
        print(f"distilpose-studio: {window.last_error or args.path + ': cannot be opened'}", file=sys.stderr)
        return 1
    if args.frame:
        window.go_to_frame(args.frame)
    window.live.set_enabled(True)
    player = window.player
    player.rate = args.play_rate
    outcome: dict = {}
    # A local loop, not app.exec(): exec() leaves the application "closing down" when it returns.
    loop = QEventLoop()

    def finish() -> None:
        if outcome:
            return
        outcome.update(window.live.playback_report())
        outcome["model"] = window.live.status.model if window.live.status else args.model
        outcome["runtime"] = window.live.status.runtime if window.live.status else args.runtime
        outcome["errors"] = errors
        loop.quit()

    def start_when_ready() -> None:
        if errors:
            finish()
        elif state.pending.is_idle() and window.live.status is not None:
            player.playingChanged.connect(lambda playing: None if playing else QTimer.singleShot(0, finish))
            player.play()
        else:
            QTimer.singleShot(20, start_when_ready)

    QTimer.singleShot(0, start_when_ready)
    loop.exec()
    window.live.shutdown()
    window.close()
    text = json.dumps(outcome, indent=1)
    if args.stats_json:
        atomic_write_json(args.stats_json, outcome, indent=1)
    print(text)
    return 1 if errors or not outcome.get("shown") else 0


if __name__ == "__main__":
    sys.exit(main())
