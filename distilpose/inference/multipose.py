"""MoveNet MultiPose Lightning as a live *pose* model: one pass over the whole frame gives up to six people
with their own keypoints, so its cost does not grow with the number of people (the top-down models' does).

It stands where a :class:`~distilpose.inference.predictor.Predictor` stands (``predict(image, boxes, ...)``),
but ignores the boxes: :func:`~distilpose.pipeline.make_live_pipeline` gives it the whole frame and no
detector. The graph is the zoo's (``distilpose models fetch movenet-multipose``), run by the TF.js importer.
"""

from __future__ import annotations

import numpy as np

from distilpose.detection import multipose_people
from distilpose.errors import DistilPoseError
from distilpose.evaluation import rescore
from distilpose.keypoints import NUM_KEYPOINTS
from distilpose.types import Instance

NAME = "movenet-multipose"
#: The graph's people slots: it never returns more.
MAX_PEOPLE = 6
#: Longer side of the graph's input (multiples of 32; the model card recommends 256).
INPUT_LONG_SIDE = 256


class MultiPosePredictor:
    """Whole-frame MultiPose with the Predictor's ``predict`` signature (the boxes are ignored)."""

    single_stage = True  # make_live_pipeline: no detector, no tracking, the whole frame each time
    source = "teacher"  # a pretrained zoo model, drawn and exported like the other zoo models

    def __init__(self, graph, size: int = INPUT_LONG_SIDE, score_threshold: float = 0.2) -> None:
        self.graph = graph
        self.size = size
        self.score_threshold = score_threshold
        self.flip = False

    @classmethod
    def from_cache(cls, **kwargs) -> MultiPosePredictor:
        from distilpose.zoo import load_graph

        return cls(load_graph(NAME).eval(), **kwargs)

    def predict(
        self,
        image_rgb: np.ndarray,
        boxes_xywh: np.ndarray | None = None,
        box_scores: np.ndarray | None = None,
        return_heatmaps: bool = False,
    ) -> list[Instance]:
        """Everyone the graph finds with a person score >= ``score_threshold``, best first."""
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
            raise DistilPoseError(f"expected an RGB image of shape (H, W, 3), got {image_rgb.shape}")
        h, w = image_rgb.shape[:2]
        people = multipose_people(self.graph, image_rgb, self.size).astype(np.float64)
        people = people[people[:, 55] >= self.score_threshold]
        people = people[np.argsort(-people[:, 55], kind="stable")]
        kps = people[:, : 3 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 3)
        xy = kps[:, :, 1::-1] * np.array([w, h], dtype=np.float64)  # (y, x) -> (x, y) pixels
        ymin, xmin, ymax, xmax = (people[:, 51 + i] for i in range(4))
        boxes = np.stack([xmin * w, ymin * h, (xmax - xmin) * w, (ymax - ymin) * h], axis=1)
        instances = []
        for i in range(len(people)):
            scores = kps[i, :, 2]
            inst = Instance(
                keypoints=np.concatenate([xy[i], np.full((NUM_KEYPOINTS, 1), 2.0)], axis=1),
                bbox=tuple(float(v) for v in boxes[i]),
                scores=scores,
                score=rescore(float(people[i, 55]), scores),
                source=self.source,
            )
            inst.extras["area"] = float(boxes[i, 2] * boxes[i, 3])
            instances.append(inst)
        return instances
