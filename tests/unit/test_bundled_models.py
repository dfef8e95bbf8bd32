"""Weights shipped under resources/models/, the default model per source (and the name "default"), and
where every model's weights come from (one readiness answer for the app, pipeline and CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from distilpose.cli import main
from distilpose.errors import DistilPoseError
from distilpose.hashing import sha256_file
from distilpose.models import create_model, list_models, model_spec, resolve_name
from distilpose.models.bundled import (
    WEIGHTS_SHA256,
    DefaultChoice,
    bundled_weights,
    default_choice,
    default_live_model,
    default_model,
    meets_default_bar,
    metrics_match_weights,
    weights_sha256,
)
from distilpose.models.checkpoint import load_model, save_weights
from distilpose.models.readiness import Readiness, has_trained_weights, model_readiness, zoo_missing
from distilpose.resources import RESOURCES_ENV
from tests.conftest import require_zoo_model

# Written here, not imported from the module under test: a changed default must change this test too.
DEFAULT_STUDENT = "distilpose-mnv2-lt"  # the shipped student (ADR 0008)
MOST_ACCURATE = FALLBACK_LIVE_MODEL = "movenet-thunder"  # stills, and video until a live candidate passes
STUDENT_PRIOR = "movenet-lightning-256x192"  # the student's untrained prior, the next live candidate (ADR 0030)
DEFAULT_ALIAS = "default"


@pytest.fixture
def resources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Shipped weights in a temp folder; every zoo model counts as fetched unless a test says otherwise."""
    import distilpose.zoo

    monkeypatch.setenv(RESOURCES_ENV, str(tmp_path))
    monkeypatch.setattr(distilpose.zoo, "is_cached", lambda name: True)
    return tmp_path


def _ship(
    resources: Path, name: str = "distilpose-t", metrics: object | None = None, hashed: bool = True
) -> torch.nn.Module:
    """Ship weights (and metrics: a dict gets the weights' sha256 unless ``hashed`` is False)."""
    folder = resources / "models" / name
    folder.mkdir(parents=True)
    torch.manual_seed(3)
    model = create_model(name)
    save_weights(model, folder / "model.safetensors")
    if isinstance(metrics, dict) and hashed:
        metrics = {**metrics, WEIGHTS_SHA256: sha256_file(folder / "model.safetensors")}
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics) if not isinstance(metrics, str) else metrics)
    return model


def test_a_shipped_model_loads_by_name_with_its_weights(resources: Path) -> None:
    assert bundled_weights("distilpose-t") is None and not has_trained_weights("distilpose-t")
    shipped = _ship(resources)
    assert has_trained_weights("distilpose-t")
    loaded, _ = load_model("distilpose-t")
    for key, value in shipped.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        (None, FALLBACK_LIVE_MODEL),  # no measurements: not the default
        ({"meets_default_bar": False}, FALLBACK_LIVE_MODEL),
        ("{not json", FALLBACK_LIVE_MODEL),
        ({"meets_default_bar": "yes"}, FALLBACK_LIVE_MODEL),  # only a real true counts
        ({"meets_default_bar": True}, DEFAULT_STUDENT),
    ],
)
def test_the_default_live_model_follows_the_recorded_bar(resources: Path, metrics, expected) -> None:
    _ship(resources, DEFAULT_STUDENT, metrics)
    assert default_live_model() == expected
    assert meets_default_bar() == (expected == DEFAULT_STUDENT)


def test_metrics_count_only_for_the_weights_they_measured(resources: Path, capsys) -> None:
    """metrics.json names the sha256 of the file it measured: a match is honoured; metrics without the
    hash, or of other weights (a retrained file shipped without re-measuring), are ignored."""
    _ship(resources, DEFAULT_STUDENT, {"meets_default_bar": True})
    assert metrics_match_weights() and meets_default_bar() and default_live_model() == DEFAULT_STUDENT
    metrics = resources / "models" / DEFAULT_STUDENT / "metrics.json"
    doc = json.loads(metrics.read_text())
    metrics.write_text(json.dumps({**doc, WEIGHTS_SHA256: doc[WEIGHTS_SHA256].upper()}))  # hex case is free
    assert meets_default_bar()
    metrics.write_text(json.dumps({**doc, WEIGHTS_SHA256: "0" * 64}))
    assert not metrics_match_weights() and not meets_default_bar()
    assert default_live_model() == FALLBACK_LIVE_MODEL
    metrics.write_text(json.dumps({"meets_default_bar": True}))  # no hash at all
    assert not meets_default_bar() and default_live_model() == FALLBACK_LIVE_MODEL
    capsys.readouterr()
    assert main(["models", "default"]) == 0
    first, name = capsys.readouterr().out.strip().splitlines()
    assert name == FALLBACK_LIVE_MODEL and "sha256" in first  # says why the student is not the default


def test_retrained_weights_lose_the_default_until_measured(resources: Path) -> None:
    _ship(resources, DEFAULT_STUDENT, {"meets_default_bar": True})
    assert default_live_model() == DEFAULT_STUDENT
    weights = resources / "models" / DEFAULT_STUDENT / "model.safetensors"
    torch.manual_seed(4)
    save_weights(create_model(DEFAULT_STUDENT), weights)  # other weights, the old metrics left in place
    assert default_live_model() == FALLBACK_LIVE_MODEL


def test_no_weights_no_default(resources: Path) -> None:
    assert default_live_model() == FALLBACK_LIVE_MODEL


def _record_zoo_metrics(resources: Path, name: str, metrics: dict) -> None:
    """Measurements of a zoo-backed model: a folder with metrics.json and no weights of its own."""
    folder = resources / "models" / name
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_the_prior_is_the_live_default_while_no_trained_student_beats_it(resources: Path) -> None:
    """The trained student first when its bar (which includes beating its prior) is met; else the prior, named
    for what it is, when its own measurements of exactly the zoo weights it loads pass; else the teacher."""
    from distilpose.zoo.cards import get_card

    lightning_sha = get_card("movenet-lightning").weights_file.sha256
    assert weights_sha256(STUDENT_PRIOR) == lightning_sha  # the pinned weights its loading verifies
    _ship(resources, DEFAULT_STUDENT, {"meets_default_bar": False})
    _record_zoo_metrics(resources, STUDENT_PRIOR, {"meets_default_bar": True, WEIGHTS_SHA256: lightning_sha})
    assert metrics_match_weights(STUDENT_PRIOR) and meets_default_bar(STUDENT_PRIOR)
    assert default_live_model() == STUDENT_PRIOR and resolve_name(DEFAULT_ALIAS) == STUDENT_PRIOR
    assert default_choice("camera") == DefaultChoice(STUDENT_PRIOR, flip=False)
    assert default_choice("image").model == MOST_ACCURATE
    student_metrics = resources / "models" / DEFAULT_STUDENT / "metrics.json"
    student_metrics.write_text(json.dumps({"meets_default_bar": True,
                                           WEIGHTS_SHA256: weights_sha256(DEFAULT_STUDENT)}))
    assert default_live_model() == DEFAULT_STUDENT  # a student that passes comes first
    student_metrics.write_text(json.dumps({"meets_default_bar": False}))
    prior_metrics = resources / "models" / STUDENT_PRIOR / "metrics.json"
    prior_metrics.write_text(json.dumps({"meets_default_bar": True, WEIGHTS_SHA256: "1" * 64}))
    assert not metrics_match_weights(STUDENT_PRIOR) and default_live_model() == FALLBACK_LIVE_MODEL


def test_a_model_that_runs_now_wins_over_a_better_one_not_fetched(resources: Path, monkeypatch, capsys) -> None:
    """A fresh machine without the model zoo (no npm, no network) still opens on a model that runs: the
    shipped student, whose file holds all its weights, for video and for stills; with the zoo fetched the
    choice is the measured one again."""
    import distilpose.zoo
    from distilpose.zoo.cards import get_card

    lightning_sha = get_card("movenet-lightning").weights_file.sha256
    _ship(resources, DEFAULT_STUDENT, {"meets_default_bar": False})
    _record_zoo_metrics(resources, STUDENT_PRIOR, {"meets_default_bar": True, WEIGHTS_SHA256: lightning_sha})
    cached: set[str] = set()
    monkeypatch.setattr(distilpose.zoo, "is_cached", lambda name: name in cached)
    assert default_choice("video") == DefaultChoice(DEFAULT_STUDENT, flip=False)
    assert default_choice("image") == DefaultChoice(DEFAULT_STUDENT, flip=True)
    assert main(["models", "default"]) == 0
    said = capsys.readouterr().out
    assert f"{STUDENT_PRIOR} meets its bar but its weights are not fetched" in said
    assert f"{DEFAULT_STUDENT} is the first live candidate whose weights are here" in said
    cached.add("movenet-thunder")  # the teacher runs, the prior (passing) does not: the teacher, not the student
    assert default_choice("video").model == FALLBACK_LIVE_MODEL
    cached.discard("movenet-thunder")
    cached.add("movenet-lightning")  # the prior's weights: it passes and runs; Thunder is still missing
    assert default_live_model() == STUDENT_PRIOR and default_choice("image").model == DEFAULT_STUDENT
    cached.add("movenet-thunder")
    assert default_choice("image") == DefaultChoice(MOST_ACCURATE, flip=True)
    (resources / "models" / DEFAULT_STUDENT / "model.safetensors").unlink()  # nothing runs: the measured
    cached.clear()  # choice, whose weights the app offers to fetch
    assert default_choice("video").model == STUDENT_PRIOR and default_choice("image").model == MOST_ACCURATE


def test_every_zoo_backed_model_names_a_real_card_and_unknown_names_never_run() -> None:
    from distilpose.models.bundled import LIVE_CANDIDATES, runs_now
    from distilpose.models.registry import zoo_card_of
    from distilpose.zoo.cards import CARDS

    zoo_backed = [name for name in list_models() if model_spec(name).pretrained == "zoo"]
    assert zoo_backed and all(model_spec(name).zoo_name in CARDS for name in zoo_backed)
    assert zoo_card_of(STUDENT_PRIOR) == "movenet-lightning" and zoo_card_of("centernet") == "centernet"
    assert zoo_card_of(DEFAULT_STUDENT) is None and zoo_card_of("no-such-model") is None
    assert not runs_now("no-such-model") and weights_sha256("no-such-model") is None
    assert all(name in list_models() for name in LIVE_CANDIDATES)  # a typo there would break every default


def test_the_default_alias_resolves_in_a_fresh_interpreter_from_the_registry_alone() -> None:
    """The registry does not import the defaults (that would be an import circle): ``bundled`` registers the
    alias when ``distilpose.models`` is imported, which importing the registry always does first."""
    import subprocess
    import sys

    code = "from distilpose.models.registry import resolve_name; print(resolve_name('default', 'image'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == default_choice("image").model != DEFAULT_ALIAS


def test_the_prior_model_is_the_shipped_students_untrained_prior() -> None:
    """Its name is honest: Lightning's network on the student's crop gives exactly the keypoints the shipped
    student starts from before its learned corrections (``prior_coords``)."""
    require_zoo_model("movenet-lightning")
    student, _ = load_model(DEFAULT_STUDENT)  # the shipped weights
    student.eval()
    prior = create_model(STUDENT_PRIOR).eval()
    assert model_spec(STUDENT_PRIOR).input_size == model_spec(DEFAULT_STUDENT).input_size == (256, 192)
    torch.manual_seed(0)
    x = torch.randn(2, 3, 256, 192) * 0.5
    with torch.no_grad():
        start = student.prior_coords(x)
        coords, scores, heatmaps = prior.forward_export(x)
    assert start is not None and torch.allclose(coords, start, atol=1e-4)
    assert heatmaps.shape == (2, 17, 64, 48) and scores.shape == (2, 17)


def test_models_rank_by_the_recorded_stills_ap(resources: Path) -> None:
    from distilpose.models.bundled import by_accuracy, recorded_stills_ap

    names = ["distilpose-t", "movenet-lightning", DEFAULT_STUDENT, MOST_ACCURATE]
    assert recorded_stills_ap() == {}
    assert by_accuracy(names) == [MOST_ACCURATE, "distilpose-t", "movenet-lightning", DEFAULT_STUDENT]
    metrics = {
        "models": {
            "student": "/anywhere/model.safetensors",
            "lightning": "movenet-lightning",
            "thunder": MOST_ACCURATE,
        },
        "stills_ap": {
            "a": {"student": 0.7, "lightning": 0.6, "thunder": 0.5},
            "b": {"student": 0.5, "thunder": 0.9},
        },
    }
    _ship(resources, DEFAULT_STUDENT, metrics)
    ap = recorded_stills_ap()
    assert ap == pytest.approx({DEFAULT_STUDENT: 0.6, "movenet-lightning": 0.6, MOST_ACCURATE: 0.7})
    assert by_accuracy(names) == [MOST_ACCURATE, "movenet-lightning", DEFAULT_STUDENT, "distilpose-t"]


# ------------------------------------------------------------------------------- defaults by source


@pytest.mark.parametrize("passed", [False, True])
def test_stills_get_the_most_accurate_model_and_video_the_student_once_it_passes(
    resources: Path, passed: bool
) -> None:
    _ship(resources, DEFAULT_STUDENT, {"meets_default_bar": passed})
    for still in ("image", "folder"):
        assert default_choice(still) == DefaultChoice(MOST_ACCURATE, flip=True)
    live = DEFAULT_STUDENT if passed else FALLBACK_LIVE_MODEL
    for moving in ("video", "camera"):
        assert default_choice(moving) == DefaultChoice(live, flip=False)
    assert default_model() == default_live_model() == live  # video when the source is not given
    assert default_live_model(source="image") == MOST_ACCURATE
    with pytest.raises(DistilPoseError, match="unknown source kind 'radio'"):
        default_choice("radio")


def test_default_is_a_model_name_everywhere_through_the_registry(resources: Path) -> None:
    shipped = _ship(resources, DEFAULT_STUDENT, {"meets_default_bar": True})
    assert resolve_name(DEFAULT_ALIAS) == DEFAULT_STUDENT and resolve_name("distilpose-t") == "distilpose-t"
    assert model_spec(DEFAULT_ALIAS).name == DEFAULT_STUDENT
    loaded, spec = load_model(DEFAULT_ALIAS)  # what eval, bench and export call
    assert spec.name == DEFAULT_STUDENT
    for key, value in shipped.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert has_trained_weights(DEFAULT_ALIAS) and model_readiness(DEFAULT_ALIAS).source == "bundled"
    (resources / "models" / DEFAULT_STUDENT / "metrics.json").write_text('{"meets_default_bar": false}')
    assert model_spec(DEFAULT_ALIAS).name == FALLBACK_LIVE_MODEL


def test_models_default_prints_the_name_on_its_last_line(resources: Path, capsys) -> None:
    _ship(resources, DEFAULT_STUDENT, {"meets_default_bar": True})
    assert main(["models", "default"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == DEFAULT_STUDENT
    assert main(["models", "default", "--for", "image"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == MOST_ACCURATE and "flip" in out[0]


# ------------------------------------------------------------------------------- roles and readiness


def test_roles_and_pretrained_sources_come_from_the_specs() -> None:
    assert list_models("teacher") == ["movenet-lightning", "movenet-lightning-256x192", "movenet-thunder",
                                      "tokenpose-hrnet-w48", "tokenpose-stemnet"]
    assert list_models("student") == [
        "distilpose-l", "distilpose-mnv2", "distilpose-mnv2-lt", "distilpose-s", "distilpose-t"
    ]
    assert sorted(list_models("teacher") + list_models("student")) == list_models()
    assert model_spec("movenet-thunder").pretrained == "zoo"
    assert model_spec("movenet-thunder").zoo_name == "movenet-thunder"
    assert model_spec(STUDENT_PRIOR).zoo_name == "movenet-lightning"  # Lightning's weights, its own crop
    assert model_spec(DEFAULT_STUDENT).zoo_name is None
    assert model_spec(DEFAULT_STUDENT).pretrained == "bundled"
    assert model_spec(DEFAULT_STUDENT).init_backbone_from_zoo == "movenet-lightning"
    assert model_spec("distilpose-t").pretrained == "none" and model_spec("distilpose-t").role == "student"


def test_readiness_says_where_weights_come_from(resources: Path, tmp_path: Path, monkeypatch) -> None:
    import distilpose.zoo

    cached: set[str] = set()
    monkeypatch.setattr(distilpose.zoo, "is_cached", lambda name: name in cached)
    thunder = model_readiness("movenet-thunder")
    assert not thunder.ready and thunder.source == "zoo" and "Not fetched" in thunder.detail
    assert zoo_missing("movenet-thunder") and not zoo_missing("distilpose-t")
    assert has_trained_weights("movenet-thunder")  # loading it gives trained weights once fetched
    assert zoo_missing(STUDENT_PRIOR) and not model_readiness(STUDENT_PRIOR).ready
    cached.add("movenet-lightning")  # the card whose weights the prior loads: it is ready, Thunder is not
    prior = model_readiness(STUDENT_PRIOR)
    assert prior.ready and prior.source == "zoo" and "Lightning" in prior.title and not zoo_missing(STUDENT_PRIOR)
    assert zoo_missing("movenet-thunder")
    cached.add("movenet-thunder")
    assert model_readiness("movenet-thunder").ready and not zoo_missing("movenet-thunder")
    untrained = model_readiness("distilpose-t")
    assert (untrained.ready, untrained.source) == (False, "none") and "No trained weights" in untrained.detail
    assert model_readiness("no-such-model").source == "none"
    _ship(resources, "distilpose-t")
    assert model_readiness("distilpose-t").source == "bundled" and model_readiness("distilpose-t").ready
    checkpoint = tmp_path / "best.safetensors"
    checkpoint.write_bytes(b"x")
    assert model_readiness(str(checkpoint)) == Readiness(
        "best.safetensors", "best.safetensors", True, f"Ready: checkpoint file {checkpoint}", "checkpoint"
    )
