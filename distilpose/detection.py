"""Person boxes for top-down pose models: a detector from the zoo, the whole frame, the user's boxes, or
boxes tracked from the previous frame's keypoints.

Every source implements :class:`PersonDetector` (``detect(image_rgb) -> (boxes_xywh, scores)``), so the live
pipeline, the bench and batch export treat them alike and a new detector is just another entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np

from distilpose.errors import DistilPoseError
from distilpose.types import Instance

Boxes = tuple[np.ndarray, np.ndarray]  # (M, 4) xywh float64, (M,) scores


class PersonDetector(Protocol):
    name: str

    def detect(self, image_rgb: np.ndarray) -> Boxes:
        """Person boxes (x, y, w, h in image pixels) and their scores, best first."""
        ...


def _empty() -> Boxes:
    return np.zeros((0, 4)), np.zeros(0)


class FullFrame:
    """The whole image as one person box: the fallback when no detector is available (single-person clips)."""

    name = "full-frame"

    def detect(self, image_rgb: np.ndarray) -> Boxes:
        h, w = image_rgb.shape[:2]
        return np.array([[0.0, 0.0, float(w), float(h)]]), np.ones(1)


class FixedBoxes:
    """Boxes the user drew; the same for every frame until changed."""

    name = "user-boxes"

    def __init__(self, boxes_xywh: Sequence[Sequence[float]] | np.ndarray = ()) -> None:
        self.set_boxes(boxes_xywh)

    def set_boxes(self, boxes_xywh: Sequence[Sequence[float]] | np.ndarray) -> None:
        boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
        if (boxes[:, 2:] <= 0).any():
            raise DistilPoseError(f"user boxes must have positive width and height, got {boxes.tolist()}")
        self.boxes = boxes

    def detect(self, image_rgb: np.ndarray) -> Boxes:
        return self.boxes.copy(), np.ones(len(self.boxes))


def nms(boxes_xywh: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best first (cv2: no torchvision here)."""
    if len(boxes_xywh) == 0:
        return np.zeros(0, dtype=int)
    keep = cv2.dnn.NMSBoxes(
        [list(map(float, b)) for b in boxes_xywh], [float(s) for s in scores], 0.0, float(iou_threshold)
    )
    keep = np.asarray(keep, dtype=int).reshape(-1)
    return keep[np.argsort(-np.asarray(scores)[keep], kind="stable")]


class CenterNetDetector:
    """The zoo's CenterNet-MobileNetV3 (COCO-80, :mod:`distilpose.zoo.centernet`), person class only, plus NMS.

    Build with :meth:`from_cache` once ``distilpose models fetch centernet`` has been run; ``model`` is
    anything with ``detect_people(image_rgb, min_score) -> (K, 5) [x1, y1, x2, y2, score]`` in image pixels.
    When no box reaches ``score_threshold`` (backlit or mid-jump people score low), the single best box above
    ``fallback_threshold`` that is at least ``fallback_min_height`` of the image tall is kept, so a clip with
    one hard frame does not lose its person.
    """

    name = "centernet"

    def __init__(
        self,
        model,
        score_threshold: float = 0.3,
        nms_iou: float = 0.5,
        fallback_threshold: float = 0.1,
        fallback_min_height: float = 0.1,
    ) -> None:
        self.model = model
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.fallback_threshold = fallback_threshold
        self.fallback_min_height = fallback_min_height

    @staticmethod
    def available() -> bool:
        """Whether the model files are in the cache (cheap: sizes only)."""
        try:
            from distilpose.zoo import is_cached

            return is_cached("centernet")
        except (ImportError, DistilPoseError):
            return False

    @classmethod
    def from_cache(cls, **kwargs: float) -> CenterNetDetector:
        """Load the cached model (checksums verified); DistilPoseError says how to fetch it when missing."""
        from distilpose.zoo.centernet import load_centernet

        return cls(load_centernet(), **kwargs)

    def detect(self, image_rgb: np.ndarray) -> Boxes:
        floor = min(self.fallback_threshold, self.score_threshold)
        dets = np.asarray(self.model.detect_people(image_rgb, min_score=floor), dtype=np.float64)
        return self.select(dets.reshape(-1, 5), image_rgb.shape[0])

    def select(self, dets_xyxys: np.ndarray, image_height: int) -> Boxes:
        """(K, 5) person boxes [x1, y1, x2, y2, score] -> confident boxes after NMS, or the fallback box."""
        if len(dets_xyxys) == 0:
            return _empty()
        xyxy, scores = dets_xyxys[:, :4], dets_xyxys[:, 4].astype(np.float64)
        boxes = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        ok = (boxes[:, 2] > 1) & (boxes[:, 3] > 1)
        boxes, scores = boxes[ok], scores[ok]
        confident = scores >= self.score_threshold
        if confident.any():
            boxes, scores = boxes[confident], scores[confident]
            keep = nms(boxes, scores, self.nms_iou)
            return boxes[keep], scores[keep]
        tall = np.flatnonzero(
            (boxes[:, 3] >= self.fallback_min_height * image_height) & (scores >= self.fallback_threshold)
        )
        if len(tall) == 0:
            return _empty()
        best = tall[np.argmax(scores[tall])]
        return boxes[best : best + 1], scores[best : best + 1]


def box_from_keypoints(
    instance: Instance, min_score: float, min_points: int, pad: float, image_wh: tuple[int, int] | None
) -> tuple[np.ndarray, float] | None:
    """A box around the keypoints scoring at least ``min_score`` (None when fewer than ``min_points``),
    padded by ``pad`` of its size on each side and clipped to the image; with the mean score of those points."""
    scores = instance.scores if instance.scores is not None else np.ones(len(instance.keypoints))
    ok = (scores >= min_score) & (instance.keypoints[:, 2] > 0)
    if ok.sum() < min_points:
        return None
    pts = instance.keypoints[ok, :2]
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    w, h = x1 - x0, y1 - y0
    x0, x1 = x0 - pad * w, x1 + pad * w
    y0, y1 = y0 - pad * h, y1 + pad * h
    if image_wh is not None:
        x0, x1 = max(0.0, x0), min(float(image_wh[0]), x1)
        y0, y1 = max(0.0, y0), min(float(image_wh[1]), y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return np.array([x0, y0, x1 - x0, y1 - y0]), float(scores[ok].mean())


class TrackFromKeypoints:
    """Boxes from the previous frame's keypoints, re-detected every ``redetect_every`` frames or when lost.

    Call :meth:`update` with each frame's predictions. A person is lost when fewer than ``min_points``
    keypoints score ``min_score``; when every person is lost, the next frame is detected again.
    """

    def __init__(
        self,
        detector: PersonDetector,
        redetect_every: int = 10,
        pad: float = 0.15,
        min_score: float = 0.2,
        min_points: int = 4,
    ) -> None:
        if redetect_every < 1:
            raise ValueError("redetect_every must be >= 1")
        self.detector = detector
        self.name = f"tracking+{detector.name}"
        self.redetect_every = redetect_every
        self.pad = pad
        self.min_score = min_score
        self.min_points = min_points
        self.detections = 0  # how many times the inner detector ran (for tests and stats)
        self.last_detected = False
        self.reset()

    def reset(self) -> None:
        """Forget the tracks: the next frame is detected (call after a seek)."""
        self._boxes: np.ndarray | None = None
        self._scores: np.ndarray | None = None
        self._since = 0
        self._image_wh: tuple[int, int] | None = None

    def detect(self, image_rgb: np.ndarray) -> Boxes:
        h, w = image_rgb.shape[:2]
        self._image_wh = (w, h)
        if self._boxes is None or len(self._boxes) == 0 or self._since >= self.redetect_every:
            boxes, scores = self.detector.detect(image_rgb)
            self.detections += 1
            self.last_detected = True
            self._since = 1
            return boxes, scores
        self.last_detected = False
        self._since += 1
        assert self._scores is not None
        return self._boxes.copy(), self._scores.copy()

    def update(self, instances: Sequence[Instance]) -> None:
        """Take this frame's predictions as next frame's boxes; lost people are dropped."""
        kept = [
            b
            for inst in instances
            if (b := box_from_keypoints(inst, self.min_score, self.min_points, self.pad, self._image_wh))
            is not None
        ]
        if not kept:
            self._boxes = None
            self._scores = None
            return
        self._boxes = np.array([b for b, _ in kept])
        self._scores = np.array([s for _, s in kept])


DETECTOR_NAMES = ("centernet", "full-frame", "user-boxes")


def available_detectors() -> list[str]:
    """Detector names usable now, best first (CenterNet only when fetched)."""
    names = ["full-frame", "user-boxes"]
    if CenterNetDetector.available():
        names.insert(0, "centernet")
    return names


def make_detector(
    name: str,
    *,
    user_boxes: Sequence[Sequence[float]] | np.ndarray = (),
    tracking: bool = False,
    redetect_every: int = 10,
) -> PersonDetector:
    """A detector by name ('auto' = CenterNet when cached, else the full frame), optionally with tracking."""
    if name == "auto":
        name = "centernet" if CenterNetDetector.available() else "full-frame"
    if name == "centernet":
        base: PersonDetector = CenterNetDetector.from_cache()
    elif name == "full-frame":
        base = FullFrame()
    elif name == "user-boxes":
        base = FixedBoxes(user_boxes)
    else:
        raise DistilPoseError(f"unknown detector {name!r}; choose from auto, {', '.join(DETECTOR_NAMES)}")
    return TrackFromKeypoints(base, redetect_every) if tracking else base
