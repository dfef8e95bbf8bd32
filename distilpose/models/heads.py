"""Token heads: the encoder plus the per-keypoint-token MLP, wrapped like the official mmpose heads.

Official nesting: ``keypoint_head.tokenpose`` (TokenPoseHead -> TokenPose_TB_base) for the heatmap
teachers and ``keypoint_head.tokenhead`` (DistilPoseHead -> DistilPose_base) for the regression students;
the encoder's modules and ``mlp_head`` sit side by side inside that object.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from distilpose.models.tokens import TokenEncoder


class HeatmapTokenNet(TokenEncoder):
    """TokenPose: keypoint tokens -> MLP -> one (H, W) heatmap per keypoint (raw, no activation)."""

    def __init__(self, in_channels: int, heatmap_size: tuple[int, int] = (64, 48), **encoder_kwargs):
        super().__init__(in_channels, **encoder_kwargs)
        self.heatmap_size = heatmap_size
        hm_dim = heatmap_size[0] * heatmap_size[1]
        hidden = hm_dim // 8
        # The official rule: a two-layer MLP (no activation between) when dim <= hidden / 2.
        if self.dim <= hidden * 0.5:
            self.mlp_head = nn.Sequential(
                nn.LayerNorm(self.dim),
                nn.Linear(self.dim, hidden),
                nn.LayerNorm(hidden),
                nn.Linear(hidden, hm_dim),
            )
        else:
            self.mlp_head = nn.Sequential(nn.LayerNorm(self.dim), nn.Linear(self.dim, hm_dim))
        self.apply_init()

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """-> heatmaps (N, K, H, W), keypoint tokens, visual tokens."""
        kpt, vis = self.encode(feature)
        heatmaps = self.mlp_head(kpt).reshape(kpt.shape[0], kpt.shape[1], *self.heatmap_size)
        return heatmaps, kpt, vis


class RegressionTokenNet(TokenEncoder):
    """DistilPose (out_mode 'all'): per keypoint token LN + Linear(D, 5) -> x, y, score, sigma_x, sigma_y.

    The config's ``hidden_dim=64`` is unused in the official code (the 2-layer branch needs D <= 32), so
    the head is a single Linear.
    """

    def __init__(self, in_channels: int, **encoder_kwargs):
        super().__init__(in_channels, **encoder_kwargs)
        self.mlp_head = nn.Sequential(nn.LayerNorm(self.dim), nn.Linear(self.dim, 5))
        self.apply_init()

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """-> coords (N,K,2) in (0,1), raw scores (N,K), sigmas (N,K,2) > 0, keypoint tokens, visual tokens."""
        kpt, vis = self.encode(feature)
        out = self.mlp_head(kpt)
        return out[..., 0:2].sigmoid(), out[..., 2], F.softplus(out[..., 3:5]), kpt, vis


def heatmap_prior(heatmaps: Tensor, window: int = 2, centre_sigma: float = 0.4) -> tuple[Tensor, Tensor]:
    """Each joint's position and confidence from its heatmap: (N, K, H, W) maps in [0, 1] ->
    (N, K, 2) normalised (x, y) and (N, K) the map's value at the chosen peak.

    The peak is chosen after weighting the map with a broad Gaussian around the crop centre (top-down crops
    are centred on their person, while MoveNet's maps also light up bystanders); the position is then the
    heatmap-weighted mean within ``window`` pixels of that peak: sub-pixel, and differentiable in the map.
    Pixel ``j`` covers ``[j, j + 1)`` of the grid, so its centre is ``(j + 0.5) / W`` (MoveNet's convention).
    """
    n, k, h, w = heatmaps.shape
    ys = (torch.arange(h, device=heatmaps.device, dtype=heatmaps.dtype) + 0.5) / h
    xs = (torch.arange(w, device=heatmaps.device, dtype=heatmaps.dtype) + 0.5) / w
    centre = torch.exp(-((ys[:, None] - 0.5) ** 2 + (xs[None, :] - 0.5) ** 2) / (2 * centre_sigma**2))
    flat = (heatmaps * centre).flatten(2)
    peak = flat.argmax(-1)  # (N, K)
    py = torch.div(peak, w, rounding_mode="floor")
    px = peak - py * w
    rows = torch.arange(h, device=heatmaps.device)
    cols = torch.arange(w, device=heatmaps.device)
    near = ((rows.view(1, 1, h, 1) - py[..., None, None]).abs() <= window) & (
        (cols.view(1, 1, 1, w) - px[..., None, None]).abs() <= window
    )
    weights = heatmaps * near
    total = weights.sum((-2, -1)).clamp_min(1e-6)
    x = (weights * xs.view(1, 1, 1, w)).sum((-2, -1)) / total
    y = (weights * ys.view(1, 1, h, 1)).sum((-2, -1)) / total
    value = heatmaps.flatten(2).gather(-1, peak[..., None]).squeeze(-1)
    return torch.stack((x, y), dim=-1), value


class HeatmapPriorRegressionTokenNet(RegressionTokenNet):
    """The DistilPose regression head on a backbone whose last K channels are keypoint heatmaps.

    coords = :func:`heatmap_prior` of those maps + the token head's learned offset, and likewise the score =
    the map's peak value + a learned offset. Those output rows start at zero, so an untrained head already
    predicts the pretrained heatmaps' positions and confidences, and distillation only has to learn
    corrections (and the sigmas); everything else is DistilPose's.
    """

    def prior(self, feature: Tensor) -> tuple[Tensor, Tensor]:
        """The fixed prior's (N, K, 2) coordinates and (N, K) scores, before the learned corrections."""
        return heatmap_prior(feature[:, -self.num_keypoints :])

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        kpt, vis = self.encode(feature)
        out = self.mlp_head(kpt)
        xy, peak = self.prior(feature)
        return xy + out[..., 0:2], peak + out[..., 2], F.softplus(out[..., 3:5]), kpt, vis

    def apply_init(self) -> None:
        super().apply_init()
        out = self.mlp_head[1]
        nn.init.zeros_(out.weight[0:3])  # x, y and score offsets
        nn.init.zeros_(out.bias[0:3])


#: MoveNet's decoding constant: a joint's heatmap is divided by (distance to its regressed position + this).
MOVENET_DISTANCE_BIAS = 1.8


def movenet_decode(
    heatmaps: Tensor, centre: Tensor, regress: Tensor, offsets: Tensor
) -> tuple[Tensor, Tensor]:
    """MoveNet SinglePose's own decoding, as in its graph: (N, K, 2) normalised (x, y) and (N, K) scores.

    The person centre is the centre map's peak weighted by 1 / (distance to the grid centre + 1.8); each
    joint is regressed from there, its heatmap is divided by (distance to that regressed point + 1.8), the
    peak of that is refined by the offset map, and the score is the heatmap's value at the peak. Positions
    are ``(cell + offset) / size`` (MoveNet's convention). Inputs: (N, K, H, W) sigmoid heatmaps, (N, 1, H, W)
    sigmoid centre map, (N, 2K, H, W) regression and offsets, channels (dy, dx) per joint.
    """
    xy, score, _ = movenet_pick(heatmaps, centre, regress, offsets)
    return xy, score


def movenet_regressed(centre: Tensor, regress: Tensor) -> tuple[Tensor, Tensor]:
    """Each joint's regressed (row, column) on the grid, (N, K) each: the regression at the person centre
    (the centre map's peak weighted towards the grid centre), MoveNet's guide for the pick."""
    n, _, h, w = centre.shape
    k = regress.shape[1] // 2
    ys = torch.arange(h, device=centre.device, dtype=centre.dtype)
    xs = torch.arange(w, device=centre.device, dtype=centre.dtype)
    near_centre = 1.0 / (
        torch.sqrt((ys[:, None] - h / 2) ** 2 + (xs[None, :] - w / 2) ** 2) + MOVENET_DISTANCE_BIAS
    )
    c = (centre[:, 0] * near_centre).flatten(1).argmax(-1)  # (N,)
    cy = torch.div(c, w, rounding_mode="floor")
    cx = c - cy * w
    reg = regress.flatten(2).gather(-1, c.view(n, 1, 1).expand(n, 2 * k, 1)).view(n, k, 2)
    return cy[:, None].to(regress.dtype) + reg[..., 0], cx[:, None].to(regress.dtype) + reg[..., 1]


def _distance_plus_bias(ry: Tensor, rx: Tensor, h: int, w: int) -> Tensor:
    """(N, K, H, W) distance of every cell to each joint's regressed point, plus MoveNet's 1.8."""
    ys = torch.arange(h, device=ry.device, dtype=ry.dtype)
    xs = torch.arange(w, device=ry.device, dtype=ry.dtype)
    dist = torch.sqrt(
        (ys.view(1, 1, h, 1) - ry[..., None, None]) ** 2 + (xs.view(1, 1, 1, w) - rx[..., None, None]) ** 2
    )
    return dist + MOVENET_DISTANCE_BIAS


def pick_logits(heatmaps: Tensor, pick_bias: Tensor, dist_bias: Tensor) -> Tensor:
    """``log(H * exp(bias) / (dist + 1.8))``: the quantity whose argmax is the pick (log H' without log 0:
    a sigmoid map underflows only far below any peak)."""
    return torch.log(heatmaps.clamp_min(1e-30)) + pick_bias - torch.log(dist_bias)


def regressed_pick_logits(heatmaps: Tensor, ry: Tensor, rx: Tensor, pick_bias: Tensor) -> Tensor:
    """:func:`pick_logits` from the regressed points of :func:`movenet_regressed` (cached training)."""
    return pick_logits(heatmaps, pick_bias, _distance_plus_bias(ry, rx, *heatmaps.shape[-2:]))


def movenet_maps(feature: Tensor, token_channels: int, num_keypoints: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """MoveNet's four decoding maps out of ``MoveNetDecodeFeatures``' channels (features, then the K heatmaps
    ending at ``token_channels``, then the centre map, the 2K regressions and the 2K offsets): the inputs of
    :func:`movenet_pick` / :func:`movenet_decode`, in that order."""
    t, k = token_channels, num_keypoints
    return (
        feature[:, t - k : t],
        feature[:, t : t + 1],
        feature[:, t + 1 : t + 1 + 2 * k],
        feature[:, t + 1 + 2 * k :],
    )


def movenet_pick(
    heatmaps: Tensor,
    centre: Tensor,
    regress: Tensor,
    offsets: Tensor,
    pick_bias: Tensor | None = None,
    with_logits: bool = True,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """:func:`movenet_decode` with a learned bias on the pick.

    ``pick_bias`` (N, K, H, W), a peak-choice head's residual log-odds, multiplies each heatmap by
    ``exp(bias)`` before the pick (the score stays the map's own value): a zero bias is exactly MoveNet's
    pick, bit for bit. With it (and ``with_logits``), the third output is the pick's logits
    ``log(H' / (dist + 1.8))``, the quantity whose argmax is the pick (what
    :func:`distilpose.losses.peak_pick_loss` trains); else None (inference and export need no logits).
    """
    n, k, h, w = heatmaps.shape
    ry, rx = movenet_regressed(centre, regress)
    dist_bias = _distance_plus_bias(ry, rx, h, w)
    adjusted = heatmaps if pick_bias is None else heatmaps * torch.exp(pick_bias)
    peak = (adjusted / dist_bias).flatten(2).argmax(-1)  # (N, K)
    logits = pick_logits(heatmaps, pick_bias, dist_bias) if pick_bias is not None and with_logits else None
    py = torch.div(peak, w, rounding_mode="floor")
    px = peak - py * w
    off = offsets.view(n, k, 2, h * w).gather(-1, peak.view(n, k, 1, 1).expand(n, k, 2, 1)).squeeze(-1)
    x = (px.to(heatmaps.dtype) + off[..., 1]) / w
    y = (py.to(heatmaps.dtype) + off[..., 0]) / h
    score = heatmaps.flatten(2).gather(-1, peak[..., None]).squeeze(-1)
    return torch.stack((x, y), dim=-1), score, logits


class PeakChoiceHead(nn.Module):
    """Residual log-odds for each joint's heatmap, read from the backbone's features and heatmaps, so a
    student can *choose another peak* than its prior's (issue 26 item 2(b), ADR 0022).

    A depthwise 3x3 then 1x1 (``channels`` -> ``hidden``), ReLU, 1x1 (``hidden`` -> K): the 3x3 sees the
    neighbourhood of a cell, the 1x1s weigh a peak against the person's features. The last layer starts
    at zero, so an untrained head leaves the prior's pick unchanged.
    """

    def __init__(self, channels: int, num_keypoints: int, hidden: int = 64):
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
        self.pointwise = nn.Conv2d(channels, hidden, 1)
        self.out = nn.Conv2d(hidden, num_keypoints, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, feature: Tensor) -> Tensor:
        return self.out(F.relu(self.pointwise(self.depthwise(feature))))


class ContextPeakHead(nn.Module):
    """:class:`PeakChoiceHead` with a field of view of the whole person (issue 26, ADR 0028).

    The 3x3 head sees ~20 crop pixels, too little to tell this person's joint from a bystander's or left
    from right. Here a stem (depthwise 3x3, 1x1 to ``hidden``) is followed by residual blocks of dilated
    depthwise 3x3 + 1x1 (dilations 2, 4, 8: ~31 cells, 124 crop pixels of the 256x192 crop), then a 1x1 to
    K that starts at zero, so an untrained head is the prior exactly. ~10k parameters, ~15 M MACs a crop.
    """

    def __init__(self, channels: int, num_keypoints: int, hidden: int = 32, dilations: tuple[int, ...] = (2, 4, 8)):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(),
        )
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(hidden, hidden, 3, padding=d, dilation=d, groups=hidden, bias=False),
                nn.Conv2d(hidden, hidden, 1),
                nn.ReLU(),
            )
            for d in dilations
        )
        self.out = nn.Conv2d(hidden, num_keypoints, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, feature: Tensor) -> Tensor:
        x = self.stem(feature)
        for block in self.blocks:
            x = x + block(x)
        return self.out(x)


#: ``peak_head`` values of the MoveNet-prior student: none (MoveNet's own pick), a learned residual read
#: from a cell's neighbourhood, or one read with the whole person in view.
PEAK_HEADS = ("none", "residual", "context")
PEAK_HEAD_CLASSES = {"residual": PeakChoiceHead, "context": ContextPeakHead}


class MoveNetPriorRegressionTokenNet(HeatmapPriorRegressionTokenNet):
    """:class:`HeatmapPriorRegressionTokenNet` whose prior is Lightning's own decoding of its own heads
    (:func:`movenet_decode`), so the untrained student predicts what Lightning predicts on the same crop.

    The backbone's channels: ``token_channels`` (features and heatmaps, what the encoder reads), then the
    centre map (1), regression (2K) and offsets (2K).
    ``peak_head="residual"`` adds a :class:`PeakChoiceHead` on those token channels whose log-odds bias the
    heatmaps before the pick (the prior then includes it: the token head corrects the *chosen* peak).
    """

    def __init__(self, in_channels: int, token_channels: int, peak_head: str = "none", **encoder_kwargs):
        super().__init__(token_channels, **encoder_kwargs)
        self.token_channels = token_channels
        if peak_head not in PEAK_HEADS:
            raise ValueError(f"peak_head must be one of {', '.join(PEAK_HEADS)}, not {peak_head!r}")
        # created after the encoder's init, so its zero last layer stays zero
        self.peak = (
            PEAK_HEAD_CLASSES[peak_head](token_channels, self.num_keypoints) if peak_head != "none" else None
        )

    def decode(self, feature: Tensor, with_logits: bool = True) -> tuple[Tensor, Tensor, Tensor | None]:
        """The prior's coordinates and scores, and the pick's logits (None without a peak head)."""
        t = self.token_channels
        bias = None if self.peak is None else self.peak(feature[:, :t])
        return movenet_pick(*movenet_maps(feature, t, self.num_keypoints), bias, with_logits)

    def prior(self, feature: Tensor) -> tuple[Tensor, Tensor]:
        xy, score, _ = self.decode(feature, with_logits=False)
        return xy, score

    def forward_with_pick(
        self, feature: Tensor, with_logits: bool = True
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor | None]:
        """:meth:`forward`'s outputs plus the pick's logits, for the loss that trains the peak head."""
        kpt, vis = self.encode(feature[:, : self.token_channels])
        out = self.mlp_head(kpt)
        xy, peak, logits = self.decode(feature, with_logits)
        return xy + out[..., 0:2], peak + out[..., 2], F.softplus(out[..., 3:5]), kpt, vis, logits

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        return self.forward_with_pick(feature, with_logits=False)[:5]


class TokenPoseHead(nn.Module):
    def __init__(self, in_channels: int, heatmap_size: tuple[int, int] = (64, 48), **encoder_kwargs):
        super().__init__()
        self.tokenpose = HeatmapTokenNet(in_channels, heatmap_size, **encoder_kwargs)

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.tokenpose(feature)


class DistilPoseHead(nn.Module):
    """``heatmap_prior``: False (plain DistilPose), True (heatmap-peak prior) or "movenet" (Lightning's own
    decoding as the prior; ``token_channels`` then says how many leading channels the encoder reads;
    ``peak_head`` then adds a learned peak choice)."""

    def __init__(
        self,
        in_channels: int,
        heatmap_prior: bool | str = False,
        token_channels: int | None = None,
        peak_head: str = "none",
        **encoder_kwargs,
    ):
        super().__init__()
        if heatmap_prior == "movenet":
            self.tokenhead = MoveNetPriorRegressionTokenNet(
                in_channels, token_channels or in_channels, peak_head, **encoder_kwargs
            )
            return
        if peak_head != "none":
            raise ValueError("peak_head needs MoveNet's decoding as the prior (heatmap_prior='movenet')")
        net = HeatmapPriorRegressionTokenNet if heatmap_prior else RegressionTokenNet
        self.tokenhead = net(in_channels, **encoder_kwargs)

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        return self.tokenhead(feature)
