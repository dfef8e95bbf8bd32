"""DistilPose losses with hand-computed values, including the official JointsMSELoss broadcast quirk."""

from __future__ import annotations

import pydantic
import pytest
import torch
import torch.nn.functional as F

from distilpose.codecs import simulated_heatmaps
from distilpose.losses import (
    DistillationLoss,
    DistillLossConfig,
    heatmap_mse_loss,
    sample_teacher_at,
    score_loss,
    simulated_heatmap_loss,
    smooth_l1_regression_loss,
    token_distill_loss,
)


def t(x):
    return torch.tensor(x, dtype=torch.float64)


def test_smooth_l1_hand_values():
    pred = t([[[0.5, 0.2], [3.0, 0.0]]])
    target = t([[[0.0, 0.2], [0.0, 0.0]]])
    # |d| = 0.5 -> 0.5*0.25 = 0.125 ; |d| = 3 -> 3 - 0.5 = 2.5 ; mean over N*K*2 = 4
    assert smooth_l1_regression_loss(pred, target, t([[1.0, 1.0]])).item() == pytest.approx(2.625 / 4)
    assert smooth_l1_regression_loss(pred, target, t([[1.0, 0.0]])).item() == pytest.approx(0.125 / 4)
    # the (N, K, 2) weight layout mmpose uses gives the same value
    w2 = t([[[1.0, 1.0], [0.0, 0.0]]])
    assert smooth_l1_regression_loss(pred, target, w2).item() == pytest.approx(0.125 / 4)


def test_token_distill_hand_value_and_no_teacher_gradient():
    student = t([[[1.0, 2.0]]]).requires_grad_()
    teacher = t([[[0.0, 0.0]]]).requires_grad_()
    loss = token_distill_loss(student, teacher)
    assert loss.item() == pytest.approx((1 + 4) / 2)
    loss.backward()
    assert teacher.grad is None and student.grad is not None
    with pytest.raises(ValueError, match="differ in shape"):
        token_distill_loss(t([[[1.0]]]), t([[[1.0, 2.0]]]))


# A tiny batch: N = 2 samples, K = 2 joints, 1x2 heatmaps.
S = [[[[1.0, 0.0]], [[0.5, 0.5]]], [[[0.0, 0.0]], [[1.0, 1.0]]]]
T = [[[[1.0, 1.0]], [[0.0, 0.0]]], [[[0.0, 1.0]], [[1.0, 0.0]]]]
TW = [[1.0, 1.0], [1.0, 0.0]]  # joint 1 is unlabelled in sample 1
# per (sample, joint) mean squared error over the 2 pixels:
#   s0j0: (0, 1) -> 0.5   s0j1: (0.25, 0.25) -> 0.25   s1j0: (0, 1) -> 0.5   s1j1: (0, 1) -> 0.5
# as_coded = 1/K * sum_k mean_i(tw_ik) * mean_{j,p}(S - T)^2
#   k=0: 1.0 * (0.5 + 0.5)/2 = 0.5 ; k=1: 0.5 * (0.25 + 0.5)/2 = 0.1875 ; -> (0.5 + 0.1875)/2 = 0.34375
# intended = 1/K * sum_k mean_i(tw_ik * mse_ik)
#   k=0: (0.5 + 0.5)/2 = 0.5 ; k=1: (0.25 + 0)/2 = 0.125 ; -> (0.5 + 0.125)/2 = 0.3125
AS_CODED, INTENDED = 0.34375, 0.3125


def test_sim_heatmap_loss_modes_hand_values():
    assert simulated_heatmap_loss(t(S), t(T), t(TW), "as_coded").item() == pytest.approx(AS_CODED)
    assert simulated_heatmap_loss(t(S), t(T), t(TW), "intended").item() == pytest.approx(INTENDED)
    # every joint labelled everywhere: both modes agree (here: mean of all four mses = 0.4375)
    ones = t([[1.0, 1.0], [1.0, 1.0]])
    assert simulated_heatmap_loss(t(S), t(T), ones, "as_coded").item() == pytest.approx(0.4375)
    assert simulated_heatmap_loss(t(S), t(T), ones, "intended").item() == pytest.approx(0.4375)
    with pytest.raises(ValueError, match="unknown simulated-heatmap loss mode"):
        simulated_heatmap_loss(t(S), t(T), ones, "other")


def test_as_coded_equals_the_literal_joints_mse_broadcast():
    """JointsMSELoss as mmpose 0.x runs it, with the (N, K, 1, 1) weight DistilPose passes."""
    sim, teacher, tw = t(S), t(T), t(TW)[..., None, None]
    n, k = sim.shape[:2]
    pred = sim.reshape(n, k, -1).split(1, 1)
    gt = teacher.reshape(n, k, -1).split(1, 1)
    literal = 0.0
    for idx in range(k):
        p, g = pred[idx].squeeze(1), gt[idx].squeeze(1)  # (N, HW)
        w = tw[:, idx]  # (N, 1, 1): p * w broadcasts to (N, N, HW)
        assert (p * w).shape == (n, n, p.shape[-1])
        literal = literal + F.mse_loss(p * w, g * w)
    literal = literal / k
    assert simulated_heatmap_loss(sim, teacher, t(TW), "as_coded").item() == pytest.approx(literal.item())
    # and the intended mode is the un-broadcast JointsMSELoss (per-sample (N, 1) weight)
    per_sample = sum(
        F.mse_loss(pred[i].squeeze(1) * t(TW)[:, i : i + 1], gt[i].squeeze(1) * t(TW)[:, i : i + 1])
        for i in range(k)
    )
    assert simulated_heatmap_loss(sim, teacher, t(TW), "intended").item() == pytest.approx(
        per_sample.item() / k
    )


def test_as_coded_pulls_unlabelled_joints_intended_does_not():
    sim = t(S).requires_grad_()
    simulated_heatmap_loss(sim, t(T), t(TW), "as_coded").backward()
    assert sim.grad[1, 1].abs().sum() > 0  # sample 1 joint 1 is unlabelled but still gets a gradient
    sim2 = t(S).requires_grad_()
    simulated_heatmap_loss(sim2, t(T), t(TW), "intended").backward()
    assert sim2.grad[1, 1].abs().sum() == 0


def test_heatmap_mse_hand_value():
    pred = t([[[[1.0, 0.0]], [[2.0, 2.0]]]])
    target = torch.zeros_like(pred)
    # joint 1 masked out; squared error 1 over N*K*H*W = 4 elements, no 0.5 factor (mmpose 0.x)
    assert heatmap_mse_loss(pred, target, t([[1.0, 0.0]])).item() == pytest.approx(0.25)
    assert heatmap_mse_loss(pred, target, t([[[1.0], [1.0]]])).item() == pytest.approx((1 + 8) / 4)


TEACHER_HM = [
    [
        [[0.0, 0.1, 0.2], [0.3, 0.4, 0.5], [0.6, 0.7, 0.8]],
        [[1.0, 0.9, 0.8], [0.7, 0.6, 0.5], [0.4, 0.3, 0.2]],
    ]
]


def test_score_loss_hand_values():
    hm = t(TEACHER_HM)  # (1, 2, 3, 3)
    # joint 0: (0.5, 1.0) -> ix = round(0.5*2) = 1, iy = round(1.0*2) = 2 -> 0.7
    # joint 1: (0.8, 0.2) -> ix = round(1.6) = 2, iy = round(0.4) = 0 -> 0.8
    coords = t([[[0.5, 1.0], [0.8, 0.2]]]).requires_grad_()
    torch.testing.assert_close(sample_teacher_at(hm, coords), t([[0.7, 0.8]]))
    score = t([[[0.5], [1.0]]]).requires_grad_()
    loss = score_loss(score, hm, coords, t([[1.0, 1.0]]))
    assert loss.item() == pytest.approx((0.2 + 0.2) / 2)
    loss.backward()
    assert coords.grad is None  # the sampling index is rounded: no gradient into the coordinates
    torch.testing.assert_close(score.grad, t([[[-0.5], [0.5]]]))
    assert score_loss(score.detach(), hm, coords, t([[1.0, 0.0]])).item() == pytest.approx(0.2 / 2)
    # torch.round is half-to-even like the official code: x = 0.25 -> 0.5 -> index 0
    assert sample_teacher_at(hm, t([[[0.25, 0.0], [0.0, 0.0]]]))[0, 0].item() == pytest.approx(0.0)


def _inputs(n=2, k=17, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "coords": torch.rand(n, k, 2, generator=g, dtype=torch.float64),
        "target_coords": torch.rand(n, k, 2, generator=g, dtype=torch.float64),
        "target_weights": (torch.rand(n, k, generator=g) > 0.3).double(),
        "scores": torch.rand(n, k, 1, generator=g, dtype=torch.float64),
        "sigmas": 1 + torch.rand(n, k, 2, generator=g, dtype=torch.float64),
        "teacher_heatmaps": torch.rand(n, k, 64, 48, generator=g, dtype=torch.float64),
        "vis_tokens": torch.rand(n, 256, d, generator=g, dtype=torch.float64),
        "teacher_vis_tokens": torch.rand(n, 256, d, generator=g, dtype=torch.float64),
        "kpt_tokens": torch.rand(n, k, d, generator=g, dtype=torch.float64),
        "teacher_kpt_tokens": torch.rand(n, k, d, generator=g, dtype=torch.float64),
    }


def test_distillation_loss_terms_weights_and_total():
    x = _inputs()
    out = DistillationLoss()(**x)
    assert set(out) == {"reg", "vis_token", "kpt_token", "sim_heatmap", "score", "total"}
    tw = x["target_weights"]
    sim = simulated_heatmaps(x["coords"], x["sigmas"])
    expected = {
        "reg": 1.0 * smooth_l1_regression_loss(x["coords"], x["target_coords"], tw),
        "vis_token": 5e-4 * token_distill_loss(x["vis_tokens"], x["teacher_vis_tokens"]),
        "kpt_token": 5e-4 * token_distill_loss(x["kpt_tokens"], x["teacher_kpt_tokens"]),
        "sim_heatmap": 1.0 * simulated_heatmap_loss(sim, x["teacher_heatmaps"], tw, "as_coded"),
        "score": 0.01 * score_loss(x["scores"], x["teacher_heatmaps"], x["coords"], tw),
    }
    for key, value in expected.items():
        assert out[key].item() == pytest.approx(value.item(), rel=1e-12), key
    assert out["total"].item() == pytest.approx(sum(v.item() for v in expected.values()), rel=1e-12)

    doubled = DistillationLoss(DistillLossConfig(reg=2.0, sim_heatmap_mode="intended"))(**x)
    assert doubled["reg"].item() == pytest.approx(2 * expected["reg"].item())
    intended = simulated_heatmap_loss(sim, x["teacher_heatmaps"], tw, "intended")
    assert doubled["sim_heatmap"].item() == pytest.approx(intended.item())
    assert doubled["sim_heatmap"].item() != pytest.approx(expected["sim_heatmap"].item())


def test_distillation_loss_gradients_flow_to_student_only():
    x = _inputs()
    for key in ("coords", "scores", "sigmas", "vis_tokens", "kpt_tokens", "teacher_heatmaps"):
        x[key] = x[key].clone().requires_grad_()
    DistillationLoss()(**x)["total"].backward()
    for key in ("coords", "scores", "sigmas", "vis_tokens", "kpt_tokens"):
        assert x[key].grad is not None and x[key].grad.abs().sum() > 0, key
    assert x["teacher_heatmaps"].grad is None


def test_distillation_loss_without_tde_and_without_teacher():
    x = _inputs()
    for key in ("vis_tokens", "teacher_vis_tokens", "kpt_tokens", "teacher_kpt_tokens"):
        x[key] = None
    out = DistillationLoss()(**x)
    assert set(out) == {"reg", "sim_heatmap", "score", "total"}
    # plain regression baseline: teacher terms switched off by weight
    base = DistillationLoss(DistillLossConfig(sim_heatmap=0, score=0))
    out = base(coords=x["coords"], target_coords=x["target_coords"], target_weights=x["target_weights"])
    assert set(out) == {"reg", "total"} and out["total"].item() == pytest.approx(out["reg"].item())
    with pytest.raises(ValueError, match="need teacher_heatmaps"):
        DistillationLoss()(
            coords=x["coords"], target_coords=x["target_coords"], target_weights=x["target_weights"]
        )
    y = _inputs()
    y["teacher_vis_tokens"] = None
    with pytest.raises(ValueError, match="teacher is None"):
        DistillationLoss()(**y)


def test_config_defaults_and_validation():
    cfg = DistillLossConfig()
    assert (cfg.reg, cfg.vis_token, cfg.kpt_token, cfg.sim_heatmap, cfg.score) == (1.0, 5e-4, 5e-4, 1.0, 0.01)
    assert cfg.sim_heatmap_mode == "as_coded"
    with pytest.raises(pydantic.ValidationError):
        DistillLossConfig(reg=-1)
    with pytest.raises(pydantic.ValidationError):
        DistillLossConfig(sim_heatmap_mode="masked")
    with pytest.raises(pydantic.ValidationError):
        DistillLossConfig(regg=1.0)


def test_reg_beta_hand_value_and_why_a_prior_student_needs_it():
    """beta = 1 on [0, 1] coordinates is a squared error everywhere; a small beta is an L1 beyond it. A
    correction shared by all joints then fits the median error instead of the mean, so a few wrong peaks
    (far off) no longer drag every joint (issue 26)."""
    pred, target, w = t([[[0.0, 0.0]]]), t([[[0.01, 0.0]]]), t([[1.0]])
    # |d| = 0.01 >= beta 0.005: |d| - beta/2 = 0.0075 ; the zero y error adds 0 ; mean over 2
    assert smooth_l1_regression_loss(pred, target, w, beta=0.005).item() == pytest.approx(0.0075 / 2)
    assert smooth_l1_regression_loss(pred, target, w).item() == pytest.approx(0.5 * 0.01**2 / 2)
    errors = t([0.002, -0.001, 0.0, 0.001, 0.3])  # four good joints and one wrong peak
    target = torch.stack((errors, torch.zeros(5, dtype=torch.float64)), -1)[None]
    weights = torch.ones(1, 5, dtype=torch.float64)

    def fitted_shift(beta: float) -> float:
        shift = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([shift], lr=1e-3)
        for _ in range(2000):
            pred = torch.zeros(1, 5, 2, dtype=torch.float64) + torch.stack((shift, torch.zeros_like(shift)), -1)
            loss = smooth_l1_regression_loss(pred, target, weights, beta=beta)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(shift)

    assert fitted_shift(1.0) == pytest.approx(float(errors.mean()), abs=2e-3)  # dragged 0.06 by the outlier
    assert abs(fitted_shift(1e-4)) < 2e-3  # the median: the good joints stay put
    only_reg = DistillLossConfig(reg_beta=1e-4, sim_heatmap=0, score=0, vis_token=0, kpt_token=0)
    assert DistillationLoss(only_reg)(
        coords=pred, target_coords=t([[[0.01, 0.0]]]), target_weights=w
    )["reg"].item() == pytest.approx((0.01 - 0.5e-4) / 2)
    with pytest.raises(pydantic.ValidationError):
        DistillLossConfig(reg_beta=0)
