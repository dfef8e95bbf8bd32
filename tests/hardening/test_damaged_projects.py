"""Damaged, half-made and full-disk projects (issue 15, defects 5, 7 and 8): no traceback anywhere, and words
that say what happened.

- Every store query translates SQLite errors: a page damaged after the file was opened, text in a number
  column, JSON that does not parse; ``distilpose project check`` lists what is damaged; open runs SQLite's
  quick check and refuses a damaged file untouched.
- A ``project create`` killed at any point leaves nothing at the path, or a whole project; a half-made file
  from before is replaced by the next ``create``.
- Opening a project on a full disk says the disk is full.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from distilpose.cli import main
from distilpose.project import ProjectError, ProjectStore, connection
from distilpose.project.coco_io import export_coco
from distilpose.project.schema import APPLICATION_ID
from distilpose.project.stats import project_stats
from tests.conftest import REPO_ROOT
from tests.hardening.support import coco_project, digest, fill_disk, listing, small_disk

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def project(tmp_path) -> Path:
    return coco_project(tmp_path)


def _damage(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()


READERS = {
    "instances": lambda s: s.instances_by_frame(),
    "frames": lambda s: s.frames(),
    "media": lambda s: s.media_list(),
    "stats": project_stats,
    "export": lambda s: export_coco(s, s.path.parent / "out", images="none"),
    "history": lambda s: s.history(),
    "jobs": lambda s: s.job_records.all(),
}
DAMAGE = {
    "bad-json-extra": ("UPDATE instances SET extra = '{\"coco\": ' WHERE id = (SELECT MIN(id) FROM instances)",
                       ("instances", "export"), "instances.extra"),
    "json-list-extra": ("UPDATE frames SET extra = '[1, 2]'", ("frames", "export"), "frames.extra"),
    "text-in-bbox": ("UPDATE instances SET bbox_w = 'wide'", ("instances", "export"), "instances.bbox_w"),
    "text-in-keypoint": ("UPDATE keypoints SET x = 'left' WHERE k = 4", ("instances", "export"), "keypoints.x"),
    "text-in-width": ("UPDATE media SET width = 'big'", ("media", "export"), "media.width"),
    "keypoint-index": ("UPDATE keypoints SET k = 40 WHERE k = 16", ("instances", "stats", "export"), "keypoints.k"),
    "bad-history": ("UPDATE history SET payload = 'not json'", ("history",), "history.payload"),
    "bad-job": ("INSERT INTO jobs (kind, status, config) VALUES ('train', 'done', '{')", ("jobs",), "jobs.config"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_values_give_a_project_error_and_check_names_them(project, case, capsys):
    """Found by the attack: JSONDecodeError from a bad `extra`, ValueError from text in a number column."""
    sql, readers, column = DAMAGE[case]
    _damage(project, sql)
    with ProjectStore.open(project) as store:
        for name in readers:
            with pytest.raises(ProjectError) as info:
                READERS[name](store)
            assert str(info.value).startswith(f"{project}: ") and "damaged" in str(info.value), name
    assert main(["project", "check", str(project)]) == 1
    out = capsys.readouterr().out
    assert f"{project}: " in out and column in out


def test_check_of_a_sound_project(project, capsys):
    assert main(["project", "check", str(project)]) == 0
    assert capsys.readouterr().out.strip() == f"{project}: no damage found"


def _flip_a_table_page(path: Path, table: str = "instances") -> None:
    """Overwrite the b-tree header of ``table``'s root page with junk (what a bad sector or a bad copy does)."""
    conn = sqlite3.connect(path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(path, "r+b") as handle:
        handle.seek((root - 1) * page)
        handle.write(b"\xa5" * 12)


def test_a_damaged_page_is_refused_at_a_checked_open_untouched(project):
    with ProjectStore.open(project):
        pass  # fold the WAL back, so the page we damage is the live one
    _flip_a_table_page(project)
    before, files = digest(project), listing(project.parent)
    with pytest.raises(ProjectError) as info:
        ProjectStore.open(project, check=True)
    assert str(info.value).startswith(f"{project}: ") and "damaged" in str(info.value)
    assert "project check" in str(info.value)
    assert digest(project) == before and listing(project.parent) == files


def test_the_check_on_open_is_time_boxed(project):
    """Out of time (here: at once), the quick check stops and the open goes on; damage met later is still a
    ProjectError from the query that meets it."""
    conn = sqlite3.connect(project, isolation_level=None)
    try:
        connection.quick_check(conn, project, budget_s=0.0)  # interrupted, not an error
        assert conn.execute("SELECT COUNT(*) FROM keypoints").fetchone()[0] > 0  # the handler is gone
    finally:
        conn.close()


def test_the_app_refuses_a_damaged_project_on_open(qtbot, project):
    """The app's open runs the cheap check: an error dialog naming the file, no project opened."""
    from distilpose.app.main_window import MainWindow
    from distilpose.app.state import AppState

    with ProjectStore.open(project):
        pass
    _flip_a_table_page(project, "keypoints")
    errors: list[tuple[str, str]] = []
    window = MainWindow(AppState(), error_sink=lambda _parent, title, text: errors.append((title, text)))
    qtbot.addWidget(window)
    assert not window.project.open_project(project)
    title, text = errors[-1]
    assert title == "Cannot open the project" and text.startswith(f"{project}: ") and "damaged" in text
    assert window.state.project is None


def test_a_page_damaged_while_open_gives_a_project_error_from_every_query(project, capsys):
    """Found by the attack: `sqlite3.DatabaseError: database disk image is malformed` from stats/export.
    The damage happens after open's check: every query still answers with a ProjectError."""
    with ProjectStore.open(project):
        pass
    store = ProjectStore.open(project)
    try:
        _flip_a_table_page(project)
        store.conn.raw.execute("PRAGMA cache_size = 0")  # make SQLite read the damaged page again
        failures = 0
        for name, read in READERS.items():
            try:
                read(store)
            except ProjectError as exc:
                assert str(exc).startswith(f"{project}: "), name
                failures += 1
        assert failures, "the damaged page was never read"
    finally:
        store.close()
    assert main(["project", "check", str(project)]) in (1, 2)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and ("damaged" in captured.out + captured.err)


# ------------------------------------------------------------------------------------------------ defect 7

_KILLED_CREATE = """
import os, signal, sys
import distilpose.project.store as store_module
real = store_module.migrate
def migrate_then_die(conn, *args, **kwargs):
    real(conn, *args, **kwargs)
    if sys.argv[2] == "after-migrate":
        os.kill(os.getpid(), signal.SIGKILL)
    raise SystemExit("not reached")
if sys.argv[2] == "before-migrate":
    store_module.migrate = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
else:
    store_module.migrate = migrate_then_die
store_module.ProjectStore.create(sys.argv[1])
"""


@pytest.mark.parametrize("moment", ["before-migrate", "after-migrate"])
def test_a_killed_create_leaves_no_unopenable_file(tmp_path, moment):
    """Found by the attack: a killed `project create` left a file nothing opens, and `create` then said
    'already exists'."""
    path = tmp_path / "p.dpproj"
    proc = subprocess.run([sys.executable, "-c", _KILLED_CREATE, str(path), moment], cwd=REPO_ROOT, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not path.exists(), "a half-made project was left at the path"
    with ProjectStore.create(path) as store:
        assert store.counts()["media"] == 0
    assert listing(tmp_path) == ["p.dpproj"], "the killed create's temp file was not cleaned up"


def _half_made(path: Path) -> None:
    """What the old create left when killed early: our application id, no tables."""
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.close()


def test_a_half_made_project_says_so_and_create_replaces_it(tmp_path, capsys):
    path = tmp_path / "p.dpproj"
    _half_made(path)
    assert main(["project", "stats", str(path)]) == 2
    assert "creation was interrupted" in capsys.readouterr().err
    assert main(["project", "create", str(path)]) == 0
    with ProjectStore.open(path) as store:
        assert store.counts()["frames"] == 0


def test_create_never_replaces_a_real_file(tmp_path, project):
    for other in (project, tmp_path / "notes.txt"):
        if not other.exists():
            other.write_text("mine")
        before = digest(other)
        with pytest.raises(ProjectError, match="already exists"):
            ProjectStore.create(other)
        assert digest(other) == before


# ------------------------------------------------------------------------------------------------ defect 8


def test_opening_a_project_on_a_full_disk_says_the_disk_is_full(tmp_path, capsys):
    """Found by the attack: only 'disk I/O error'. Opening for editing needs room for the WAL's index (-shm);
    reading does not (issue 23: `project stats` reads it, tests/hardening/test_full_disk_reading.py)."""
    with small_disk(tmp_path / "disk", "512k") as disk:
        path = disk / "p.dpproj"
        ProjectStore.create(path).close()
        fill_disk(disk)
        assert main(["project", "split", str(path)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and str(path) in err and "disk" in err and "is full" in err, err
        (disk / "filler").unlink()
        with ProjectStore.open(path) as store:  # nothing was lost
            assert store.counts()["media"] == 0


def test_a_read_only_folder_says_so(tmp_path, monkeypatch):
    """SQLite cannot create the WAL files beside the project: the message says the folder is read-only."""
    path = tmp_path / "p.dpproj"
    ProjectStore.create(path).close()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if mode == os.W_OK else real_access(p, mode))
    from distilpose.project.connection import translate_error

    error = sqlite3.OperationalError("attempt to write a readonly database")
    error.sqlite_errorname = "SQLITE_READONLY"
    message = str(translate_error(error, path, 5.0))
    assert message.startswith(f"{path}: ") and "read-only" in message


def test_a_full_disk_while_editing_says_the_disk_is_full(tmp_path):
    with small_disk(tmp_path / "disk", "512k") as disk:
        path = disk / "p.dpproj"
        with ProjectStore.create(path) as store:
            fill_disk(disk)
            with pytest.raises(ProjectError) as info:
                for i in range(200):  # a few pages' worth: the WAL must grow
                    store.add_media(disk / f"{i:04d}-{'x' * 200}.jpg", "image", must_exist=False,
                                    extra={"pad": "y" * 2000})  # fmt: skip
            assert "is full" in str(info.value), str(info.value)
            (disk / "filler").unlink()
            count = store.counts()["media"]
        with ProjectStore.open(path) as again:
            assert again.counts()["media"] == count  # every acknowledged edit is there
    assert json.dumps(count)
