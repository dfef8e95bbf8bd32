"""DistilPose "simulated heatmaps": render a student's (x, y, sigma) as a heatmap comparable to the teacher's.

Matches the official ``Reg2HMLoss`` (MSRA, unbiased, ``gaussian_mode='s2'``): centre ``mu = (x·W, y·H)``
(x, y normalised to the model input; ``x·W`` not ``x·(W−1)`` because the teacher's targets put a crop pixel
``x_img`` at ``x_img / stride`` = ``(x_img / 192) · 48``), integer pixel grid, independent sigmas in heatmap
pixels, unnormalised (peak 1), full map, differentiable in both the centre and the sigmas.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: Added to sigma² as the official code does, so a collapsing sigma cannot divide by zero.
SIGMA_EPS = 1e-9


def simulated_heatmaps(
    mu_xy_norm: torch.Tensor,
    sigmas: torch.Tensor,
    heatmap_size_hw: Sequence[int] = (64, 48),
) -> torch.Tensor:
    """``(N, K, 2)`` normalised centres and ``(N, K, 2)`` sigmas -> ``(N, K, H, W)`` Gaussians with peak 1.

    ``S(y, x) = exp(−½((x − x̂·W)² / (σx² + 1e-9) + (y − ŷ·H)² / (σy² + 1e-9)))``, computed as the product of
    a row and a column profile (same value, a fraction of the work).
    """
    if mu_xy_norm.shape[-1] != 2 or sigmas.shape[-1] != 2 or mu_xy_norm.shape != sigmas.shape:
        raise ValueError(
            f"centres and sigmas must both have shape (N, K, 2), got {tuple(mu_xy_norm.shape)} "
            f"and {tuple(sigmas.shape)}"
        )
    h, w = int(heatmap_size_hw[0]), int(heatmap_size_hw[1])
    mu_x = (mu_xy_norm[..., 0] * w)[..., None]
    mu_y = (mu_xy_norm[..., 1] * h)[..., None]
    var_x = (sigmas[..., 0] ** 2 + SIGMA_EPS)[..., None]
    var_y = (sigmas[..., 1] ** 2 + SIGMA_EPS)[..., None]
    xs = torch.arange(w, dtype=mu_xy_norm.dtype, device=mu_xy_norm.device)
    ys = torch.arange(h, dtype=mu_xy_norm.dtype, device=mu_xy_norm.device)
    gx = torch.exp(-0.5 * (xs - mu_x) ** 2 / var_x)  # (N, K, W)
    gy = torch.exp(-0.5 * (ys - mu_y) ** 2 / var_y)  # (N, K, H)
    return gy[..., :, None] * gx[..., None, :]


def simulated_heatmap_mask(
    mu_xy_norm: torch.Tensor,
    sigmas: torch.Tensor,
    heatmap_size_hw: Sequence[int] = (64, 48),
) -> torch.Tensor:
    """``(N, K)`` float mask: 1 where any of the 3-sigma box touches the map (official in-bounds rule).

    Always 1 for sigmoid centres and positive sigmas; kept so coordinates from other heads (unbounded
    regressions) are treated as the official code treats them.
    """
    h, w = int(heatmap_size_hw[0]), int(heatmap_size_hw[1])
    mu_x = mu_xy_norm[..., 0] * w
    mu_y = mu_xy_norm[..., 1] * h
    reach_x = 3 * sigmas[..., 0]
    reach_y = 3 * sigmas[..., 1]
    inside = (
        (mu_x - reach_x < w) & (mu_y - reach_y < h) & (mu_x + reach_x + 1 >= 0) & (mu_y + reach_y + 1 >= 0)
    )
    return inside.to(mu_xy_norm.dtype)
