"""Top-down inference over a COCO image set: boxes (GT or detections) -> predictions -> rescoring -> OKS-NMS.

This is the mmpose 0.x evaluation protocol the paper reports: instance score = box score x mean of keypoint
scores above 0.2, OKS-NMS at 0.9 per image, then pycocotools' keypoint COCOeval.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from distilpose.coco import CocoAnnotation, CocoDataset, CocoImage, KeypointResult, load_detections
from distilpose.data.coco_topdown import clean_gt_box
from distilpose.errors import DistilPoseError
from distilpose.evaluation import topdown_results
from distilpose.inference.predictor import Predictor
from distilpose.types import Instance
from distilpose.video import read_image

VIS_THR = 0.2
OKS_THR = 0.9


@dataclass
class GtPerson:
    ann: CocoAnnotation
    box: np.ndarray  # the sanitised crop box (as training uses)


def gt_people(dataset: CocoDataset) -> list[tuple[CocoImage, list[GtPerson]]]:
    """Each image with its evaluable people: person category, not crowd, at least one labelled keypoint and
    a non-empty box after the training pipeline's sanitising. The one definition of "GT boxes"."""
    person = dataset.person_category_id()
    out = []
    for image in dataset.images:
        people = []
        for ann in dataset.annotations_for_image(image.id):
            if ann.category_id != person or ann.iscrowd or ann.num_keypoints == 0:
                continue
            box = clean_gt_box(ann.bbox, image.width, image.height, ann.area)
            if box is not None:
                people.append(GtPerson(ann, box))
        if people:
            out.append((image, people))
    return out


def topdown_record(image_id: int, inst: Instance, box_score: float) -> dict:
    """One predicted person in the form :func:`~distilpose.evaluation.topdown_results` rescores and NMSes."""
    return {
        "image_id": image_id,
        "keypoints": np.column_stack([inst.keypoints[:, :2], inst.scores]),
        "box_score": box_score,
        "area": inst.extras["area"],
    }


def boxes_per_image(dataset: CocoDataset, boxes: str | Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``'gt'``: the annotated person boxes of :func:`gt_people` (score 1); else a COCO detections file.
    Zero-size detections are dropped (they have no crop)."""
    out: dict[int, list] = defaultdict(list)
    if str(boxes) == "gt":
        for image, persons in gt_people(dataset):
            out[image.id] = [(*p.box, 1.0) for p in persons]
    else:
        known = {img.id for img in dataset.images}
        for det in load_detections(boxes):
            if det.image_id not in known:
                raise DistilPoseError(
                    f"{boxes}: detection for image id {det.image_id}, which the annotations lack"
                )
            if det.bbox[2] > 0 and det.bbox[3] > 0:
                out[det.image_id].append((*det.bbox, det.score))
    return {k: (np.array(v)[:, :4], np.array(v)[:, 4]) for k, v in out.items()}


def predict_coco(
    predictor: Predictor,
    dataset: CocoDataset,
    images_dir: str | Path,
    boxes: str | Path = "gt",
    progress: bool = True,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[KeypointResult]:
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise DistilPoseError(f"{images_dir}: image folder not found")
    per_image = boxes_per_image(dataset, boxes)
    people: list[dict] = []
    for image in tqdm(dataset.images, desc="predicting", unit="img", disable=not progress):
        if cancelled():
            raise KeyboardInterrupt
        if image.id not in per_image:
            continue
        rgb = read_image(images_dir / image.file_name)
        image_boxes, scores = per_image[image.id]
        for inst, box_score in zip(predictor.predict(rgb, image_boxes), scores, strict=True):
            people.append(topdown_record(image.id, inst, box_score))
    return topdown_results(people, vis_thr=VIS_THR, nms_thr=OKS_THR)
