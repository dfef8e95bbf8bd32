"""Shared fixtures. GUI tests run offscreen unless a display is explicitly requested."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with a reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not present: {path} (only in development checkouts and CI)")
    return path


@pytest.fixture
def coco_mini_train() -> Path:
    return shared_path("coco-mini-train", "person_keypoints.json")


@pytest.fixture
def mmpose_coco() -> Path:
    return shared_path("mmpose-coco")
