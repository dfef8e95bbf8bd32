"""Runtime "auto" (the fastest runtime checked against PyTorch, cached per weights), MoveNet's batched
decoding and ONNX export, and the latency bench that reports a failing pair and measures the rest."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from distilpose.inference import auto
from distilpose.inference.auto import choice_cache_file, choose_runtime
from distilpose.inference.runtimes import OnnxRuntime, TorchRuntime, weights_digest
from distilpose.models import create_model

REAL_HOME = os.environ.get("DISTILPOSE_HOME")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DISTILPOSE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def student():
    torch.manual_seed(0)
    return create_model("distilpose-t").eval()


def test_auto_checks_times_and_caches_its_choice(student, monkeypatch) -> None:
    first = choose_runtime(student, threads=1, candidates=("torch", "onnx"), rounds=1, iters=1)
    assert first.runtime in ("torch", "onnx") and not first.cached
    assert set(first.median_ms) == {"torch", "onnx"} and not first.rejected
    assert first.runtime == min(first.median_ms, key=first.median_ms.__getitem__)
    path = choice_cache_file(student, weights_digest(student), 1)
    assert json.loads(path.read_text())["runtime"] == first.runtime
    monkeypatch.setattr(auto, "TorchRuntime", None)  # a cached choice builds and times nothing
    again = choose_runtime(student, threads=1, candidates=("torch", "onnx"))
    assert again.cached and again.runtime == first.runtime


def test_auto_rejects_a_runtime_that_disagrees_with_pytorch(student, monkeypatch) -> None:
    monkeypatch.setitem(auto.TOLERANCE, "onnx", -1.0)  # nothing can agree this well: onnx must be refused
    choice = choose_runtime(student, threads=1, candidates=("torch", "onnx"), rounds=1, iters=1, refresh=True)
    assert choice.runtime == "torch" and "disagrees with PyTorch" in choice.rejected["onnx"]
    assert "not used: onnx" in choice.note()


def test_bench_reports_a_failing_pair_and_measures_the_rest(capsys, monkeypatch) -> None:
    from distilpose.cli import main
    from distilpose.inference import runtimes

    real = runtimes.OnnxRuntime

    def broken(path, *a, **k):
        raise runtimes.DistilPoseError(f"{path}: broken on purpose")

    monkeypatch.setattr(runtimes, "OnnxRuntime", broken)
    code = main(
        ["bench", "--models", "distilpose-t", "--runtime", "torch,onnx", "--iters", "1", "--warmup", "0",
         "--windows", "1", "--threads", "1", "--json"]
    )  # fmt: skip
    monkeypatch.setattr(runtimes, "OnnxRuntime", real)
    assert code == 0
    rows = {r["runtime"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["torch"]["median_ms"] > 0 and rows["torch"]["error"] is None
    assert rows["onnx"]["median_ms"] is None and "broken on purpose" in rows["onnx"]["error"]


def _real_movenet(monkeypatch, name: str):
    from distilpose.zoo import is_cached

    if REAL_HOME is None:
        monkeypatch.delenv("DISTILPOSE_HOME", raising=False)
    else:
        monkeypatch.setenv("DISTILPOSE_HOME", REAL_HOME)
    if not is_cached(name):
        pytest.skip(f"{name} not fetched (distilpose models fetch {name})")
    from distilpose.models.checkpoint import load_model

    return load_model(name)[0]


def test_movenet_batched_decoding_equals_the_graphs_own(monkeypatch) -> None:
    from distilpose.zoo.movenet import HEADS, PREAMBLE_END

    model = _real_movenet(monkeypatch, "movenet-lightning")
    real = torch.from_numpy(auto.parity_batch(model.spec)) * model.std + model.mean  # RGB 0..255 crops
    crops = torch.cat([real, torch.rand(2, 3, 192, 192) * 255]).permute(0, 2, 3, 1)  # and two of noise
    net = model.net
    with torch.no_grad():
        heads = net.tfjs(feeds={PREAMBLE_END: crops}, outputs=HEADS)
        torch.testing.assert_close(net.decode(*heads), net.decode_one_by_one(*heads), rtol=0, atol=0)


def test_movenet_exports_to_onnx_and_passes_the_parity_check(monkeypatch, tmp_path: Path) -> None:
    from distilpose.onnx_export import FP32_TOLERANCE, export_onnx

    model = _real_movenet(monkeypatch, "movenet-lightning")
    report = export_onnx(model, tmp_path / "m.onnx")  # raises when ORT disagrees with PyTorch
    assert max(report.max_abs_diff.values()) <= FP32_TOLERANCE
    batch = auto.parity_batch(model.spec)
    batch = np.concatenate([batch, batch[:1]])  # three people in one batch: the batch axis is dynamic
    ours, onnx = TorchRuntime(model).run(batch), OnnxRuntime(tmp_path / "m.onnx", threads=1).run(batch)
    assert onnx["coords"].shape == (3, 17, 2)
    assert auto.disagreement(ours, onnx) <= FP32_TOLERANCE
