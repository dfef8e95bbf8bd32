"""Weights shipped with the product under ``resources/models/<name>/`` and the default model per source.

A registered name whose folder holds ``model.safetensors`` loads those weights wherever a model name is
accepted (app, ``distilpose eval``, ``bench``, ``export``), so the default student is used by name like a
zoo model. Where ``resources/`` is: :func:`distilpose.resources.resources_root`.

Defaults by source (ADR 0008, ADR 0030): a still image or a folder gets the most accurate model (one
picture, speed barely matters); video and camera get the first live candidate whose recorded measurements
(``resources/models/<name>/metrics.json``, for exactly the weights it loads) meet its bar: the trained student
(its bar includes beating its untrained prior), then that prior under its own name, else the teacher. The
name ``"default"`` (``registry.DEFAULT_ALIAS``) means the video default everywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from distilpose.errors import DistilPoseError
from distilpose.hashing import sha256_file
from distilpose.models.registry import DEFAULT_ALIAS, model_spec, register_alias, zoo_card_of
from distilpose.resources import resources_root

WEIGHTS_FILE = "model.safetensors"
METRICS_FILE = "metrics.json"

#: The product's own distilled student (ADR 0008): the student distillation jobs train, and the live default
#: once its recorded measurements show it beats its untrained prior (ADR 0030).
DEFAULT_STUDENT = "distilpose-mnv2-lt"
#: That student's untrained prior under an honest name: MoveNet Lightning's network on the student's crop.
STUDENT_PRIOR = "movenet-lightning-256x192"
#: The models video and camera may default to, in order of preference (each only when its bar is met).
LIVE_CANDIDATES = (DEFAULT_STUDENT, STUDENT_PRIOR)
#: The most accurate model here (with flip test): stills, and video while no live candidate passes its bar.
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


def weights_sha256(name_or_path: str) -> str | None:
    """The sha256 of the weights ``name_or_path`` loads: a checkpoint file's, a registered model's shipped
    file's, or, for a zoo model, the one its card pins (loading checks the cached file against it); None
    when there are none (random initial weights) or the file cannot be read."""
    path = Path(name_or_path)
    if not path.is_file():
        try:
            spec = model_spec(name_or_path)
        except DistilPoseError:
            return None
        shipped = bundled_weights(spec.name)
        if shipped is None:
            card = zoo_card_of(spec.name)
            if card is None:
                return None
            from distilpose.zoo.cards import get_card

            return get_card(card).weights_file.sha256
        path = shipped
    try:
        return sha256_file(path)
    except OSError:
        return None


def metrics_match_weights(name: str = DEFAULT_STUDENT) -> bool:
    """Whether ``resources/models/<name>/metrics.json`` says it measured exactly the weights ``name`` loads
    (its :data:`WEIGHTS_SHA256`); a file without the hash, or with another file's, describes other weights."""
    recorded = bundled_metrics(name).get(WEIGHTS_SHA256)
    return isinstance(recorded, str) and weights_sha256(name) == recorded.lower()


def meets_default_bar(name: str = DEFAULT_STUDENT) -> bool:
    """Whether a live candidate's recorded measurements meet the bar for being the video default.

    ``resources/models/<name>/metrics.json`` carries ``"meets_default_bar"``, written by
    :mod:`~distilpose.training.recipes.student_metrics` from held-out video AP against Lightning (and, for a
    trained student, against its untrained prior), the speed ratio to Thunder and the stills bar, and the
    sha256 of the weights it measured: metrics of other weights (a retrained file shipped without
    re-measuring) are ignored, as are missing weights or a missing, unreadable or non-true value.
    """
    return metrics_match_weights(name) and bundled_metrics(name).get("meets_default_bar") is True


def bar_status(name: str) -> str:
    """Why live candidate ``name`` is or is not the video default, as a phrase ("meets its bar", ...)."""
    if weights_sha256(name) is None:
        return "has no weights here"
    if not bundled_metrics(name):
        return "has no recorded measurements"
    if not metrics_match_weights(name):
        return "is not measured: its metrics.json does not name the sha256 of the weights it loads"
    if not meets_default_bar(name):
        return "does not meet its bar"
    return "meets its bar" if runs_now(name) else "meets its bar but its weights are not fetched"


@dataclass(frozen=True)
class DefaultChoice:
    """The model (and whether to run it with flip test) a source gets when the user has chosen none."""

    model: str
    flip: bool


def runs_now(name: str) -> bool:
    """Whether registered model ``name`` has trained weights on this machine now: shipped here, or a zoo
    model whose files are in the cache (a fresh machine without the zoo still runs the shipped student)."""
    if bundled_weights(name) is not None:
        return True
    card = zoo_card_of(name)  # None for an unknown name too: it does not run
    if card is None:
        return False
    from distilpose import zoo  # looked up at call time: tests replace zoo.is_cached

    return zoo.is_cached(card)


def _first_that_runs(preferred: list[str], otherwise: str) -> str:
    """The first of ``preferred`` that runs now, then any live candidate that does (the shipped student needs
    no download), else ``otherwise``: a zoo model, whose fetch the app offers."""
    return next((name for name in (*preferred, *LIVE_CANDIDATES) if runs_now(name)), otherwise)


def default_choice(source: str = "video") -> DefaultChoice:
    """The default for a source kind: ``image``/``folder`` (stills) or ``video``/``camera``. A model that can
    run now wins over a better one whose weights are not fetched yet."""
    if source in STILL_SOURCES:
        return DefaultChoice(_first_that_runs([MOST_ACCURATE], MOST_ACCURATE), flip=True)
    if source in MOVING_SOURCES:
        passed = [name for name in LIVE_CANDIDATES if meets_default_bar(name)]
        to_fetch = next((name for name in passed if zoo_card_of(name)), FALLBACK_LIVE_MODEL)
        return DefaultChoice(_first_that_runs([*passed, FALLBACK_LIVE_MODEL], to_fetch), flip=False)
    kinds = ", ".join((*STILL_SOURCES, *MOVING_SOURCES))
    raise DistilPoseError(f"unknown source kind {source!r}; choose from {kinds}")


def stands_in(choice: DefaultChoice) -> bool:
    """Whether ``choice`` is a live candidate standing in for a better default whose weights are not here
    (stills without Thunder, video without a passing candidate that runs)."""
    if choice.model not in LIVE_CANDIDATES:
        return False
    return choice.model != MOST_ACCURATE if choice.flip else not meets_default_bar(choice.model)


def default_model(source: str = "video") -> str:
    """The default model's name for a source kind (video when omitted)."""
    return default_choice(source).model


#: The model the app starts on for live video: the same function under the name the app and bench use.
default_live_model = default_model
register_alias(DEFAULT_ALIAS, default_model)


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
