"""Helpers shared by the project store tests (this module holds no tests itself)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from distilpose.keypoints import NUM_KEYPOINTS
from distilpose.types import Instance


def dump_tables(path: Path, skip: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """Every row of every table (sqlite_sequence included), through a separate read connection."""
    conn = sqlite3.connect(str(path))
    try:
        names = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        return {
            n: sorted(conn.execute(f"SELECT * FROM {n}").fetchall(), key=repr) for n in names if n not in skip
        }
    finally:
        conn.close()


def write_jpeg(path: Path, width: int, height: int, seed: int = 0) -> Path:
    """A small real JPEG (so exports that decode pixels work), noise so files differ."""
    import cv2

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", pixels)
    assert ok
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.tobytes())
    return path


def write_coco_images(doc: dict, folder: Path) -> Path:
    for i, img in enumerate(doc["images"]):
        write_jpeg(folder / img["file_name"], img["width"], img["height"], seed=i)
    return folder


def write_json(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def person(x0: float = 10.0, y0: float = 20.0, source: str = "user", scores: bool = False, **kw) -> Instance:
    """A person whose keypoint k sits at (x0 + k, y0 + 2k), all visible."""
    kp = np.zeros((NUM_KEYPOINTS, 3))
    kp[:, 0] = x0 + np.arange(NUM_KEYPOINTS)
    kp[:, 1] = y0 + 2 * np.arange(NUM_KEYPOINTS)
    kp[:, 2] = 2
    extra = {}
    if scores:
        extra = {"scores": np.linspace(0.05, 0.95, NUM_KEYPOINTS), "sigmas": np.full((NUM_KEYPOINTS, 2), 3.0)}
    return Instance(keypoints=kp, source=source, **extra, **kw)


def imported_project(folder: Path, seed: int) -> Path:
    """``folder/p.dpproj`` holding a generated COCO file (``folder/src/ann.json``) and its real images
    (``folder/src/images``), imported."""
    from distilpose.project import ProjectStore
    from distilpose.project.coco_io import import_coco
    from tests.unit.coco_factory import make_coco_doc

    doc = make_coco_doc(seed=seed)
    src = folder / "src"
    src.mkdir(parents=True)
    write_json(src / "ann.json", doc)
    images = write_coco_images(doc, src / "images")
    with ProjectStore.create(folder / "p.dpproj") as store:
        import_coco(store, src / "ann.json", images)
    return folder / "p.dpproj"
