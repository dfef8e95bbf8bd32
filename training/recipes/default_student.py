"""Build the data for the default student (``resources/models/<DEFAULT_STUDENT>``): real footage, teacher labels.

``python -m distilpose.training.recipes.default_student prepare --out DATA``, then
``STUDENT_DATA=DATA distilpose train distilpose_mnv2_lt_movenet_thunder --out RUN``, then
``python -m distilpose.training.recipes.default_student finalize --run RUN --data DATA``:

1. downloads the ``sports2d`` and ``pose2sim`` wheels from PyPI with pip (BSD-3-Clause; their demo videos are
   real people) and extracts the demo videos;
2. pseudo-labels them with MoveNet Thunder with flip test (CenterNet boxes; every 2nd frame) into
   ``DATA/train`` (``person_keypoints.json``, ``images/`` at most 960 px, ``sources.json``), except the
   ``HELD_OUT`` videos, which go to ``DATA/heldout/<video>/`` for measuring and are only listed.

``finalize`` ships the run's student into ``resources/models/<DEFAULT_STUDENT>/`` (weights stored as float16,
the resolved config, the data list) and measures what decides whether it becomes the video default
(:mod:`distilpose.training.recipes.student_metrics`).

Nothing from ``../shared/data`` is trained on: its COCO images keep their Flickr licences (many
non-commercial) and are for evaluation only, so ``coco-mini-train`` and ``mmpose-coco`` are the held-out
sets, with their real annotations.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

WHEELS = {
    "sports2d==0.8.34": {"Sports2D/Demo/demo.mp4": "sports2d_demo.mp4"},
    "pose2sim==0.10.49": {
        f"Pose2Sim/Demo_{kind}/videos/cam0{c}.mp4": f"pose2sim_{kind.lower()}_cam0{c}.mp4"
        for kind in ("SinglePerson", "MultiPerson")
        for c in range(1, 5)
    },
}
#: Video frame stride per file prefix (adjacent frames are near duplicates).
EVERY = {"sports2d": 2, "pose2sim": 2}
#: Whole videos kept out of training: a scene it never saw (sports2d, also the app's sample video) and one
#: camera of each pose2sim clip. The student's video accuracy is measured on them (``video-eval``).
HELD_OUT = ("sports2d_demo.mp4", "pose2sim_singleperson_cam04.mp4", "pose2sim_multiperson_cam04.mp4")
LICENCE = "BSD-3-Clause (Copyright (c) 2022, perfanalytics)"
MAX_SIDE = 960


def fetch_videos(out: Path) -> list[Path]:
    wheels = out / "wheels"
    videos = out / "videos"
    wheels.mkdir(parents=True, exist_ok=True)
    videos.mkdir(parents=True, exist_ok=True)
    paths = []
    for requirement, members in WHEELS.items():
        name, version = requirement.split("==")
        found = sorted(wheels.glob(f"{name}-{version}-*.whl"))
        if not found:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(wheels), requirement],
                check=True,
            )
            found = sorted(wheels.glob(f"{name}-{version}-*.whl"))
        with zipfile.ZipFile(found[0]) as z:
            for member, target in members.items():
                dest = videos / target
                if not dest.exists():
                    with z.open(member) as src, open(dest, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                paths.append(dest)
    return paths


def finalize(run: Path, data: Path, shared: Path, dest: Path, prior_out: Path | None = None) -> dict:
    """Ship ``run``'s final student into ``dest`` with its config, data list and measured metrics.

    The metrics (:mod:`distilpose.training.recipes.student_metrics`) are measured on the shipped (float16)
    file: AP on the held-out videos and the still sets beside its untrained prior, Lightning and Thunder, live
    FPS from one ``bench --pipeline`` run, and the bars that decide whether it becomes the video default. The
    prior's own metrics from the same run go to ``prior_out`` when given (``resources/models/<prior>/metrics.json``
    decides the video default while no student beats the prior, ADR 0030: write it from a quiet machine).
    """
    from distilpose.models.checkpoint import load_model, read_metadata, save_weights
    from distilpose.training.recipes.student_metrics import as_candidate, markdown, measure

    final = run / "final" / "model.safetensors"
    student, _ = load_model(final)
    dest.mkdir(parents=True, exist_ok=True)
    meta = read_metadata(final) | {"dtype": "float16"}
    save_weights(student.half(), dest / "model.safetensors", metadata=meta)  # float16 storage: half the size
    (dest / "config.json").write_text((run / "config.json").read_text())
    (dest / "data-list.json").write_text((data / "train" / "sources.json").read_text())
    metrics = measure(str(dest / "model.safetensors"), data, shared)
    metrics["machine"] = (
        "2 vCPU shared with four other jobs, CPU; runtime per model in pipeline.runtime (bench's auto: the "
        "fastest parity-checked one); FPS ratios are from one bench run"
    )
    (dest / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(markdown(metrics))
    if prior_out is not None and "prior" in metrics["models"]:
        prior_out.parent.mkdir(parents=True, exist_ok=True)
        prior_out.write_text(json.dumps(as_candidate(metrics, "prior"), indent=2) + "\n")
    return metrics


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="default_student", description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=["prepare", "finalize"])
    p.add_argument("--out", type=Path, help="prepare: data folder (outside the repository)")
    p.add_argument("--no-flip", action="store_true", help="prepare: teacher labels without the flip test")
    p.add_argument("--run", type=Path, help="finalize: the training run folder")
    p.add_argument("--data", type=Path, help="finalize: the data folder made by prepare")
    p.add_argument("--shared", type=Path, default=Path("../shared"), help="finalize: the held-out data")
    p.add_argument(
        "--dest", type=Path, default=None, help="finalize: default resources/models/<the default student>"
    )
    p.add_argument("--prior-out", type=Path, help="finalize: also write the prior's metrics (same run) here")
    args = p.parse_args(argv)
    if args.action == "finalize":
        from distilpose.models.bundled import DEFAULT_STUDENT, bundled_dir

        if args.run is None or args.data is None:
            p.error("finalize needs --run and --data")
        finalize(args.run, args.data, args.shared, args.dest or bundled_dir(DEFAULT_STUDENT), args.prior_out)
        return 0
    if args.out is None:
        p.error("prepare needs --out")
    prepare(args.out, flip=not args.no_flip)
    return 0


def _label(inputs: list[Path], part: Path, every: int, flip: bool) -> Path:
    from distilpose.cli import main as cli

    args = ["pseudo-label", *map(str, inputs), "--out", str(part), "--every", str(every)]
    args += ["--detector", "centernet", "--max-side", str(MAX_SIDE)] + (["--flip"] if flip else [])
    if cli(args) != 0:
        raise SystemExit(f"pseudo-labelling {', '.join(map(str, inputs))} failed")
    return part


def prepare(out: Path, held_out: tuple[str, ...] = HELD_OUT, flip: bool = True) -> None:
    """Label the training videos into ``out/train`` and each held-out video into ``out/heldout/<stem>``.

    The held-out videos are labelled the same way (Thunder, flip test) but never merged into the training
    set; the data list names them under ``held_out`` with their sha256, so it proves what was not trained on.
    """
    videos = fetch_videos(out)
    groups: dict[int, list[Path]] = {}
    for v in videos:
        if v.name not in held_out:
            groups.setdefault(EVERY[v.name.split("_")[0]], []).append(v)
    parts = [_label(inputs, out / f"part_every{every}", every, flip) for every, inputs in sorted(groups.items())]
    held = [
        _label([v], out / "heldout" / v.stem, EVERY[v.name.split("_")[0]], flip)
        for v in videos
        if v.name in held_out
    ]
    merge_parts(parts, out / "train", held_out=held)


def _with_origin(sources: list[dict]) -> list[dict]:
    """Each video's wheel, member and licence, so the data list alone says how to get it again."""
    origin = {target: (req, member) for req, members in WHEELS.items() for member, target in members.items()}
    for src in sources:
        name = Path(src["source"]).name
        src["source"] = f"videos/{name}"
        if name in origin:
            src["from_pypi_wheel"], src["wheel_member"] = origin[name]
            src["licence"] = LICENCE
    return sources


def merge_parts(parts: list[Path], out: Path, held_out: list[Path] = ()) -> None:
    """One COCO set (ids renumbered, images copied) and one data list from several pseudo-label runs.

    ``held_out``: pseudo-label runs of videos kept out of training; listed (not merged) in the data list."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    images, annotations, sources = [], [], []
    for part in parts:
        doc = json.loads((part / "person_keypoints.json").read_text())
        remap = {}
        for im in doc["images"]:
            remap[im["id"]] = len(images) + 1
            images.append({**im, "id": remap[im["id"]]})
            shutil.copy2(part / "images" / im["file_name"], out / "images" / im["file_name"])
        for a in doc["annotations"]:
            annotations.append({**a, "id": len(annotations) + 1, "image_id": remap[a["image_id"]]})
        sources.extend(json.loads((part / "sources.json").read_text())["sources"])
    merged = {"images": images, "annotations": annotations, "categories": doc["categories"]}
    (out / "person_keypoints.json").write_text(json.dumps(merged))
    meta = json.loads((parts[0] / "sources.json").read_text())
    held = [s for part in held_out for s in json.loads((part / "sources.json").read_text())["sources"]]
    data_list = {
        "teacher": meta.get("teacher"),
        "sources": _with_origin(sources),
        "held_out": _with_origin(held),
        "images": len(images),
        "instances": len(annotations),
        "max_side": MAX_SIDE,
    }
    (out / "sources.json").write_text(json.dumps(data_list, indent=2))


if __name__ == "__main__":
    raise SystemExit(main())
