"""Top-down prediction: image + person boxes -> one :class:`Instance` per box, in image coordinates.

One Predictor serves the CLI, the benchmarks, the app's live worker and pseudo-labelling, so preprocessing
(crop, normalise) exists exactly once; decoding (flip test, heatmap DARK, back-projection) is the model's
codec (:func:`distilpose.codecs.codec.codec_for`), which training validation uses too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distilpose.codecs import PIXEL_STD
from distilpose.codecs.codec import codec_for
from distilpose.codecs.flip import FlipMode
from distilpose.errors import DistilPoseError
from distilpose.evaluation import rescore
from distilpose.inference.preprocess import crop_batch
from distilpose.inference.runtimes import Runtime
from distilpose.types import Instance


@dataclass
class CropGeometry:
    """Where a crop came from, so heatmaps in crop space can be drawn over the image."""

    center: np.ndarray  # (2,) image px
    scale: np.ndarray  # (2,) in units of 200 px
    input_size_wh: tuple[int, int]
    heatmap_size_wh: tuple[int, int]


class Predictor:
    """Runs a pose model on boxes. ``runtime`` is any :class:`Runtime`; ``spec`` the model's ModelSpec."""

    def __init__(
        self,
        runtime: Runtime,
        spec,
        flip: bool = False,
        flip_mode: FlipMode = "corrected",
        source: str | None = None,
        max_batch: int | None = None,
    ) -> None:
        self.runtime = runtime
        #: Crops per runtime call (None: all in one). Small batches stay in the CPU's cache: the default
        #: student costs ~20 % more CPU per crop in one batch of 24 than in batches of 4 (ADR 0024).
        self.max_batch = max_batch
        self.spec = spec
        self.flip = flip
        self.flip_mode = flip_mode
        self.source = source or ("teacher" if spec.is_teacher else "student")
        self.input_size_wh = spec.input_size_wh
        self.heatmap_size_wh = spec.heatmap_size_wh
        #: How this model's outputs become keypoints (flip test, decoding): the same object validation uses.
        self.codec = codec_for(spec, flip_mode, getattr(runtime, "output_names", None))

    # -- preprocessing -------------------------------------------------------------------------
    def crops(
        self, image_rgb: np.ndarray, boxes_xywh: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normalised (N, 3, H, W) crops and their (centers, scales): :func:`~.preprocess.crop_batch`."""
        return crop_batch(image_rgb, boxes_xywh, self.input_size_wh)

    def _call(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        step = self.max_batch
        if not step or len(batch) <= step:
            return self.runtime.run(batch)
        parts = [self.runtime.run(batch[i : i + step]) for i in range(0, len(batch), step)]
        return {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}

    def _run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        return self.codec.run(self._call, batch, self.flip)

    # -- prediction -----------------------------------------------------------------------------
    def predict(
        self,
        image_rgb: np.ndarray,
        boxes_xywh: np.ndarray,
        box_scores: np.ndarray | None = None,
        return_heatmaps: bool = False,
    ) -> list[Instance]:
        """One Instance per box. ``return_heatmaps`` adds ``extras['heatmaps']`` (K, h, w) in crop space
        (the teacher's heatmaps, or a student's simulated heatmaps) and ``extras['crop']`` (CropGeometry)."""
        boxes = np.array(boxes_xywh, dtype=np.float64).reshape(-1, 4)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], 1.0)  # a degenerate box still gets a (tiny) crop, never NaNs
        if len(boxes) == 0:
            return []
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
            raise DistilPoseError(f"expected an RGB image of shape (H, W, 3), got {image_rgb.shape}")
        batch, centers, scales = self.crops(image_rgb, boxes)
        out = self._run(batch)
        coords, scores, sigmas, heatmaps = self._decode(out, centers, scales)
        if return_heatmaps and heatmaps is None and sigmas is not None:
            heatmaps = self._simulated(out)
        box_scores = np.ones(len(boxes)) if box_scores is None else np.asarray(box_scores, dtype=np.float64)
        instances = []
        for i in range(len(boxes)):
            kp = np.concatenate([coords[i], np.full((coords.shape[1], 1), 2.0)], axis=1)
            inst = Instance(
                keypoints=kp,
                bbox=tuple(float(v) for v in boxes[i]),
                scores=scores[i].astype(np.float64),
                sigmas=None if sigmas is None else sigmas[i],
                score=rescore(float(box_scores[i]), scores[i]),
                source=self.source,
            )
            inst.extras["area"] = float(np.prod(scales[i] * PIXEL_STD))  # mmpose's instance area for OKS-NMS
            if return_heatmaps and heatmaps is not None:
                inst.extras["heatmaps"] = heatmaps[i]
                inst.extras["crop"] = CropGeometry(
                    centers[i], scales[i], self.input_size_wh, self.heatmap_size_wh
                )
            instances.append(inst)
        return instances

    def _decode(self, out: dict[str, np.ndarray], centers: np.ndarray, scales: np.ndarray):
        """Model outputs -> image-space coords (N,K,2), scores (N,K), sigmas (N,K,2) or None, heatmaps."""
        if "coords" not in out and "heatmaps" not in out:
            raise DistilPoseError(
                f"runtime {self.runtime.name} returned neither coords nor heatmaps: {sorted(out)}"
            )
        decoded = self.codec.decode(out, centers, scales)
        return decoded.coords, decoded.scores, decoded.sigmas, out.get("heatmaps")

    def _simulated(self, out: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        from distilpose.codecs.simulated import simulated_heatmaps

        sim = simulated_heatmaps(
            torch.from_numpy(out["coords"]).double(),
            torch.from_numpy(out["sigmas"]).double(),
            self.spec.heatmap_size,
        )
        return sim.float().numpy()
