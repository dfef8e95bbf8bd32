"""`distilpose project` end to end: create, import-coco, split, stats, export-coco, export-yolo as a user runs
them (a real process for the main path), and bad input as one-line user errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from distilpose.cli import main
from distilpose.coco import load_coco
from distilpose.evaluation import evaluate_keypoints
from tests.unit.coco_factory import gt_as_results, make_coco_doc
from tests.unit.test_project_support import write_coco_images, write_json


def _cli(*args: str) -> subprocess.CompletedProcess:
    """A real `distilpose project ...` process (slow: the CLI imports torch), for the main path."""
    return subprocess.run(
        [sys.executable, "-m", "distilpose.cli", "project", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _run(capsys, *args: str) -> subprocess.CompletedProcess:
    """The same command in this process (fast)."""
    code = main(["project", *args])
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


def test_create_import_split_stats_export(tmp_path, capsys):
    doc = make_coco_doc(seed=4)
    src = write_json(tmp_path / "ann.json", doc)
    images = write_coco_images(doc, tmp_path / "images")
    project = tmp_path / "p.dpproj"
    n_person = sum(1 for a in doc["annotations"] if a["category_id"] == 1)

    r = _run(capsys, "create", str(project))
    assert r.returncode == 0 and r.stdout.strip() == f"created {project}"
    r = _cli("import-coco", str(project), str(src), "--images", str(images))
    assert r.returncode == 0, r.stderr
    assert f"4 image(s) added, 0 already in the project, {n_person} instance(s) added" in r.stdout
    assert "1 not of the person category (skipped)" in r.stdout
    r = _run(capsys, "split", str(project), "--val", "0.25", "--seed", "1")
    assert r.returncode == 0 and r.stdout.strip() == "frames per split: train 3, val 1, test 0, none 0"
    r = _run(capsys, "stats", str(project), "--json")
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)
    assert (stats["frames"], stats["instances"], stats["verified"]) == (4, n_person, n_person)
    assert stats["instances_by_source"]["import"] == n_person
    assert stats["split_frames"] == {"train": 3, "val": 1, "test": 0, "none": 0}
    r = _run(capsys, "stats", str(project))
    assert r.returncode == 0 and "keypoints by joint" in r.stdout

    out = tmp_path / "export"
    r = _cli("export-coco", str(project), str(out))
    assert r.returncode == 0, r.stderr
    assert f"4 image(s), {n_person} annotation(s)" in r.stdout
    exported = load_coco(out / "annotations" / "person_keypoints.json")
    assert evaluate_keypoints(src, gt_as_results(exported))["AP"] == 1.0
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(i["file_name"] for i in doc["images"])

    r = _run(
        capsys, "export-coco", str(project), str(tmp_path / "val_only"), "--split", "val", "--images", "none"
    )
    assert r.returncode == 0 and "1 image(s)" in r.stdout
    r = _run(capsys, "export-yolo", str(project), str(tmp_path / "yolo"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "yolo" / "data.yaml").exists()


def test_user_errors_are_one_line_and_name_the_file(tmp_path, capsys):
    not_a_project = tmp_path / "notes.txt"
    not_a_project.write_text("hello\n")
    assert main(["project", "stats", str(not_a_project)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"distilpose project: error: {not_a_project}: not a DistilPose project")

    project = tmp_path / "p.dpproj"
    assert main(["project", "create", str(project)]) == 0
    assert main(["project", "create", str(project)]) == 2
    assert "already exists" in capsys.readouterr().err

    bad = write_json(tmp_path / "bad.json", {"images": [{"id": 1}], "annotations": [], "categories": []})
    assert main(["project", "import-coco", str(project), str(bad), "--images", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: 3 problem(s)" in err and "missing required field 'file_name'" in err

    assert main(["project", "split", str(project), "--val", "1.5"]) == 2
    assert "must be fractions in [0, 1]" in capsys.readouterr().err

    Path(tmp_path / "out" / "annotations").mkdir(parents=True)
    (tmp_path / "out" / "annotations" / "person_keypoints.json").write_text("{}")
    assert main(["project", "export-coco", str(project), str(tmp_path / "out")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["project", "export-coco", str(project), str(tmp_path / "out"), "--force"]) == 0
