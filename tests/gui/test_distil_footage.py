"""`distilpose project distil` and the app's Distil a Student run one code path: on the same video project
with the same choices they write the same config and the same training data (teacher pre-labels where
nothing is verified, corrected people weighted). The CLI's job ends with report.json (the new student, the
student it started from, Lightning and the teacher on the val split, live FPS from one bench --pipeline
run) and prints its JSON on the last line; its weights load wherever a model is accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distilpose.cli import main
from distilpose.project import ProjectStore
from distilpose.training.synthetic import write_random_teacher
from tests.unit.test_project_distil import footage_project

from .jobs_support import open_window, reap_jobs  # noqa: F401 - the fixture

CHOICES = {"student": "distilpose-t", "steps": 2, "batch": 2, "workers": 0}


@pytest.mark.slow
@pytest.mark.timeout(900)  # a training job, four models scored and one bench run: minutes on a loaded CPU
@pytest.mark.usefixtures("reap_jobs")
def test_cli_and_dialog_build_the_same_job_and_the_cli_reports(qtbot, tmp_path, fake_loader, capsys) -> None:
    project = tmp_path / "footage.dpproj"
    footage_project(project, tmp_path)
    teacher = write_random_teacher(tmp_path / "teacher.safetensors")
    capsys.readouterr()
    code = main(["project", "distil", str(project), "--teacher", str(teacher), "--student", CHOICES["student"],
                 "--steps", "2", "--batch", "2", "--workers", "0", "--report-frames", "2", "--json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert "learns from 1 verified people (1 corrected, weighted x2) and 13 teacher pre-labels" in err
    assert "warning: One short video (3 s)" in err
    report = json.loads(Path(result["report"]).read_text())
    assert set(result["ap"]) == {"new student", "started from", "movenet-lightning", "teacher"}
    assert result["ap"]["new student"] is not None and 0.0 <= result["ap"]["new student"] <= 1.0
    assert report["people"] == 6 and report["verdict"] == result["verdict"]
    # the new student's gain over its start, with the bootstrap interval the verdict reads
    over_start = result["gain"]["started from"]
    assert over_start == report["gain"]["started from"]
    assert over_start["gain"] == pytest.approx(result["ap"]["new student"] - result["ap"]["started from"], abs=1e-9)
    assert over_start["low"] <= over_start["high"] and isinstance(over_start["sure"], bool)
    assert result["fps"]["new student"] > 0 and result["fps"]["teacher"] > 0  # one bench --pipeline run
    assert report["pipeline"]["video"].endswith("clip.avi") and report["pipeline"]["frames"] == 2
    from distilpose.models.checkpoint import load_model

    load_model(result["weights"])  # what --model accepts everywhere
    with ProjectStore.open(project) as store:
        row = store.job_records.get(result["job"])
        assert row.status == "done" and row.metrics["report"] == result["report"]
    cli_dir = project.parent / "jobs" / str(result["job"])
    cli_config = json.loads((cli_dir / "config.json").read_text())

    # The dialog, with the same choices, on the same project: the same config and data.
    win = open_window(qtbot, fake_loader, project)
    training = win.training
    assert training.monitor.selected_id() == result["job"]
    assert result["verdict"] in training.monitor.comparison_label.text()  # the CLI's report, in the monitor
    dialog = training.ask_distil()
    assert "1 verified people (1 corrected" in dialog.learns_label.text()
    assert "One short video" in dialog.warning_label.text()
    dialog.teacher_combo.setCurrentText(str(teacher))
    dialog.student_combo.setCurrentIndex(dialog.student_combo.findData(CHOICES["student"]))
    dialog.steps_spin.setValue(CHOICES["steps"])
    dialog.batch_spin.setValue(CHOICES["batch"])
    dialog.workers_spin.setValue(CHOICES["workers"])
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    job_id = max(training.manager.jobs)
    job = training.manager.jobs[job_id]
    qtbot.waitUntil(lambda: job.status in ("running", "failed"), timeout=60_000)
    assert job.status == "running", job.metrics
    training.manager.cancel(job_id)
    gui_config = json.loads(job.config_path.read_text())
    assert gui_config == cli_config
    for part in ("train_ann", "val_ann"):
        gui = json.loads((job.config_path.parent / gui_config["data"][part]).read_text())
        cli = json.loads((cli_dir / cli_config["data"][part]).read_text())
        assert gui["annotations"] == cli["annotations"]
    train = json.loads((cli_dir / cli_config["data"]["train_ann"]).read_text())["annotations"]
    assert sorted(a["weight"] for a in train) == [1.0] * 13 + [2.0]
    qtbot.waitUntil(lambda: job.status == "cancelled", timeout=60_000)


@pytest.mark.slow
def test_the_dialog_proposes_a_split_by_time_for_a_video_project(qtbot, tmp_path, fake_loader) -> None:
    project = tmp_path / "unsplit.dpproj"
    footage_project(project, tmp_path)
    with ProjectStore.open(project) as store:
        store.set_splits({f.id: "none" for f in store.frames()})  # as added: no split yet
    win = open_window(qtbot, fake_loader, project)
    dialog = win.training.ask_distil()
    assert "the project has no train split" in dialog.problem()
    assert "This project is video: split it by time" in dialog.warning_label.text()
    assert dialog.split_button.isVisibleTo(dialog)
    dialog.split_button.click()  # one undoable edit, then the dialog counts again
    store = win.state.project
    assert [f.split for f in store.frames()] == ["train"] * 14 + ["none"] * 10 + ["val"] * 6
    assert dialog._project.problem() is None
    assert "learns from 1 verified people (1 corrected, weighted x2) and 13 teacher pre-labels" in (
        dialog.learns_label.text()
    )
    assert "split it by time" not in dialog.warning_label.text() and not dialog.split_button.isVisibleTo(dialog)
    assert dialog.validate_box.isEnabled() and dialog.validate_box.isChecked()
    win.state.undo_stack.undo()
    assert {f.split for f in store.frames()} == {"none"}
    dialog.reject()
