"""Crowds (ADR 0024): the still-people policy, the pose model widened while the detector is idle, MultiPose as
a live pose model, and ``bench --pipeline``'s people found, ms per person and AP against labels."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from distilpose.coco import CocoAnnotation, CocoDataset, CocoImage, save_coco
from distilpose.detection import FixedBoxes, TrackFromKeypoints
from distilpose.errors import DistilPoseError
from distilpose.inference.crowd import StaticReuse
from distilpose.inference.pipeline_bench import FrameLabels, bench_pipeline, format_pipeline_table
from distilpose.inference.predictor import Predictor
from distilpose.models import model_spec
from distilpose.pipeline import LivePipeline, make_live_pipeline
from distilpose.types import Instance
from distilpose.video import VideoReader

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "sports2d-demo-640.mp4"
REAL_HOME = os.environ.get("DISTILPOSE_HOME")
PATTERN = np.stack([np.linspace(0.3, 0.7, 17), np.linspace(0.2, 0.8, 17)], axis=1)


class CountingRuntime:
    """A student that predicts PATTERN in every crop and records each batch size (and its ``wide`` flag)."""

    name = "fake"
    output_names = ("coords", "scores", "sigmas")

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.wide_seen: list[bool | None] = []
        self.wide: bool | None = None

    def widen(self, threads: int) -> None:
        self.wide = False

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        n = len(batch)
        self.batches.append(n)
        self.wide_seen.append(self.wide)
        return {
            "coords": np.broadcast_to(PATTERN, (n, 17, 2)).astype(np.float32).copy(),
            "scores": np.full((n, 17, 1), 0.9, np.float32),
            "sigmas": np.full((n, 17, 2), 2.0, np.float32),
        }


def _predictor() -> tuple[Predictor, CountingRuntime]:
    rt = CountingRuntime()
    return Predictor(rt, model_spec("distilpose-t")), rt


def _instance(box, dx: float = 0.0) -> Instance:
    x, y, w, h = box
    kp = np.zeros((17, 3))
    kp[:, 0] = x + w * PATTERN[:, 0] + dx
    kp[:, 1] = y + h * PATTERN[:, 1]
    kp[:, 2] = 2
    return Instance(kp, bbox=tuple(box), scores=np.full(17, 0.9), score=0.9, source="student")


def test_still_people_are_estimated_every_other_frame_and_moved_ones_every_frame() -> None:
    reuse = StaticReuse()
    still, walker = [100.0, 50.0, 80.0, 200.0], [300.0, 50.0, 80.0, 200.0]
    boxes = np.array([still, walker])
    assert reuse.plan(boxes).tolist() == [True, True]  # nothing to reuse on the first frame
    reuse.combine(boxes, [_instance(still), _instance(walker)])
    moved = np.array([[102.0, 50.0, 80.0, 200.0], [340.0, 50.0, 80.0, 200.0]])  # 2 px vs 40 px
    assert reuse.plan(moved).tolist() == [False, True]
    second = reuse.combine(moved, [_instance(moved[1])])
    # the still person's last keypoints moved with their box (2 px right), scores and box carried
    np.testing.assert_allclose(second[0].keypoints[:, 0], _instance(still).keypoints[:, 0] + 2.0)
    assert second[0].bbox == tuple(moved[0]) and second[0].scores is not None
    # reused last frame -> estimated now, even though still (never two frames in a row from memory)
    assert reuse.plan(moved).tolist() == [True, False]
    assert (reuse.reused, reuse.estimated) == (1, 3)


def test_one_previous_person_feeds_one_box() -> None:
    reuse = StaticReuse()
    box = np.array([[100.0, 50.0, 80.0, 200.0]])
    reuse.plan(box)
    reuse.combine(box, [_instance(box[0])])
    twins = np.array([[100.0, 50.0, 80.0, 200.0], [101.0, 50.0, 80.0, 200.0]])
    assert reuse.plan(twins).tolist() == [False, True]


def test_live_pipeline_poses_only_the_people_that_moved() -> None:
    predictor, rt = _predictor()
    boxes = FixedBoxes([[100, 50, 150, 200], [400, 50, 150, 200]])
    pipe = LivePipeline(predictor, boxes, reuse=StaticReuse())
    image = np.zeros((360, 640, 3), np.uint8)
    first = pipe.process(image, index=0)
    boxes.set_boxes([[100, 50, 150, 200], [440, 50, 150, 200]])  # the second person walks 40 px
    second = pipe.process(image, index=1)
    third = pipe.process(image, index=2)
    assert [len(r.instances) for r in (first, second, third)] == [2, 2, 2]
    # both posed in one batch, then only the walker, then only the still one (from memory last frame)
    assert rt.batches == [2, 1, 1]
    np.testing.assert_allclose(second.instances[0].keypoints, first.instances[0].keypoints)
    assert second.instances[1].keypoints[0, 0] > first.instances[1].keypoints[0, 0] + 30
    pipe.process(image, index=30)  # a seek forgets them: both posed
    assert rt.batches[-1] == 2


def test_pose_model_takes_two_threads_only_while_the_detector_is_idle() -> None:
    gate = threading.Event()

    class SlowDetector(FixedBoxes):
        def detect(self, image):
            gate.wait(10)
            return super().detect(image)

    predictor, rt = _predictor()
    tracker = TrackFromKeypoints(SlowDetector([[100, 50, 150, 200]]), redetect_every=2, background=True)
    busy_at_run: list[bool] = []
    run = rt.run
    rt.run = lambda batch: (busy_at_run.append(tracker.worker.busy), run(batch))[1]  # type: ignore[union-attr]
    pipe = LivePipeline(predictor, tracker, idle_threads=2)
    image = np.zeros((360, 640, 3), np.uint8)
    try:
        gate.set()
        pipe.process(image, index=0)  # in line: a stream's first frame
        gate.clear()
        for index in range(1, 5):  # a detection falls due and waits on the gate
            pipe.process(image, index=index)
        assert tracker.worker is not None and tracker.worker.busy
        gate.set()
        assert tracker.worker.wait(10)
        gate.clear()  # a detection submitted now stays running through the pose (no race with the check)
        pipe.process(image, index=5)
    finally:
        gate.set()
        pipe.close()
    assert len(rt.wide_seen) == 6 and rt.wide_seen == [not b for b in busy_at_run]
    assert busy_at_run[0] is False and True in busy_at_run  # one thread exactly while the detector ran


def test_bench_reports_people_found_ms_per_person_and_ap(tmp_path: Path) -> None:
    predictor, _ = _predictor()
    box = [100.0, 50.0, 150.0, 200.0]
    pipe = LivePipeline(predictor, FixedBoxes([box]))
    # labels = what this fake predicts on frames 1 and 2 (stored at half size), one wrong person on frame 3
    frame = VideoReader(SAMPLE, index_cache=None).frame(1)
    truth = pipe.process(frame, index=1).instances[0]
    pipe.reset()
    images, anns = [], []
    for image_id, index in enumerate((1, 2, 3), start=1):
        images.append(CocoImage(image_id, f"f{index}.jpg", 320, 180, extra={"frame_index": index}))
        kp = truth.keypoints.copy()
        kp[:, :2] *= 0.5
        if index == 3:
            kp[:, :2] += 60.0
        anns.append(
            CocoAnnotation(
                id=image_id, image_id=image_id, category_id=1, keypoints=kp, bbox=(50, 25, 75, 100),
                area=7500.0, iscrowd=0, num_keypoints=17,
            )
        )
    path = tmp_path / "labels.json"
    save_coco(CocoDataset(images=images, annotations=anns), path)
    report = bench_pipeline(SAMPLE, pipe, frames=3, warmup=1, progress=False, labels=FrameLabels(path))
    assert report.persons_found == 3 and report.labelled_frames == 3
    assert report.pose_ms_per_person > 0  # one person a frame: the mean pose time
    assert report.ap is not None and 0.5 < report.ap < 0.9  # two of three frames right
    table = format_pipeline_table([report])
    assert "ms/pers" in table and "found" in table and f"{report.ap:.3f}" in table
    perfect = bench_pipeline(
        SAMPLE, LivePipeline(_predictor()[0], FixedBoxes([box])), frames=1, warmup=1, progress=False,
        labels=FrameLabels(path),
    )
    assert perfect.labelled_frames == 1 and perfect.ap == pytest.approx(1.0)


def test_labels_without_frame_indexes_are_refused(tmp_path: Path) -> None:
    from distilpose.errors import DistilPoseError

    path = tmp_path / "plain.json"
    save_coco(CocoDataset(images=[CocoImage(1, "a.jpg", 10, 10)], annotations=[]), path)
    with pytest.raises(DistilPoseError, match="plain.json: no image records a frame_index"):
        FrameLabels(path)


def test_bench_cli_runs_each_variant(capsys) -> None:
    from distilpose.cli import main

    code = main(
        ["bench", "--pipeline", str(SAMPLE), "--model", "distilpose-t", "--frames", "3", "--threads", "1",
         "--detector", "full-frame", "--variants", "base,reuse+idle2", "--json"]
    )
    assert code == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["model"] for r in runs] == ["distilpose-t [base]", "distilpose-t [reuse+idle2]"]
    assert all(r["persons_found"] == 3 for r in runs)
    assert main(["bench", "--pipeline", str(SAMPLE), "--variants", "fast"]) == 2
    assert "unknown variant 'fast'" in capsys.readouterr().err


def test_multipose_is_a_single_stage_live_model(monkeypatch) -> None:
    """The zoo's MultiPose (when fetched) poses the sample's people in one pass, with no detector."""
    import torch

    from distilpose.inference.loading import load_predictor
    from distilpose.zoo import is_cached

    if REAL_HOME is None:
        monkeypatch.delenv("DISTILPOSE_HOME", raising=False)
    if not is_cached("movenet-multipose"):
        pytest.skip("movenet-multipose not fetched (distilpose models fetch all)")
    torch.set_num_threads(1)
    loaded = load_predictor("movenet-multipose", "auto")
    assert loaded.name == "movenet-multipose" and loaded.trained
    pipe = make_live_pipeline(loaded.predictor, "auto", reuse_static=True, idle_threads=2)  # both moot here
    assert pipe.detector.name == "full-frame" and pipe.reuse is None
    image = VideoReader(SAMPLE, index_cache=None).frame(60)
    result = pipe.process(image, index=60)
    assert 1 <= len(result.instances) <= 6
    person = result.instances[0]
    confident = person.keypoints[person.scores > 0.3, :2]
    assert len(confident) >= 10
    x, y, w, h = person.bbox
    assert (confident[:, 0] >= x - 0.1 * w).all() and (confident[:, 0] <= x + 1.1 * w).all()
    assert person.keypoints[0, 1] < person.keypoints[[15, 16], 1].mean()  # upright: head above feet
    # the zoo detector reads its boxes from the same pass
    from distilpose.detection import MultiPoseDetector

    boxes, scores = MultiPoseDetector(loaded.predictor.graph).detect(image)
    np.testing.assert_allclose(boxes, [i.bbox for i in result.instances], rtol=1e-5)


def test_crops_go_to_the_runtime_in_small_batches_with_the_same_result() -> None:
    predictor, rt = _predictor()
    boxes = np.array([[10.0 * i, 20.0, 60.0, 120.0] for i in range(10)])
    image = np.zeros((360, 640, 3), np.uint8)
    whole = predictor.predict(image, boxes)
    predictor.max_batch = 4
    chunked = predictor.predict(image, boxes)
    assert rt.batches == [10, 4, 4, 2]
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
    predictor.flip = True  # the mirrored crops ride along in the same small batches
    assert len(predictor.predict(image, boxes[:3])) == 3 and rt.batches[-2:] == [4, 2]
    live, _ = _predictor()
    make_live_pipeline(live, "full-frame", tracking=False)
    assert live.max_batch == 4


def test_variant_whole_sends_every_crop_in_one_call() -> None:
    from distilpose.cli.pipeline_bench import parse_variant

    label, policy = parse_variant("whole")
    assert label == "whole" and policy["max_batch"] == 0
    assert parse_variant("app") == ("app", {})
    predictor, rt = _predictor()
    pipe = make_live_pipeline(predictor, "full-frame", tracking=False, **policy)
    assert predictor.max_batch is None
    pipe.predictor.predict(np.zeros((64, 64, 3), np.uint8), np.tile([0.0, 0.0, 10.0, 20.0], (9, 1)))
    assert rt.batches == [9]


def test_variant_tiles_n_sets_the_tiles_cadence_of_the_schedule() -> None:
    from distilpose.cli.pipeline_bench import parse_variant

    label, policy = parse_variant("tiles3")
    assert label == "tiles3" and policy["tiles_every"] == 3 and not policy["reuse_static"]
    assert parse_variant("reuse+tiles2")[1]["tiles_every"] == 2
    for bad in ("tiles0", "tilesx", "tiles"):
        with pytest.raises(DistilPoseError, match="unknown variant"):
            parse_variant(bad)
    predictor, _rt = _predictor()
    pipe = make_live_pipeline(predictor, "full-frame", background=False, **policy)
    assert isinstance(pipe.detector, TrackFromKeypoints) and pipe.detector.tiles_every == 3


def test_bench_cli_names_a_missing_labels_file(capsys, tmp_path: Path) -> None:
    from distilpose.cli import main

    missing = tmp_path / "nope.json"
    assert main(["bench", "--pipeline", str(SAMPLE), "--labels", str(missing)]) == 2
    assert "nope.json" in capsys.readouterr().err
