"""The dataset dock: COCO import (all or nothing, every problem listed), COCO export read back with
pycocotools, YOLO-pose export, the train/val split as one undo step, and statistics."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from distilpose.keypoints import coco_category

from .conftest import FIGURE_SIZE, PERSON_A, PERSON_B, wait_idle

MALFORMED_PROBLEMS = [
    "image id 1 (images[0]): missing required field 'width'",
    "annotation id 1 (annotations[0]): 'keypoints' has 50 values, expected 51 (17 keypoints x [x, y, v])",
    "annotation id 1 (annotations[1]): 'image_id' 99 is not the id of any image",
    "annotation id 1 (annotations[1]): 'num_keypoints' is 1 but 0 keypoints have v > 0",
    "annotation id 1 (annotations[1]): duplicate annotation id 1, already used by annotations[0]",
    "annotation id 3 (annotations[2]): 'keypoints'[2] (nose v) is 3, must be 0 (not labelled), 1 (occluded) or 2 "
    "(visible)",
]


def _ann(ann_id: int, image_id: int, keypoints: list) -> dict:
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "keypoints": keypoints, "num_keypoints": 1,
            "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": 0}  # fmt: skip


def test_malformed_coco_lists_every_problem_and_changes_nothing(project_window, tmp_path) -> None:
    win, state = project_window, project_window.state
    assert win.editor.add_template((40, 20, 100, 200))
    doc = {
        "images": [{"id": 1, "file_name": "a.png", "height": 10}, {"id": 2, "file_name": "b.png", "width": 10, "height": 10}],
        "annotations": [_ann(1, 1, [0] * 50), _ann(1, 99, [0] * 51), _ann(3, 2, [1, 2, 3] + [0] * 48)],
        "categories": [coco_category()],
    }  # fmt: skip
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    counts, frames, steps = state.project.counts(), list(state.frames), state.undo_stack.count()
    answers = [str(bad)]
    win.dialogs.open_file = lambda *_: answers.pop(0)
    win.dialogs.folder = lambda *_: str(tmp_path)
    win.dataset_panel.import_button.click()
    title, text = win.errors[-1]
    assert title == "Cannot import the COCO file: nothing was imported"
    assert text.startswith(f"{bad}: 6 problem(s)")
    for problem in MALFORMED_PROBLEMS:
        assert f"  - {problem}" in text
    assert state.project.counts() == counts and state.frames == frames and state.undo_stack.count() == steps
    assert win.dataset_panel.result_label.text() == "6 problem(s): nothing imported"


def test_import_then_export_reads_back_with_pycocotools(
    qtbot, project_window, figure_files, tmp_path
) -> None:
    from pycocotools.coco import COCO

    win, state = project_window, project_window.state
    subdir = figure_files.image.parent / "subdir"
    subdir.mkdir()
    (subdir / figure_files.image.name).write_bytes(figure_files.image.read_bytes())
    (figure_files.image.parent / "other.png").write_bytes(figure_files.image.read_bytes())
    assert win.project.import_coco_file(figure_files.ann, figure_files.image.parent)
    assert [r.name for r in state.frames] == ["figure.png", "figure.png", "other.png"]
    assert "2 image(s) added" in win.dataset_panel.result_label.text()
    imported = state.frames[1]
    assert (imported.frame_id, imported.instances, imported.verified) == (7, 2, 2)  # the file's ids kept
    # One unverified person on the first frame: left out of a verified-only export.
    assert win.editor.add_template((40, 20, 100, 200))
    assert state.project.counts()["instances"] == 4
    out = tmp_path / "export"
    with qtbot.waitSignal(win.project.exportFinished, timeout=30_000) as finished:
        assert win.project.start_export(out, only_verified=True)
    assert finished.args == [True]
    wait_idle(qtbot, state)
    assert "read back with pycocotools" in win.dataset_panel.result_label.text()
    assert "1 unverified instance(s) left out" in win.dataset_panel.result_label.text()
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(out / "annotations" / "person_keypoints.json"))
    assert sorted(coco.imgs) == [7, 8]  # the first frame's only person is unverified: no image
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[7]))
    assert [a["id"] for a in anns] == [1, 2]
    for ann, person in zip(anns, (PERSON_A, PERSON_B), strict=True):
        expected = person.copy()
        expected[expected[:, 2] == 0, :2] = 0  # v = 0 is written as 0, 0, 0
        np.testing.assert_allclose(np.reshape(ann["keypoints"], (17, 3)), expected)
        assert ann["num_keypoints"] == int((person[:, 2] > 0).sum())
    assert coco.loadImgs(7)[0]["width"] == FIGURE_SIZE[0]
    assert (out / "images" / "subdir" / "figure.png").is_file()
    assert coco.loadCats(1)[0]["skeleton"][0] == [16, 14]  # 1-based


def test_export_failure_is_shown(qtbot, project_window, tmp_path) -> None:
    win = project_window
    out = tmp_path / "export"
    (out / "annotations").mkdir(parents=True)
    (out / "annotations" / "person_keypoints.json").write_text("{}", encoding="utf-8")
    with qtbot.waitSignal(win.project.exportFinished, timeout=30_000) as finished:
        assert win.project.start_export(out, only_verified=False)
    assert finished.args == [False]
    assert win.errors[-1][0] == "Export failed" and "already exists" in win.errors[-1][1]


def test_yolo_export(qtbot, project_window, tmp_path) -> None:
    win = project_window
    assert win.dataset_panel.yolo_button.isVisibleTo(win.dataset_panel)
    assert win.editor.add_template((40, 20, 100, 200))
    out = tmp_path / "yolo"
    with qtbot.waitSignal(win.project.exportFinished, timeout=30_000) as finished:
        assert win.project.start_export(out, only_verified=False, fmt="yolo")
    assert finished.args == [True]
    labels = (out / "labels" / "train" / "figure.txt").read_text().split()
    assert len(labels) == 5 + 17 * 3 and labels[0] == "0"
    assert float(labels[5]) == pytest.approx(90 / FIGURE_SIZE[0], abs=1e-6)  # nose x = 40 + 0.5 * 100


def test_split_is_one_undo_step_and_stats_follow(qtbot, project_window, tmp_path) -> None:
    import cv2

    win, state = project_window, project_window.state
    for i in range(4):
        p = tmp_path / f"extra{i}.png"
        assert cv2.imwrite(str(p), np.zeros((20, 20, 3), np.uint8))
        assert win.editor.add_images([p])
    assert win.editor.add_template((2, 2, 10, 15))
    panel = win.dataset_panel
    panel.val_spin.setValue(0.4)
    panel.split_button.click()
    splits = [r.split for r in state.frames]
    assert sorted(splits) == ["train", "train", "train", "val", "val"]  # round(0.4 * 5) = 2 val frames
    assert state.undo_stack.text(state.undo_stack.count() - 1) == "Split 5 frames"
    text = panel.stats_text.toPlainText().splitlines()
    assert text[0] == "frames   5 (1 labelled, 0 suggested)"
    assert text[1] == "people   1 (1 user), 0 verified"
    person_split = state.frames[-1].split  # the frame holding the person
    counts = {k: (splits.count(k), int(k == person_split)) for k in ("train", "val", "test", "none")}
    assert text[2] == "split    " + " · ".join(f"{k} {f}/{p}" for k, (f, p) in counts.items())
    assert text[5].split() == ["nose", "0", "0", "1"]
    win.project.undo_action.trigger()
    assert [r.split for r in state.frames] == ["none"] * 5
    assert (
        panel.stats_text.toPlainText().splitlines()[2] == "split    train 0/0 · val 0/0 · test 0/0 · none 5/1"
    )


@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_each_export_button_runs_its_registered_format(qtbot, project_window, tmp_path, fmt) -> None:
    """The panel shows one button per format of the exporter registry; a click asks for a folder and runs
    that format's writer (the one the CLI uses), with the 'only verified' box."""
    from distilpose.project.formats import EXPORTERS

    win = project_window
    panel = win.dataset_panel
    assert list(panel.export_buttons) == list(EXPORTERS)
    assert win.editor.add_template((40, 20, 100, 200))
    out = tmp_path / fmt
    win.dialogs.new_folder = lambda *args: str(out)  # a new folder: the export creates it
    panel.only_verified_box.setChecked(False)
    with qtbot.waitSignal(win.project.exportFinished, timeout=30_000) as finished:
        panel.export_buttons[fmt].click()
    assert finished.args == [True]
    assert (out / EXPORTERS[fmt].done).is_file()
    assert panel.result_label.text().startswith("Exported")
