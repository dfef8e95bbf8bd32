"""Unbiased Gaussian heatmap targets and argmax + DARK decoding."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from distilpose.codecs import decode_heatmaps, decode_heatmaps_around, encode_heatmaps
from distilpose.codecs.heatmap import gaussian_blur_like_dark


def _kp(*rows):
    return np.array(rows, dtype=np.float64)


def test_encode_hand_values():
    # crop (100, 60) -> heatmap mu = (25, 15) with stride 4
    hm, w = encode_heatmaps(_kp([100, 60, 2]))
    assert hm.shape == (1, 64, 48) and hm.dtype == np.float32
    assert w[0] == 1.0
    assert hm[0, 15, 25] == pytest.approx(1.0)
    assert hm[0, 15, 26] == pytest.approx(math.exp(-1 / 8), rel=1e-6)  # 1 px away, sigma 2
    assert hm[0, 17, 25] == pytest.approx(math.exp(-4 / 8), rel=1e-6)
    # sub-pixel centre: mu = (10.5, 20.25)
    hm, _ = encode_heatmaps(_kp([42, 81, 2]))
    assert hm[0, 20, 10] == pytest.approx(math.exp(-(0.25 + 0.0625) / 8), rel=1e-6)
    # full map: far pixels are tiny but not truncated to zero
    assert 0 < hm[0, 20, 20] < 1e-4


def test_encode_in_crop_rule_and_visibility():
    kp = _kp(
        [-40, 100, 2],  # mu_x = -10: -10 + 6 + 1 < 0 -> dropped
        [-20, 100, 2],  # mu_x = -5: -5 + 7 >= 0 -> kept (its tail touches the map)
        [50, 100, 0],  # unlabelled
        [50, 100, 1],  # occluded but labelled
        [50, 280, 2],  # mu_y = 70: 70 - 6 = 64 >= H -> dropped
        [50, 279, 2],  # mu_y = 69.75: 63.75 < 64 -> kept
    )
    hm, w = encode_heatmaps(kp)
    np.testing.assert_array_equal(w, [0, 1, 0, 1, 0, 1])
    assert not hm[[0, 2, 4]].any()
    assert hm[1].max() > 0 and hm[5].max() > 0


def test_dark_decode_recovers_sub_pixel_centres():
    centres = np.array([[20.3, 30.7], [10.55, 50.2], [33.9, 12.45], [24.0, 32.0], [5.2, 8.8]])
    kp = np.concatenate([centres * 4.0, np.full((len(centres), 1), 2.0)], axis=1)
    hm, _ = encode_heatmaps(kp)
    coords, maxvals = decode_heatmaps(hm[None])
    assert coords.shape == (1, len(centres), 2) and maxvals.shape == (1, len(centres))
    assert np.abs(coords[0] - centres).max() < 0.05
    # plain argmax is only pixel-accurate
    plain, _ = decode_heatmaps(hm[None], dark=False)
    np.testing.assert_array_equal(plain[0], np.rint(centres))
    assert np.abs(plain[0] - centres).max() > 0.4


def test_decode_marks_non_positive_maps_like_mmpose():
    hm = np.full((1, 2, 64, 48), -1.0, dtype=np.float32)
    hm[0, 1, 10, 20] = 0.5
    coords, maxvals = decode_heatmaps(hm)
    np.testing.assert_array_equal(coords[0, 0], [-1, -1])
    assert maxvals[0, 0] == -1.0
    assert maxvals[0, 1] == 0.5


def test_dark_blur_equals_opencv_on_a_zero_padded_map():
    rng = np.random.default_rng(0)
    maps = rng.random((3, 64, 48)).astype(np.float32)
    ours = gaussian_blur_like_dark(maps, 11)
    for i, m in enumerate(maps):
        padded = np.zeros((64 + 10, 48 + 10), np.float32)
        padded[5:-5, 5:-5] = m
        ref = cv2.GaussianBlur(padded, (11, 11), 0)[5:-5, 5:-5]
        ref = ref * (m.max() / ref.max())
        np.testing.assert_allclose(ours[i], ref, rtol=1e-4, atol=1e-6)


def test_decode_around_ignores_a_stronger_distant_peak():
    weak, _ = encode_heatmaps(_kp([10.4 * 4, 12.3 * 4, 2]))
    strong, _ = encode_heatmaps(_kp([35 * 4, 50 * 4, 2]))
    hm = (0.6 * weak + strong)[None]  # (1, 1, 64, 48): a 0.6 peak near the guess, a 1.0 peak far away
    coords, maxvals = decode_heatmaps_around(hm, np.array([[[11.0, 11.0]]]), radius=4)
    assert np.abs(coords[0, 0] - [10.4, 12.3]).max() < 0.05
    assert maxvals[0, 0] == pytest.approx(0.6, abs=0.02)
    glob, gmax = decode_heatmaps(hm)
    assert np.abs(glob[0, 0] - [35, 50]).max() < 0.05 and gmax[0, 0] == pytest.approx(1.0, abs=1e-3)
    # a guess outside the map is clamped into it; radius 0 still gives a window of one pixel
    coords, _ = decode_heatmaps_around(hm + 0.01, np.array([[[-30.0, 200.0]]]), radius=0, dark=False)
    np.testing.assert_array_equal(coords[0, 0], [0, 63])


def test_decode_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(N, K, H, W\)"):
        decode_heatmaps(np.zeros((17, 64, 48)))
    with pytest.raises(ValueError, match="guess must have shape"):
        decode_heatmaps_around(np.zeros((1, 2, 64, 48)), np.zeros((1, 3, 2)), 3)
    with pytest.raises(ValueError, match="NaN"):
        decode_heatmaps_around(np.zeros((1, 1, 64, 48)), np.full((1, 1, 2), np.nan), 3)
