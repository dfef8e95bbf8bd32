"""`distilpose info`: the paper's figures within 1%, listing, the table, and errors."""

from __future__ import annotations

import json

import pytest
import torch

from distilpose.cli import main
from distilpose.models import create_model
from distilpose.models.checkpoint import save_weights

PAPER = {  # trainable params (M), GFLOPs as the paper counts them
    "distilpose-s": (5.36, 2.38),
    "distilpose-l": (21.3, 10.33),
    "tokenpose-hrnet-w48": (69.4, 17.03),
}


def _info(capsys, *argv) -> dict:
    assert main(["info", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", sorted(PAPER))
def test_info_matches_paper_within_one_percent(name, capsys):
    info = _info(capsys, name)
    params_m, gflops = PAPER[name]
    assert info["name"] == name and info["input_size"] == [256, 192]
    assert info["params_trainable"] / 1e6 == pytest.approx(params_m, rel=0.01)
    assert info["gmacs_paper"] == pytest.approx(gflops, rel=0.01)
    assert info["paper_params_m"] == params_m and info["paper_gflops"] == gflops
    # full counts: the frozen PE (256 x 192) and the attention matmuls (12 layers x 2 x 273^2 x 192)
    assert info["params"] - info["params_trainable"] == 256 * 192
    assert info["gmacs_attention"] == pytest.approx(12 * 2 * 273**2 * 192 / 1e9, abs=1e-6)
    assert info["gmacs"] > info["gmacs_paper"]


def test_info_keys_for_our_model(capsys):
    info = _info(capsys, "distilpose-t")
    for key in ("params", "params_trainable", "gmacs", "gmacs_paper", "input_size", "kind"):
        assert key in info
    assert info["kind"] == "regression" and info["paper_gflops"] is None
    assert info["gmacs_paper"] < 0.3 * PAPER["distilpose-s"][1]  # much cheaper than S


def test_info_lists_models(capsys):
    assert main(["info"]) == 0
    plain = capsys.readouterr().out
    assert main(["info", "--list"]) == 0
    assert capsys.readouterr().out == plain
    for name in ("distilpose-s", "distilpose-l", "distilpose-t", "tokenpose-hrnet-w48", "tokenpose-stemnet"):
        assert name in plain
    assert main(["info", "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {m["name"] for m in listed} >= set(PAPER)


def test_info_table(capsys):
    assert main(["info", "distilpose-s"]) == 0
    out = capsys.readouterr().out
    assert "params trainable" in out and "(paper: 5.36 M)" in out and "(paper: 2.38 G)" in out


def test_info_checkpoint_file(tmp_path, capsys):
    path = tmp_path / "t.safetensors"
    save_weights(create_model("distilpose-t"), path)
    info = _info(capsys, str(path))
    assert info["name"] == "distilpose-t"
    ref = _info(capsys, "distilpose-t")
    assert info["gmacs"] == ref["gmacs"] and info["params"] == ref["params"]


def test_info_errors(tmp_path, capsys):
    assert main(["info", "distilpose-q"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'distilpose-q'" in err and "tokenpose-hrnet-w48" in err
    assert main(["info", str(tmp_path / "nope.pth")]) == 2
    assert "no such checkpoint file" in capsys.readouterr().err
    official = tmp_path / "official.pth"
    torch.save({"state_dict": create_model("distilpose-t").state_dict()}, official)
    assert main(["info", str(official)]) == 2
    assert "pass arch=" in capsys.readouterr().err
    assert main(["info", str(official), "--arch", "distilpose-t", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "distilpose-t"


@pytest.mark.parametrize(("name", "gmacs"), [("movenet-thunder", 1.22), ("movenet-lightning", 0.27)])
def test_info_counts_a_zoo_movenet(name, gmacs, capsys):
    """The MoveNets are plain modules with the zoo's weights: counted like any model (this used to crash)."""
    from tests.conftest import require_zoo_model

    require_zoo_model(name)
    info = _info(capsys, name)
    assert info["gmacs"] == pytest.approx(gmacs, rel=0.02)  # the registry's figure, measured
    assert info["params"] > 2e6
