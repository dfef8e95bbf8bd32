"""Weights shipped with the product under ``resources/models/<name>/`` (the default student).

A registered name whose folder holds ``model.safetensors`` loads those weights wherever a model name is
accepted (app, ``distilpose eval``, ``bench``, ``export``), so the default student is used by name like a
zoo model. Where ``resources/`` is: :func:`distilpose.resources.resources_root`.
"""

from __future__ import annotations

from pathlib import Path

from distilpose.resources import resources_root

WEIGHTS_FILE = "model.safetensors"


def bundled_dir(name: str) -> Path:
    return resources_root() / "models" / name


def bundled_weights(name: str) -> Path | None:
    """The shipped weights of registered model ``name``, or None."""
    path = bundled_dir(name) / WEIGHTS_FILE
    return path if path.is_file() else None


#: The product's own distilled student (ADR 0008) and what stands in for it until it meets its bar.
DEFAULT_STUDENT = "distilpose-mnv2"
FALLBACK_LIVE_MODEL = "movenet-thunder"
METRICS_FILE = "metrics.json"


def meets_default_bar(name: str = DEFAULT_STUDENT) -> bool:
    """Whether the shipped student's recorded measurements meet the bar for being the default live model.

    ``metrics.json`` beside the weights carries ``"meets_default_bar"``, written from the measured speed
    ratio and held-out AP (see that folder's README); a missing or unreadable file means no.
    """
    import json

    if bundled_weights(name) is None:
        return False
    try:
        metrics = json.loads((bundled_dir(name) / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(metrics, dict) and metrics.get("meets_default_bar") is True


def default_live_model() -> str:
    """The model the app starts on: the shipped student once it meets its bar, else the pretrained teacher."""
    return DEFAULT_STUDENT if meets_default_bar() else FALLBACK_LIVE_MODEL
