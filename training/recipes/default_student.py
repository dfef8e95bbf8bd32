"""Build the data for the default student (``resources/models/distilpose-mnv2``): real footage, teacher labels.

``python -m distilpose.training.recipes.default_student prepare --out DATA``:

1. downloads the ``sports2d`` and ``pose2sim`` wheels from PyPI with pip (BSD-3-Clause; their demo videos are
   real people) and extracts the demo videos;
2. pseudo-labels them with MoveNet Thunder (CenterNet boxes; every frame of sports2d, every 2nd of the 60 fps
   pose2sim clips) into ``DATA/train`` (``person_keypoints.json``, ``images/`` at most 960 px, ``sources.json``).

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
#: Video frame stride per file prefix: pose2sim is 60 fps (adjacent frames are near duplicates).
EVERY = {"sports2d": 1, "pose2sim": 2}


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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="default_student", description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=["prepare"])
    p.add_argument("--out", type=Path, required=True, help="data folder (outside the repository)")
    args = p.parse_args(argv)
    videos = fetch_videos(args.out)
    from distilpose.cli import main as cli

    groups: dict[int, list[str]] = {}
    for v in videos:
        groups.setdefault(EVERY[v.name.split("_")[0]], []).append(str(v))
    parts = []
    for every, inputs in sorted(groups.items()):
        part = args.out / f"part_every{every}"
        cli(
            [
                "pseudo-label",
                *inputs,
                "--out",
                str(part),
                "--every",
                str(every),
                "--detector",
                "centernet",
                "--max-side",
                "960",
            ]
        )
        parts.append(part)
    merge_parts(parts, args.out / "train")
    return 0


def merge_parts(parts: list[Path], out: Path) -> None:
    """One COCO set (ids renumbered, images copied) and one data list from several pseudo-label runs."""
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
    (out / "sources.json").write_text(json.dumps({"sources": sources}, indent=2))


if __name__ == "__main__":
    raise SystemExit(main())
