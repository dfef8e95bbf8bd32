"""How many people the live view leaves without a skeleton, measured against a per-frame reference.

While a video plays, boxes come from tracking and a background detector (:class:`~distilpose.detection.
TrackFromKeypoints`); paused, each frame is detected in line. The in-line result is the reference: a person
it shows (enough confident keypoints) is *visible*, and the live result *covers* that person when one of its
skeletons shows the same pose (OKS against the reference). A visible person not covered is a frame without a
skeleton, the defect a user sees (issue 25, defect 4). Live boxes that cover nobody are counted too: a tracked
box that drifted off its person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from distilpose.render import keypoint_scores
from distilpose.similarity import box_iou, shared_oks
from distilpose.types import Instance

#: Keypoints drawn by default (``DEFAULT_THRESHOLD`` of the app): a skeleton is what is drawn.
SHOWN_SCORE = 0.2
#: A person counts as visible, and a live skeleton as a skeleton, with at least this many shown keypoints.
MIN_SHOWN = 6
#: A live skeleton covers a reference person when their keypoint boxes overlap this much (IoU).
MATCH_IOU = 0.5
#: A covering skeleton whose pose is further from the reference than this OKS counts as "off".
MATCH_OKS = 0.5


@dataclass
class Coverage:
    """Totals over a clip; ``missing_frames`` lists the frame indices where someone visible had no skeleton."""

    frames: int = 0
    visible: int = 0  # person-frames visible in the reference
    missing: int = 0  # of those, without a live skeleton
    off_pose: int = 0  # covered, but the pose differs from the reference (OKS < MATCH_OKS)
    stray_boxes: int = 0  # live boxes overlapping no visible person (IoU < 0.3): drifted boxes
    missing_frames: list[int] = field(default_factory=list)

    def longest_gap(self) -> int:
        """Most consecutive listed frames (a gap a user sees as a skeleton gone for a while)."""
        best = run = 0
        last = None
        for f in self.missing_frames:
            run = run + 1 if last is not None and f == last + 1 else 1
            best, last = max(best, run), f
        return best

    def as_dict(self) -> dict:
        return {
            "frames": self.frames,
            "visible": self.visible,
            "missing": self.missing,
            "frames_with_missing": len(self.missing_frames),
            "longest_gap": self.longest_gap(),
            "off_pose": self.off_pose,
            "stray_boxes": self.stray_boxes,
        }


def shown(inst: Instance) -> np.ndarray:
    return (inst.keypoints[:, 2] > 0) & (keypoint_scores(inst) >= SHOWN_SCORE)


def pose_oks(a: Instance, b: Instance) -> float:
    """OKS of two predicted poses over the keypoints both show, at the scale of ``a``'s shown keypoints."""
    ka = np.column_stack([a.keypoints[:, :2], shown(a)])
    kb = np.column_stack([b.keypoints[:, :2], shown(b)])
    pts = a.keypoints[shown(a), :2]
    area = float(np.prod(pts.max(axis=0) - pts.min(axis=0))) if len(pts) else 1.0
    value = shared_oks(ka, kb, area)
    return 0.0 if value is None else value


def _keypoint_box(inst: Instance) -> np.ndarray:
    pts = inst.keypoints[shown(inst), :2]
    return np.concatenate([pts.min(axis=0), np.maximum(pts.max(axis=0) - pts.min(axis=0), 1.0)])


def _people(instances: Sequence[Instance]) -> list[Instance]:
    """Skeletons with enough shown keypoints, best first, without one lying mostly (80 %) inside a better one
    (the reference's detector sometimes finds a part of a person as another person)."""
    people = sorted((i for i in instances if shown(i).sum() >= MIN_SHOWN), key=lambda i: -keypoint_scores(i).mean())
    kept: list[Instance] = []
    for inst in people:
        b = _keypoint_box(inst)
        inside = False
        for other in kept:
            o = _keypoint_box(other)
            w = min(b[0] + b[2], o[0] + o[2]) - max(b[0], o[0])
            h = min(b[1] + b[3], o[1] + o[3]) - max(b[1], o[1])
            inside |= max(w, 0.0) * max(h, 0.0) >= 0.8 * b[2] * b[3]
        if not inside:
            kept.append(inst)
    return kept


def add_frame(total: Coverage, index: int, reference: Sequence[Instance], live: Sequence[Instance]) -> None:
    """Score one frame: each visible reference person is covered by the live skeleton whose keypoint box
    overlaps its own most (IoU >= ``MATCH_IOU``, each skeleton used once); a covered pose that differs from
    the reference (OKS < ``MATCH_OKS``) is counted as off."""
    total.frames += 1
    visible = _people(reference)
    skeletons = [inst for inst in live if shown(inst).sum() >= MIN_SHOWN]
    live_boxes = np.array([_keypoint_box(s) for s in skeletons]).reshape(-1, 4)
    used: set[int] = set()
    missing = 0
    for ref in visible:
        iou = box_iou(_keypoint_box(ref)[None], live_boxes)[0] if len(live_boxes) else np.zeros(0)
        iou[list(used)] = 0.0
        j = int(np.argmax(iou)) if len(iou) else -1
        if j < 0 or iou[j] < MATCH_IOU:
            missing += 1
            continue
        used.add(j)
        total.off_pose += int(pose_oks(ref, skeletons[j]) < MATCH_OKS)
    total.visible += len(visible)
    total.missing += missing
    if missing:
        total.missing_frames.append(int(index))
    ref_boxes = np.array([_keypoint_box(r) for r in visible]).reshape(-1, 4)
    for inst in live:
        if inst.bbox is None:
            continue
        if not len(ref_boxes) or box_iou(np.array([inst.bbox]), ref_boxes).max() < 0.3:
            total.stray_boxes += 1
