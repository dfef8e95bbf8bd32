"""Predictor geometry, runtimes agreement, export and bench CLIs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from distilpose.cli import main
from distilpose.codecs import boxes_to_centers_scales
from distilpose.inference.onnx_service import export_onnx
from distilpose.inference.predictor import Predictor
from distilpose.inference.runtimes import OnnxRuntime, TorchRuntime
from distilpose.models import create_model, model_spec


class FixedOutputs:
    """A runtime with known outputs, to check decoding and back-projection by hand."""

    name = "fixed"

    def __init__(self, outputs: dict[str, np.ndarray]):
        self.outputs = outputs
        self.output_names = tuple(outputs)
        self.calls: list[tuple[int, ...]] = []

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        self.calls.append(batch.shape)
        n = len(batch)
        return {k: np.repeat(v[:1], n, axis=0) for k, v in self.outputs.items()}


@pytest.fixture(scope="module")
def student():
    torch.manual_seed(0)
    return create_model("distilpose-t").eval()


def test_regression_decoding_maps_crop_centre_to_box_centre():
    spec = model_spec("distilpose-s")
    coords = np.full((1, 17, 2), 0.5, dtype=np.float32)
    coords[0, 0] = [0.0, 0.0]  # the crop's top-left corner
    sigmas = np.full((1, 17, 2), 2.0, dtype=np.float32)
    rt = FixedOutputs({"coords": coords, "scores": np.full((1, 17), 0.8, np.float32), "sigmas": sigmas})
    pred = Predictor(rt, spec)
    box = np.array([[100.0, 50.0, 120.0, 240.0]])  # w/h = 0.5 -> widened to 180 x 240, then x1.25
    (inst,) = pred.predict(np.zeros((400, 400, 3), np.uint8), box, box_scores=np.array([0.9]))
    np.testing.assert_allclose(inst.keypoints[1, :2], [160.0, 170.0])  # box centre
    # the crop spans 225 x 300 px around the centre: its top-left corner is (160-112.5, 170-150)
    np.testing.assert_allclose(inst.keypoints[0, :2], [47.5, 20.0])
    # one heatmap px = 300/64 image px vertically, 225/48 horizontally
    np.testing.assert_allclose(inst.sigmas[1], [2.0 * 225 / 48, 2.0 * 300 / 64])
    assert inst.score == pytest.approx(0.9 * 0.8)
    assert np.all(inst.keypoints[:, 2] == 2)
    assert inst.source == "student"


def test_heatmap_decoding_finds_the_peak_in_image_space():
    spec = model_spec("tokenpose-hrnet-w48")
    hm = np.zeros((1, 17, 64, 48), np.float32)
    ys, xs = np.mgrid[0:64, 0:48]
    hm[0, :] = np.exp(-((xs - 12) ** 2 + (ys - 40) ** 2) / (2 * 2.0**2))
    pred = Predictor(FixedOutputs({"heatmaps": hm}), spec)
    box = np.array([[0.0, 0.0, 150.0, 200.0]])
    (inst,) = pred.predict(np.zeros((300, 300, 3), np.uint8), box, return_heatmaps=True)
    centers, scales = boxes_to_centers_scales(box, 0.75, 1.25)
    size = scales[0] * 200
    expected = centers[0] - size / 2 + np.array([12.0, 40.0]) * size / np.array([48, 64])
    np.testing.assert_allclose(inst.keypoints[5, :2], expected, atol=0.05)
    assert inst.scores[5] == pytest.approx(1.0)
    assert inst.source == "teacher"
    assert inst.extras["heatmaps"].shape == (17, 64, 48)


def test_flip_test_runs_one_batch_of_twice_the_size():
    spec = model_spec("distilpose-s")
    rt = FixedOutputs({"coords": np.full((1, 17, 2), 0.5, np.float32), "scores": np.ones((1, 17), np.float32)})
    Predictor(rt, spec, flip=True).predict(np.zeros((100, 100, 3), np.uint8), np.array([[0, 0, 50, 80.0]] * 3))
    assert rt.calls == [(6, 3, 256, 192)]


def test_no_boxes_gives_no_instances(student):
    assert Predictor(TorchRuntime(student), student.spec).predict(np.zeros((50, 50, 3), np.uint8), np.zeros((0, 4))) == []


def test_student_simulated_heatmaps_peak_at_its_keypoints(student):
    pred = Predictor(TorchRuntime(student), student.spec)
    img = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    (inst,) = pred.predict(img, np.array([[60, 20, 120, 200.0]]), return_heatmaps=True)
    sim = inst.extras["heatmaps"]
    assert sim.shape == (17, 64, 48) and sim.max() <= 1.0 + 1e-6
    assert np.all(inst.sigmas > 0)


def test_onnx_and_torch_predictors_agree(student, tmp_path):
    path = tmp_path / "t.onnx"
    report = export_onnx(student, path)
    assert max(report.max_abs_diff.values()) <= 1e-4
    img = np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    boxes = np.array([[60, 20, 120, 200.0], [10, 10, 100, 100]])
    a = Predictor(TorchRuntime(student), student.spec, flip=True).predict(img, boxes)
    b = Predictor(OnnxRuntime(path, threads=1), student.spec, flip=True).predict(img, boxes)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.keypoints, y.keypoints, atol=1e-2)  # image px
        np.testing.assert_allclose(x.scores, y.scores, atol=1e-4)


def test_export_cli_prints_agreement(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", "distilpose-t", "--onnx", str(out), "--int8"]) == 0
    text = capsys.readouterr().out
    assert out.exists() and (tmp_path / "m.int8-pc.onnx").exists()
    diffs = [float(line.rsplit(":", 1)[1]) for line in text.splitlines() if "fp32 max" in line]
    assert diffs and max(diffs) <= 1e-4


def test_export_cli_unknown_model_lists_names(tmp_path, capsys):
    assert main(["export", "distilpose-xl", "--onnx", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert "distilpose-xl" in err and "distilpose-s" in err
    assert not (tmp_path / "x.onnx").exists()


def test_onnx_runtime_rejects_a_corrupt_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(Exception, match="bad.onnx"):
        OnnxRuntime(bad)


def test_bench_cli_json_reports_rows_and_ratios(capsys):
    code = main(
        ["bench", "--models", "distilpose-t,distilpose-s", "--runtime", "torch", "--iters", "2", "--warmup", "1",
         "--windows", "1", "--threads", "1", "--json"]
    )  # fmt: skip
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["rows"]) == 2
    assert all(r["median_ms"] > 0 and r["fps"] == pytest.approx(1000 / r["median_ms"]) for r in data["rows"])
    (t,), (s,) = (row["window_ms"] for row in data["rows"])  # one window: the ratio is that window's
    assert data["ratios_vs_first"]["torch"] == {"distilpose-t": 1.0, "distilpose-s": pytest.approx(s / t)}


def test_bench_ratio_is_the_median_of_the_ratios_inside_each_window(monkeypatch):
    """Scripted timings, window by window (t, s): 10/50, 20/22, 40/44 ms. Inside each window s takes 5, 1.1
    and 1.1 times t, so the ratio is 1.1; the ratio of the medians (44/20 = 2.2) would let a slow stretch
    that hit one side decide it."""
    from types import SimpleNamespace

    from distilpose import bench

    timings = iter([10.0, 50.0, 20.0, 22.0, 40.0, 44.0])
    monkeypatch.setattr(bench, "sample_batch", lambda spec, batch=1: None)
    monkeypatch.setattr(bench, "build_runtime", lambda model, rt, threads: SimpleNamespace(run=lambda b: None))
    monkeypatch.setattr(bench, "time_calls", lambda fn, warmup, iters: next(timings))
    models = [("t", SimpleNamespace(spec=None)), ("s", SimpleNamespace(spec=None))]
    rows, ratios = bench.run_benchmark(models, ["torch"], windows=3, progress=False)
    assert [r.window_ms for r in rows] == [[10.0, 20.0, 40.0], [50.0, 22.0, 44.0]]
    assert [(r.median_ms, r.best_ms) for r in rows] == [(20.0, 10.0), (44.0, 22.0)]
    assert ratios == {"torch": {"t": 1.0, "s": pytest.approx(1.1)}}


def test_bench_cli_rejects_unknown_runtime(capsys):
    assert main(["bench", "--models", "distilpose-t", "--runtime", "tensorrt"]) == 2
    assert "tensorrt" in capsys.readouterr().err


def test_compiled_runtime_matches_eager(student):
    batch = np.random.default_rng(3).standard_normal((1, 3, 256, 192)).astype(np.float32)
    eager = TorchRuntime(student).run(batch)
    compiled = TorchRuntime(student, compile=True)
    assert compiled.name == "torch-compile"
    got = compiled.run(batch)
    for name in ("coords", "scores", "sigmas"):
        np.testing.assert_allclose(got[name], eager[name], atol=1e-4)


def test_degenerate_boxes_give_finite_predictions(student):
    import warnings

    pred = Predictor(TorchRuntime(student), student.spec)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero / invalid-value warnings either
        (inst,) = pred.predict(np.zeros((60, 80, 3), np.uint8), np.array([[10.0, 10.0, 0.0, 0.0]]))
    assert np.isfinite(inst.keypoints).all() and np.isfinite(inst.sigmas).all()
