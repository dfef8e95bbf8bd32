"""Whether a model can run with trained weights, and where they come from: the one Qt-free answer.

The welcome page, model panel, distil dialog, launcher, pipeline and CLI all ask here, so "is it trained",
"is it fetched" and "is it a teacher" are decided once. The static facts (role, pretrained source) are in
each model's :class:`~distilpose.models.registry.ModelSpec`; this adds what depends on the disk (the zoo
cache, shipped weights, checkpoint files).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from distilpose.errors import DistilPoseError
from distilpose.models.bundled import bundled_weights

WeightsSource = Literal["checkpoint", "bundled", "zoo", "none"]


def weights_source(name_or_path: str | os.PathLike) -> WeightsSource:
    """Where loading ``name_or_path`` takes weights from; "none" means random initial weights (or unknown)."""
    from distilpose.models.registry import model_spec

    if Path(os.fspath(name_or_path)).is_file():
        return "checkpoint"
    try:
        spec = model_spec(str(name_or_path))
    except DistilPoseError:
        return "none"
    if bundled_weights(spec.name) is not None:
        return "bundled"
    return "zoo" if spec.pretrained == "zoo" else "none"


def has_trained_weights(name_or_path: str | os.PathLike) -> bool:
    """Whether loading ``name_or_path`` gives trained weights: a checkpoint file, shipped weights or the zoo."""
    return weights_source(name_or_path) != "none"


def zoo_missing(name: str) -> bool:
    """A zoo model (pretrained weights downloaded on request) that is not in the cache yet."""
    from distilpose import zoo  # looked up at call time: tests replace zoo.is_cached
    from distilpose.models.registry import resolve_name, zoo_card_of

    card = zoo_card_of(resolve_name(name))
    return card is not None and not zoo.is_cached(card)


@dataclass(frozen=True)
class Readiness:
    """Whether a model can run with trained weights now, and a sentence saying where they come from."""

    name: str
    title: str
    ready: bool
    detail: str
    source: WeightsSource = "none"


def model_readiness(name: str) -> Readiness:
    """Ready when ``name`` is a checkpoint file, has weights shipped with the app, or is a fetched zoo model."""
    from distilpose import zoo
    from distilpose.models.registry import resolve_name

    path = Path(name)
    if not path.is_file():
        name = resolve_name(name)  # "default" -> the model it stands for
    source = weights_source(name)
    if source == "checkpoint":
        return Readiness(path.name, path.name, True, f"Ready: checkpoint file {path}", source)
    if source == "bundled":
        from distilpose.models.registry import model_spec

        shipped = bundled_weights(model_spec(name).name)
        assert shipped is not None
        return Readiness(name, name, True, f"Ready: bundled with the app ({shipped.parent})", source)
    from distilpose.models.registry import zoo_card_of

    card = zoo_card_of(name)
    if card is not None:
        title = zoo.get_card(card).title if card == name else f"{name} ({zoo.get_card(card).title})"
        if zoo.is_cached(card):
            return Readiness(name, title, True, "Ready: in the model cache", "zoo")
        return Readiness(name, title, False, "Not fetched yet: fetch the models below", "zoo")
    return Readiness(name, name, False, "No trained weights: predictions would be meaningless", source)
