"""``make run``: open the app on the default sample, or render it to a PNG when there is no display.

A headless machine (CI, SSH, a container) has neither ``DISPLAY`` nor ``WAYLAND_DISPLAY``; Qt would abort there,
so we switch to the offscreen platform and write what the window would have shown instead.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from distilpose.app.display import use_offscreen_if_headless
from distilpose.app.main import main as app_main
from distilpose.app.paths import default_sample

HEADLESS_OUTPUT = Path("out") / "distilpose-studio.png"


def launch_arguments(headless: bool, out: Path) -> list[str]:
    """Arguments for :func:`distilpose.app.main.main`: the default sample (if shipped) and, headless, a screenshot."""
    args: list[str] = []
    sample = default_sample()
    if sample is None:
        print("distilpose-studio: the default sample image is missing; starting empty", file=sys.stderr)
    else:
        args.append(str(sample))
    if headless:
        args += ["--screenshot", str(out)]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Extra arguments (e.g. ``--size 1600x1000``) are passed on to ``distilpose-studio``."""
    out = HEADLESS_OUTPUT.resolve()
    headless = use_offscreen_if_headless()
    if headless:
        print(
            "No display found (DISPLAY and WAYLAND_DISPLAY are not set): rendering the default view offscreen "
            f"to {out} instead of opening a window."
        )
    code = app_main([*launch_arguments(headless, out), *(argv or [])])
    if headless and code == 0:
        print(f"Screenshot saved: {out}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
