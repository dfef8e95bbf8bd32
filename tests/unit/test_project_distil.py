"""Distilling for a project's footage: the split by time, what a job learns from (verified people, teacher
pre-labels, corrected people weighted), the checks before anything starts, the report's verdict, and the
`project prelabel` flags."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from distilpose.cli import main
from distilpose.errors import DistilPoseError
from distilpose.project.splits import compute_splits
from distilpose.project.store import ProjectStore
from distilpose.training.project_job import (
    CORRECTED_WEIGHT,
    PRELABEL_MIN_SCORE,
    DistilSpec,
    check_project,
    export_split,
    project_data,
    teacher_problem,
)
from distilpose.training.project_report import verdict
from tests.unit.test_project_support import person
from tests.unit.test_project_tracks import write_avi


@pytest.fixture
def store(tmp_path):
    with ProjectStore.create(tmp_path / "p.dpproj") as s:
        yield s


def _video(store: ProjectStore, folder: Path, frames: int, name: str = "clip.avi") -> tuple[int, list[int]]:
    """A real 10 fps video media with every frame in the project and one verified person on each."""
    media = store.add_media(write_avi(folder / name, frames))
    ids = [store.add_frame(media, i) for i in range(frames)]
    for f in ids:
        store.add_instance(f, person(), verified=True)
    return media, ids


def footage_project(path: Path, folder: Path) -> None:
    """30 frames of a 10 fps video, each with a teacher pre-label; one person accepted and corrected; split
    by time (train 0-13, gap 14-23, val 24-29)."""
    with ProjectStore.create(path) as store:
        media = store.add_media(write_avi(folder / "clip.avi", 30, size=(160, 128)))
        frames = [store.add_frame(media, i) for i in range(30)]
        for f in frames:
            inst = person(40.0, 30.0, source="teacher")
            inst.scores = np.full(17, 0.9)
            store.add_instance(f, inst)
        corrected = store.add_instance(frames[0], person(80.0, 40.0, source="teacher"))
        store.accept_prediction(corrected)
        store.move_keypoint(corrected, 0, 83.0, 41.0)
    assert main(["project", "split", str(path), "--by", "time", "--val", "0.2"]) == 0


# --------------------------------------------------------------------------------------------- split by time


def test_split_by_time_holds_out_each_videos_end_after_a_one_second_gap(store, tmp_path):
    media, frames = _video(store, tmp_path, 50)  # 10 fps: a one-second gap is 10 frames
    split = compute_splits(store, val=0.2, by="time")
    values = [split[f] for f in frames]
    assert values[40:] == ["val"] * 10  # the last fifth
    assert values[30:40] == ["none"] * 10  # the gap: within one second before the cut, not trained on
    assert values[:30] == ["train"] * 30
    # The gap follows the frame rate (here 5 fps: five frames), before test as before val.
    split = compute_splits(store, val=0.2, test=0.1, by="time", fps_of=lambda _m: 5.0)
    values = [split[f] for f in frames]
    assert values[45:] == ["test"] * 5 and values[35:40] == ["val"] * 5
    assert values[40:45] == ["none"] * 5  # the gap before test, taken out of val
    assert values[30:35] == ["none"] * 5 and values[:30] == ["train"] * 30


def test_split_by_time_from_the_cli(tmp_path, capsys):
    project = tmp_path / "p.dpproj"
    with ProjectStore.create(project) as store:
        _video(store, tmp_path, 50)
    assert main(["project", "split", str(project), "--by", "time", "--val", "0.2"]) == 0
    assert "train 30, val 10, test 0, none 10" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------- job data


def _teacher_prediction(x0: float = 40.0, low: int = 0) -> object:
    """A teacher pre-label whose first ``low`` keypoints score below the pre-label threshold."""
    inst = person(x0, source="teacher")
    inst.scores = np.full(17, 0.9)
    inst.scores[:low] = PRELABEL_MIN_SCORE / 2
    return inst


def test_job_learns_from_verified_people_else_teacher_prelabels_and_weights_corrections(store, tmp_path):
    media = store.add_media(write_avi(tmp_path / "clip.avi", 6))
    f_verified, f_pre, f_student, f_val, f_weak = (store.add_frame(media, i) for i in range(5))
    for f in (f_verified, f_pre, f_student, f_weak):
        store.set_splits({f: "train"})
    store.set_splits({f_val: "val"})
    accepted = store.add_instance(f_verified, person(source="teacher"))
    store.accept_prediction(accepted)  # accepted as it was: weight 1
    moved = store.add_instance(f_verified, person(30.0, source="teacher"))
    store.accept_prediction(moved)
    store.move_keypoint(moved, 3, 35.0, 28.0)  # corrected by a person: weighs more
    store.add_instance(f_verified, _teacher_prediction())  # an unverified prediction beside verified people
    store.add_instance(f_pre, _teacher_prediction(low=4))  # a frame with nothing verified: a target
    store.add_instance(f_student, person(source="student"))  # a student's guess is never a target
    store.add_instance(f_weak, _teacher_prediction(low=12))  # 5 confident keypoints: too few
    store.add_instance(f_val, _teacher_prediction())

    data = project_data(store)
    assert (data.train.verified, data.train.corrected, data.train.prelabels) == (2, 1, 1)
    assert (data.val.verified, data.val.prelabels) == (0, 1)
    assert data.learns_from() == (
        f"The student learns from 2 verified people (1 corrected, weighted x{CORRECTED_WEIGHT:g}) and 1 "
        "teacher pre-labels on 2 frames of the train split."
    )
    report = export_split(store, tmp_path / "train", ["train"])
    doc = json.loads(report.annotation_file.read_text())
    by_id = {a["id"]: a for a in doc["annotations"]}
    assert sorted({a["image_id"] for a in doc["annotations"]}) == sorted([f_verified, f_pre])
    assert by_id[accepted]["weight"] == 1.0 and by_id[moved]["weight"] == CORRECTED_WEIGHT
    [pre] = [a for a in doc["annotations"] if a["image_id"] == f_pre]
    assert pre["weight"] == 1.0 and pre["keypoints"][2::3] == [0] * 4 + [2] * 13  # doubtful joints unlabelled

    # The training data reads the weight and scales the person's label terms with it.
    from distilpose.data import TopDownCocoDataset, eval_pipeline

    images = report.images_dir
    dataset = TopDownCocoDataset.from_coco(report.annotation_file, images, eval_pipeline(), train=False)
    weights = {int(dataset[i]["ann_id"]): dataset[i]["target_weights"] for i in range(len(dataset))}
    assert float(weights[moved].max()) == CORRECTED_WEIGHT and float(weights[accepted].max()) == 1.0


def test_a_bad_weight_in_a_coco_file_is_named(tmp_path):
    from distilpose.data.coco_topdown import load_gt_records
    from distilpose.errors import CocoFormatError

    ann = {"id": 7, "image_id": 1, "category_id": 1, "bbox": [0, 0, 20, 30], "keypoints": [5, 5, 2] * 17,
           "num_keypoints": 17, "area": 600, "iscrowd": 0, "weight": "heavy"}  # fmt: skip
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}], "annotations": [ann],
           "categories": [{"id": 1, "name": "person"}]}  # fmt: skip
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(CocoFormatError, match="annotation 7: 'weight' must be a finite number >= 0"):
        load_gt_records(path, tmp_path)


def test_bad_projects_are_refused_before_anything_starts_with_what_they_need(store, tmp_path):
    with pytest.raises(DistilPoseError, match="no frames: add your camera's video"):
        check_project(store)
    image = store.add_frame(store.add_media(tmp_path / "a.jpg", must_exist=False))
    store.add_instance(image, _teacher_prediction())
    with pytest.raises(DistilPoseError, match="only still images and none of their people is verified"):
        check_project(store)
    media, frames = _video(store, tmp_path, 20)
    with pytest.raises(DistilPoseError, match=r"no train split: .*project split PROJECT --by time"):
        check_project(store)
    store.set_splits(dict.fromkeys(frames[:5], "train"))
    for f in frames[:5]:
        for inst in store.instances(f):
            store.delete_instance(inst.extras["id"])
    with pytest.raises(DistilPoseError, match="nothing to learn from in the train split"):
        check_project(store)
    store.add_instance(frames[0], _teacher_prediction())
    data = check_project(store)
    assert data.train.prelabels == 1 and data.videos == 1
    warnings = " ".join(data.warnings())
    assert "Only 1 people to learn from (fewer than 50)" in warnings
    assert "One short video (2 s)" in warnings and "No labelled people in the val split" in warnings


def test_prelabels_made_by_another_model_than_the_teacher_are_named_before_the_job(store, tmp_path):
    media, frames = _video(store, tmp_path, 20)
    store.set_splits(dict.fromkeys(frames, "train"))
    for f in frames:
        for inst in store.instances(f):
            store.delete_instance(inst.extras["id"])
    for i, f in enumerate(frames[:6]):
        inst = _teacher_prediction()
        inst.extras["model"] = "movenet-thunder" if i < 4 else "movenet-lightning-256x192"  # as prelabel stores it
        store.add_instance(f, inst)
    data = check_project(store)
    assert data.prelabel_models == {"movenet-thunder": 4, "movenet-lightning-256x192": 2}
    warned = " ".join(data.warnings(teacher="movenet-thunder"))
    assert "2 of the 6 pre-labels to learn from were made by another model than the teacher movenet-thunder" in warned
    assert "(2 by movenet-lightning-256x192)" in warned and "--model movenet-thunder --flip" in warned
    assert "another model" not in " ".join(data.warnings())  # no teacher named: nothing to compare
    assert data.foreign_prelabels("movenet-lightning-256x192") == {"movenet-thunder": 4}


def test_same_model_reads_names_aliases_and_checkpoint_files_and_never_raises(tmp_path):
    from distilpose.training.project_job import same_model

    ckpt = tmp_path / "best.safetensors"
    ckpt.write_bytes(b"x")
    assert same_model("movenet-thunder", "movenet-thunder") and not same_model("movenet-thunder", "movenet-lightning")
    assert same_model(str(ckpt), "best.safetensors")  # a pre-label records the file's name only
    assert same_model(str(ckpt), str(tmp_path / "." / "best.safetensors"))
    assert not same_model(str(ckpt), "other.safetensors")
    from distilpose.models.registry import resolve_name

    for kind in ("image", "video"):  # the alias names the stills default and the video default
        assert same_model("default", resolve_name("default", kind))
    assert not same_model("~nosuchuser-xyz/model.pt", "movenet-thunder")  # expanduser raises: no match
    assert not same_model("a" * 300, "movenet-thunder")  # a name too long for the file system: no match


def test_an_untrained_or_unknown_teacher_is_refused(tmp_path):
    assert "is not trained" in teacher_problem("tokenpose-hrnet-w48")
    assert "neither a checkpoint file nor a registered model" in teacher_problem("resnet50")
    assert "no such checkpoint file" in teacher_problem(str(tmp_path / "gone.safetensors"))
    assert teacher_problem("") == "Choose a teacher."


def test_budget_defaults_are_ten_minutes_or_the_steps_given() -> None:
    spec = DistilSpec.for_budget()
    assert (spec.max_steps, spec.time_budget_s, spec.teacher) == (None, 600.0, "movenet-thunder")
    assert DistilSpec.for_budget(steps=30).max_steps == 30
    with pytest.raises(DistilPoseError, match="--minutes must be more than 0"):
        DistilSpec.for_budget(minutes=0)


def test_a_ten_minute_job_warms_up_and_checkpoints_within_its_budget_and_starts_from_the_shipped_student(
    tmp_path,
) -> None:
    from distilpose.models.bundled import bundled_weights
    from distilpose.training.project_job import build_config

    cfg = build_config(DistilSpec.for_budget(), tmp_path, with_val=True)
    assert cfg["run"]["time_budget_s"] == 600.0 and "max_steps" not in cfg["run"]
    # About 90 steps fit in ten minutes on 2 cores: a 100-step warm-up would never reach the learning rate.
    assert cfg["schedule"]["warmup_iters"] == 10 and cfg["run"]["checkpoint_every_steps"] == 20
    assert cfg["run"]["eval_every_epochs"] is None and cfg["run"]["eval_at_end"] is True
    start = {"name": "distilpose-mnv2-lt", "init_weights": str(bundled_weights("distilpose-mnv2-lt"))}
    # the default recipe (ADR 0028): a peak-choice head learns from the labels, the teacher is not run again
    assert cfg["model"] == {**start, "overrides": {"peak_head": "residual"}}
    assert cfg["optimizer"] == {
        "lr": 1.5e-5,
        "backbone_lr_mult": 0.0,
        "peak_head_lr_mult": 1e-2 / 1.5e-5,
        "freeze_token_head": True,
    }
    assert cfg["loss"] == {"reg_beta": 0.005, "peak_pick": 1.0, "sim_heatmap": 0.0, "score": 0.0}
    assert cfg["run"]["epochs"] == 20 and cfg["schedule"]["step_epochs"] == [15]  # longer runs over-fit

    paper = build_config(DistilSpec.for_budget(recipe="distilpose"), tmp_path, with_val=True)
    assert paper["model"] == start and paper["optimizer"] == {"lr": 1.5e-5, "backbone_lr_mult": 0.0}
    assert paper["loss"] == {"reg_beta": 0.005}  # the trainer fix of issue 26 (ADR 0014), teacher online
    assert paper["run"]["epochs"] == 1_000_000 and paper["schedule"]["step_epochs"] == []


def test_the_peak_recipe_leaves_a_student_without_a_peak_head_option_as_it_is(tmp_path) -> None:
    from distilpose.cli.project_distil import RECIPES
    from distilpose.training.project_job import JOB_RECIPES, build_config

    assert RECIPES == JOB_RECIPES  # the CLI offers the job's recipes, default first
    cfg = build_config(DistilSpec.for_budget(student="distilpose-s"), tmp_path, with_val=False)
    assert "overrides" not in cfg["model"] and cfg["loss"] == {"reg_beta": 0.005}


# --------------------------------------------------------------------------------------------- the verdict


def test_the_verdict_says_in_one_sentence_whether_to_use_the_new_student() -> None:
    fps = {"new student": 30.0, "teacher": 10.0}
    better = {"ap": {"new student": 0.8, "started from": 0.7, "movenet-lightning": 0.6}, "fps": fps}
    use, text = verdict(better)
    assert use and text.startswith("Use the new student: on the val split it scores 0.800 AP")
    assert "(3.0x the teacher's)" in text
    use, text = verdict({"ap": {"new student": 0.6, "started from": 0.7}, "fps": fps})
    assert not use and text.startswith("Keep the student it started from")
    use, text = verdict({"ap": {"new student": 0.75, "started from": 0.7, "movenet-lightning": 0.8}, "fps": {}})
    assert use and "MoveNet Lightning scores higher here (0.800)" in text
    use, text = verdict({"ap": {}, "note": "no validation split: c.json has no data.val_ann"})
    assert not use and "no validation split" in text


def test_the_verdict_says_when_the_val_split_cannot_tell_the_students_apart() -> None:
    def gain(value: float, low: float, high: float) -> dict:
        return {"gain": value, "low": low, "high": high, "level": 0.95, "sure": low > 0 or high < 0}

    def one_sentence(text: str) -> bool:
        return re.sub(r"\d\.\d", "", text).count(".") == 1 and text.endswith(".")

    ap = {"new student": 0.823, "started from": 0.813, "movenet-lightning": 0.851}
    report = {"ap": ap, "people": 50, "gain": {"started from": gain(0.010, -0.012, 0.031),
                                                "movenet-lightning": gain(-0.028, -0.07, 0.02)}}
    use, text = verdict(report)
    assert use and one_sentence(text)
    assert "(0.823 vs 0.813 AP on the val split; new student +0.010 AP, 95 % interval -0.012 to +0.031: 50 " \
           "people cannot tell them apart)" in text
    assert "(0.851; new student -0.028 AP, 95 % interval -0.070 to +0.020: 50 people cannot" in text
    report["gain"]["started from"] = gain(0.010, 0.004, 0.016)
    use, text = verdict(report)
    assert "+0.010 AP, 95 % interval +0.004 to +0.016)" in text and "cannot tell" not in text.split("Lightning")[0]
    # above both, the gain over the start not sure: still "use", with the doubt in the sentence
    report = {"ap": {**ap, "new student": 0.86}, "people": 1,
              "gain": {"started from": gain(0.047, -0.01, 0.09), "movenet-lightning": gain(0.009, -0.02, 0.04)}}
    use, text = verdict(report)
    assert use and one_sentence(text) and text.startswith("Use the new student: on the val split it scores 0.860")
    assert text.count("1 person cannot tell them apart") == 2
    # worse than the start
    report = {"ap": {**ap, "new student": 0.80}, "people": 50, "gain": {"started from": gain(-0.013, -0.03, 0.01)}}
    use, text = verdict(report)
    assert not use and text.startswith("Keep the student it started from") and "cannot tell them apart" in text
    # the start's row failed and Lightning is above: no crash, the start shown as unknown
    use, text = verdict({"ap": {"new student": 0.7, "started from": None, "movenet-lightning": 0.8}})
    assert use and "(0.700 vs — AP on the val split)" in text


# --------------------------------------------------------------------------------------------- prelabel flags


def test_prelabel_passes_flip_and_runtime_auto_by_default(tmp_path, monkeypatch):
    from distilpose.inference import loading

    calls = []

    def fake_load(name, runtime="torch", flip=False, **kw):
        calls.append((name, runtime, flip))
        raise DistilPoseError("stop here")

    monkeypatch.setattr(loading, "load_predictor", fake_load)
    project = tmp_path / "p.dpproj"
    with ProjectStore.create(project) as store:
        _video(store, tmp_path, 2)
    base = ["project", "prelabel", str(project), "--model", "movenet-thunder"]
    assert main(base) == 2 and main([*base, "--flip", "--runtime", "onnx-int8"]) == 2
    assert calls == [("movenet-thunder", "auto", False), ("movenet-thunder", "onnx-int8", True)]
