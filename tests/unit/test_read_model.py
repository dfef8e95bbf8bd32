"""The store's read model (``store.read``, docs/adr/0025): its answers on a small hand-made project, and the
rule that only ``distilpose/project/`` writes SQL or touches the store's connection."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from distilpose.keypoints import NUM_KEYPOINTS
from distilpose.project import ProjectStore
from distilpose.types import Instance
from tests.conftest import REPO_ROOT

# --------------------------------------------------------------------------------------------- the rule

_SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|PRAGMA\s+\w+)\b", re.S)
_CONNECTION = {"conn", "_conn", "execute", "executemany", "executescript"}


def _offences(source: str) -> list[str]:
    """What in this source writes SQL or uses a database connection: SQL text in a string, a connection
    attribute (``.conn``, ``.execute``...) or an import of sqlite3."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.search(node.value):
            found.append(f"line {node.lineno}: SQL {node.value.strip()[:40]!r}")
        elif isinstance(node, ast.Attribute) and node.attr in _CONNECTION:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            if any(n.split(".")[0] == "sqlite3" for n in names):
                found.append(f"line {node.lineno}: imports sqlite3")
    return found


def _outside_the_store() -> list[Path]:
    files = [*(REPO_ROOT / "app").rglob("*.py"), *(REPO_ROOT / "training").rglob("*.py")]
    store = REPO_ROOT / "distilpose" / "project"
    files += [p for p in (REPO_ROOT / "distilpose").rglob("*.py") if store not in p.parents]
    return sorted(files)


def test_the_scan_finds_what_the_app_used_to_write() -> None:
    old = (
        "rows = store.conn.execute(\n"
        '    "SELECT f.split, COUNT(i.id) FROM instances i JOIN frames f ON f.id = i.frame_id "\n'
        '    "WHERE i.verified = 1 GROUP BY f.split"\n'
        ").fetchall()\n"
    )
    found = _offences(old)
    assert len(found) == 3 and {f.split(": ")[1][:4] for f in found} == {"SQL ", ".exe", ".con"}
    assert _offences('x = f"UPDATE frames SET split = {s}"\n') and _offences("import sqlite3\n")
    assert _offences("SELECTED_RING_PX = 10.0\nlabel = 'Select a frame from the list'\n") == []


@pytest.mark.parametrize("path", _outside_the_store(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_only_the_store_writes_sql(path: Path) -> None:
    offences = _offences(path.read_text(encoding="utf-8"))
    assert not offences, (
        f"{path.relative_to(REPO_ROOT)} queries the project database itself ({'; '.join(offences)}): ask the "
        "store instead (its read model, distilpose/project/read_model.py)"
    )


# --------------------------------------------------------------------------------------------- the answers


def _person(x: float, score: float | None = None, source: str = "user", track: int | None = None, **extras) -> Instance:
    kps = np.zeros((NUM_KEYPOINTS, 3))
    kps[:, 0], kps[:, 1], kps[:, 2] = x + np.arange(NUM_KEYPOINTS), 50.0, 2
    scores = None if score is None else np.full(NUM_KEYPOINTS, score)
    return Instance(kps, (x, 40.0, 30.0, 60.0), scores, source=source, track_id=track, extras=dict(extras))


@pytest.fixture
def project(tmp_path: Path):
    """Two media: an image (frame 0) and a video (frames 3 and 7), five people."""
    store = ProjectStore.create(tmp_path / "p.dpproj")
    image = store.add_media(tmp_path / "a.jpg", "image", must_exist=False)
    video = store.add_media(tmp_path / "b.mp4", "video", must_exist=False)
    still = store.add_frame(image, 0, split="train")
    early = store.add_frame(video, 3, split="val")
    late = store.add_frame(video, 7)
    ids = {
        "user": store.add_instance(still, _person(10), verified=True),
        "student": store.add_instance(still, _person(20, 0.4, "student", disagreement=[0.5] * NUM_KEYPOINTS)),
        "teacher": store.add_instance(early, _person(30, 0.8, "teacher")),
        "tracked": store.add_instance(early, _person(40, track=2)),
        "late": store.add_instance(late, _person(50), verified=True),
    }
    yield store, {"image": image, "video": video, "still": still, "early": early, "late": late}, ids
    store.close()


def test_frame_summaries_count_each_frames_people(project) -> None:
    store, f, _ = project
    got = [(s.frame_id, s.index, s.split, s.kind, s.media_path, s.instances, s.verified, s.predictions)
           for s in store.read.frame_summaries()]  # fmt: skip
    assert got == [
        (f["still"], 0, "train", "image", "a.jpg", 2, 1, 1),
        (f["early"], 3, "val", "video", "b.mp4", 2, 0, 1),
        (f["late"], 7, "none", "video", "b.mp4", 1, 1, 0),
    ]


def test_frame_before_walks_back_through_media(project) -> None:
    store, f, _ = project
    assert store.read.frame_before(f["video"], 7) == f["early"]
    assert store.read.frame_before(f["video"], 3) == f["still"]  # the last frame of the media before
    assert store.read.frame_before(f["image"], 0) is None


def test_people_positions_tracks_and_review_answers(project) -> None:
    store, f, ids = project
    assert store.read.person_positions([f["early"], f["still"]]) == {
        ids["user"]: 0, ids["student"]: 1, ids["teacher"]: 0, ids["tracked"]: 1,
    }  # fmt: skip
    assert store.read.person_positions([]) == {}
    (d,) = store.read.disagreements()
    assert (d.instance_id, d.frame_id) == (ids["student"], f["still"]) and d.values.tolist() == [0.5] * 17
    assert store.read.mean_unverified_score() == pytest.approx({f["still"]: 0.4, f["early"]: 0.8})
    assert store.read.verified_per_split() == {"train": 1, "none": 1}
    assert store.read.last_tracked_frame_before(f["video"], 7) == (f["early"], 3)
    assert store.read.last_tracked_frame_before(f["video"], 3) is None


def test_instances_edited_by_reads_the_audit_log(project) -> None:
    store, _, ids = project
    store.move_keypoint(ids["late"], 0, 1.0, 2.0)
    store.set_verified(ids["teacher"])
    assert store.read.instances_edited_by(("move_keypoint", "move_instance")) == {ids["late"]}
    assert store.read.instances_edited_by(()) == set()
