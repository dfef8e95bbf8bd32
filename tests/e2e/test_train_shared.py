"""A short distillation on real COCO images (../shared/data), validated with detected boxes and flip test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from distilpose.training.config import load_config
from distilpose.training.entry import train_main
from distilpose.training.events import read_events
from distilpose.training.synthetic import write_random_teacher
from tests.conftest import shared_path

pytestmark = pytest.mark.timeout(180)


def test_distillation_on_coco_mini_with_detected_val_boxes(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    train_ann = shared_path("coco-mini-train", "person_keypoints.json")
    val_dir = shared_path("mmpose-coco")
    # the bundled CPU demo config (it resolves to the shared data), with a stand-in teacher and 2 steps
    cfg = load_config("distilpose_t_coco_mini").model_dump(mode="json")
    assert Path(cfg["data"]["train_ann"]).resolve() == train_ann.resolve()
    cfg["teacher"]["weights"] = str(write_random_teacher(tmp_path / "teacher.safetensors"))
    cfg["data"]["val_boxes"] = str(val_dir / "test_coco_det_AP_H_56.json")
    cfg["run"].update(max_steps=2, batch_size=4, workers=0, checkpoint_every_steps=100, log_every_steps=1)
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(cfg))
    out = tmp_path / "run"
    assert train_main(cfg_path, out=out, device="cpu", show_progress=False) == 0

    events = read_events(out / "events.jsonl")
    assert events[0]["train_samples"] == 86  # persons with keypoints in coco-mini-train
    steps = [e for e in events if e["type"] == "step"]
    assert [e["step"] for e in steps] == [1, 2]
    assert all(set(e["losses"]) == {"reg", "vis_token", "kpt_token", "sim_heatmap", "score"} for e in steps)
    (final_eval,) = [e for e in events if e["type"] == "eval"]
    assert set(final_eval["metrics"]) == {"AP", "AP50", "AP75", "APm", "APl", "AR"}
    assert all(0.0 <= v <= 1.0 or v == -1.0 for v in final_eval["metrics"].values())
    results = json.loads((out / "eval" / "keypoints_val.json").read_text())
    image_ids = {r["image_id"] for r in results}
    assert image_ids <= {785, 40083, 196141, 197388} and len(results) >= len(image_ids)
