"""The one ONNX service (issue 21 item 3): sessions, the weights-keyed cache, checked exports, and the public
preprocessing. Expected values are worked out by hand here."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from distilpose.errors import DistilPoseError
from distilpose.inference.onnx_service import cached_path, export_checked, open_session
from distilpose.inference.preprocess import crop_batch
from tests.conftest import REPO_ROOT


def test_open_session_names_the_file_and_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DistilPoseError, match=r"missing\.onnx: ONNX model not found"):
        open_session(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a graph")
    with pytest.raises(DistilPoseError, match=r"junk\.onnx: not a loadable ONNX model"):
        open_session(junk)


def test_cache_names_are_keyed_to_the_weights(tmp_path: Path) -> None:
    assert cached_path("centernet", "0123456789abcdef0123", tmp_path) == tmp_path / "centernet-0123456789abcdef.onnx"


def test_an_export_that_fails_its_check_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"

    def refuse(p: Path) -> None:
        assert p.read_bytes() == b"graph"  # the check sees the written file
        raise DistilPoseError(f"{p}: disagrees")

    with pytest.raises(DistilPoseError, match="disagrees"):
        export_checked(path, lambda tmp: Path(tmp).write_bytes(b"graph"), refuse)
    assert not list(tmp_path.iterdir())
    export_checked(path, lambda tmp: Path(tmp).write_bytes(b"graph"), lambda p: None)
    assert path.read_bytes() == b"graph"


def test_crop_batch_pads_the_box_at_the_models_aspect() -> None:
    image = np.zeros((200, 150, 3), np.uint8)
    image[20:100, 10:70] = 200  # the box (10, 20, 60, 80): 60 wide, 80 tall, already 192:256
    batch, centers, scales = crop_batch(image, np.array([[10.0, 20.0, 60.0, 80.0]]), (192, 256))
    assert batch.shape == (1, 3, 256, 192) and batch.dtype == np.float32
    np.testing.assert_allclose(centers, [[40.0, 60.0]])
    np.testing.assert_allclose(scales, [[60 / 200 * 1.25, 80 / 200 * 1.25]])  # pixel_std 200, padding 1.25
    # the padded crop shows the bright box in its middle and the dark image around it
    assert batch[0, 0, 128, 96] > batch[0, 0, 5, 5]


def test_only_the_service_opens_sessions_and_exports() -> None:
    """A second place that exports or opens sessions would be a fourth copy of the cache and the check."""
    found = set()
    for folder in ("distilpose", "training", "app"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr == "InferenceSession":
                    found.add(str(path.relative_to(REPO_ROOT)))
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr == "export"
                    and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "onnx"
                ):
                    found.add(str(path.relative_to(REPO_ROOT)))
    assert found == {"distilpose/inference/onnx_service.py"}
