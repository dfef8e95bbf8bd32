"""Named model builders with their configuration beside them (timm-style).

A family module decorates each builder with ``@register_model(ModelSpec(...))``; callers only ever use
:func:`create_model`, :func:`list_models` and :func:`model_spec`, so adding a model touches one file.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from distilpose.errors import UnknownModelError

Builder = Callable[..., nn.Module]
#: Accepted wherever a model name is: the default model for video and camera (see ``bundled.default_model``).
DEFAULT_ALIAS = "default"


class ModelSpec(BaseModel):
    """Static facts about a named model: geometry, outputs and the figures the paper reports."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    family: str
    kind: Literal["heatmap", "regression"]
    description: str
    #: (H, W), torch's order, everywhere in the library; the codecs take OpenCV's (W, H), always named
    #: ``*_wh`` and converted here (:attr:`input_size_wh`), nowhere else.
    input_size: tuple[int, int] = (256, 192)
    heatmap_size: tuple[int, int] = (64, 48)  # (H, W)
    #: Multiply-adds of one forward at ``input_size``, in G: what ``models.complexity.count_macs`` measures
    #: (all of them, attention matmuls included; ``distilpose info`` prints it). The distil dialog's time
    #: estimate uses it; ``tests/unit/test_models_registry.py`` measures every model against it.
    gmacs: float | None = None
    num_keypoints: int = Field(default=17, ge=1)
    paper_params_m: float | None = None  # trainable parameters, millions, as the paper reports
    paper_gflops: float | None = None  # the paper's "GFLOPs" (mmcv counter: MACs, no attention matmuls)
    paper_ap: float | None = None  # COCO val2017 AP with detected boxes and flip test
    official_config: str | None = None  # the official config file this architecture mirrors
    licence: str = "Apache-2.0"
    notes: str = ""
    #: "teacher" or "student"; when not given, heatmap models teach and regression models are students.
    role: Literal["teacher", "student"] = "student"
    #: Where trained weights come from when the model is loaded by name: the model zoo's cache, the weights
    #: shipped in ``resources/models/<name>/`` (:mod:`distilpose.models.bundled`), or nowhere (random init).
    pretrained: Literal["zoo", "bundled", "none"] = "none"
    #: The zoo card whose files a ``pretrained="zoo"`` model loads, when not the model's own name (one
    #: network's weights run at another crop size under a name of its own).
    zoo_card: str | None = None
    #: The zoo model whose pretrained feature extractor a training run starts the backbone from.
    init_backbone_from_zoo: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _derive_role(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("role") is None:
            data = {**data, "role": "teacher" if data.get("kind") == "heatmap" else "student"}
        return data

    @property
    def zoo_name(self) -> str | None:
        """The zoo card this model's pretrained weights come from, or None when they are not the zoo's."""
        return (self.zoo_card or self.name) if self.pretrained == "zoo" else None

    @property
    def is_teacher(self) -> bool:
        return self.role == "teacher"

    @property
    def input_size_wh(self) -> tuple[int, int]:
        """``input_size`` as (W, H), for the codecs and OpenCV."""
        return int(self.input_size[1]), int(self.input_size[0])

    @property
    def heatmap_size_wh(self) -> tuple[int, int]:
        """``heatmap_size`` as (W, H), for the codecs."""
        return int(self.heatmap_size[1]), int(self.heatmap_size[0])


_REGISTRY: dict[str, tuple[ModelSpec, Builder]] = {}


def register_model(spec: ModelSpec) -> Callable[[Builder], Builder]:
    """Decorator: register ``builder(**overrides) -> nn.Module`` under ``spec.name``.

    The decorated function, called directly, behaves like ``create_model(spec.name, ...)``: the model it
    returns always carries ``.spec``.
    """

    def decorate(builder: Builder) -> Builder:
        if spec.name in _REGISTRY:
            raise ValueError(f"model {spec.name!r} is registered twice")
        _REGISTRY[spec.name] = (spec, builder)

        @functools.wraps(builder)
        def build(**overrides: object) -> nn.Module:
            return _finish(spec, builder, overrides)

        return build

    return decorate


def _finish(spec: ModelSpec, builder: Builder, overrides: dict[str, object]) -> nn.Module:
    model = builder(**overrides)
    spec_updates = {k: v for k, v in overrides.items() if k in ModelSpec.model_fields}
    model.spec = spec.model_copy(update=spec_updates) if spec_updates else spec
    return model


#: Alias -> the function naming the model it stands for, given a source kind. ``bundled`` registers
#: ``"default"`` when ``distilpose.models`` is imported (which importing this module always does first), so the
#: registry needs no import of the defaults, which read model specs from here.
_ALIASES: dict[str, Callable[[str], str]] = {}


def register_alias(alias: str, resolve: Callable[[str], str]) -> None:
    _ALIASES[alias] = resolve


def resolve_name(name: str, source: str = "video") -> str:
    """``"default"`` -> the default model for the source kind (``bundled.default_choice``); any other name
    unchanged. The one place the alias is read: everything that takes a model name (CLI, app, loaders) goes
    through the registry. A caller with no source kind of its own (the CLI's commands) means video."""
    resolve = _ALIASES.get(name)
    return resolve(source) if resolve is not None else name


def zoo_card_of(name: str) -> str | None:
    """The zoo card whose files ``name`` loads: a registered model's (:attr:`ModelSpec.zoo_name`, which may be
    another model's card), or a card's own name (the detectors); None for a model whose weights are not the
    zoo's, or an unknown name."""
    from distilpose.zoo.cards import CARDS

    try:
        card = model_spec(name).zoo_name
    except UnknownModelError:
        card = name
    return card if card in CARDS else None


def _lookup(name: str) -> tuple[ModelSpec, Builder]:
    _ensure_families_loaded()
    name = resolve_name(name)
    try:
        return _REGISTRY[name]
    except KeyError:
        names = sorted(_REGISTRY)
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}.{hint} Available models: {', '.join(names)} (or {DEFAULT_ALIAS!r})"
        ) from None


def list_models(role: Literal["teacher", "student"] | None = None) -> list[str]:
    """Registered model names, sorted; only the teachers or only the students when ``role`` is given."""
    _ensure_families_loaded()
    return sorted(n for n, (spec, _) in _REGISTRY.items() if role is None or spec.role == role)


def model_spec(name: str) -> ModelSpec:
    """The spec of a registered model; raises UnknownModelError listing the available names."""
    return _lookup(name)[0]


def create_model(name: str, **overrides: object) -> nn.Module:
    """Build a registered model (random or official initialisation, no weights loaded).

    ``overrides`` go to the builder (e.g. ``num_keypoints=``, ``use_sdpa=False``); the returned model's
    ``.spec`` reflects overrides of spec fields.
    """
    spec, builder = _lookup(name)
    return _finish(spec, builder, overrides)


def accepts_override(name: str, option: str) -> bool:
    """Whether ``create_model(name, **{option: ...})`` is an option of that architecture's builder (e.g. the
    prior student's ``peak_head``), without building it."""
    return option in inspect.signature(_lookup(name)[1]).parameters


_families_loaded = False


def _ensure_families_loaded() -> None:
    """Import every module of ``distilpose.models`` once: a family registers its builders by being imported
    (its ``@register_model`` decorators run), so a new family is one new file and no list to edit."""
    global _families_loaded
    if _families_loaded:
        return
    import importlib
    import pkgutil

    package = importlib.import_module("distilpose.models")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    _families_loaded = True
