"""The DistilPose ablation, small but on real data: one student, one budget, four loss settings.

``python -m distilpose.training.recipes.ablation --epochs 4 --out runs/ablation`` (with ``STUDENT_DATA``
pointing at the data built by ``default_student prepare``) trains ``distilpose-mnv2`` from the same
initialisation and seed with

- ``none``: regression to the teacher's hard keypoints only (what any pseudo-labelled set gives);
- ``sim``: + simulated heatmaps and the score term (Thunder's heatmaps);
- ``tde``: + token distillation through the learned adapter (``teacher.token_adapter``), paper weights;
- ``both``: simulated heatmaps, score and TDE;

then evaluates each final student with ``distilpose eval`` on held-out real data (``../shared/data``:
coco-mini-train and mmpose-coco, never trained on; ground-truth boxes, flip test) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CONFIG = "distilpose_mnv2_movenet_thunder"
SIM_OFF = ["loss.sim_heatmap=0", "loss.score=0"]
TDE_OFF = ["teacher.token_adapter=false", "loss.vis_token=0", "loss.kpt_token=0"]
#: The config itself is "both" (the shipped recipe); the others switch terms off.
VARIANTS: dict[str, list[str]] = {"none": SIM_OFF + TDE_OFF, "sim": TDE_OFF, "tde": SIM_OFF, "both": []}


def heldout_sets(shared: Path) -> dict[str, tuple[Path, Path]]:
    """Real annotated COCO images the student never saw (their licences allow evaluation only)."""
    return {
        "coco-mini-train": (
            shared / "data" / "coco-mini-train" / "person_keypoints.json",
            shared / "data" / "coco-mini-train" / "images",
        ),
        "mmpose-coco": (
            shared / "data" / "mmpose-coco" / "test_coco.json",
            shared / "data" / "mmpose-coco" / "images",
        ),
    }


def train_command(name: str, out: Path, epochs: int) -> list[str]:
    sets = [
        f"run.epochs={epochs}",
        "run.time_budget_s=null",
        "run.eval_every_epochs=null",
        f"name=ablation_{name}",
    ]
    args = [a for kv in sets + VARIANTS[name] for a in ("--set", kv)]
    return [
        sys.executable,
        "-m",
        "distilpose.cli",
        "train",
        CONFIG,
        "--out",
        str(out / name),
        "--no-progress",
        *args,
    ]


def eval_ap(model: Path | str, ann: Path, images: Path, flip: bool = True) -> float:
    """``distilpose eval`` AP of a model on the annotated boxes (flip test unless ``flip=False``)."""
    return eval_ap_runtime(model, ann, images, flip)[0]


def eval_ap_runtime(
    model: Path | str, ann: Path, images: Path, flip: bool = True, results: Path | None = None
) -> tuple[float, str]:
    """:func:`eval_ap` and the runtime that produced it (``eval``'s ``auto``: what also runs live); the scored
    predictions are written to ``results`` when given (``eval --out``)."""
    cmd = [sys.executable, "-m", "distilpose.cli", "eval", "--model", str(model), "--ann", str(ann)]
    cmd += ["--images", str(images), "--boxes", "gt", "--json"] + (["--flip"] if flip else [])
    cmd += ["--out", str(results)] if results is not None else []
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    doc = json.loads(out.strip().splitlines()[-1])
    return float(doc["AP"]), str(doc["runtime"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ablation", description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--out", type=Path, default=Path("runs/ablation"))
    p.add_argument("--shared", type=Path, default=Path("../shared"))
    p.add_argument("--only", nargs="*", choices=list(VARIANTS), help="run only these variants")
    p.add_argument("--teacher", default="movenet-thunder", help="also evaluate this model for reference")
    args = p.parse_args(argv)
    sets = heldout_sets(args.shared)
    rows = []
    for name in args.only or list(VARIANTS):
        final = args.out / name / "final" / "model.safetensors"
        if not final.exists():
            subprocess.run(train_command(name, args.out, args.epochs), check=True)
        rows.append((name, [eval_ap(final, *s) for s in sets.values()]))
    rows.append((f"teacher ({args.teacher})", [eval_ap(args.teacher, *s) for s in sets.values()]))
    print("| variant | " + " | ".join(f"AP {k}" for k in sets) + " |")
    print("|---|" + "---|" * len(sets))
    for name, aps in rows:
        print(f"| {name} | " + " | ".join(f"{ap:.3f}" for ap in aps) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
