"""What the pipeline hands from stage to stage and returns: one frame's :class:`FrameResult`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from distilpose.types import Instance


@dataclass
class FrameResult:
    """What one pass of the pipeline produced for one frame (new fields go at the end, with defaults)."""

    index: int | None
    image_size: tuple[int, int]  # (w, h)
    boxes: np.ndarray  # (M, 4) xywh the pose model ran on
    box_scores: np.ndarray
    instances: list[Instance]
    teacher: list[Instance] | None = None
    disagreement: np.ndarray | None = None  # (M, K), see keypoint_disagreement
    times_ms: dict[str, float] = field(default_factory=dict)
    detected: bool = True  # False when every box came from tracking
    source_name: str = ""
    #: The frame the result was computed on (the app shows exactly this picture under the result while
    #: playing); None where nobody needs it.
    image: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: ``time.perf_counter()`` when a worker thread handed the result on (the app times the hop to its GUI).
    handed_at: float | None = field(default=None, repr=False, compare=False)
    #: The frame's time in seconds (smoothing's clock), when the caller knows it.
    t: float | None = field(default=None, repr=False, compare=False)
    #: The caller gave this frame's boxes: no detection, and no boxes followed from its keypoints.
    boxes_given: bool = field(default=False, repr=False, compare=False)
