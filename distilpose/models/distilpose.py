"""DistilPose regression students (official configs under configs/.../distilpose/coco/).

All keep the teacher's token layout (64x48 feature, 4x3 patches -> 256 visual tokens, 17 keypoint tokens,
D = 192), so the Token-distilling Encoder losses compare tokens 1:1 without a projection.

``distilpose-s``: StemNet (256 ch) + 12-layer encoder + LN/Linear(192, 5) head (5.36M, 2.38 GFLOPs).
``distilpose-l``: HRNet-W48 stages 1-3 (48 ch) + the same encoder/head (21.3M, 10.33 GFLOPs); its
backbone is initialised from the teacher's (see ``checkpoint.init_backbone_from_teacher``).
``distilpose-mnv2``: this project's first student: MoveNet Lightning's MobileNetV2-FPN features (24 ch at 1/4) plus
Lightning's 17 pretrained heatmaps, 8x6 patches (64 visual tokens), D = 128, 4 layers; its prior is the heatmaps' peak.
``distilpose-mnv2-lt``: the default student: the same, with Lightning's centre/regression/offset heads and its own
decoding as the prior (docs/student.md).
``distilpose-t``: this project's CPU-sized variant, not in the paper: a half-width StemNet (32 -> 128 ch,
2 bottlenecks) and a 4-layer encoder with the same D/heads/token layout.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from distilpose.models.base import TopDownModel
from distilpose.models.heads import DistilPoseHead
from distilpose.models.hrnet import HRNet
from distilpose.models.mobilenet_fpn import MoveNetDecodeFeatures, MoveNetFeatures
from distilpose.models.outputs import PoseOutput
from distilpose.models.registry import ModelSpec, register_model
from distilpose.models.stemnet import StemNet

_TOKEN_LAYOUT = dict(feature_size=(64, 48), patch_size=(4, 3), dim=192, heads=8, mlp_ratio=3)


class DistilPoseModel(TopDownModel):
    """Regression student: forward -> PoseOutput(coords, scores, sigmas, vis_tokens, kpt_tokens)."""

    def __init__(
        self,
        backbone: nn.Module,
        in_channels: int,
        depth: int = 12,
        num_keypoints: int = 17,
        use_sdpa: bool = True,
        patch_size: tuple[int, int] = _TOKEN_LAYOUT["patch_size"],
        dim: int = _TOKEN_LAYOUT["dim"],
        heads: int = _TOKEN_LAYOUT["heads"],
        heatmap_prior: bool | str = False,
        token_channels: int | None = None,
        peak_head: str = "none",
    ):
        layout = {**_TOKEN_LAYOUT, "patch_size": patch_size, "dim": dim, "heads": heads}
        head = DistilPoseHead(
            in_channels,
            heatmap_prior=heatmap_prior,
            token_channels=token_channels,
            peak_head=peak_head,
            depth=depth,
            num_keypoints=num_keypoints,
            use_sdpa=use_sdpa,
            **layout,
        )
        super().__init__(backbone, head, (256, 192))

    def forward(self, x: Tensor) -> PoseOutput:
        self.check_input(x)
        feature = self.backbone(x)
        head = self.keypoint_head.tokenhead
        if getattr(head, "peak", None) is not None:  # a peak-choice student: its pick is trained too
            coords, scores, sigmas, kpt, vis, pick = head.forward_with_pick(feature, self.training)
            return PoseOutput(coords, scores, sigmas, vis_tokens=vis, kpt_tokens=kpt, pick_logits=pick)
        coords, scores, sigmas, kpt, vis = self.keypoint_head(feature)
        return PoseOutput(coords=coords, scores=scores, sigmas=sigmas, vis_tokens=vis, kpt_tokens=kpt)

    def forward_export(self, x: Tensor) -> tuple[Tensor, ...]:
        """(coords, scores, sigmas) for ONNX export."""
        coords, scores, sigmas, _, _ = self.keypoint_head(self.backbone(x))
        return coords, scores, sigmas

    def prior_coords(self, x: Tensor) -> Tensor | None:
        """(N, K, 2) coordinates of the head's fixed prior before its learned corrections; None without one.

        What distillation taught a prior student is ``coords - prior_coords``: a runtime must keep it
        (:mod:`distilpose.inference.auto` judges int8 against its size)."""
        prior = getattr(self.keypoint_head.tokenhead, "prior", None)
        return None if prior is None else prior(self.backbone(x))[0]


@register_model(
    ModelSpec(
        name="distilpose-s",
        gmacs=2.70,
        family="distilpose",
        kind="regression",
        description="DistilPose-S: StemNet + 12-layer token encoder, regression head with sigmas and score",
        paper_params_m=5.36,
        paper_gflops=2.38,
        paper_ap=71.6,
        official_config="configs/body/2d_kpt_sview_rgb_img/distilpose/coco/DistilPose_S_coco_256x192.py",
    )
)
def distilpose_s(num_keypoints: int = 17, use_sdpa: bool = True) -> DistilPoseModel:
    return DistilPoseModel(StemNet(), 256, 12, num_keypoints, use_sdpa)


@register_model(
    ModelSpec(
        name="distilpose-l",
        gmacs=10.61,
        family="distilpose",
        kind="regression",
        description="DistilPose-L: HRNet-W48 stages 1-3 + 12-layer token encoder, regression head",
        paper_params_m=21.3,
        paper_gflops=10.33,
        paper_ap=74.4,
        official_config="configs/body/2d_kpt_sview_rgb_img/distilpose/coco/DistilPose_L_coco_256x192.py",
        notes="Train with the backbone initialised from the tokenpose-hrnet-w48 teacher's (stages 1-3).",
    )
)
def distilpose_l(num_keypoints: int = 17, use_sdpa: bool = True) -> DistilPoseModel:
    return DistilPoseModel(HRNet(width=48, num_stages=3), 48, 12, num_keypoints, use_sdpa)


@register_model(
    ModelSpec(
        name="distilpose-t",
        gmacs=0.74,
        family="distilpose",
        kind="regression",
        description="DistilPose-T (this project, CPU-sized): half-width StemNet + 4-layer token encoder",
        notes="Not in the paper. Same token layout as the teacher, so TDE and simulated heatmaps apply.",
    )
)
def distilpose_t(num_keypoints: int = 17, use_sdpa: bool = True) -> DistilPoseModel:
    return DistilPoseModel(StemNet(width=32, num_blocks=2), 128, 4, num_keypoints, use_sdpa)


@register_model(
    ModelSpec(
        name="distilpose-mnv2",
        gmacs=0.39,
        family="distilpose",
        kind="regression",
        description="DistilPose-MNv2 (this project): MobileNetV2-FPN + heatmap-peak prior + 4-layer token encoder",
        notes=(
            "Not in the paper. Backbone initialised from MoveNet Lightning's pretrained feature extractor "
            "(model.init_backbone_from_zoo), distilled from MoveNet Thunder; same token layout and heads as "
            "DistilPose-S."
        ),
        licence="Apache-2.0 (backbone weights derived from Google MoveNet v4)",
        init_backbone_from_zoo="movenet-lightning",
    )
)
def distilpose_mnv2(num_keypoints: int = 17, use_sdpa: bool = True) -> DistilPoseModel:
    # The backbone also hands the head Lightning's 17 pretrained heatmaps (see MoveNetFeatures), and the
    # head adds its learned offsets to the positions those maps give (HeatmapPriorRegressionTokenNet).
    return _mnv2_student(MoveNetFeatures, True, num_keypoints, use_sdpa)


def _mnv2_student(
    backbone_type: type[MoveNetFeatures],
    prior: bool | str,
    num_keypoints: int,
    use_sdpa: bool,
    peak_head: str = "none",
) -> DistilPoseModel:
    # 8x6 patches (64 visual tokens, not 256) and D = 128: the encoder's MLPs dominate its cost on a CPU.
    # No token teacher exists for this student (MoveNet has none), so it need not match TokenPose's layout.
    backbone = backbone_type(imagenet_input=True).to(memory_format=torch.channels_last)
    return DistilPoseModel(
        backbone,
        backbone_type.out_channels,
        4,
        num_keypoints,
        use_sdpa,
        patch_size=(8, 6),
        dim=128,
        heads=4,
        heatmap_prior=prior,
        token_channels=getattr(backbone_type, "token_channels", None),
        peak_head=peak_head,
    )


@register_model(
    ModelSpec(
        name="distilpose-mnv2-lt",
        gmacs=0.44,
        family="distilpose",
        kind="regression",
        description="DistilPose-MNv2-LT (this project, the default student): MoveNet Lightning's features, "
        "heads and decoding as the prior + a 4-layer token encoder's learned corrections",
        notes=(
            "Not in the paper. distilpose-mnv2 with Lightning's own decoding (centre, regression-guided peak, "
            "offsets) as the prior instead of the heatmap peak, so the untrained student is Lightning on the "
            "same crop and distillation learns corrections from there."
        ),
        licence="Apache-2.0 (backbone weights derived from Google MoveNet v4)",
        pretrained="bundled",
        init_backbone_from_zoo="movenet-lightning",
    )
)
def distilpose_mnv2_lt(num_keypoints: int = 17, use_sdpa: bool = True, peak_head: str = "none") -> DistilPoseModel:
    # peak_head="residual": a learned bias on the heatmaps before Lightning's pick (ADR 0022)
    return _mnv2_student(MoveNetDecodeFeatures, "movenet", num_keypoints, use_sdpa, peak_head)
