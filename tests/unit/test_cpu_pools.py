"""On a machine with few cores OpenCV runs each call on its caller's thread (ADR 0020, amendment 4)."""

from __future__ import annotations

import cv2
import pytest

from distilpose.cpu_pools import POOL_MIN_CORES, opencv_on_calling_thread


@pytest.fixture
def opencv_threads():
    before = cv2.getNumThreads()
    cv2.setNumThreads(2)
    yield
    cv2.setNumThreads(before)


def test_few_cores_run_opencv_on_the_calling_thread(opencv_threads) -> None:
    assert opencv_on_calling_thread(cores=2) and cv2.getNumThreads() == 1


def test_many_cores_keep_opencvs_pool(opencv_threads) -> None:
    assert not opencv_on_calling_thread(cores=POOL_MIN_CORES) and cv2.getNumThreads() == 2
