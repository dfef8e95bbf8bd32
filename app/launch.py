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
from distilpose.app.paths import default_sample, resources_dir
from distilpose.inference.options import default_for

HEADLESS_OUTPUT = Path("out") / "distilpose-studio.png"
DEFAULT_VIDEO = "sports2d-demo-640.mp4"
DEFAULT_FRAME = 30


def default_model() -> str:
    """The live model `make run` starts on, decided when it starts (what is fetched counts): the first live
    candidate whose recorded measurements meet its bar and whose weights are here (ADR 0008, ADR 0030)."""
    return default_for("video").model


def default_model_ready(name: str | None = None) -> bool:
    """A zoo model is ready once fetched; the shipped student whenever its weights are present."""
    from distilpose.models.readiness import model_readiness

    return model_readiness(name or default_model()).ready


def default_view() -> list[str]:
    """The sample video on the default model when the model is cached, else the sample image alone."""
    video = resources_dir() / "samples" / DEFAULT_VIDEO
    model = default_model()
    ready = default_model_ready(model)
    if video.is_file() and ready:
        return [str(video), "--model", model, "--frame", str(DEFAULT_FRAME)]
    why = f"{model} is not fetched yet (run `distilpose models fetch all`)" if not ready else f"{video} is missing"
    print(f"distilpose-studio: {why}; opening the sample image without a model", file=sys.stderr)
    sample = default_sample()
    if sample is None:
        print("distilpose-studio: the default sample image is missing; starting empty", file=sys.stderr)
        return []
    return [str(sample)]


def launch_arguments(headless: bool, out: Path) -> list[str]:
    """Arguments for :func:`distilpose.app.main.main`: the default view and, headless, a screenshot."""
    args = default_view()
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
