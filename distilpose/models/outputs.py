"""The one output type every pose model returns, so callers never branch on dict keys."""

from __future__ import annotations

from dataclasses import dataclass, fields

from torch import Tensor


@dataclass
class PoseOutput:
    """What a forward pass produced; fields a model family does not predict stay ``None``.

    coords: (N, K, 2) x, y normalised to [0, 1] of the input width / height (students).
    scores: (N, K) raw confidence, no activation, as the official head emits it (students).
    sigmas: (N, K, 2) softplus sigma_x, sigma_y in heatmap pixels of the 48x64 grid (students).
    heatmaps: (N, K, 64, 48) raw linear heatmaps (teachers).
    vis_tokens: (N, 256, D) and kpt_tokens: (N, K, D): last encoder layer outputs, used for distillation.
    pick_logits: (N, K, H, W) a peak-choice student's pick logits, whose argmax is each joint's cell.
    """

    coords: Tensor | None = None
    scores: Tensor | None = None
    sigmas: Tensor | None = None
    heatmaps: Tensor | None = None
    vis_tokens: Tensor | None = None
    kpt_tokens: Tensor | None = None
    pick_logits: Tensor | None = None

    def present(self) -> dict[str, Tensor]:
        """The fields that are set, by name (handy for logging, flip averaging and tests)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
