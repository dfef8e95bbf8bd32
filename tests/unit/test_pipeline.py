"""The Qt-free live pipeline: stages, tracking across a stream, teacher disagreement, smoothing, model
loading (untrained flag, ONNX cache), batch export (files, cancel) and the pipeline bench CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from distilpose.coco import load_coco, load_keypoint_results
from distilpose.detection import FixedBoxes, FullFrame, TrackFromKeypoints
from distilpose.errors import DistilPoseError, MediaError
from distilpose.inference.loading import has_trained_weights, load_predictor, weights_digest
from distilpose.inference.pipeline_bench import bench_pipeline
from distilpose.inference.prediction_export import ExportCancelled, export_predictions, images_path_for
from distilpose.inference.predictor import Predictor
from distilpose.models import model_spec
from distilpose.pipeline import LivePipeline, keypoint_disagreement
from distilpose.render import H264Writer
from distilpose.smoothing import KeypointSmoother
from distilpose.types import Instance
from distilpose.video import ImageFolder, VideoReader

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "sports2d-demo-640.mp4"
REAL_HOME = os.environ.get("DISTILPOSE_HOME")  # before the fixture below points it at a temp folder
# Normalised crop coordinates the fake student predicts for every box: a spread-out pattern.
PATTERN = np.stack([np.linspace(0.3, 0.7, 17), np.linspace(0.2, 0.8, 17)], axis=1)


class FakeRuntime:
    """A 'student' that predicts PATTERN (+ offset) in every crop, with fixed scores and sigmas."""

    name = "fake"
    output_names = ("coords", "scores", "sigmas")

    def __init__(self, offset: float = 0.0, score: float = 0.9) -> None:
        self.offset = offset
        self.score = score
        self.calls = 0

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        self.calls += 1
        n = len(batch)
        coords = np.broadcast_to(PATTERN + self.offset, (n, 17, 2)).astype(np.float32)
        return {
            "coords": coords.copy(),
            "scores": np.full((n, 17, 1), self.score, np.float32),
            "sigmas": np.full((n, 17, 2), 2.0, np.float32),
        }


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch) -> None:
    """Frame indexes and ONNX files go to a temp cache, never the user's."""
    monkeypatch.setenv("DISTILPOSE_HOME", str(tmp_path / "cache"))


def fake_predictor(offset: float = 0.0, score: float = 0.9) -> Predictor:
    return Predictor(FakeRuntime(offset, score), model_spec("distilpose-t"))


def test_keypoint_disagreement_by_hand() -> None:
    a = Instance(np.zeros((17, 3)), bbox=(0, 0, 100, 400), source="student")  # sqrt(100*400) = 200
    kb = np.zeros((17, 3))
    kb[0, :2] = (30, 40)  # 50 px away -> 0.25
    kb[5, :2] = (0, 10)  # 10 px -> 0.05
    b = Instance(kb, source="teacher")
    d = keypoint_disagreement(a, b)
    assert d[0] == pytest.approx(0.25) and d[5] == pytest.approx(0.05)
    assert np.count_nonzero(d) == 2


def test_one_frame_through_every_stage() -> None:
    image = np.zeros((360, 640, 3), np.uint8)
    box = [100.0, 50.0, 150.0, 200.0]
    teacher = fake_predictor(offset=0.05)
    pipe = LivePipeline(fake_predictor(), FixedBoxes([box]), teacher=teacher, heatmaps=True)
    result = pipe.process(image, index=0)
    assert result.image_size == (640, 360)
    np.testing.assert_array_equal(result.boxes, [box])
    assert len(result.instances) == 1 and len(result.teacher) == 1
    assert set(result.times_ms) == {"detect", "pose", "teacher"}
    inst = result.instances[0]
    assert inst.bbox == tuple(box)
    assert inst.extras["heatmaps"].shape == (17, 64, 48)  # the student's simulated heatmaps
    assert result.teacher[0].source == "teacher"
    # The teacher is offset by 0.05 of the crop in x and y. The crop is the box padded 1.25x to 3:4:
    # 150x200 is already 3:4 -> crop 187.5x250 px, so the offset is (9.375, 12.5) px; over sqrt(150*200).
    expected = np.hypot(0.05 * 187.5, 0.05 * 250) / np.sqrt(150 * 200)
    np.testing.assert_allclose(result.disagreement, np.full((1, 17), expected), rtol=1e-6)


def test_tracking_carries_over_a_stream_and_a_seek_redetects() -> None:
    class Counting(FullFrame):
        calls = 0

        def detect(self, image):
            Counting.calls += 1
            return np.array([[100.0, 50.0, 150.0, 200.0]]), np.ones(1)

    # The fake pose fills 0.4 x 0.6 of its crop: judged as it is, not as a crop drifting off its person.
    tracker = TrackFromKeypoints(Counting(), redetect_every=100, pad=0.0, min_score=0.5, drift_iou=0.0, min_shrink=0.0)
    pipe = LivePipeline(fake_predictor(), tracker)
    image = np.zeros((360, 640, 3), np.uint8)
    first = pipe.process(image, index=10)
    second = pipe.process(image, index=11)
    assert Counting.calls == 1 and first.detected and not second.detected
    # The tracked box is the previous keypoints' extent (PATTERN spans 0.4 x 0.6 of the 187.5 x 250 crop).
    np.testing.assert_allclose(second.boxes[0, 2:], [0.4 * 187.5, 0.6 * 250], rtol=1e-6)
    pipe.process(image, index=40)  # a seek
    assert Counting.calls == 2
    low = LivePipeline(fake_predictor(score=0.1), TrackFromKeypoints(Counting(), redetect_every=100))
    low.process(image, index=0)
    low.process(image, index=1)  # every keypoint below min_score: lost -> detect again
    assert Counting.calls == 4


def test_smoothing_gives_track_ids() -> None:
    pipe = LivePipeline(
        fake_predictor(), FixedBoxes([[0, 0, 100, 200], [300, 0, 100, 200]]), smoother=KeypointSmoother()
    )
    image = np.zeros((360, 640, 3), np.uint8)
    r0 = pipe.process(image, index=0, t=0.0)
    r1 = pipe.process(image, index=1, t=1 / 30)
    assert [i.track_id for i in r0.instances] == [1, 2] == [i.track_id for i in r1.instances]
    np.testing.assert_allclose(r1.instances[0].keypoints, r0.instances[0].keypoints)  # still: unchanged


def test_smoothing_keys_on_the_one_trackers_ids() -> None:
    """One tracker gives the ids; smoothing uses them and never overwrites them with its own."""
    from distilpose.tracking import PoseTracker

    tracker = PoseTracker(first_id=50)
    pipe = LivePipeline(
        fake_predictor(),
        FixedBoxes([[0, 0, 100, 200], [300, 0, 100, 200]]),
        smoother=KeypointSmoother(),
        tracker=tracker,
    )
    image = np.zeros((360, 640, 3), np.uint8)
    r0 = pipe.process(image, index=0, t=0.0)
    r1 = pipe.process(image, index=1, t=1 / 30)
    assert [i.track_id for i in r0.instances] == [50, 51] == [i.track_id for i in r1.instances]


def test_load_predictor_flags_untrained_models_and_loads_checkpoints(tmp_path: Path) -> None:
    from distilpose.models.checkpoint import save_weights

    a = load_predictor("distilpose-t")
    b = load_predictor("distilpose-t")
    assert not a.trained and "not trained" in a.weights and a.kind == "regression"
    # Untrained weights are seeded: the same model every time (and the same ONNX cache entry).
    assert weights_digest(a.predictor.runtime.model) == weights_digest(b.predictor.runtime.model)
    ckpt = tmp_path / "mine.safetensors"
    save_weights(a.predictor.runtime.model, ckpt)
    c = load_predictor(ckpt)
    assert c.trained and c.name == "mine.safetensors" and c.weights == str(ckpt)
    with pytest.raises(DistilPoseError, match="unknown runtime 'tpu'"):
        load_predictor("distilpose-t", runtime="tpu")


def test_onnx_runtime_is_exported_once_and_cached(tmp_path: Path, monkeypatch) -> None:
    import distilpose.inference.onnx_service as onnx_service

    first = load_predictor("distilpose-t", runtime="onnx", onnx_dir=tmp_path)
    files = list(tmp_path.glob("distilpose-t-*.onnx"))
    assert len(files) == 1 and first.predictor.runtime.name == "onnx"
    monkeypatch.setattr(onnx_service, "export_onnx", lambda *a, **k: pytest.fail("exported again"))
    second = load_predictor("distilpose-t", runtime="onnx", onnx_dir=tmp_path)
    image = np.random.default_rng(0).integers(0, 255, (120, 100, 3), dtype=np.uint8)
    box = np.array([[10, 10, 80, 100]])
    torch_out = load_predictor("distilpose-t").predictor.predict(image, box)[0]
    onnx_out = second.predictor.predict(image, box)[0]
    np.testing.assert_allclose(onnx_out.keypoints, torch_out.keypoints, atol=1e-2)


def _write_video(path: Path, n: int, size=(96, 64)) -> None:
    with H264Writer(path, 10, size) as w:
        for i in range(n):
            w.write(np.full((size[1], size[0], 3), 20 * i, np.uint8))


def test_export_writes_results_images_and_video(tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    clip = tmp_path / "clip.mp4"
    _write_video(clip, 6)
    out = tmp_path / "out" / "preds.json"
    seen = []
    result = export_predictions(
        VideoReader(clip, index_cache=None),
        LivePipeline(fake_predictor(), FullFrame()),
        out,
        video_path=tmp_path / "out" / "preds.mp4",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(i, 6) for i in range(1, 7)]
    assert (result.frames, result.instances) == (6, 6)
    preds = load_keypoint_results(out)
    assert sorted(p.image_id for p in preds) == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(preds[0].keypoints[:, 2], 0.9, rtol=1e-6)  # third column: keypoint scores
    images = load_coco(images_path_for(out))
    assert [(i.id, i.file_name, i.width, i.height) for i in images.images][:2] == [
        (1, "clip.mp4#frame=0", 96, 64),
        (2, "clip.mp4#frame=1", 96, 64),
    ]
    assert images.images[5].extra["frame_index"] == 5
    gt = COCO(str(images_path_for(out)))  # the pair is usable as-is with pycocotools
    dt = gt.loadRes(str(out))
    assert len(dt.getAnnIds()) == 6
    video = VideoReader(result.video_path, index_cache=None)
    assert len(video) == 6 and (video.width, video.height) == (96, 64)


def test_cancelled_export_leaves_nothing(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    _write_video(clip, 8)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(ExportCancelled, match="cancelled after 3 of 8 frames"):
        export_predictions(
            VideoReader(clip, index_cache=None),
            LivePipeline(fake_predictor(), FullFrame()),
            out_dir / "p.json",
            video_path=out_dir / "p.mp4",
            should_stop=stop,
        )
    assert list(out_dir.iterdir()) == []


def test_export_from_a_folder_of_mixed_sizes(tmp_path: Path) -> None:
    import cv2

    for i, (w, h) in enumerate([(80, 60), (40, 90), (80, 60)]):
        assert cv2.imwrite(str(tmp_path / f"im{i}.png"), np.full((h, w, 3), 90, np.uint8))
    out = tmp_path / "res.json"
    result = export_predictions(
        ImageFolder(tmp_path), LivePipeline(fake_predictor(), FullFrame()), out, video_path=tmp_path / "r.mp4"
    )
    assert [i.file_name for i in load_coco(result.images_path).images] == ["im0.png", "im1.png", "im2.png"]
    assert len(VideoReader(result.video_path, index_cache=None)) == 3


def test_export_stops_on_an_unreadable_frame(tmp_path: Path) -> None:
    import cv2

    assert cv2.imwrite(str(tmp_path / "a.png"), np.zeros((20, 20, 3), np.uint8))
    (tmp_path / "b.png").write_bytes(b"broken")
    with pytest.raises(MediaError, match="b.png: not a readable image"):
        export_predictions(
            ImageFolder(tmp_path),
            LivePipeline(fake_predictor(), FullFrame()),
            tmp_path / "x.json",
            video_path=tmp_path / "x.mp4",
        )
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "x.mp4").exists()


def test_bench_pipeline_reports_every_stage() -> None:
    report = bench_pipeline(
        SAMPLE, LivePipeline(fake_predictor(), FullFrame()), frames=4, warmup=1, progress=False
    )
    assert report.frames == 4 and report.persons_mean == 1.0 and report.detector_runs == 4
    assert set(report.stage_ms) == {"decode", "detect", "pose", "draw", "total"}
    assert report.stage_ms["total"] >= report.stage_ms["pose"] > 0
    assert report.fps > 0


def test_bench_cli_pipeline_json(capsys) -> None:
    from distilpose.cli import main

    code = main(
        [
            "bench",
            "--pipeline",
            str(SAMPLE),
            "--model",
            "distilpose-t",
            "--frames",
            "3",
            "--detector",
            "full-frame",
            "--threads",
            "1",
            "--json",
        ]
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    run = doc["runs"][0]
    assert run["model"] == "distilpose-t" and run["frames"] == 3 and run["trained"] is False
    assert run["detector"].endswith("full-frame")
    assert {"decode", "detect", "pose", "draw", "total"} <= set(run["stage_ms"])
    assert main(["bench", "--pipeline", "nope.mp4"]) == 2
    assert "nope.mp4: video not found" in capsys.readouterr().err


def test_which_models_have_trained_weights(tmp_path: Path) -> None:
    ckpt = tmp_path / "w.safetensors"
    ckpt.write_bytes(b"x")
    assert has_trained_weights(ckpt)
    assert not has_trained_weights("distilpose-t") and not has_trained_weights("tokenpose-hrnet-w48")
    assert has_trained_weights("movenet-thunder")  # the zoo's pretrained MoveNet
    assert not has_trained_weights("no-such-model")


def _use_real_cache(monkeypatch) -> None:
    if REAL_HOME is None:
        monkeypatch.delenv("DISTILPOSE_HOME", raising=False)
    else:
        monkeypatch.setenv("DISTILPOSE_HOME", REAL_HOME)


def test_pretrained_movenet_and_centernet_find_real_poses(monkeypatch) -> None:
    """End to end with real weights (when fetched): detector boxes, then a pose spread over each person."""
    import torch

    from distilpose.detection import CenterNetDetector
    from distilpose.zoo import is_cached

    _use_real_cache(monkeypatch)
    if not (is_cached("movenet-lightning") and CenterNetDetector.available()):
        pytest.skip("movenet-lightning / centernet not fetched (distilpose models fetch all)")
    torch.set_num_threads(1)
    loaded = load_predictor("movenet-lightning", threads=1)
    assert loaded.trained and "pretrained" in loaded.weights
    pipe = LivePipeline(loaded.predictor, CenterNetDetector.from_cache())
    result = pipe.process(VideoReader(SAMPLE, index_cache=None).frame(60), index=60)
    assert len(result.instances) == 2
    for inst, (x, _y, w, h) in zip(result.instances, result.boxes, strict=True):
        confident = inst.keypoints[inst.scores > 0.3, :2]
        assert len(confident) >= 10  # a real model is sure about most joints of a clearly visible person
        assert (confident[:, 0] > x - 0.2 * w).all() and (confident[:, 0] < x + 1.2 * w).all()
        assert np.ptp(confident[:, 1]) > 0.5 * h  # head to feet, not collapsed like random weights
        nose, ankles = inst.keypoints[0, 1], inst.keypoints[[15, 16], 1].mean()
        assert nose < ankles  # upright people: the head above the feet


def test_a_frame_with_no_person_and_a_teacher_gives_empty_results() -> None:
    pipe = LivePipeline(fake_predictor(), FixedBoxes([]), teacher=fake_predictor(offset=0.05))
    result = pipe.process(np.zeros((120, 160, 3), np.uint8), index=0)
    assert result.instances == [] and result.teacher == []
    assert result.disagreement.shape == (0, 17)
