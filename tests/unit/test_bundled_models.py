"""Weights shipped under resources/models/: loaded by name, and the default live model follows their bar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from distilpose.inference.loading import has_trained_weights
from distilpose.models import create_model
from distilpose.models.bundled import (
    DEFAULT_STUDENT,
    FALLBACK_LIVE_MODEL,
    bundled_weights,
    default_live_model,
    meets_default_bar,
)
from distilpose.models.checkpoint import load_model, save_weights
from distilpose.resources import RESOURCES_ENV


@pytest.fixture
def resources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(RESOURCES_ENV, str(tmp_path))
    return tmp_path


def _ship(resources: Path, name: str = "distilpose-t", metrics: object | None = None) -> torch.nn.Module:
    folder = resources / "models" / name
    folder.mkdir(parents=True)
    torch.manual_seed(3)
    model = create_model(name)
    save_weights(model, folder / "model.safetensors")
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics) if not isinstance(metrics, str) else metrics)
    return model


def test_a_shipped_model_loads_by_name_with_its_weights(resources: Path) -> None:
    assert bundled_weights("distilpose-t") is None and not has_trained_weights("distilpose-t")
    shipped = _ship(resources)
    assert has_trained_weights("distilpose-t")
    loaded, _ = load_model("distilpose-t")
    for key, value in shipped.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        (None, FALLBACK_LIVE_MODEL),  # no measurements: not the default
        ({"meets_default_bar": False}, FALLBACK_LIVE_MODEL),
        ("{not json", FALLBACK_LIVE_MODEL),
        ({"meets_default_bar": "yes"}, FALLBACK_LIVE_MODEL),  # only a real true counts
        ({"meets_default_bar": True}, DEFAULT_STUDENT),
    ],
)
def test_the_default_live_model_follows_the_recorded_bar(resources: Path, metrics, expected) -> None:
    _ship(resources, DEFAULT_STUDENT, metrics)
    assert default_live_model() == expected
    assert meets_default_bar() == (expected == DEFAULT_STUDENT)


def test_no_weights_no_default(resources: Path) -> None:
    assert default_live_model() == FALLBACK_LIVE_MODEL
