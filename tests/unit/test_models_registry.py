"""Model registry: names, specs, overrides and the unknown-name error."""

from __future__ import annotations

import pydantic
import pytest

from distilpose.errors import DistilPoseError, UnknownModelError
from distilpose.models import ModelSpec, create_model, list_models, model_spec
from distilpose.models.distilpose import distilpose_t

EXPECTED = {
    "distilpose-s",
    "distilpose-l",
    "distilpose-t",
    "distilpose-mnv2",
    "distilpose-mnv2-lt",
    "tokenpose-hrnet-w48",
    "tokenpose-stemnet",
    "movenet-thunder",
    "movenet-lightning-256x192",
    "movenet-lightning",
}


def test_list_models_holds_all_families():
    names = list_models()
    assert set(names) == EXPECTED
    assert names == sorted(names)


def test_specs_describe_geometry_and_kind():
    s = model_spec("distilpose-s")
    assert s.kind == "regression" and s.family == "distilpose"
    assert s.input_size == (256, 192) and s.heatmap_size == (64, 48) and s.num_keypoints == 17
    assert s.paper_params_m == 5.36 and s.paper_gflops == 2.38
    assert model_spec("tokenpose-hrnet-w48").kind == "heatmap"
    assert model_spec("distilpose-t").paper_gflops is None  # ours, not in the paper
    assert model_spec("tokenpose-hrnet-w48").is_teacher and not model_spec("distilpose-s").is_teacher
    thunder = model_spec("movenet-thunder")
    assert thunder.is_teacher and thunder.input_size == (256, 256) and thunder.heatmap_size == (64, 64)


def test_spec_is_frozen():
    with pytest.raises(pydantic.ValidationError):
        model_spec("distilpose-s").name = "other"


def test_unknown_model_lists_names_and_close_match():
    with pytest.raises(UnknownModelError) as info:
        create_model("distilpose-m")
    msg = str(info.value)
    assert "'distilpose-m'" in msg
    for name in EXPECTED:
        assert name in msg
    assert "Did you mean 'distilpose-" in msg
    assert isinstance(info.value, DistilPoseError)
    with pytest.raises(UnknownModelError, match="Available models"):
        model_spec("resnet50")


def test_created_models_carry_spec_and_overrides():
    m = create_model("distilpose-t", num_keypoints=5)
    assert m.spec.name == "distilpose-t" and m.spec.num_keypoints == 5
    assert m.keypoint_head.tokenhead.keypoint_token.shape == (1, 5, 192)
    direct = distilpose_t()  # the decorated builder called directly also sets .spec
    assert isinstance(direct.spec, ModelSpec) and direct.spec.num_keypoints == 17


def test_register_twice_is_refused():
    from distilpose.models.registry import register_model

    with pytest.raises(ValueError, match="registered twice"):
        register_model(model_spec("distilpose-s"))(lambda **kw: None)


@pytest.mark.parametrize("name", list_models())
def test_spec_gmacs_is_what_the_counter_measures(name: str) -> None:
    """``ModelSpec.gmacs`` (the distil dialog's cost) must be what ``complexity.count_macs`` measures now."""
    import torch

    from distilpose.models.complexity import count_macs

    try:  # the meta device builds big models in a blink; MoveNet keeps CPU buffers
        with torch.device("meta"):
            measured = count_macs(create_model(name))[0]
    except RuntimeError:
        measured = count_macs(create_model(name))[0]
    assert model_spec(name).gmacs == pytest.approx(measured, abs=0.006)


def test_spec_sizes_are_h_w_with_the_codecs_w_h_beside_them() -> None:
    spec = model_spec("distilpose-s")
    assert spec.input_size == (256, 192) and spec.input_size_wh == (192, 256)
    assert spec.heatmap_size == (64, 48) and spec.heatmap_size_wh == (48, 64)
