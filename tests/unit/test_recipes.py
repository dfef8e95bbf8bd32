"""The default-student recipe's pure parts: merging pseudo-label runs into one set and one data list."""

from __future__ import annotations

import json
from pathlib import Path

from distilpose.training.recipes.ablation import VARIANTS, train_command
from distilpose.training.recipes.default_student import merge_parts


def _part(folder: Path, video: str, image: str) -> Path:
    (folder / "images").mkdir(parents=True)
    (folder / "images" / image).write_bytes(b"jpeg")
    doc = {
        "images": [{"id": 7, "file_name": image, "width": 4, "height": 4}],
        "annotations": [{"id": 3, "image_id": 7}, {"id": 4, "image_id": 7}],
        "categories": [{"id": 1, "name": "person"}],
    }
    (folder / "person_keypoints.json").write_text(json.dumps(doc))
    (folder / "sources.json").write_text(json.dumps({"sources": [{"source": f"/somewhere/videos/{video}"}]}))
    return folder


def test_parts_merge_with_fresh_ids_and_the_wheel_each_video_came_from(tmp_path: Path) -> None:
    a = _part(tmp_path / "a", "sports2d_demo.mp4", "s_000000.jpg")
    b = _part(tmp_path / "b", "pose2sim_multiperson_cam01.mp4", "p_000000.jpg")
    merge_parts([a, b], tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "person_keypoints.json").read_text())
    assert [im["id"] for im in doc["images"]] == [1, 2]
    assert [(x["id"], x["image_id"]) for x in doc["annotations"]] == [(1, 1), (2, 1), (3, 2), (4, 2)]
    assert (tmp_path / "out" / "images" / "p_000000.jpg").is_file()
    data = json.loads((tmp_path / "out" / "sources.json").read_text())
    assert (data["images"], data["instances"]) == (2, 4)
    second = data["sources"][1]
    assert second["source"] == "videos/pose2sim_multiperson_cam01.mp4"
    assert (second["from_pypi_wheel"], second["wheel_member"]) == (
        "pose2sim==0.10.49",
        "Pose2Sim/Demo_MultiPerson/videos/cam01.mp4",
    )


def test_ablation_variants_switch_terms_off_from_the_shipped_config() -> None:
    assert VARIANTS["both"] == []
    cmd = train_command("none", Path("runs"), 4)
    sets = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--set"]
    assert {"loss.sim_heatmap=0", "loss.score=0", "teacher.token_adapter=false", "run.epochs=4"} <= set(sets)
