"""The one catalogue of inference options: runtimes, person detectors, the default model per source kind and
the default teacher, each with the label the app shows, the help the CLI prints and its default.

Before this module the runtimes lived in six places in four versions (issue 21). Now every front end builds
its choices from here: the CLI through :func:`add_inference_args`, the app's command line and model panel
through :meth:`Choices.offered`, ``LiveSettings`` through the defaults. Import-light (no torch, no Qt), so
``--help`` stays fast.

Two defaults for a runtime, each with one meaning: what a person gets when they choose nothing
(:data:`RUNTIME`'s default, ``auto``), and what library functions run when their caller names none
(:data:`REFERENCE_RUNTIME`, eager PyTorch fp32: what every other runtime is checked against).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from distilpose.errors import DistilPoseError

if TYPE_CHECKING:
    from distilpose.models.bundled import DefaultChoice


@dataclass(frozen=True)
class Option:
    """One choice: its key (what the CLI and settings store), the app's label and the CLI's help."""

    key: str
    label: str
    help: str
    #: Where it is offered: "live" (the model panel and the app's command line), "cli" (the library's
    #: commands), "app" (the panel only: boxes drawn by hand need the window), "eval" (scored detections).
    where: frozenset[str] = frozenset({"live", "cli"})


@dataclass(frozen=True)
class Choices:
    """An ordered set of options with one default."""

    what: str  # "runtime", "detector", "source": for messages
    options: tuple[Option, ...]
    default: str

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(o.key for o in self.options)

    def offered(self, *where: str) -> tuple[Option, ...]:
        """The options offered in any of these places ("live", "cli", "app", "eval"), in catalogue order."""
        return tuple(o for o in self.options if o.where & set(where))

    def option(self, key: str) -> Option:
        for o in self.options:
            if o.key == key:
                return o
        raise DistilPoseError(f"unknown {self.what} {key!r}; choose from {', '.join(self.keys)}")

    def check(self, key: str, allowed: Iterable[str] | None = None) -> str:
        """``key`` when it is one of ``allowed`` (default: all), else a DistilPoseError listing them."""
        allowed = tuple(self.keys if allowed is None else allowed)
        if key not in allowed:
            raise DistilPoseError(f"unknown {self.what} {key!r}; choose from {', '.join(allowed)}")
        return key

    def parse_list(self, text: str, allowed: Iterable[str] | None = None) -> list[str]:
        """A comma-separated list of keys (``bench --runtime torch,onnx``), each checked."""
        allowed = tuple(self.keys if allowed is None else allowed)
        names = [t.strip() for t in text.split(",") if t.strip()]
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise DistilPoseError(
                f"unknown {self.what}(s) {unknown or text!r}; choose from {', '.join(allowed)}"
            )
        return names

    def help_text(self, options: Iterable[Option]) -> str:
        """``key: help; key: help`` for the options given, the default marked."""
        return "; ".join(
            f"{o.key}{' (default)' if o.key == self.default else ''}: {o.help}" for o in options
        )


AUTO = "auto"
_LIVE_CLI = frozenset({"live", "cli"})
_CLI = frozenset({"cli"})

RUNTIME = Choices(
    "runtime",
    (
        Option(AUTO, "Auto (fastest checked)", "per model, the fastest runtime checked against PyTorch on this "
               "machine, chosen once and cached"),
        Option("torch", "PyTorch", "PyTorch fp32, eager (the reference every other runtime is checked against)"),
        Option("torch-bf16", "PyTorch bf16", "PyTorch with bf16 autocast"),
        # compiled once per batch size (10-40 s): a person entering the live view would stall it (ADR 0010)
        Option("torch-compile", "PyTorch compiled", "PyTorch fp32 compiled by inductor (10-40 s per batch size, "
               "first call)", _CLI),
        Option("torch-bf16-compile", "PyTorch bf16 compiled", "bf16 autocast, compiled by inductor", _CLI),
        Option("onnx", "ONNX Runtime", "ONNX Runtime fp32; the model is exported once, checked and cached"),
        Option("onnx-int8", "ONNX Runtime int8", "ONNX Runtime, dynamic int8 MatMul/Gemm (output head in float)",
               _CLI),
    ),
    default=AUTO,
)
#: Every concrete runtime ("auto" is a choice among them: :mod:`distilpose.inference.auto`).
RUNTIMES = tuple(k for k in RUNTIME.keys if k != AUTO)
#: What a library function runs when its caller names no runtime: the exact reference, no choice to make.
REFERENCE_RUNTIME = "torch"

DETECTOR = Choices(
    "detector",
    (
        Option(AUTO, "Auto (CenterNet if fetched, else whole frame)", "CenterNet on the frame and two tiles when "
               "fetched, else the whole frame"),
        Option("centernet", "CenterNet (zoo)", "CenterNet on the whole frame", frozenset({"live", "cli", "eval"})),
        Option("centernet-tiles", "CenterNet on tiles", "CenterNet on the frame and two square tiles",
               frozenset({"cli", "eval"})),
        Option("centernet-flip", "CenterNet with flip", "CenterNet on the frame and its mirror",
               frozenset({"cli", "eval"})),
        Option("multipose", "MoveNet MultiPose", "MoveNet MultiPose's person boxes", frozenset({"cli", "eval"})),
        Option("full-frame", "Whole frame", "one box: the whole frame", _LIVE_CLI),
        Option("user-boxes", "Boxes I draw", "the boxes drawn in the window", frozenset({"app"})),
    ),
    default=AUTO,
)
#: Every concrete detector ("auto" picks one: :func:`distilpose.detection.make_detector`).
DETECTORS = tuple(k for k in DETECTOR.keys if k != AUTO)

SOURCE = Choices(
    "source kind",
    (
        Option("image", "Image", "a still: the most accurate model, with flip test"),
        Option("folder", "Folder of images", "stills: the most accurate model, with flip test"),
        Option("video", "Video", "the fastest model that keeps up live (the first live candidate that meets its bar)"),
        Option("camera", "Camera", "as video"),
    ),
    default="video",
)

#: The teacher a distillation and pseudo-labelling start from (the app's Distil dialog, ``project distil``,
#: ``pseudo-label``): MoveNet Thunder, the most accurate model here (a literal: importing the models package
#: would load torch at ``--help``).
DEFAULT_TEACHER = "movenet-thunder"


def default_for(source: str = SOURCE.default) -> DefaultChoice:
    """The model (and flip test) a source kind gets until the user chooses one: what the name ``default``
    means everywhere. A command with no source kind of its own (``eval --model default``) means video."""
    from distilpose.models.bundled import default_choice  # the rule (ADR 0008) lives beside the weights

    return default_choice(SOURCE.check(source))


def add_inference_args(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    *,
    runtime: str | None = "one",
    detector: str | None = "cli",
    flip: str | None = "average with the horizontally flipped crop (flip test: better, twice the time)",
) -> None:
    """Add ``--runtime``, ``--detector`` and ``--flip`` from the catalogue, so every command offers the same
    choices with the same words and defaults.

    ``runtime``: "one" (a single runtime), "list" (comma-separated, for ``bench``) or None (no flag).
    ``detector``: where the offered detectors are used ("cli", "live", "eval"), or None. ``flip``: the flag's
    help, or None for no flag.
    """
    if runtime == "one":
        parser.add_argument(
            "--runtime",
            default=RUNTIME.default,
            choices=RUNTIME.keys,
            metavar="|".join(RUNTIME.keys),
            help=f"inference runtime: {RUNTIME.help_text(RUNTIME.options)}",
        )
    elif runtime == "list":
        parser.add_argument(
            "--runtime",
            default=RUNTIME.default,
            metavar="RUNTIME[,RUNTIME...]",
            help=f"comma-separated inference runtimes: {RUNTIME.help_text(RUNTIME.options)}",
        )
    elif runtime is not None:
        raise ValueError(f"runtime must be 'one', 'list' or None, not {runtime!r}")
    if detector is not None:
        offered = DETECTOR.offered(detector)
        keys = tuple(o.key for o in offered)
        parser.add_argument(
            "--detector",
            default=DETECTOR.default if DETECTOR.default in keys else None,
            choices=keys,
            metavar="|".join(keys),
            help=f"person boxes: {DETECTOR.help_text(offered)}",
        )
    if flip is not None:
        parser.add_argument("--flip", action="store_true", help=flip)
