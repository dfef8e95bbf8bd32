"""One-Euro smoothing (hand-computed values), IoU track ids, and per-person keypoint smoothing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from distilpose.smoothing import KeypointSmoother, OneEuroFilter, smoothing_factor
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


def _person(x0: float, track_id: int | None = None) -> Instance:
    kp = np.zeros((17, 3))
    kp[:, 0] = x0 + np.arange(17)
    kp[:, 1] = 50 + 5 * np.arange(17)
    kp[:, 2] = 2
    return Instance(
        kp, bbox=(x0 - 5, 40, 30, 100), scores=np.full(17, 0.9), source="student", track_id=track_id
    )


def test_keypoint_smoother_filters_each_person_on_its_own() -> None:
    sm = KeypointSmoother(min_cutoff=1.0, beta=0.0)
    first = sm([_person(0, 1), _person(300, 2)], 0.0)
    assert [p.track_id for p in first] == [1, 2]
    moved_a, moved_b = _person(4, 1), _person(304, 2)
    second = sm([moved_b, moved_a], 1.0)  # order swapped
    assert [p.track_id for p in second] == [2, 1]
    # Each person is blended with their own previous position only: x = 300 + a*4 (b) and 0 + a*4 (a).
    np.testing.assert_allclose(second[0].keypoints[:, 0], 300 + ALPHA_1HZ_1S * 4 + np.arange(17))
    np.testing.assert_allclose(second[1].keypoints[:, 0], ALPHA_1HZ_1S * 4 + np.arange(17))
    np.testing.assert_array_equal(second[0].scores, moved_b.scores)
    np.testing.assert_array_equal(moved_b.keypoints[:, 0], 304 + np.arange(17))  # inputs untouched


def test_keypoint_smoother_keys_on_the_ids_it_is_given() -> None:
    """The filter follows the id, not the position: ids swapped by the tracker swap the filters too."""
    sm = KeypointSmoother(min_cutoff=1.0, beta=0.0)
    sm([_person(0, 7), _person(300, 8)], 0.0)
    # id 7 now sits at 304: it is blended with id 7's previous position (0), not with the person at 300
    out = sm([_person(304, 7)], 1.0)
    np.testing.assert_allclose(out[0].keypoints[:, 0], ALPHA_1HZ_1S * 304 + np.arange(17))


def test_keypoint_smoother_passes_people_without_an_id_and_forgets_old_ids() -> None:
    sm = KeypointSmoother(min_cutoff=1.0, beta=0.0, forget_after=2)
    sm([_person(0, 1), _person(300)], 0.0)
    unsmoothed = sm([_person(4, 1), _person(304)], 1.0)
    assert unsmoothed[1].track_id is None
    np.testing.assert_allclose(unsmoothed[1].keypoints[:, 0], 304 + np.arange(17))  # no id: no filter
    sm([], 2.0)
    sm([], 3.0)
    sm([], 4.0)  # id 1 unseen for 3 calls > forget_after: its filter is gone
    back = sm([_person(100, 1)], 5.0)
    np.testing.assert_allclose(back[0].keypoints[:, 0], 100 + np.arange(17))  # a fresh filter: first sample
