"""A tiny synthetic COCO keypoints dataset, for smoke tests of a training set-up without real data.

Images are seeded noise with a bright blob at every labelled keypoint (so there is *something* to learn);
annotations are valid COCO person instances. Written with the library's COCO category and atomic writes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from distilpose.atomic import atomic_write_json
from distilpose.keypoints import NUM_KEYPOINTS, coco_category


def make_synthetic_coco(
    folder: str | Path,
    num_images: int = 6,
    persons_per_image: int = 1,
    size_wh: tuple[int, int] = (160, 128),
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write ``folder/images/*.png`` and ``folder/person_keypoints.json``; returns (ann file, image dir)."""
    folder = Path(folder)
    images_dir = folder / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w, h = size_wh
    images, annotations = [], []
    ann_id = 1
    for img_id in range(1, num_images + 1):
        image = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        for _ in range(persons_per_image):
            bw, bh = rng.uniform(0.3, 0.6) * w, rng.uniform(0.5, 0.9) * h
            x0, y0 = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            xs = rng.uniform(x0, x0 + bw, NUM_KEYPOINTS)
            ys = rng.uniform(y0, y0 + bh, NUM_KEYPOINTS)
            vis = rng.choice([0, 1, 2], size=NUM_KEYPOINTS, p=[0.15, 0.15, 0.7])
            vis[:10] = 2  # enough labelled joints for half-body augmentation to trigger
            kps = []
            for x, y, v in zip(xs, ys, vis, strict=True):
                if v > 0:
                    cv2.circle(image, (int(x), int(y)), 3, (255, 255, 255), -1)
                    kps += [round(float(x), 2), round(float(y), 2), int(v)]
                else:
                    kps += [0, 0, 0]
            annotations.append(
                {
                    "id": ann_id,
                    "image_id": img_id,
                    "category_id": 1,
                    "bbox": [round(x0, 2), round(y0, 2), round(bw, 2), round(bh, 2)],
                    "area": round(bw * bh, 2),
                    "iscrowd": 0,
                    "num_keypoints": int((vis > 0).sum()),
                    "keypoints": kps,
                }
            )
            ann_id += 1
        name = f"{img_id:06d}.png"
        cv2.imwrite(str(images_dir / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        images.append({"id": img_id, "file_name": name, "width": w, "height": h})
    ann_path = folder / "person_keypoints.json"
    atomic_write_json(
        ann_path, {"images": images, "annotations": annotations, "categories": [coco_category()]}
    )
    return ann_path, images_dir


def write_random_teacher(path: str | Path, name: str = "tokenpose-stemnet", seed: int = 0) -> Path:
    """Save an untrained (seeded) teacher: enough to exercise distillation plumbing, not to learn from."""
    import torch

    from distilpose.models import create_model
    from distilpose.models.checkpoint import save_weights

    torch.manual_seed(seed)
    save_weights(create_model(name), path)
    return Path(path)


def smoke_config(
    folder: str | Path,
    *,
    model: str = "distilpose-t",
    teacher_weights: str | Path | None = None,
    teacher: str = "tokenpose-stemnet",
    num_images: int = 6,
    augment: bool = True,
    val: bool = False,
    **run: object,
) -> dict:
    """A config dict for a seconds-long CPU run on synthetic data in ``folder`` (created if missing).

    ``teacher_weights`` set = distillation, else heatmap training of ``model``. ``run`` entries override
    the run section (``max_steps``, ``batch_size``, ...).
    """
    folder = Path(folder)
    ann, images = folder / "data" / "person_keypoints.json", folder / "data" / "images"
    if not ann.exists():
        ann, images = make_synthetic_coco(folder / "data", num_images=num_images)
    data: dict = {"train_ann": str(ann), "train_images": str(images)}
    if val:
        data.update(val_ann=str(ann), val_images=str(images))
    if not augment:
        data["augment"] = {"flip_prob": 0.0, "half_body_prob": 0.0, "rot_prob": 0.0, "scale_factor": 0.0}
    cfg: dict = {
        "name": "smoke",
        "model": {"name": model},
        "data": data,
        "schedule": {"warmup_iters": 2, "step_epochs": []},
        "run": {
            "max_steps": 4,
            "batch_size": 2,
            "workers": 0,
            "checkpoint_every_steps": 2,
            "log_every_steps": 1,
            "eval_every_epochs": None,
            "eval_at_end": val,
            "flip_test": False,
            **run,
        },
    }
    if teacher_weights is not None:
        cfg["teacher"] = {"name": teacher, "weights": str(teacher_weights)}
    return cfg
