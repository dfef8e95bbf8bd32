"""Issue 26, item 0: the training loop. A crop without augmentation carries the target that inference
decodes back to the label; head-only distillation of the default student on N real frames no longer
drops its AP on those frames below its untrained prior's (it did with the official squared regression
loss: ADR 0014); and with the peak-choice head (ADR 0022) it rises clearly above it."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from distilpose.data import TopDownCocoDataset, train_pipeline
from distilpose.inference.predictor import Predictor
from tests.conftest import require_zoo_model, shared_path
from tests.unit.coco_factory import make_coco_doc


class _EchoTarget:
    """A runtime that answers the training target of the crop it is given (and records the crop)."""

    name = "echo"
    output_names = ("coords", "scores")

    def __init__(self, coords: np.ndarray) -> None:
        self.coords = coords
        self.batches: list[np.ndarray] = []

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        self.batches.append(batch)
        return {"coords": self.coords[None].astype(np.float32), "scores": np.ones((1, len(self.coords)), np.float32)}


def test_an_unaugmented_crop_has_the_target_that_inference_decodes_to_the_label(tmp_path: Path) -> None:
    """Training crop == inference crop (same pixels), and the target coordinates, decoded by the inference
    path (the Predictor every command uses), land on the labelled keypoints: no pixel-centre, padding,
    aspect or (H, W) convention differs between the two."""
    from distilpose.models import model_spec

    doc = make_coco_doc(seed=3)
    rng = np.random.default_rng(0)
    for image in doc["images"]:
        pixels = rng.integers(0, 255, (image["height"], image["width"], 3), dtype=np.uint8)
        cv2.imwrite(str(tmp_path / image["file_name"]), pixels, [cv2.IMWRITE_JPEG_QUALITY, 100])
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(doc))
    pipeline = train_pipeline(flip_prob=0.0, half_body_prob=0.0, rot_prob=0.0, scale_factor=0.0)
    dataset = TopDownCocoDataset.from_coco(ann, tmp_path, pipeline, train=True, center_jitter_prob=0.0)
    assert len(dataset) >= 4
    spec = model_spec("distilpose-mnv2-lt")
    for index, record in enumerate(dataset.records):
        item = dataset[index]
        target = item["target_coords"].numpy()
        echo = _EchoTarget(target)
        image = cv2.cvtColor(cv2.imread(str(record.image_file)), cv2.COLOR_BGR2RGB)
        (person,) = Predictor(echo, spec).predict(image, record.bbox[None])
        np.testing.assert_allclose(echo.batches[0][0], item["image"].numpy(), atol=1e-6)  # the same crop
        used = item["target_weights"].numpy() > 0
        assert used.sum() >= 3
        np.testing.assert_allclose(person.keypoints[used, :2], record.keypoints[used, :2], atol=1e-3)  # image px


# ------------------------------------------------------------------------- the fit test (real data)

STEPS = 150
#: The peak head learns its map from zero (the token head only corrections): lr x this.
PEAK_LR_MULT = 300.0
PEAK_STEPS = 150
#: The rise the peak head must give on its own frames: "clearly above" the prior. With the distil job's recipe
#: (only the pick learns, the teacher not run, ADR 0028) the real trainer gives 0.5671 -> 0.6062 (+0.039) in
#: PEAK_STEPS; without the head the same frames end at +0.0000 (ADR 0014), so the assertion fails there.
FIT_MARGIN = 0.02


def _thunder_labels(out: Path) -> tuple[Path, Path]:
    """MoveNet Thunder (flip test) keypoints on the annotated boxes of every other coco-mini-train image with
    people: the frames to fit (COCO file, images folder). Keypoints below 0.3 unlabelled; people with fewer
    than 6 confident keypoints dropped (as ``distilpose pseudo-label`` does)."""
    from distilpose.coco import load_coco
    from distilpose.inference.coco_run import gt_people
    from distilpose.inference.loading import load_predictor
    from distilpose.video import read_image

    ann = shared_path("coco-mini-train", "person_keypoints.json")
    images = ann.parent / "images"
    raw = json.loads(ann.read_text())
    by_id = {image["id"]: image for image in raw["images"]}
    teacher = load_predictor("movenet-thunder", flip=True).predictor
    kept_images, annotations = [], []
    for n, (image, people) in enumerate(gt_people(load_coco(ann))):
        if n % 2:
            continue
        found = teacher.predict(read_image(images / image.file_name), np.array([p.box for p in people]))
        for person, inst in zip(people, found, strict=True):
            confident = inst.scores >= 0.3
            if confident.sum() < 6:
                continue
            kp = np.zeros((17, 3))
            kp[confident, :2] = inst.keypoints[confident, :2]
            kp[confident, 2] = 2
            annotations.append(
                {"id": len(annotations) + 1, "image_id": image.id, "category_id": 1, "iscrowd": 0,
                 "bbox": list(person.ann.bbox), "area": person.ann.area, "keypoints": kp.ravel().tolist(),
                 "num_keypoints": int(confident.sum())}
            )  # fmt: skip
        if any(a["image_id"] == image.id for a in annotations):
            kept_images.append(by_id[image.id])
    path = out / "thunder_labels.json"
    path.write_text(json.dumps({"images": kept_images, "annotations": annotations, "categories": raw["categories"]}))
    return path, images


def _ap(weights: Path | None, ann: Path, images: Path) -> float:
    """OKS AP (pycocotools) of the default student on the labelled boxes, no flip (as it runs live); the
    untrained prior when ``weights`` is None (a trained file loads with the options it was built with)."""
    from distilpose.coco import load_coco
    from distilpose.evaluation import evaluate_keypoints
    from distilpose.inference.coco_run import predict_coco
    from distilpose.inference.runtimes import TorchRuntime
    from distilpose.models import create_model
    from distilpose.models.checkpoint import load_model
    from distilpose.training.trainer import init_backbone_from_zoo

    if weights is None:
        model = create_model("distilpose-mnv2-lt")
        init_backbone_from_zoo(model, "movenet-lightning")
    else:
        model, _ = load_model(weights)
    predictor = Predictor(TorchRuntime(model.eval()), model.spec)
    return evaluate_keypoints(ann, predict_coco(predictor, load_coco(ann), images, "gt", progress=False))["AP"]


def _fit(tmp_path: Path, peak_head: str) -> tuple[float, float]:
    """The repository's recipe (the default student, Thunder as teacher, its losses), head only at lr 1e-4,
    augmentation off, 150 steps of 16 crops on Thunder + flip labels of 13 real COCO frames (33 people), with
    or without the peak-choice head (the job's recipe: its pick loss alone, lr x300, token head frozen,
    PEAK_STEPS steps); -> (prior AP, trained AP) on those frames."""
    from distilpose.training.config import CONFIG_DIR
    from distilpose.training.entry import train_main

    for name in ("movenet-thunder", "movenet-lightning"):
        require_zoo_model(name)
    torch.set_num_threads(2)
    ann, images = _thunder_labels(tmp_path)
    cfg = json.loads((CONFIG_DIR / "distilpose_mnv2_lt_movenet_thunder.json").read_text())
    cfg["data"] = {
        "train_ann": str(ann),
        "train_images": str(images),
        "augment": {"flip_prob": 0.0, "half_body_prob": 0.0, "rot_prob": 0.0, "scale_factor": 0.0},
    }
    cfg["optimizer"]["lr"] = 1e-4
    # 3 steps an epoch (33 people, 16 a batch): warm up 50 steps, lr / 10 from step 102, so the corrections
    # settle instead of random-walking by a pixel at the end
    cfg["schedule"].update(warmup_iters=50, step_epochs=[34], gamma=0.1)
    steps = STEPS
    if peak_head != "none":
        # the distil job's recipe (ADR 0028): only the pick learns, from the labels; the teacher is not run
        cfg["model"]["overrides"] = {"peak_head": peak_head}
        cfg["teacher"] = {"name": cfg["teacher"]["name"]}  # as the job names it: no token adapter, no TDE terms
        cfg["loss"].update(peak_pick=1.0, sim_heatmap=0.0, score=0.0)
        cfg["optimizer"].update(peak_head_lr_mult=PEAK_LR_MULT, freeze_token_head=True)
        # warm up 10 steps, lr / 10 from step 102
        cfg["schedule"].update(warmup_iters=10, step_epochs=[34])
        steps = PEAK_STEPS
    cfg["run"].update(max_steps=steps, epochs=None, workers=0, checkpoint_every_steps=10_000, eval_at_end=False)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    assert train_main(tmp_path / "cfg.json", out=tmp_path / "run", device="cpu", show_progress=False) == 0
    prior = _ap(None, ann, images)
    trained = _ap(tmp_path / "run" / "final" / "model.safetensors", ann, images)
    assert 0.45 < prior < 0.7  # the untrained student is Lightning's decoding on the 256x192 crop
    return prior, trained


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_head_only_distillation_fits_its_own_frames_without_falling_below_the_prior(tmp_path: Path) -> None:
    """Without the peak head, AP on the trained frames must not fall below the untrained prior's (more than
    0.01, AP noise on 33 people). With the official squared regression loss it fell: 0.567 -> 0.474 at a
    constant lr, 0.526 / 0.503 under this schedule (the head learned the mean error, which wrong peaks
    dominate: ADR 0014). With the fix it ends at the prior (0.5671 vs 0.5671 in the real trainer): a head
    blind to its prior's pick can only nudge it."""
    prior, trained = _fit(tmp_path, "none")
    assert trained >= prior - 0.01, (prior, trained)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_peak_head_lifts_the_student_clearly_above_its_prior_on_its_own_frames(tmp_path: Path) -> None:
    """With the peak-choice head and its pick loss (ADR 0022, trained as the distil job trains it: ADR 0028) the
    student can move a wrong pick to the labelled peak, so on its own frames it must rise clearly above the
    prior: by FIT_MARGIN AP. Without the head the run ends exactly at the prior (the test above)."""
    prior, trained = _fit(tmp_path, "residual")
    assert trained >= prior + FIT_MARGIN, (prior, trained)
