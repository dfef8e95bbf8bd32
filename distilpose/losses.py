"""DistilPose losses: GT regression, token distillation, simulated heatmap, score; plus the teacher's MSE.

Weights and formulas follow the official code (see ``../shared/docs/distilpose-reference.md`` §2-4):
``L = 1·SmoothL1(xy) + 5e-4·MSE(visual tokens) + 5e-4·MSE(keypoint tokens) + 1·SimHeatmapMSE + 0.01·L1(score)``.

Target weights may come as ``(N, K)``, ``(N, K, 1)``, ``(N, K, 2)`` (the regression weight duplicated on x and
y, as mmpose stores it; the x column is used) or ``(N, K, 1, 1)``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from distilpose.codecs.simulated import simulated_heatmap_mask, simulated_heatmaps

SimHeatmapMode = Literal["as_coded", "intended"]


def _joint_weights(weight: torch.Tensor, n: int, k: int) -> torch.Tensor:
    """Any accepted target-weight layout -> ``(N, K)``."""
    w = weight
    while w.dim() > 2 and w.shape[-1] == 1:
        w = w.squeeze(-1)
    if w.dim() == 3 and w.shape[-1] == 2:
        w = w[..., 0]
    if tuple(w.shape) != (n, k):
        raise ValueError(f"target weight of shape {tuple(weight.shape)} does not match (N, K) = {(n, k)}")
    return w


def smooth_l1_regression_loss(
    pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, beta: float = 1.0
) -> torch.Tensor:
    """mmpose ``SmoothL1Loss(use_target_weight=True)``: ``smooth_l1(pred·w, target·w)``, mean over N·K·2.

    ``beta`` (where the quadratic part ends, in normalised coordinates) is 1 officially: on coordinates in
    [0, 1] that is a squared error everywhere, whose minimiser is the *mean* error. A student that adds
    corrections to a prior needs a small ``beta`` (an L1 beyond it, whose minimiser is the median): see
    :class:`DistillLossConfig.reg_beta`.
    """
    n, k = pred.shape[:2]
    w = _joint_weights(weight, n, k).to(pred.dtype)[..., None]
    return F.smooth_l1_loss(pred * w, target * w, beta=beta, reduction="mean")


def token_distill_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Plain MSE over every element (official ``TokenDistilLoss('L2')``); no gradient into the teacher."""
    if student.shape != teacher.shape:
        raise ValueError(
            f"student tokens {tuple(student.shape)} and teacher tokens {tuple(teacher.shape)} differ in shape"
        )
    return F.mse_loss(student, teacher.detach(), reduction="mean")


def heatmap_mse_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """mmpose 0.x ``JointsMSELoss(use_target_weight=True)`` with a per-sample ``(N, K[, 1])`` weight.

    Per joint ``MSE(pred_k·w_k, target_k·w_k)`` over N·H·W, averaged over K; this equals the mean over all
    N·K·H·W of ``w²·(pred − target)²``. mmpose 0.x has NO ``0.5`` factor (the original HRNet code had one).
    """
    n, k = pred.shape[:2]
    w = _joint_weights(weight, n, k).to(pred.dtype)[..., None, None]
    return ((pred - target) * w).pow(2).mean()


def simulated_heatmap_loss(
    sim: torch.Tensor,
    teacher_hm: torch.Tensor,
    target_weight: torch.Tensor,
    mode: SimHeatmapMode = "as_coded",
) -> torch.Tensor:
    """MSE between simulated student heatmaps ``S`` and raw teacher heatmaps ``T``, both ``(N, K, H, W)``.

    - ``"as_coded"`` (official numbers): the official ``Reg2HMLoss`` hands JointsMSELoss an ``(N, K, 1, 1)``
      weight, so per joint an ``(N, 1, 1)`` weight multiplies ``(N, H·W)`` maps and broadcasts to
      ``(N, N, H·W)``. The result is ``(1/K) Σ_k mean_i(tw_ik²) · mean_{j,p}(S_jk(p) − T_jk(p))²``: the map
      error is NOT masked per sample (unlabelled joints are pulled to the teacher too) and each joint's error
      is scaled by the fraction of the batch where that joint is labelled. (``tw²`` = ``tw`` for 0/1 weights.)
    - ``"intended"``: the per-sample masked JointsMSELoss,
      ``(1/K) Σ_k mean_i[tw_ik² · mean_p(S_ik(p) − T_ik(p))²]`` = :func:`heatmap_mse_loss`.

    Neither has a ``0.5`` factor (mmpose 0.x JointsMSELoss has none). For a batch where every joint is labelled
    in every sample both modes agree.
    """
    if sim.shape != teacher_hm.shape or sim.dim() != 4:
        raise ValueError(
            f"simulated {tuple(sim.shape)} and teacher {tuple(teacher_hm.shape)} heatmaps must both be (N, K, H, W)"
        )
    n, k = sim.shape[:2]
    tw = _joint_weights(target_weight, n, k).to(sim.dtype)
    teacher_hm = teacher_hm.detach()
    if mode == "as_coded":
        per_joint_err = (sim - teacher_hm).pow(2).mean(dim=(0, 2, 3))  # (K,)
        return (tw.pow(2).mean(dim=0) * per_joint_err).mean()
    if mode == "intended":
        return heatmap_mse_loss(sim, teacher_hm, tw)
    raise ValueError(f"unknown simulated-heatmap loss mode {mode!r}; expected 'as_coded' or 'intended'")


def sample_teacher_at(teacher_hm: torch.Tensor, coords_norm: torch.Tensor) -> torch.Tensor:
    """Teacher heatmap value ``(N, K)`` at ``round(clamp(x)·(W−1)), round(clamp(y)·(H−1))`` (official ScoreLoss).

    ``torch.round`` (half to even) as the official code; the indices carry no gradient and the value is
    zeroed where the raw coords leave ``[0, 1]`` (never, after a sigmoid).
    """
    n, k, h, w = teacher_hm.shape
    coords = coords_norm.detach()
    ix = (coords[..., 0].clamp(0, 1) * (w - 1)).round().long()
    iy = (coords[..., 1].clamp(0, 1) * (h - 1)).round().long()
    rows = torch.arange(n, device=teacher_hm.device)[:, None]
    cols = torch.arange(k, device=teacher_hm.device)[None, :]
    values = teacher_hm.detach()[rows, cols, iy, ix]
    inside = ((coords >= 0) & (coords <= 1)).all(dim=-1)
    return values * inside.to(values.dtype)


def score_loss(
    score: torch.Tensor, teacher_hm: torch.Tensor, coords_norm: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """L1 between the raw predicted score and the teacher's heatmap value where the student put the keypoint.

    Gradient flows into ``score`` only (the sampling index is rounded, the teacher is frozen). Weighted as
    the official code: ``l1(score·w, target·w)`` averaged over N·K (the duplicated x/y weight column of the
    official call does not change the mean).
    """
    n, k = coords_norm.shape[:2]
    s = score.reshape(n, k)
    target = sample_teacher_at(teacher_hm, coords_norm).to(s.dtype)
    w = _joint_weights(weight, n, k).to(s.dtype)
    return F.l1_loss(s * w, target * w, reduction="mean")


def peak_pick_loss(
    pick_logits: torch.Tensor, target_coords: torch.Tensor, weight: torch.Tensor, sigma: float = 1.0
) -> torch.Tensor:
    """Cross-entropy of the decode's pick, a spatial softmax over ``pick_logits`` (N, K, H, W), against a
    Gaussian of ``sigma`` grid cells at each target (normalised (x, y)), over the joints with weight > 0.

    The pick is an argmax no gradient reaches; as a classification over grid cells it is trainable, and the
    logits are exactly what the argmax maximises (:func:`distilpose.models.heads.movenet_pick`), so lowering
    this loss moves the pick itself. Cells are centred at ``(j + 0.5) / size``.
    """
    n, k, h, w = pick_logits.shape
    wj = _joint_weights(weight, n, k).to(pick_logits.dtype)
    ys = torch.arange(h, device=pick_logits.device, dtype=pick_logits.dtype) + 0.5
    xs = torch.arange(w, device=pick_logits.device, dtype=pick_logits.dtype) + 0.5
    tx = target_coords[..., 0:1].to(pick_logits.dtype) * w
    ty = target_coords[..., 1:2].to(pick_logits.dtype) * h
    gx = torch.exp(-((xs.view(1, 1, w) - tx) ** 2) / (2 * sigma**2))  # (N, K, W)
    gy = torch.exp(-((ys.view(1, 1, h) - ty) ** 2) / (2 * sigma**2))  # (N, K, H)
    target = (gy[..., :, None] * gx[..., None, :]).flatten(2)
    target = target / target.sum(-1, keepdim=True).clamp_min(1e-12)
    ce = -(target * F.log_softmax(pick_logits.flatten(2), dim=-1)).sum(-1)  # (N, K)
    used = (wj > 0).to(ce.dtype)
    return (ce * used).sum() / used.sum().clamp_min(1.0)


class DistillLossConfig(BaseModel):
    """Loss weights (official: 1, 5e-4, 5e-4, 1, 0.01) and the simulated-heatmap reduction.

    A weight of 0 switches a term off (it is then neither computed nor reported).
    """

    model_config = ConfigDict(extra="forbid")

    reg: float = Field(1.0, ge=0)
    vis_token: float = Field(5e-4, ge=0)
    kpt_token: float = Field(5e-4, ge=0)
    sim_heatmap: float = Field(1.0, ge=0)
    score: float = Field(0.01, ge=0)
    sim_heatmap_mode: SimHeatmapMode = "as_coded"
    #: Smooth-L1 transition of the regression term, in normalised coordinates (1/192 = one pixel across a
    #: 192-wide crop). 1.0 is the official value: a squared error over the whole crop, so the fitted
    #: correction is the mean error, which a few wrong peaks (tens of pixels off; ~14 % of the joints of
    #: MoveNet Lightning's prior on crowded COCO) dominate. A correction head cannot move a point to another
    #: peak, so it learned to shift every joint by that mean and lost AP on its own training frames (issue
    #: 26, ADR 0014). Prior-based students use a small value: L1 beyond a pixel, whose fit is the median.
    reg_beta: float = Field(1.0, gt=0)
    #: Weight of :func:`peak_pick_loss`, for a student with a peak-choice head (``peak_head``); 0: off.
    peak_pick: float = Field(0.0, ge=0)
    #: The pick target's Gaussian, in grid cells of the 64x48 map (4 crop pixels each).
    peak_pick_sigma: float = Field(1.0, gt=0)


class DistillationLoss(nn.Module):
    """All DistilPose training terms, each weighted, plus ``"total"``.

    Default simulated-heatmap mode is ``"as_coded"``: it is what produced the published numbers (71.6 / 74.4
    AP); ``"intended"`` (per-sample masking) is available for comparison. Keys: ``reg``, ``vis_token``,
    ``kpt_token``, ``sim_heatmap``, ``score``, ``peak_pick``, ``total``; a term is present only when its weight is > 0 and,
    for the token terms, when tokens were given (TDE off: pass ``None``).
    """

    def __init__(self, config: DistillLossConfig | None = None) -> None:
        super().__init__()
        self.config = config or DistillLossConfig()

    def forward(
        self,
        *,
        coords: torch.Tensor,
        target_coords: torch.Tensor,
        target_weights: torch.Tensor,
        scores: torch.Tensor | None = None,
        sigmas: torch.Tensor | None = None,
        teacher_heatmaps: torch.Tensor | None = None,
        vis_tokens: torch.Tensor | None = None,
        kpt_tokens: torch.Tensor | None = None,
        teacher_vis_tokens: torch.Tensor | None = None,
        teacher_kpt_tokens: torch.Tensor | None = None,
        pick_logits: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Student ``coords (N, K, 2)`` normalised, ``scores (N, K[, 1])``, ``sigmas (N, K, 2)`` (heatmap px),
        tokens ``(N, 256, D)`` / ``(N, K, D)``; teacher heatmaps ``(N, K, H, W)`` and tokens; GT targets."""
        cfg = self.config
        n, k = coords.shape[:2]
        tw = _joint_weights(target_weights, n, k).to(coords.dtype)
        terms: dict[str, torch.Tensor] = {}
        if cfg.reg > 0:
            terms["reg"] = cfg.reg * smooth_l1_regression_loss(coords, target_coords, tw, cfg.reg_beta)
        for name, weight, student, teacher in (
            ("vis_token", cfg.vis_token, vis_tokens, teacher_vis_tokens),
            ("kpt_token", cfg.kpt_token, kpt_tokens, teacher_kpt_tokens),
        ):
            if weight <= 0 or (student is None and teacher is None):
                continue
            if student is None or teacher is None:
                missing = "student" if student is None else "teacher"
                raise ValueError(
                    f"{name} distillation needs both student and teacher tokens; {missing} is None"
                )
            terms[name] = weight * token_distill_loss(student, teacher)
        if (cfg.sim_heatmap > 0 or cfg.score > 0) and teacher_heatmaps is None:
            raise ValueError(
                "the sim_heatmap and score losses need teacher_heatmaps (set their weights to 0 to train without)"
            )
        if cfg.sim_heatmap > 0:
            if sigmas is None:
                raise ValueError("the simulated-heatmap loss needs the student's sigmas")
            size_hw = tuple(teacher_heatmaps.shape[-2:])  # the simulated map lives on the teacher's grid
            sim = simulated_heatmaps(coords, sigmas, size_hw)
            mask = simulated_heatmap_mask(coords, sigmas, size_hw)
            sim = sim * mask[..., None, None]
            terms["sim_heatmap"] = cfg.sim_heatmap * simulated_heatmap_loss(
                sim, teacher_heatmaps, tw * mask, cfg.sim_heatmap_mode
            )
        if cfg.score > 0:
            if scores is None:
                raise ValueError("the score loss needs the student's scores")
            terms["score"] = cfg.score * score_loss(scores, teacher_heatmaps, coords, tw)
        if cfg.peak_pick > 0:
            if pick_logits is None:
                raise ValueError("the peak_pick loss needs a student with a peak-choice head (peak_head: residual or context)")
            terms["peak_pick"] = cfg.peak_pick * peak_pick_loss(
                pick_logits, target_coords, tw, cfg.peak_pick_sigma
            )
        if not terms:
            raise ValueError("every loss weight is 0 or its inputs are missing: nothing to optimise")
        terms["total"] = torch.stack(list(terms.values())).sum()
        return terms
