"""TokenPose heatmap teachers (official configs under configs/.../tokenpose/coco/).

``tokenpose-hrnet-w48``: mmpose HRNet-W48, all 4 stages -> 48 ch @ 64x48 -> token encoder (D192, 12
layers, 8 heads) -> heatmap MLP -> (N, 17, 64, 48). The teacher of both DistilPose students ("TokenPose-L"
in the DistilPose README: 69.4M params, 17.03 GFLOPs, 75.2 AP).
``tokenpose-stemnet``: StemNet + the same encoder and heatmap MLP (the repo's alternative teacher).
"""

from __future__ import annotations

from torch import Tensor, nn

from distilpose.models.base import TopDownModel
from distilpose.models.heads import TokenPoseHead
from distilpose.models.hrnet import HRNet
from distilpose.models.outputs import PoseOutput
from distilpose.models.registry import ModelSpec, register_model
from distilpose.models.stemnet import StemNet

_ENCODER = dict(feature_size=(64, 48), patch_size=(4, 3), dim=192, depth=12, heads=8, mlp_ratio=3)


class TokenPoseModel(TopDownModel):
    """Heatmap teacher: forward -> PoseOutput(heatmaps, vis_tokens, kpt_tokens)."""

    def __init__(self, backbone: nn.Module, in_channels: int, num_keypoints: int = 17, use_sdpa: bool = True):
        head = TokenPoseHead(
            in_channels, (64, 48), num_keypoints=num_keypoints, use_sdpa=use_sdpa, **_ENCODER
        )
        super().__init__(backbone, head, (256, 192))

    def forward(self, x: Tensor) -> PoseOutput:
        self.check_input(x)
        heatmaps, kpt, vis = self.keypoint_head(self.backbone(x))
        return PoseOutput(heatmaps=heatmaps, vis_tokens=vis, kpt_tokens=kpt)

    def forward_export(self, x: Tensor) -> tuple[Tensor, ...]:
        """(heatmaps,) for ONNX export."""
        heatmaps, _, _ = self.keypoint_head(self.backbone(x))
        return (heatmaps,)


@register_model(
    ModelSpec(
        name="tokenpose-hrnet-w48",
        gmacs=17.29,
        family="tokenpose",
        kind="heatmap",
        description="Heatmap teacher: HRNet-W48 (4 stages) + 12-layer token encoder (DistilPose's teacher)",
        paper_params_m=69.4,
        paper_gflops=17.03,
        paper_ap=75.2,
        official_config="configs/body/2d_kpt_sview_rgb_img/tokenpose/coco/teacher_hr48_coco_256x192.py",
    )
)
def tokenpose_hrnet_w48(num_keypoints: int = 17, use_sdpa: bool = True) -> TokenPoseModel:
    return TokenPoseModel(HRNet(width=48, num_stages=4), 48, num_keypoints, use_sdpa)


@register_model(
    ModelSpec(
        name="tokenpose-stemnet",
        gmacs=2.73,
        family="tokenpose",
        kind="heatmap",
        description="Small heatmap teacher: StemNet + 12-layer token encoder (TokenPose-S-v1-like)",
        official_config="configs/body/2d_kpt_sview_rgb_img/tokenpose/coco/teacher_stemnet_coco_256x192.py",
        notes="Alternative teacher in the official repo; not used by the released student configs.",
    )
)
def tokenpose_stemnet(num_keypoints: int = 17, use_sdpa: bool = True) -> TokenPoseModel:
    return TokenPoseModel(StemNet(), 256, num_keypoints, use_sdpa)
