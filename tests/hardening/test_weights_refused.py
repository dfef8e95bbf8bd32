"""Weights that cannot be right are refused where they are loaded (issue 23, defect 9): NaN or infinite values
(export used to write an ONNX file whose check said "nan", pre-label blamed the project), and a file whose
content is not what its name says (a torch file renamed ``.safetensors`` gave "SafetensorError ... header too
large"). The one loading function is ``load_state_dict_file``: export, pre-label, eval and the app all reach
it through ``load_model`` / ``load_predictor``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from distilpose.cli import main
from distilpose.errors import CheckpointError
from distilpose.inference.loading import load_predictor
from distilpose.models.checkpoint import load_model, load_state_dict_file, save_weights
from distilpose.models.registry import create_model

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("distilpose-t").eval()


def _poisoned(model: torch.nn.Module, path: Path, value: float, name: str) -> Path:
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state[name].view(-1)[3] = value
    copy = create_model("distilpose-t")
    copy.load_state_dict(state)
    save_weights(copy, path)
    return path


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")], ids=["nan", "inf", "-inf"])
def test_non_finite_weights_are_refused_naming_file_and_tensor(tmp_path, model, value):
    name = (
        "head.coord_fc.weight"
        if "head.coord_fc.weight" in model.state_dict()
        else next(k for k, v in model.state_dict().items() if v.is_floating_point() and v.numel() > 3)
    )
    path = _poisoned(model, tmp_path / "diverged.safetensors", value, name)
    for load in (load_state_dict_file, load_model, load_predictor):
        with pytest.raises(CheckpointError) as info:
            load(path)
        text = str(info.value)
        assert text.startswith(f"{path}: refused: ") and "non-finite" in text and name in text, text


def test_export_of_nan_weights_fails_with_one_line(tmp_path, model, capsys):
    """Found by the attack: rc 0 and 'max |onnx - torch| sigmas: nan'."""
    name = next(k for k, v in model.state_dict().items() if v.is_floating_point() and v.numel() > 3)
    path = _poisoned(model, tmp_path / "nan.safetensors", float("nan"), name)
    out = tmp_path / "m.onnx"
    assert main(["export", str(path), "--onnx", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and err[0].startswith(f"distilpose export: error: {path}: refused") and "NaN" in err[0]
    )
    assert not out.exists()


def test_torch_file_named_safetensors_is_named_as_such(tmp_path, model, capsys):
    """Found by the attack: 'SafetensorError ... header too large'."""
    path = tmp_path / "renamed.safetensors"
    torch.save(model.state_dict(), path)
    for load in (load_state_dict_file, load_model):
        with pytest.raises(CheckpointError) as info:
            load(path)
        text = str(info.value)
        assert text.startswith(f"{path}: the file is named .safetensors but holds a PyTorch checkpoint"), text
        assert "SafetensorError" not in text and "rename it to .pt" in text
    assert main(["export", str(path), "--onnx", str(tmp_path / "m.onnx")]) == 2
    assert "holds a PyTorch checkpoint" in capsys.readouterr().err


def test_safetensors_named_pt_and_onnx_named_pth_are_named_as_such(tmp_path, model):
    st = tmp_path / "weights.pt"
    save_weights(model, tmp_path / "w.safetensors")
    st.write_bytes((tmp_path / "w.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match=r"named \.pt but holds safetensors weights"):
        load_state_dict_file(st)
    onnx = tmp_path / "model.pth"
    onnx.write_bytes(b"\x08\x07\x12\x07pytorch\x1a\x032.1:onnx graph")
    with pytest.raises(CheckpointError, match=r"named \.pth but holds an ONNX model"):
        load_state_dict_file(onnx)


def test_sound_weights_still_load(tmp_path, model):
    path = tmp_path / "ok.safetensors"
    save_weights(model, path)
    loaded, spec = load_model(path)
    assert spec.name == "distilpose-t"
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    pt = tmp_path / "ok.pt"
    torch.save(model.state_dict(), pt)
    assert set(load_state_dict_file(pt)) == set(model.state_dict())


def test_prelabel_with_nan_weights_names_the_weights_not_the_project(tmp_path, model, capsys):
    """Found by the attack: 'invalid instance: keypoint coordinates must be finite', blaming the project."""
    from distilpose.project import ProjectStore
    from tests.unit.test_project_support import write_jpeg

    name = next(k for k, v in model.state_dict().items() if v.is_floating_point() and v.numel() > 3)
    weights = _poisoned(model, tmp_path / "nan.safetensors", float("nan"), name)
    project = tmp_path / "p.dpproj"
    with ProjectStore.create(project) as store:
        store.add_frame(store.add_media(write_jpeg(tmp_path / "a.jpg", 64, 48), "image"))
    code = main(["project", "prelabel", str(project), "--model", str(weights), "--detector", "full-frame"])
    err = capsys.readouterr().err
    assert code == 2 and f"{weights}: refused" in err and "non-finite" in err, err
    assert "invalid instance" not in err
    with ProjectStore.open(project) as store:
        assert store.counts()["instances"] == 0
