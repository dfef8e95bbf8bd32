"""The one catalogue of inference options (issue 21 item 1): what it offers, and that every front end uses it.

Expected values are written here as literals, not read from the module under test.
"""

from __future__ import annotations

import argparse
import ast

import pytest

from distilpose.errors import DistilPoseError
from distilpose.inference.options import (
    DEFAULT_TEACHER,
    DETECTOR,
    REFERENCE_RUNTIME,
    RUNTIME,
    RUNTIMES,
    SOURCE,
    add_inference_args,
    default_for,
)
from tests.conftest import REPO_ROOT


def test_runtimes_and_their_defaults() -> None:
    assert RUNTIMES == ("torch", "torch-bf16", "torch-compile", "torch-bf16-compile", "onnx", "onnx-int8")
    assert RUNTIME.default == "auto" and RUNTIME.keys == ("auto", *RUNTIMES)
    assert REFERENCE_RUNTIME == "torch"
    # the live view never offers what compiles per batch size, nor int8 (auto may still choose it)
    assert [o.key for o in RUNTIME.offered("live")] == ["auto", "torch", "torch-bf16", "onnx"]
    assert RUNTIME.option("onnx").label == "ONNX Runtime"


def test_detectors_offered_in_each_place() -> None:
    assert DETECTOR.default == "auto"
    assert [o.key for o in DETECTOR.offered("live")] == ["auto", "centernet", "full-frame"]
    assert [o.key for o in DETECTOR.offered("live", "app")] == ["auto", "centernet", "full-frame", "user-boxes"]
    assert [o.key for o in DETECTOR.offered("eval")] == [
        "centernet", "centernet-tiles", "centernet-flip", "multipose"
    ]  # fmt: skip
    assert [o.key for o in DETECTOR.offered("cli")] == [
        "auto", "centernet", "centernet-tiles", "centernet-flip", "multipose", "full-frame"
    ]  # fmt: skip


def test_detection_uses_the_catalogues_names() -> None:
    from distilpose.detection import DETECTOR_NAMES

    assert DETECTOR_NAMES == (
        "centernet", "centernet-tiles", "centernet-flip", "multipose", "full-frame", "user-boxes"
    )  # fmt: skip


def test_defaults_per_source_and_the_teacher() -> None:
    from distilpose.models.bundled import MOVING_SOURCES, STILL_SOURCES
    from distilpose.models.registry import resolve_name

    assert SOURCE.keys == (*STILL_SOURCES, *MOVING_SOURCES) == ("image", "folder", "video", "camera")
    assert SOURCE.default == "video"
    assert default_for("image").model == "movenet-thunder" and default_for("image").flip
    assert not default_for("video").flip
    # "default" means the source's default; with no source of its own (the CLI) video's
    assert resolve_name("default") == default_for("video").model
    assert resolve_name("default", "folder") == "movenet-thunder"
    assert DEFAULT_TEACHER == "movenet-thunder"
    with pytest.raises(DistilPoseError, match="unknown source kind 'slides'"):
        default_for("slides")


def test_checks_and_lists_name_the_choices() -> None:
    assert RUNTIME.check("onnx") == "onnx"
    with pytest.raises(DistilPoseError, match="unknown runtime 'tpu'; choose from auto, torch"):
        RUNTIME.check("tpu")
    with pytest.raises(DistilPoseError, match="unknown runtime 'auto'"):
        RUNTIME.check("auto", RUNTIMES)
    assert RUNTIME.parse_list("torch, onnx") == ["torch", "onnx"]
    with pytest.raises(DistilPoseError, match=r"unknown runtime\(s\) \['tpu'\]"):
        RUNTIME.parse_list("torch,tpu")


def _action(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return next(a for a in parser._actions if flag in a.option_strings)


def _subparser(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


@pytest.mark.parametrize(
    ("path", "detectors"),
    [
        (("eval",), ("centernet", "centernet-tiles", "centernet-flip", "multipose")),
        (("bench",), ("auto", "centernet", "centernet-tiles", "centernet-flip", "multipose", "full-frame")),
        (("project", "prelabel"), ("auto", "centernet", "centernet-tiles", "centernet-flip", "multipose", "full-frame")),
        (("pseudo-label",), ("auto", "centernet", "centernet-tiles", "centernet-flip", "multipose", "full-frame")),
    ],
)
def test_every_command_offers_the_catalogue(path: tuple[str, ...], detectors: tuple[str, ...]) -> None:
    from distilpose.cli import build_parser

    parser = _subparser(build_parser(), *path)
    runtime = _action(parser, "--runtime")
    assert runtime.default == "auto"
    assert runtime.choices in (None, ("auto", *RUNTIMES))  # bench takes a comma-separated list
    assert "fastest runtime checked against PyTorch" in runtime.help
    detector = _action(parser, "--detector")
    assert tuple(detector.choices) == detectors
    assert "--flip" in parser._option_string_actions


def test_pseudo_label_runs_on_the_runtime_it_is_given() -> None:
    from distilpose.cli import build_parser

    args = build_parser().parse_args(["pseudo-label", "clip.mp4", "--out", "o", "--runtime", "onnx"])
    assert (args.runtime, args.teacher, args.detector) == ("onnx", "movenet-thunder", "auto")


def test_only_the_catalogue_declares_runtime_and_detector_flags() -> None:
    """A front end that adds its own --runtime or --detector would be a fifth version of the lists."""
    declared = []
    for folder in ("distilpose", "training", "app"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add_argument"
                    and any(isinstance(a, ast.Constant) and a.value in ("--runtime", "--detector") for a in node.args)
                ):
                    declared.append(str(path.relative_to(REPO_ROOT)))
    assert sorted(set(declared)) == ["distilpose/inference/options.py"]


def test_add_inference_args_words() -> None:
    parser = argparse.ArgumentParser()
    add_inference_args(parser, detector="live", flip="mirror it")
    args = parser.parse_args([])
    assert (args.runtime, args.detector, args.flip) == ("auto", "auto", False)
    assert tuple(_action(parser, "--detector").choices) == ("auto", "centernet", "full-frame")
    with pytest.raises(SystemExit):
        parser.parse_args(["--runtime", "tpu"])
