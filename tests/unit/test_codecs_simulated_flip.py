"""Simulated heatmaps (differentiable Gaussians) and the flip test for students and teachers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from distilpose.codecs import (
    encode_heatmaps,
    flip_back_heatmaps,
    flip_back_regression,
    flip_images,
    flip_test_heatmaps,
    flip_test_regression,
    simulated_heatmap_mask,
    simulated_heatmaps,
)
from distilpose.keypoints import FLIP_PAIRS, NUM_KEYPOINTS, flip_permutation

# ----------------------------------------------------------------------------- simulated heatmaps


def test_simulated_heatmap_peak_and_neighbours_hand_values():
    mu = torch.tensor([[[0.25, 0.5]]], dtype=torch.float64)  # -> (x, y) = (12, 32) on a 48x64 grid
    sig = torch.tensor([[[2.0, 1.0]]], dtype=torch.float64)
    s = simulated_heatmaps(mu, sig)
    assert s.shape == (1, 1, 64, 48)
    assert s[0, 0, 32, 12].item() == 1.0  # exactly 1 at an integer centre
    assert s.max().item() == 1.0
    # neighbours (rel 1e-7: the variance carries the official +1e-9)
    assert s[0, 0, 32, 13].item() == pytest.approx(math.exp(-0.125), rel=1e-7)  # dx = 1, sigma_x = 2
    assert s[0, 0, 33, 12].item() == pytest.approx(math.exp(-0.5), rel=1e-7)  # dy = 1, sigma_y = 1
    assert s[0, 0, 34, 14].item() == pytest.approx(math.exp(-0.5 * (4 / 4 + 4 / 1)), rel=1e-7)


def test_simulated_heatmap_uses_x_times_w_not_w_minus_1():
    mu = torch.tensor([[[1.0, 1.0]]])  # mu = (48, 64): just outside the last pixel, not on it
    s = simulated_heatmaps(mu, torch.full((1, 1, 2), 1.0))
    assert s[0, 0, 63, 47].item() == pytest.approx(math.exp(-0.5 * 2), rel=1e-6)


def test_simulated_heatmap_is_full_map_and_matches_teacher_targets():
    kp = np.array([[83.0, 141.0, 2], [10.5, 200.25, 2]])
    target, _ = encode_heatmaps(kp)  # sigma 2, mu = x / 4
    mu = torch.tensor(kp[None, :, :2] / [192.0, 256.0])
    s = simulated_heatmaps(mu, torch.full((1, 2, 2), 2.0, dtype=torch.float64))
    np.testing.assert_allclose(s[0].numpy(), target, atol=1e-6)
    wide = simulated_heatmaps(torch.tensor([[[0.25, 0.5]]]), torch.tensor([[[10.0, 10.0]]]))
    assert wide[0, 0, 32, 0].item() == pytest.approx(math.exp(-0.5 * 144 / 100), rel=1e-5)


def test_simulated_heatmap_gradients_reach_centre_and_sigmas():
    mu = torch.tensor([[[0.3, 0.6]]], requires_grad=True)
    sig = torch.tensor([[[1.5, 2.5]]], requires_grad=True)
    target = simulated_heatmaps(torch.tensor([[[0.32, 0.58]]]), torch.tensor([[[2.0, 2.0]]]))
    ((simulated_heatmaps(mu, sig) - target) ** 2).sum().backward()
    assert mu.grad is not None and torch.isfinite(mu.grad).all() and mu.grad.abs().min() > 0
    assert sig.grad is not None and torch.isfinite(sig.grad).all() and sig.grad.abs().min() > 0


def test_simulated_heatmap_mask_official_bounds():
    mu = torch.tensor([[[0.5, 0.5], [2.0, 0.5], [-0.2, 0.5]]])
    sig = torch.tensor([[[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]])
    # x = 96 - 3 >= 48 -> out; x = -9.6 + 3 + 1 < 0 -> out
    np.testing.assert_array_equal(simulated_heatmap_mask(mu, sig).numpy(), [[1, 0, 0]])
    with pytest.raises(ValueError, match=r"\(N, K, 2\)"):
        simulated_heatmaps(torch.zeros(1, 2, 2), torch.zeros(1, 2, 1))


# ----------------------------------------------------------------------------- regression flip test

W_IN, H_IN = 16, 10


def _toy_image(rng: np.random.Generator) -> np.ndarray:
    """One-channel (1, H, W) image: the nose pixel has value 9, both members of pair j have value j+1."""
    img = np.zeros((1, H_IN, W_IN))
    cells = rng.choice(H_IN * W_IN, size=NUM_KEYPOINTS, replace=False)
    ys, xs = np.divmod(cells, W_IN)
    # pair members must not share a column, so "left" (larger x) is well defined
    for a, b in FLIP_PAIRS:
        while xs[a] == xs[b]:
            xs[b] = (xs[b] + 1) % W_IN
    img[0, ys[0], xs[0]] = 9
    for j, (a, b) in enumerate(FLIP_PAIRS):
        img[0, ys[a], xs[a]] = j + 1
        img[0, ys[b], xs[b]] = j + 1
    assert (img > 0).sum() == NUM_KEYPOINTS
    return img


def _toy_model(images: np.ndarray):
    """Exactly flip-equivariant: a person's LEFT keypoint is the pair member with the larger x."""
    n = len(images)
    coords = np.zeros((n, NUM_KEYPOINTS, 2))
    scores = np.zeros((n, NUM_KEYPOINTS))
    sigmas = np.zeros((n, NUM_KEYPOINTS, 2))
    for i, img in enumerate(images):
        px = np.zeros((NUM_KEYPOINTS, 2))
        ys, xs = np.nonzero(img[0] == 9)
        px[0] = xs[0], ys[0]
        for j, (a, b) in enumerate(FLIP_PAIRS):
            ys, xs = np.nonzero(img[0] == j + 1)
            big, small = (0, 1) if xs[0] > xs[1] else (1, 0)
            px[a] = xs[big], ys[big]
            px[b] = xs[small], ys[small]
        coords[i] = px / [W_IN, H_IN]  # the training convention: pixel index / size
        scores[i] = px[:, 1] / H_IN  # depends on the keypoint's content only (its row)
        sigmas[i, :, 0] = 1 + np.abs(px[:, 0] - (W_IN - 1) / 2)  # mirror-invariant
        sigmas[i, :, 1] = 1 + px[:, 1]
    return coords, scores, sigmas


@pytest.fixture
def toy_batch():
    rng = np.random.default_rng(3)
    return np.stack([_toy_image(rng) for _ in range(3)])


def test_toy_model_is_flip_equivariant(toy_batch):
    coords, _, _ = _toy_model(toy_batch)
    f_coords, _, _ = _toy_model(flip_images(toy_batch))
    perm = flip_permutation()
    np.testing.assert_allclose(f_coords[:, :, 0], (W_IN - 1) / W_IN - coords[:, perm, 0])


def test_corrected_flip_test_has_zero_error(toy_batch):
    direct = _toy_model(toy_batch)
    coords, scores, sigmas = flip_test_regression(_toy_model, toy_batch, mode="corrected")
    np.testing.assert_allclose(coords, direct[0], atol=1e-12)
    np.testing.assert_allclose(scores, direct[1], atol=1e-12)
    np.testing.assert_allclose(sigmas, direct[2], atol=1e-12)


def test_official_flip_test_has_half_pixel_bias_and_unswapped_scores(toy_batch):
    direct = _toy_model(toy_batch)
    coords, scores, sigmas = flip_test_regression(_toy_model, toy_batch, mode="official")
    bias_px = (coords[..., 0] - direct[0][..., 0]) * W_IN
    np.testing.assert_allclose(bias_px, 0.5, atol=1e-12)  # +0.5 input px in x everywhere
    np.testing.assert_allclose(coords[..., 1], direct[0][..., 1], atol=1e-12)
    perm = flip_permutation()
    np.testing.assert_allclose(scores, 0.5 * (direct[1] + direct[1][:, perm]), atol=1e-12)
    assert not np.allclose(scores, direct[1])
    np.testing.assert_allclose(sigmas, direct[2], atol=1e-12)


def test_flip_back_works_on_torch_and_leaves_inputs_alone():
    rng = np.random.default_rng(0)
    c = rng.random((2, NUM_KEYPOINTS, 2))
    s = rng.random((2, NUM_KEYPOINTS, 1))
    keep = c.copy()
    out_np = flip_back_regression(c, s, None, 192, "corrected")
    out_t = flip_back_regression(torch.tensor(c), torch.tensor(s), None, 192, "corrected")
    np.testing.assert_allclose(out_t[0].numpy(), out_np[0])
    np.testing.assert_allclose(out_t[1].numpy(), out_np[1])
    assert out_np[2] is None
    np.testing.assert_array_equal(c, keep)
    np.testing.assert_allclose(out_np[0][:, 0, 0], 191 / 192 - c[:, 0, 0])  # nose: no swap
    np.testing.assert_allclose(out_np[0][:, 1, 0], 191 / 192 - c[:, 2, 0])  # left eye <- right eye
    with pytest.raises(ValueError, match="unknown flip mode"):
        flip_back_regression(c, s, None, 192, "exact")


# ----------------------------------------------------------------------------- heatmap flip back


def test_flip_back_heatmaps_hand_values():
    hm = np.zeros((1, NUM_KEYPOINTS, 1, 4))
    hm[0, 0, 0] = [5, 6, 7, 8]  # nose
    hm[0, 1, 0] = [1, 2, 3, 4]  # left eye of the mirrored input -> right eye (channel 2)
    out = flip_back_heatmaps(hm, shift=True)
    np.testing.assert_array_equal(out[0, 0, 0], [8, 8, 7, 6])  # mirrored [8,7,6,5], shifted right by one
    np.testing.assert_array_equal(out[0, 2, 0], [4, 4, 3, 2])
    assert not out[0, 1].any()
    np.testing.assert_array_equal(flip_back_heatmaps(hm, shift=False)[0, 0, 0], [8, 7, 6, 5])
    out_t = flip_back_heatmaps(torch.tensor(hm), shift=True)
    np.testing.assert_array_equal(out_t.numpy(), out)
    np.testing.assert_array_equal(hm[0, 0, 0], [5, 6, 7, 8])  # input untouched


def test_flip_test_heatmaps_averages_both_passes():
    rng = np.random.default_rng(1)
    images = torch.tensor(rng.random((2, NUM_KEYPOINTS, 3, 5)))

    def identity(x):
        return x

    avg = flip_test_heatmaps(identity, images, shift=False)
    # identity model: mirrored maps mirrored back give the channel-swapped maps
    expected = 0.5 * (images + images[:, torch.as_tensor(flip_permutation())])
    torch.testing.assert_close(avg, expected)
