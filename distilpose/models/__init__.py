"""Pose models in plain PyTorch: registry, TokenPose teachers, DistilPose students, checkpoints, complexity.

``create_model(name)`` builds a registered model; every model maps an ImageNet-normalised (N, 3, 256, 192)
tensor to a :class:`PoseOutput` and has ``.spec`` and ``forward_export``. State-dict keys equal the official
mmpose 0.x checkpoints (``backbone.*``, ``keypoint_head.*``).
"""

from __future__ import annotations

from distilpose.models.base import TopDownModel
from distilpose.models.bundled import DEFAULT_STUDENT, default_choice, default_model
from distilpose.models.checkpoint import (
    init_backbone_from_teacher,
    load_model,
    load_state_dict_file,
    load_weights,
    save_weights,
)
from distilpose.models.complexity import count_macs, count_params
from distilpose.models.outputs import PoseOutput
from distilpose.models.readiness import has_trained_weights, model_readiness, zoo_missing
from distilpose.models.registry import (
    DEFAULT_ALIAS,
    ModelSpec,
    accepts_override,
    create_model,
    list_models,
    model_spec,
    register_model,
    resolve_name,
)

__all__ = [
    "DEFAULT_ALIAS",
    "DEFAULT_STUDENT",
    "ModelSpec",
    "PoseOutput",
    "TopDownModel",
    "accepts_override",
    "count_macs",
    "count_params",
    "create_model",
    "default_choice",
    "default_model",
    "has_trained_weights",
    "init_backbone_from_teacher",
    "list_models",
    "load_model",
    "load_state_dict_file",
    "load_weights",
    "model_readiness",
    "model_spec",
    "register_model",
    "resolve_name",
    "save_weights",
    "zoo_missing",
]
