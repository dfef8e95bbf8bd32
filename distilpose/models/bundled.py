"""Weights shipped with the product under ``resources/models/<name>/`` and the default model per source.

A registered name whose folder holds ``model.safetensors`` loads those weights wherever a model name is
accepted (app, ``distilpose eval``, ``bench``, ``export``), so the default student is used by name like a
zoo model. Where ``resources/`` is: :func:`distilpose.resources.resources_root`.

Defaults by source (ADR 0008): a still image or a folder gets the most accurate model (one picture, speed
barely matters); video and camera get the shipped student once its recorded measurements meet its bar, else
the teacher. The name ``"default"`` (``registry.DEFAULT_ALIAS``) means the video default everywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from distilpose.errors import DistilPoseError
from distilpose.hashing import sha256_file
from distilpose.resources import resources_root

WEIGHTS_FILE = "model.safetensors"
METRICS_FILE = "metrics.json"

#: The product's own distilled student (ADR 0008): the one default student, for live use and for training.
DEFAULT_STUDENT = "distilpose-mnv2-lt"
#: The most accurate model here (with flip test): stills, and video until the student meets its bar.
MOST_ACCURATE = "movenet-thunder"
FALLBACK_LIVE_MODEL = MOST_ACCURATE
#: Source kinds (``FrameSource.kind``) and which default each gets.
STILL_SOURCES = ("image", "folder")
MOVING_SOURCES = ("video", "camera")


def bundled_dir(name: str) -> Path:
    return resources_root() / "models" / name


def bundled_weights(name: str) -> Path | None:
    """The shipped weights of registered model ``name``, or None."""
    path = bundled_dir(name) / WEIGHTS_FILE
    return path if path.is_file() else None


def bundled_metrics(name: str = DEFAULT_STUDENT) -> dict:
    """The measurements recorded beside shipped weights (``metrics.json``); {} when absent or unreadable."""
    try:
        metrics = json.loads((bundled_dir(name) / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


#: The key of ``metrics.json`` naming the sha256 of the weights file its numbers were measured on.
WEIGHTS_SHA256 = "weights_sha256"


def metrics_match_weights(name: str = DEFAULT_STUDENT) -> bool:
    """Whether the shipped ``metrics.json`` says it measured exactly the shipped weights file (its
    :data:`WEIGHTS_SHA256`); a file without the hash, or with another file's, describes other weights."""
    weights = bundled_weights(name)
    recorded = bundled_metrics(name).get(WEIGHTS_SHA256)
    if weights is None or not isinstance(recorded, str):
        return False
    try:
        return sha256_file(weights) == recorded.lower()
    except OSError:
        return False


def meets_default_bar(name: str = DEFAULT_STUDENT) -> bool:
    """Whether the shipped student's recorded measurements meet the bar for being the video default.

    ``metrics.json`` beside the weights carries ``"meets_default_bar"``, written by the recipe's
    ``finalize`` from held-out video AP against Lightning, the speed ratio to Thunder and the stills bar
    (see that folder's README), and the sha256 of the weights it measured: metrics of other weights (a
    retrained file shipped without re-measuring) are ignored, as are missing weights or a missing,
    unreadable or non-true value.
    """
    return metrics_match_weights(name) and bundled_metrics(name).get("meets_default_bar") is True


@dataclass(frozen=True)
class DefaultChoice:
    """The model (and whether to run it with flip test) a source gets when the user has chosen none."""

    model: str
    flip: bool


def default_choice(source: str = "video") -> DefaultChoice:
    """The default for a source kind: ``image``/``folder`` (stills) or ``video``/``camera``."""
    if source in STILL_SOURCES:
        return DefaultChoice(MOST_ACCURATE, flip=True)
    if source in MOVING_SOURCES:
        return DefaultChoice(DEFAULT_STUDENT if meets_default_bar() else FALLBACK_LIVE_MODEL, flip=False)
    kinds = ", ".join((*STILL_SOURCES, *MOVING_SOURCES))
    raise DistilPoseError(f"unknown source kind {source!r}; choose from {kinds}")


def default_model(source: str = "video") -> str:
    """The default model's name for a source kind (video when omitted)."""
    return default_choice(source).model


#: The model the app starts on for live video: the same function under the name the app and bench use.
default_live_model = default_model


def recorded_stills_ap() -> dict[str, float]:
    """Mean OKS AP over the still sets measured beside the shipped student's weights (``metrics.json``:
    the student, Lightning and Thunder on the same people), by model name; {} when nothing is recorded."""
    metrics = bundled_metrics()
    names = {"student": DEFAULT_STUDENT}
    models = metrics.get("models")
    if isinstance(models, dict):
        names.update({r: n for r, n in models.items() if r != "student" and isinstance(n, str)})
    values: dict[str, list[float]] = {}
    sets = metrics.get("stills_ap")
    for per_model in sets.values() if isinstance(sets, dict) else ():
        if isinstance(per_model, dict):
            for role, ap in per_model.items():
                if role in names and isinstance(ap, int | float):
                    values.setdefault(names[role], []).append(float(ap))
    return {name: sum(aps) / len(aps) for name, aps in values.items()}


def by_accuracy(names: list[str]) -> list[str]:
    """``names`` most accurate first: by the stills AP recorded here, then :data:`MOST_ACCURATE` before the
    models nothing was measured for (those keep their order)."""
    ap = recorded_stills_ap()
    return sorted(names, key=lambda n: (-ap.get(n, -1.0), n != MOST_ACCURATE))
