"""How sure a difference in keypoint AP is: a paired block bootstrap over the images of a validation set.

A project's val split holds tens of people from the last seconds of a video, so a new student 0.01 AP above
the one it started from may be luck. Each model's predictions are matched to the labels once (pycocotools'
``evaluate``, per image); every bootstrap round draws the same images for all models (paired, so what the
images have in common cancels) and re-accumulates AP from those per-image matches: a round costs an
``accumulate``, not a new matching. Images are drawn in blocks of consecutive ids, because the frames of a
video are near-duplicates and drawing them one by one would understate the spread (a moving-block bootstrap).
Qt-free.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from distilpose.coco import CocoDataset, KeypointResult
from distilpose.evaluation import cocoeval_matched

#: Bootstrap rounds per interval: the ends of a 95 % interval moved by <= 0.003 AP over five seeds on the
#: 43 val frames of the Sports2D job (ADR 0031).
ROUNDS = 1000
LEVEL = 0.95


@dataclass(frozen=True)
class GainInterval:
    """AP(model) - AP(other) on the whole set, and the bootstrap interval of that difference."""

    gain: float
    low: float
    high: float
    level: float = LEVEL

    @property
    def sure(self) -> bool:
        """The interval lies wholly above or wholly below zero: the sign of the gain is not luck."""
        return self.low > 0.0 or self.high < 0.0

    def as_dict(self) -> dict[str, float | bool]:
        return {"gain": self.gain, "low": self.low, "high": self.high, "level": self.level, "sure": self.sure}


def block_length(n_images: int) -> int:
    """Consecutive images drawn together: about the square root of the set's size (7 of 43, 12 of 150)."""
    return max(1, round(math.sqrt(n_images)))


def block_resamples(n_images: int, rounds: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """(rounds, n_images) image positions: each round is blocks of ``block`` consecutive positions starting
    anywhere they fit, concatenated and cut to the set's size."""
    block = min(max(1, block), n_images)
    per_round = math.ceil(n_images / block)
    starts = rng.integers(0, n_images - block + 1, size=(rounds, per_round))
    return (starts[..., None] + np.arange(block)).reshape(rounds, -1)[:, :n_images]


def _keypoint_ap(ev, positions: np.ndarray | None = None) -> float:
    """COCO keypoint AP (``stats[0]``: all areas, 20 detections) of an evaluated COCOeval, over its images
    taken at ``positions`` (with repeats) instead of each once."""
    saved = ev.evalImgs
    if positions is not None:
        k_n, a_n, i_n = len(ev.params.catIds), len(ev.params.areaRng), len(ev.params.imgIds)
        ev.evalImgs = [saved[k * a_n * i_n + a * i_n + i] for k in range(k_n) for a in range(a_n) for i in positions]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            ev.accumulate()
    finally:
        ev.evalImgs = saved
    precision = ev.eval["precision"][:, :, :, 0, -1]
    valid = precision[precision > -1]
    return float(valid.mean()) if valid.size else 0.0


def gain_intervals(
    dataset: CocoDataset,
    results: Mapping[str, Sequence[KeypointResult]],
    of: str,
    *,
    rounds: int = ROUNDS,
    level: float = LEVEL,
    seed: int = 0,
) -> dict[str, GainInterval]:
    """For every other model of ``results``: AP(``of``) - AP(it) on ``dataset``, with its paired bootstrap
    interval. Models without a single prediction are left out (nothing to match)."""
    gt_doc = dataset.to_json_dict()
    evals = {
        label: cocoeval_matched(gt_doc, [r.to_json_dict() for r in res]) for label, res in results.items() if res
    }
    if of not in evals:
        return {}
    n_images = len(evals[of].params.imgIds)
    whole = {label: _keypoint_ap(ev) for label, ev in evals.items()}
    draws = block_resamples(n_images, rounds, block_length(n_images), np.random.default_rng(seed))
    samples = {label: np.array([_keypoint_ap(ev, d) for d in draws]) for label, ev in evals.items()}
    tail = (1.0 - level) / 2.0 * 100.0
    out = {}
    for label in evals:
        if label == of:
            continue
        diff = samples[of] - samples[label]
        low, high = np.percentile(diff, [tail, 100.0 - tail])
        out[label] = GainInterval(whole[of] - whole[label], float(low), float(high), level)
    return out
