"""The per-frame pipeline: person boxes, pose, teacher, identity, smoothing, as stages of one interface.

:class:`LivePipeline` (built by :func:`make_live_pipeline`) is what the app's live view, ``bench --pipeline``,
batch export, pre-labelling and pseudo-labelling run; :mod:`distilpose.pipeline.stages` holds the stages.
"""

from distilpose.pipeline.frame import FrameResult
from distilpose.pipeline.live import (
    LIVE_THREADS,
    MAX_STREAM_GAP,
    REDETECT_EVERY,
    STAGES,
    LivePipeline,
    make_live_pipeline,
    render_result,
)
from distilpose.pipeline.stages import IdentityTracker, Stage, keypoint_disagreement, stages_for

__all__ = [
    "LIVE_THREADS",
    "MAX_STREAM_GAP",
    "REDETECT_EVERY",
    "STAGES",
    "FrameResult",
    "IdentityTracker",
    "LivePipeline",
    "Stage",
    "keypoint_disagreement",
    "make_live_pipeline",
    "render_result",
    "stages_for",
]
