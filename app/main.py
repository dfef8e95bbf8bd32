"""The ``distilpose-studio`` console script: parse arguments, build the window, run (or screenshot) it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from distilpose import __version__
from distilpose.app.display import use_offscreen_if_headless
from distilpose.app.main_window import MainWindow
from distilpose.app.paths import app_icon_path
from distilpose.app.screenshot import take_screenshot
from distilpose.app.state import AppState

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distilpose-studio", description="Desktop tool for 2D human pose estimation."
    )
    parser.add_argument("path", nargs="?", help="image to open (or a COCO .json annotations file)")
    parser.add_argument("--ann", metavar="COCO.json", help="COCO keypoint annotations to show on the image")
    parser.add_argument(
        "--screenshot",
        metavar="OUT.png",
        help="render the window to a PNG once everything is loaded, then exit",
    )
    parser.add_argument(
        "--size", type=parse_size, default=DEFAULT_SIZE, metavar="WxH", help="window size (default 1280x800)"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def application() -> QApplication:
    """The process's QApplication (reused when one exists, e.g. under pytest-qt) with the app's identity set."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationVersion(__version__)
    icon = app_icon_path()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))  # for every window and dialog
    return app


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.screenshot:
        use_offscreen_if_headless()  # a screenshot needs no display; without one Qt would abort
    app = application()
    state = AppState()
    window = MainWindow(state)
    window.resize(*args.size)

    if args.screenshot:

        def load() -> None:  # errors propagate: a screenshot of a half-loaded window is worse than none
            if args.ann:
                state.open_annotations(args.ann)
            if args.path:
                state.open_path(args.path)

        code = take_screenshot(window, state.pending, args.screenshot, load=load)
        window.deleteLater()
        return code

    window.show()
    if args.ann:
        window.open_annotations(args.ann)
    if args.path:
        window.open_path(args.path)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
