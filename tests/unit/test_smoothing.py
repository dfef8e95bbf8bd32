"""One-Euro smoothing (hand-computed values), IoU track ids, and per-person keypoint smoothing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from distilpose.smoothing import IouTracker, KeypointSmoother, OneEuroFilter, box_iou, smoothing_factor
from distilpose.types import Instance

# alpha = 1 / (1 + tau/dt), tau = 1/(2 pi fc). fc = 1 Hz, dt = 1 s: alpha = 2 pi / (2 pi + 1) = 0.8626974.
ALPHA_1HZ_1S = 2 * math.pi / (2 * math.pi + 1)


def test_smoothing_factor_by_hand() -> None:
    assert smoothing_factor(1.0, 1.0) == pytest.approx(0.8626974, abs=1e-7)
    assert smoothing_factor(1.0, 1.0) == pytest.approx(ALPHA_1HZ_1S)
    # fc = 0.5 Hz, dt = 0.1 s: tau = 1/pi = 0.3183099; alpha = 1 / (1 + 3.183099) = 0.2390572.
    assert smoothing_factor(0.5, 0.1) == pytest.approx(0.2390572, abs=1e-7)


def test_one_euro_without_speed_term_is_an_exponential_filter() -> None:
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    assert f(np.array([0.0]), 0.0)[0] == 0.0  # the first sample passes through
    # x1 = a*1 + (1-a)*0 = 0.8626974
    assert f(np.array([1.0]), 1.0)[0] == pytest.approx(0.8626974, abs=1e-7)
    # x2 = a*1 + (1-a)*0.8626974 = 0.8626974 + 0.1373026*0.8626974 = 0.9811480
    assert f(np.array([1.0]), 2.0)[0] == pytest.approx(0.9811480, abs=1e-7)


def test_one_euro_speed_raises_the_cutoff() -> None:
    f = OneEuroFilter(min_cutoff=1.0, beta=1.0, d_cutoff=1.0)
    f(np.array([0.0]), 0.0)
    # speed dx = 1/1; dx_hat = a_d*1 = 0.8626974; cutoff = 1 + 1*0.8626974 = 1.8626974 Hz;
    # tau = 1/(2 pi 1.8626974) = 0.0854431; alpha = 1/1.0854431 = 0.9212826.
    assert f(np.array([1.0]), 1.0)[0] == pytest.approx(0.9212826, abs=1e-6)


def test_time_going_backwards_restarts_the_filter() -> None:
    f = OneEuroFilter()
    f(np.array([0.0, 0.0]), 1.0)
    f(np.array([5.0, 5.0]), 2.0)
    np.testing.assert_array_equal(f(np.array([9.0, 7.0]), 0.5), [9.0, 7.0])  # a seek back: no blending


def test_jitter_is_reduced_and_fast_motion_keeps_up() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(120) / 30.0
    still = 100 + rng.normal(0, 2.0, size=(120, 17, 2))
    f = OneEuroFilter(min_cutoff=1.0, beta=0.01)  # the app's default for pixel coordinates
    out = np.array([f(x, ti) for x, ti in zip(still, t, strict=True)])
    assert out[30:].std() < 0.4 * still[30:].std()
    # A fast, clean ramp (300 px/s): the speed term follows with much less lag than a plain low-pass.
    ramp = (300 * t)[:, None] * np.ones(2)
    lag = {}
    for beta in (0.0, 0.01):
        g = OneEuroFilter(min_cutoff=1.0, beta=beta)
        res = np.array([g(x, ti) for x, ti in zip(ramp, t, strict=True)])
        lag[beta] = np.abs(res[-1] - ramp[-1]).max()
    assert lag[0.01] < 0.2 * lag[0.0]


def test_box_iou_by_hand() -> None:
    # [0,0,10,10] vs [5,0,10,10]: overlap 5x10 = 50, union 150 -> 1/3.
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 10, 10], [20, 20, 5, 5]]))
    np.testing.assert_allclose(iou, [[1 / 3, 0.0]])


def test_tracker_keeps_ids_when_order_changes_and_forgets_old_tracks() -> None:
    tr = IouTracker(min_iou=0.3, max_age=2)
    a, b = [0, 0, 50, 100], [200, 0, 50, 100]
    assert tr.assign(np.array([a, b])) == [1, 2]
    assert tr.assign(np.array([[203, 2, 50, 100], [2, 1, 50, 100]])) == [2, 1]  # swapped order, moved a bit
    assert tr.assign(np.array([[400, 0, 50, 100]])) == [3]  # a new person
    tr.assign(np.zeros((0, 4)))
    tr.assign(np.zeros((0, 4)))
    assert tr.assign(np.array([a])) == [4]  # track 1 was unmatched for 3 frames > max_age: forgotten


def _person(x0: float) -> Instance:
    kp = np.zeros((17, 3))
    kp[:, 0] = x0 + np.arange(17)
    kp[:, 1] = 50 + 5 * np.arange(17)
    kp[:, 2] = 2
    return Instance(kp, bbox=(x0 - 5, 40, 30, 100), scores=np.full(17, 0.9), source="student")


def test_keypoint_smoother_filters_each_person_on_its_own() -> None:
    sm = KeypointSmoother(min_cutoff=1.0, beta=0.0)
    first = sm([_person(0), _person(300)], 0.0)
    assert [p.track_id for p in first] == [1, 2]
    moved_a, moved_b = _person(4), _person(304)
    second = sm([moved_b, moved_a], 1.0)  # order swapped
    assert [p.track_id for p in second] == [2, 1]
    # Each person is blended with their own previous position only: x = 300 + a*4 (b) and 0 + a*4 (a).
    np.testing.assert_allclose(second[0].keypoints[:, 0], 300 + ALPHA_1HZ_1S * 4 + np.arange(17))
    np.testing.assert_allclose(second[1].keypoints[:, 0], ALPHA_1HZ_1S * 4 + np.arange(17))
    np.testing.assert_array_equal(second[0].scores, moved_b.scores)
    np.testing.assert_array_equal(moved_b.keypoints[:, 0], 304 + np.arange(17))  # inputs untouched
