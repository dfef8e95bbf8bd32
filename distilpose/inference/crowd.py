"""Policies that make a crowd cheaper for a top-down model, whose cost grows with the number of people.

:class:`StaticReuse`: a person whose box barely moved since the last frame is re-estimated only every other
frame; in between, their last keypoints move with the track's motion (the shift of their box). Its cost and
accuracy on a crowded clip are in ADR 0024; :data:`REUSE_STATIC_DEFAULT` says whether the live view uses it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from distilpose.detection import box_iou
from distilpose.types import Instance

#: IoU between a person's box now and on the last frame at or above which the person counts as still.
STILL_IOU = 0.85
#: On by default only if it wins on the crowded clip (ADR 0024).
REUSE_STATIC_DEFAULT = False


class StaticReuse:
    """Decides, per box, whether to run the pose model or move the person's last estimate.

    Call :meth:`plan` with the frame's boxes before the pose model, run the model on the boxes it marks,
    then :meth:`combine` to get one instance per box in the boxes' order (and remember them).
    """

    def __init__(self, still_iou: float = STILL_IOU) -> None:
        self.still_iou = still_iou
        self.reused = 0  # people carried over instead of estimated (stats, tests)
        self.estimated = 0
        self.reset()

    def reset(self) -> None:
        self._boxes = np.zeros((0, 4))
        self._instances: list[Instance] = []
        self._fresh = np.zeros(0, dtype=bool)  # last frame's people that the model estimated (may be reused)
        self._source = np.zeros(0, dtype=int)  # per box of the current plan: last frame's person, or -1

    def plan(self, boxes_xywh: np.ndarray) -> np.ndarray:
        """A mask over ``boxes_xywh``: True where the pose model must run this frame."""
        boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
        self._source = np.full(len(boxes), -1, dtype=int)
        if len(boxes) == 0 or len(self._boxes) == 0:
            return np.ones(len(boxes), dtype=bool)
        iou = box_iou(boxes, self._boxes)
        best = iou.argmax(axis=1)
        still = (iou[np.arange(len(boxes)), best] >= self.still_iou) & self._fresh[best]
        # one previous person feeds at most one box: the box that overlaps it most
        for j in np.unique(best[still]):
            rows = np.flatnonzero(still & (best == j))
            if len(rows) > 1:
                still[rows[rows != rows[iou[rows, j].argmax()]]] = False
        self._source[still] = best[still]
        return ~still

    def combine(self, boxes_xywh: np.ndarray, estimated: Sequence[Instance]) -> list[Instance]:
        """One instance per box: the model's where it ran (``estimated``, in order), else the moved last one."""
        boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
        out: list[Instance] = []
        fresh = iter(estimated)
        shift = boxes[:, :2] + boxes[:, 2:] / 2  # box centres now ...
        for i, j in enumerate(self._source):
            if j < 0:
                out.append(next(fresh))
                continue
            last = self._instances[j]
            moved = shift[i] - (self._boxes[j, :2] + self._boxes[j, 2:] / 2)  # ... minus on the last frame
            kp = last.keypoints.copy()
            kp[:, :2] += moved
            out.append(
                Instance(
                    keypoints=kp,
                    bbox=tuple(float(v) for v in boxes[i]),
                    scores=None if last.scores is None else last.scores.copy(),
                    sigmas=last.sigmas,
                    score=last.score,
                    source=last.source,
                    extras={k: v for k, v in last.extras.items() if k == "area"},
                )
            )
        self.reused += int((self._source >= 0).sum())
        self.estimated += int((self._source < 0).sum())
        self._boxes, self._instances, self._fresh = boxes, out, self._source < 0
        return out
