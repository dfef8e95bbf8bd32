"""The job machinery without a window: event tailing (new bytes only, partial lines held back), process
commands (frozen and not), pid matching, exit descriptions, config building and the progress curves."""

from __future__ import annotations

import json
import signal
import sys

import pytest

from distilpose.app.jobs.process import (
    RUN_TRAIN_FLAG,
    describe_exit,
    is_job_process,
    log_tail,
    signal_tree,
    spawn,
    train_command,
)
from distilpose.app.jobs.progress import JobProgress
from distilpose.app.jobs.spec import DistilSpec, build_config
from distilpose.app.jobs.tail import EventTail
from distilpose.errors import DistilPoseError
from distilpose.training.config import ConfigError
from distilpose.training.synthetic import write_random_teacher


def test_tail_reads_only_new_bytes_and_holds_back_a_partial_line(tmp_path) -> None:
    path = tmp_path / "events.jsonl"
    tail = EventTail(path)
    assert tail.poll() == []  # no file yet
    first = json.dumps({"type": "start", "step": 0}) + "\n" + json.dumps({"type": "step", "step": 1}) + "\n"
    half = json.dumps({"type": "step", "step": 2})
    path.write_text(first + half[:10])
    assert [e["step"] for e in tail.poll()] == [0, 1]
    assert tail.offset == path.stat().st_size
    assert tail.poll() == []
    with open(path, "a") as fh:  # the writer finishes the line, then a torn line that a restart ended
        fh.write(half[10:] + "\n" + '{"type": "st' + "\n" + json.dumps({"type": "done", "step": 2}) + "\n")
    assert [(e["type"], e["step"]) for e in tail.poll()] == [("step", 2), ("done", 2)]
    resumed = EventTail(path, offset=len(first))  # a tail can start anywhere on a line boundary
    assert [e["type"] for e in resumed.poll()] == ["step", "done"]


def test_describe_exit() -> None:
    assert describe_exit(0) == "exit code 0"
    assert describe_exit(2) == "exit code 2"
    assert describe_exit(-9) == "killed by SIGKILL (exit code -9)"
    assert describe_exit(143) == "exit code 143 (stopped by SIGTERM)"
    assert describe_exit(None).startswith("exit code unknown")


def test_train_command_plain_and_frozen(tmp_path, monkeypatch) -> None:
    cfg, out, ev = tmp_path / "c.json", tmp_path / "run", tmp_path / "run" / "events.jsonl"
    tail = [str(cfg), "--out", str(out), "--events", str(ev), "--no-progress"]
    assert train_command(cfg, out, ev) == [sys.executable, "-m", "distilpose.cli", "train", *tail]
    assert train_command(cfg, out, ev, resume=True)[-1] == "--resume"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert train_command(cfg, out, ev) == [sys.executable, RUN_TRAIN_FLAG, *tail]


def test_frozen_app_flag_runs_the_train_cli(tmp_path, capsys) -> None:
    from distilpose.app.main import main

    missing = tmp_path / "missing.json"
    assert main([RUN_TRAIN_FLAG, str(missing), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("distilpose train: error:") and f"{missing}: config file not found" in err


def test_pid_matching_and_signal_tree(tmp_path) -> None:
    config = tmp_path / "job config.json"
    log = tmp_path / "log.txt"
    popen = spawn(
        [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)", str(config)], log
    )
    try:
        assert is_job_process(popen.pid, config)
        assert not is_job_process(popen.pid, tmp_path / "other.json")  # a recycled pid runs something else
        assert not is_job_process(None, config)
    finally:
        assert signal_tree(popen.pid, signal.SIGKILL)
    assert popen.wait(10) == -signal.SIGKILL
    assert not is_job_process(popen.pid, config)
    assert not signal_tree(popen.pid, signal.SIGKILL)


def test_log_tail_keeps_the_last_lines(tmp_path) -> None:
    log = tmp_path / "log.txt"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert log_tail(log, 3) == "line 97\nline 98\nline 99"
    assert log_tail(tmp_path / "absent.txt") == ""


def test_build_config_validates_with_the_engine_schema(tmp_path) -> None:
    teacher = write_random_teacher(tmp_path / "t.safetensors")
    cfg = build_config(
        DistilSpec(str(teacher), max_steps=50, batch_size=4, workers=0), tmp_path, with_val=True
    )
    assert cfg["teacher"] == {"name": "tokenpose-stemnet", "weights": str(teacher.resolve())}
    assert cfg["data"]["val_ann"] == "data/val/annotations/person_keypoints.json"
    assert cfg["run"]["max_steps"] == 50 and cfg["run"]["log_every_steps"] == 1
    assert cfg["run"]["checkpoint_every_steps"] == 5  # a tenth of the steps
    zoo = build_config(DistilSpec("movenet-thunder", max_steps=None, time_budget_s=60.0), tmp_path, False)
    assert zoo["teacher"] == {"name": "movenet-thunder"} and zoo["run"]["time_budget_s"] == 60.0
    assert "val_ann" not in zoo["data"] and zoo["run"]["eval_at_end"] is False
    with pytest.raises(ConfigError, match=r"run\.bogus: unknown key"):
        build_config(DistilSpec("movenet-thunder", run={"bogus": 1}), tmp_path, False)
    with pytest.raises(DistilPoseError, match="'resnet50': neither a checkpoint file nor a registered model"):
        build_config(DistilSpec("resnet50"), tmp_path, False)
    with pytest.raises(DistilPoseError, match="set a step budget or a time budget"):
        build_config(DistilSpec("movenet-thunder", max_steps=None), tmp_path, False)


def test_progress_collects_curves_from_events() -> None:
    p = JobProgress()
    p.add({"type": "start", "step": 0, "total_steps": 10})
    for step, reg in ((1, 0.5), (2, 0.25)):
        p.add({"type": "step", "step": step, "losses": {"reg": reg, "score": None}, "loss": reg * 2,
               "lr": 1e-3, "images_per_s": 8.0, "eta_s": 12.0})  # fmt: skip
    p.add({"type": "eval", "step": 2, "metrics": {"AR": 0.5, "AP": 0.25}})
    assert p.losses == {"reg": [(1, 0.5), (2, 0.25)], "total": [(1, 1.0), (2, 0.5)]}
    assert p.val == [(2, 0.25)] and p.val_name == "AP"
    assert p.fraction == pytest.approx(0.2) and p.eta_s == 12.0
    assert p.summary() == {"step": 2, "total_steps": 10, "loss/reg": 0.25, "loss/total": 0.5, "val/AP": 0.25}
    p.add({"type": "error", "step": 2, "message": "boom"})
    assert p.error == "boom"


def test_progress_of_a_time_budgeted_run_is_its_time_not_the_engines_epoch_bound() -> None:
    p = JobProgress()
    run = {"max_steps": None, "time_budget_s": 600.0, "epochs": 1_000_000}
    p.add({"type": "start", "step": 0, "time": 1000.0, "total_steps": 60_000_000, "config": {"run": run}})
    assert p.total_steps is None  # unknown: not 60 million
    p.add({"type": "step", "step": 10, "time": 1150.0, "losses": {"reg": 0.5}})
    assert p.fraction == pytest.approx(0.25)
    p.add({"type": "done", "step": 34, "status": "completed"})
    assert (p.total_steps, p.fraction) == (34, 1.0)


def test_dialog_refuses_choices_that_cannot_start(qtbot, tmp_path) -> None:
    from distilpose.app.jobs.distil_dialog import DistilDialog

    teacher = write_random_teacher(tmp_path / "t.safetensors")
    dialog = DistilDialog(lambda *_: str(teacher))
    qtbot.addWidget(dialog)
    dialog.open()
    start = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    dialog.teacher_combo.setCurrentText("resnet50")
    start.click()
    assert dialog.isVisible()
    assert "'resnet50': neither a checkpoint file nor a registered model" in dialog.error_label.text()
    dialog.teacher_combo.setCurrentText("movenet-thunder")  # the test zoo cache is empty
    start.click()
    assert dialog.isVisible() and "distilpose models fetch movenet-thunder" in dialog.error_label.text()
    [browse] = [b for b in dialog.findChildren(type(start)) if b.text() == "Checkpoint…"]
    browse.click()
    assert dialog.teacher_combo.currentText() == str(teacher)
    dialog.steps_spin.setValue(0)
    start.click()
    assert dialog.isVisible() and dialog.error_label.text() == "Set a step budget or a time budget."
    dialog.minutes_spin.setValue(1.5)
    start.click()
    assert not dialog.isVisible()
    spec = dialog.spec()
    assert (spec.teacher, spec.max_steps, spec.time_budget_s, spec.device) == (
        str(teacher),
        None,
        90.0,
        "cpu",
    )


def test_dialog_names_prelabels_that_another_model_made(qtbot) -> None:
    from distilpose.app.jobs.distil_dialog import DistilDialog
    from distilpose.training.project_job import ProjectData, SplitPeople

    project = ProjectData(
        "p.dpproj",
        frames=80,
        videos=1,
        split_frames={"train": 60, "val": 20},
        train=SplitPeople(prelabels=60, frames=60),
        val=SplitPeople(prelabels=20, frames=20),
        video_seconds=[30.0],
        prelabel_models={"movenet-thunder": 50, "movenet-lightning-256x192": 10},
    )
    dialog = DistilDialog(lambda *_: None, project=project)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.teacher_combo.currentText() == "movenet-thunder"
    text = dialog.warning_label.text()
    assert "10 of the 60 pre-labels to learn from were made by another model" in text
    assert "(10 by movenet-lightning-256x192)" in text and dialog.warning_label.isVisible()
    dialog.teacher_combo.setCurrentText("movenet-lightning-256x192")  # the warning follows the teacher
    assert "50 of the 60 pre-labels" in dialog.warning_label.text()
