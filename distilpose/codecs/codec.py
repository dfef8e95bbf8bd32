"""One codec object per model kind: how a model's raw outputs become image-space keypoints.

The Predictor (every runtime) and training validation both call :func:`codec_for` with the model's
ModelSpec and then :meth:`Codec.run` (the flip test) and :meth:`Codec.decode` (back-projection), so a
model's outputs are read one way everywhere. Outputs are named numpy arrays, as runtimes return them:
``coords`` (N, K, 2) normalised to the input, ``scores`` (N, K), ``sigmas`` (N, K, 2) in heatmap px,
``heatmaps`` (N, K, h, w). Import-light: numpy and OpenCV only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from distilpose.codecs.affine import PIXEL_STD, crops_to_images
from distilpose.codecs.flip import FlipMode, flip_back_heatmaps, flip_back_regression, flip_images
from distilpose.codecs.heatmap import decode_heatmaps
from distilpose.errors import DistilPoseError

Outputs = dict[str, np.ndarray]


@dataclass
class Decoded:
    """Image-space keypoints of N crops: coords (N, K, 2) px, scores (N, K), sigmas (N, K, 2) px or None."""

    coords: np.ndarray
    scores: np.ndarray
    sigmas: np.ndarray | None = None


def _need(outputs: Outputs, name: str, codec: str) -> np.ndarray:
    if name not in outputs:
        raise DistilPoseError(f"{codec} needs the model output {name!r}, got {sorted(outputs)}")
    return outputs[name]


def _mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a + b) * 0.5


class Codec(ABC):
    """Shared flip test; subclasses say how to map a mirrored pass back and how to decode."""

    def __init__(self, input_size_wh: tuple[int, int], heatmap_size_wh: tuple[int, int]) -> None:
        self.input_size_wh = (int(input_size_wh[0]), int(input_size_wh[1]))
        self.heatmap_size_wh = (int(heatmap_size_wh[0]), int(heatmap_size_wh[1]))

    def run(self, forward: Callable[[np.ndarray], Outputs], batch: np.ndarray, flip: bool) -> Outputs:
        """``forward(batch)``; with ``flip``, ONE call on the batch and its mirror, merged by :meth:`merge_flip`."""
        if not flip:
            return forward(batch)
        n = len(batch)
        both = forward(np.concatenate([batch, flip_images(batch)], axis=0))
        return self.merge_flip({k: v[:n] for k, v in both.items()}, {k: v[n:] for k, v in both.items()})

    @abstractmethod
    def merge_flip(self, plain: Outputs, mirrored: Outputs) -> Outputs:
        """Average the plain pass with the mirrored pass mapped back to the original frame."""

    @abstractmethod
    def decode(self, outputs: Outputs, centers: np.ndarray, scales: np.ndarray) -> Decoded:
        """Outputs of N crops + their centres (N, 2) and scales (N, 2) (units of 200 px) -> image space."""


class HeatmapCodec(Codec):
    """Heatmap teachers: mmpose flip-back with the one-pixel shift, then argmax + DARK on the heatmap grid."""

    def merge_flip(self, plain: Outputs, mirrored: Outputs) -> Outputs:
        heatmaps = _need(plain, "heatmaps", "HeatmapCodec")
        return {**plain, "heatmaps": _mean(heatmaps, flip_back_heatmaps(mirrored["heatmaps"], shift=True))}

    def decode(self, outputs: Outputs, centers: np.ndarray, scales: np.ndarray) -> Decoded:
        coords_hm, maxvals = decode_heatmaps(_need(outputs, "heatmaps", "HeatmapCodec"), dark=True)
        coords = crops_to_images(coords_hm, centers, scales, self.heatmap_size_wh)
        return Decoded(coords, maxvals.astype(np.float64))


class RegressionCodec(Codec):
    """Regression students: coords normalised to the input, raw scores, sigmas in heatmap px.

    ``flip_mode`` picks how a mirrored pass maps back (:mod:`distilpose.codecs.flip`)."""

    name = "RegressionCodec"

    def __init__(
        self,
        input_size_wh: tuple[int, int],
        heatmap_size_wh: tuple[int, int],
        flip_mode: FlipMode = "corrected",
    ) -> None:
        super().__init__(input_size_wh, heatmap_size_wh)
        self.flip_mode = flip_mode

    def merge_flip(self, plain: Outputs, mirrored: Outputs) -> Outputs:
        coords, scores, sigmas = flip_back_regression(
            _need(mirrored, "coords", self.name),
            mirrored.get("scores"),
            mirrored.get("sigmas"),
            self.input_size_wh[0],
            self.flip_mode,
        )
        out = {**plain, "coords": _mean(plain["coords"], coords)}
        if scores is not None:
            out["scores"] = _mean(plain["scores"], scores)
        if sigmas is not None:
            out["sigmas"] = _mean(plain["sigmas"], sigmas)
        return out

    def decode(self, outputs: Outputs, centers: np.ndarray, scales: np.ndarray) -> Decoded:
        crop_px = _need(outputs, "coords", self.name).astype(np.float64) * np.asarray(
            self.input_size_wh, dtype=np.float64
        )
        coords = crops_to_images(crop_px, centers, scales, self.input_size_wh)
        scores = _need(outputs, "scores", self.name).reshape(len(coords), -1).astype(np.float64)
        sigmas = None
        if "sigmas" in outputs:
            # heatmap px -> image px: one heatmap px spans scale*200/heatmap_width image px
            per_px = np.asarray(scales) * PIXEL_STD / np.asarray(self.heatmap_size_wh, dtype=np.float64)
            sigmas = outputs["sigmas"].astype(np.float64) * per_px[:, None, :]
        return Decoded(coords, scores, sigmas)


class MoveNetCodec(RegressionCodec):
    """MoveNet: keypoints come from the graph's own regression-guided decoding (``coords``, ``scores``).

    Its ``heatmaps`` light up every person in the crop, so they are never decoded here (a global argmax
    could pick a neighbour); they are only flip-merged like a teacher's, for drawing."""

    name = "MoveNetCodec"

    def merge_flip(self, plain: Outputs, mirrored: Outputs) -> Outputs:
        out = super().merge_flip(plain, mirrored)
        if "heatmaps" in plain:
            out["heatmaps"] = _mean(plain["heatmaps"], flip_back_heatmaps(mirrored["heatmaps"], shift=True))
        return out


def codec_for(spec: Any, flip_mode: FlipMode = "corrected", outputs: Sequence[str] | None = None) -> Codec:
    """The codec of a ModelSpec: the one place a model's kind (and family) picks its decoding.

    ``outputs``, the output names a runtime declares, win over the spec's kind when they say which: a runtime
    that gives ``coords`` is decoded as regression (as the Predictor always did), one that gives only
    ``heatmaps`` as heatmaps."""
    sizes = (spec.input_size_wh, spec.heatmap_size_wh)
    kind = spec.kind
    if outputs is not None:
        kind = "regression" if "coords" in outputs else "heatmap" if "heatmaps" in outputs else kind
    if kind == "heatmap":
        return HeatmapCodec(*sizes)
    if kind == "regression":
        cls = MoveNetCodec if spec.family == "movenet" else RegressionCodec
        return cls(*sizes, flip_mode=flip_mode)
    raise DistilPoseError(f"model {spec.name!r}: no codec for kind {spec.kind!r}")
