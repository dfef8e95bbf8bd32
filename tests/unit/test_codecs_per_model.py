"""One codec per model kind: chosen from the ModelSpec, and the Predictor and training validation decode alike."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from distilpose.codecs.codec import HeatmapCodec, MoveNetCodec, RegressionCodec, codec_for
from distilpose.errors import DistilPoseError
from distilpose.inference.predictor import Predictor
from distilpose.inference.runtimes import TorchRuntime
from distilpose.models import model_spec
from distilpose.models.checkpoint import load_model
from distilpose.resources import resources_root
from distilpose.training.validation import predict as validation_predict
from distilpose.video import open_source, read_image
from tests.conftest import SHARED_DATA, require_zoo_model


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("tokenpose-stemnet", HeatmapCodec),
        ("distilpose-mnv2-lt", RegressionCodec),
        ("distilpose-s", RegressionCodec),
        ("movenet-thunder", MoveNetCodec),
        ("movenet-lightning", MoveNetCodec),
    ],
)
def test_the_spec_picks_the_codec_and_its_geometry(name, codec):
    spec = model_spec(name)
    chosen = codec_for(spec, flip_mode="official")
    assert type(chosen) is codec
    assert chosen.input_size_wh == (spec.input_size[1], spec.input_size[0])
    assert chosen.heatmap_size_wh == (spec.heatmap_size[1], spec.heatmap_size[0])
    if isinstance(chosen, RegressionCodec):
        assert chosen.flip_mode == "official"


def test_what_a_runtime_outputs_decides_over_the_spec_s_kind():
    """A runtime giving coords is decoded as regression even under a heatmap teacher's name (a checkpoint of
    another kind, a fake), as the Predictor always did; one giving only heatmaps, as heatmaps."""
    teacher, student = model_spec("tokenpose-stemnet"), model_spec("distilpose-t")
    assert type(codec_for(teacher, outputs=("coords", "scores", "sigmas"))) is RegressionCodec
    assert type(codec_for(student, outputs=("heatmaps",))) is HeatmapCodec
    assert type(codec_for(teacher, outputs=("something",))) is HeatmapCodec  # silent outputs: the spec decides


def test_a_missing_output_names_the_codec_and_what_came():
    codec = codec_for(model_spec("distilpose-s"))
    with pytest.raises(DistilPoseError, match=r"RegressionCodec needs the model output 'coords'.*heatmaps"):
        codec.decode({"heatmaps": np.zeros((1, 17, 64, 48), np.float32)}, np.zeros((1, 2)), np.ones((1, 2)))


def test_movenet_flip_merges_its_heatmaps_but_decodes_the_regressed_keypoints():
    """MoveNet's heatmaps answer for every person in the crop: the keypoints are its coords, never a peak."""
    codec = codec_for(model_spec("movenet-lightning"))
    coords = np.full((1, 17, 2), 0.25, np.float32)
    heatmaps = np.zeros((1, 17, 48, 48), np.float32)
    heatmaps[:, :, 40, 40] = 1.0  # a bright peak far from the regressed keypoints
    out = {"coords": coords, "scores": np.full((1, 17), 0.5, np.float32), "heatmaps": heatmaps}
    # a 192 px crop centred on (96, 96) spanning 192 image px: one crop px is one image px
    decoded = codec.decode(out, np.array([[96.0, 96.0]]), np.array([[192.0 / 200, 192.0 / 200]]))
    np.testing.assert_allclose(decoded.coords[0], np.full((17, 2), 0.25 * 192))
    merged = codec.merge_flip(out, out)
    # the nose (its own mirror) peaks at x = 40 plainly and at 48 - 1 - 40 = 7 mirrored, shifted one px right
    assert merged["heatmaps"][0, 0, 40, 40] == pytest.approx(0.5)
    assert merged["heatmaps"][0, 0, 40, 8] == pytest.approx(0.5)
    assert merged["heatmaps"].sum() == pytest.approx(17.0)


class _Counting:
    """Counts the model calls the codec's flip test makes (one, on the batch and its mirror)."""

    def __init__(self) -> None:
        self.shapes: list[int] = []

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        self.shapes.append(len(batch))
        return {"heatmaps": np.zeros((len(batch), 17, 8, 6), np.float32)}


def test_flip_runs_one_call_on_twice_the_batch():
    counting = _Counting()
    out = HeatmapCodec((24, 32), (6, 8)).run(counting, np.zeros((3, 3, 32, 24), np.float32), flip=True)
    assert counting.shapes == [6]
    assert out["heatmaps"].shape == (3, 17, 8, 6)


def _real_images(frames: int = 3):
    """Real people: the shipped sample video's listed boxes (its first ``frames`` frames with people), the
    astronaut photo, and the mmpose COCO test images with their ground-truth boxes when shared data is here."""
    samples = resources_root() / "samples"
    people = json.loads((samples / "parity-boxes.json").read_text(encoding="utf-8"))
    source = open_source(samples / "sports2d-demo-640.mp4")
    for frame in sorted({p["frame"] for p in people})[:frames]:
        boxes = np.array([p["bbox"] for p in people if p["frame"] == frame], np.float64)
        yield frame, source.frame(frame), boxes
    photo = read_image(samples / "astronaut.jpg")
    yield 10_000, photo, np.array([[0.2 * photo.shape[1], 0.0, 0.6 * photo.shape[1], photo.shape[0]]])
    root = SHARED_DATA / "mmpose-coco"
    if root.is_dir():
        ann = json.loads((root / "test_coco.json").read_text())
        for im in ann["images"]:
            boxes = np.array([a["bbox"] for a in ann["annotations"] if a["image_id"] == im["id"]], np.float64)
            if len(boxes):
                yield im["id"], read_image(root / "images" / im["file_name"]), boxes


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tokenpose-stemnet", "distilpose-mnv2-lt", "movenet-thunder"])
def test_predictor_and_validation_give_bit_identical_keypoints(name):
    """Same crops, same weights: the Predictor (torch runtime) and training validation give the same bits.

    tokenpose-stemnet has no pretrained weights here (seeded random initialisation); the default student
    loads its bundled weights, MoveNet Thunder the zoo's."""
    if name.startswith("movenet"):
        require_zoo_model(name)
    torch.manual_seed(0)
    model, spec = load_model(name)
    model.eval()
    for flip in (False, True):
        _compare(model, spec, flip)


def _compare(model, spec, flip: bool) -> None:
    predictor = Predictor(TorchRuntime(model), spec, flip=flip)
    compared = 0
    for image_id, image, boxes in _real_images():
        instances = predictor.predict(image, boxes)
        crops, centers, scales = predictor.crops(image, boxes)
        batch = {
            "image": torch.from_numpy(crops),
            "center": torch.from_numpy(centers),
            "scale": torch.from_numpy(scales),
            "image_id": torch.full((len(boxes),), image_id),
            "bbox_score": torch.ones(len(boxes)),
        }
        people = validation_predict(model, codec_for(spec), [batch], torch.device("cpu"), flip)
        assert len(people) == len(instances)
        for person, inst in zip(people, instances, strict=True):
            assert np.array_equal(person["keypoints"][:, :2], inst.keypoints[:, :2])
            assert np.array_equal(person["keypoints"][:, 2], inst.scores)
            compared += 1
        # the keypoints are on the person, not noise around the crop (trained models only)
        if spec.pretrained != "none":
            inside = [
                np.mean(
                    (inst.keypoints[:, 0] >= b[0] - 0.25 * b[2])
                    & (inst.keypoints[:, 0] <= b[0] + 1.25 * b[2])
                    & (inst.keypoints[:, 1] >= b[1] - 0.25 * b[3])
                    & (inst.keypoints[:, 1] <= b[1] + 1.25 * b[3])
                )
                for inst, b in zip(instances, boxes, strict=True)
            ]
            assert np.mean(inside) > 0.9  # a crowded or occluded person may lose a few joints
    assert compared >= 4
