"""Project file: creation, migrations (v1 -> current on a real v1 file), and every way opening fails."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from distilpose.errors import DistilPoseError
from distilpose.project import schema
from distilpose.project.errors import ProjectError, ProjectLockedError, ProjectVersionError
from distilpose.project.store import ProjectStore
from tests.unit.test_project_support import dump_tables, person

V1_TIME = "2025-01-02T03:04:05.000Z"


def _make_v1_project(path: Path) -> None:
    """A project as the first release wrote it: v1 tables, rollback journal, some data in every table."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    for statement in schema.V1_STATEMENTS:
        conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('created', ?)", (V1_TIME,))
    conn.execute("INSERT INTO media VALUES (7, 'images/a.jpg', 'image', 1234, 'sha256:00', ?)", (V1_TIME,))
    conn.execute("INSERT INTO frames VALUES (70, 7, 0, 'val')")
    conn.execute(
        "INSERT INTO instances VALUES (700, 70, 'student', 3, 1.0, 2.0, 30.0, 40.0, 0.9, 0, ?, ?)",
        (V1_TIME, V1_TIME),
    )
    conn.executemany(
        "INSERT INTO keypoints VALUES (700, ?, ?, ?, ?, ?)",
        [(k, 10.0 + k, 20.5 + k, k % 3, 0.05 * k) for k in range(17)],
    )
    conn.execute("INSERT INTO jobs (config, status, pid) VALUES ('{\"epochs\": 3}', 'done', NULL)")
    conn.execute("INSERT INTO history (time, op, payload) VALUES (?, 'add_instance', '{}')", (V1_TIME,))
    conn.close()


#: Fingerprints of the released migrations. A released step must never change (files in users' hands were made
#: by it): change the schema by appending a step, and add its fingerprint here.
RELEASED = {1: "632666c84d9d4dab", 2: "2e3a9e15915a5195", 3: "91498c3c6f80d9e2", 4: "a9662c11e29255ce"}


def test_released_migrations_are_frozen():
    assert [m.version for m in schema.MIGRATIONS] == list(range(1, schema.CURRENT_VERSION + 1))
    for migration in schema.MIGRATIONS:
        text = "\n".join(migration.steps).encode()  # type: ignore[arg-type]
        assert hashlib.sha256(text).hexdigest()[:16] == RELEASED[migration.version], migration.version


def test_create_makes_a_current_wal_project(tmp_path):
    path = tmp_path / "p.dpproj"
    with ProjectStore.create(path) as store:
        assert store.schema_version == schema.CURRENT_VERSION == 4
        assert store.get_meta("created") and len(store.get_meta("project_id")) == 32
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert store.conn.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
    with ProjectStore.open(path) as again:
        assert again.schema_version == schema.CURRENT_VERSION
    with pytest.raises(ProjectError, match="already exists"):
        ProjectStore.create(path)
    with pytest.raises(ProjectError, match="does not exist"):
        ProjectStore.create(tmp_path / "no" / "such" / "p.dpproj")


def test_migration_from_v1_keeps_every_row_and_backs_up(tmp_path):
    path = tmp_path / "old.dpproj"
    _make_v1_project(path)
    v1_dump = dump_tables(path)
    with ProjectStore.open(path) as store:
        assert store.schema_version == schema.CURRENT_VERSION
        inst = store.instance(700)
        assert inst.source == "student" and inst.track_id == 3 and inst.score == 0.9
        assert inst.bbox == (1.0, 2.0, 30.0, 40.0)
        np.testing.assert_array_equal(inst.keypoints[:, 0], 10.0 + np.arange(17))
        np.testing.assert_array_equal(inst.keypoints[:, 2], np.arange(17) % 3)
        np.testing.assert_array_equal(inst.scores, 0.05 * np.arange(17))
        assert inst.sigmas is None  # the new columns start empty
        assert inst.extras == {
            "id": 700,
            "frame_id": 70,
            "verified": False,
            "created": V1_TIME,
            "updated": V1_TIME,
        }
        frame = store.frame(70)
        assert (frame.split, frame.suggested, frame.suggest_reason, frame.extra) == ("val", False, None, {})
        assert store.media(7).path == "images/a.jpg" and store.media(7).width is None
        job = store.job_records.all()[0]
        assert (job.kind, job.status, job.config) == ("train", "done", {"epochs": 3})
        # the new columns work on migrated rows
        inst.sigmas = np.full((17, 2), 2.5)
        store.replace_instance(inst)
        np.testing.assert_array_equal(store.instance(700).sigmas, np.full((17, 2), 2.5))
        store.set_suggested(70, True, "teacher and student disagree")
        assert store.frame(70).suggested
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    backup = tmp_path / "old.dpproj.v1.bak"
    assert dump_tables(backup) == v1_dump  # the untouched v1 file, for an older app


def test_failed_migration_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "old.dpproj"
    _make_v1_project(path)
    before = dump_tables(path)
    columns_before = [r[1] for r in sqlite3.connect(str(path)).execute("PRAGMA table_info(media)")]
    broken = schema.Migration(
        2, "broken", (*schema.V2_STATEMENTS[:3], "ALTER TABLE nonexistent ADD COLUMN x")
    )
    monkeypatch.setattr(schema, "MIGRATIONS", (schema.MIGRATIONS[0], broken))
    with pytest.raises(ProjectError, match="old.dpproj: no such table: nonexistent"):
        ProjectStore.open(path)
    assert dump_tables(path) == before
    assert [r[1] for r in sqlite3.connect(str(path)).execute("PRAGMA table_info(media)")] == columns_before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a database, just text\n" * 10, "not a SQLite database"),
        (b"", "the file is empty"),
        (b"SQLite format 2\x00" + b"\x00" * 100, "not a SQLite database"),
    ],
)
def test_open_refuses_a_file_that_is_not_sqlite(tmp_path, content, message):
    path = tmp_path / "x.dpproj"
    path.write_bytes(content)
    with pytest.raises(ProjectError) as info:
        ProjectStore.open(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)
    assert isinstance(info.value, DistilPoseError)
    assert path.read_bytes() == content  # nothing written


def test_open_refuses_other_sqlite_files_missing_files_and_folders(tmp_path):
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(str(other))
    conn.execute("CREATE TABLE t (a)")
    conn.commit()
    conn.close()
    with pytest.raises(ProjectError, match=r"other.sqlite: a SQLite database but not a DistilPose project"):
        ProjectStore.open(other)
    with pytest.raises(ProjectError, match=r"missing.dpproj: no such project file"):
        ProjectStore.open(tmp_path / "missing.dpproj")
    with pytest.raises(ProjectError, match="is a folder"):
        ProjectStore.open(tmp_path)


def test_open_refuses_a_newer_schema_without_touching_it(tmp_path):
    path = tmp_path / "future.dpproj"
    ProjectStore.create(path).close()
    conn = sqlite3.connect(str(path))
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    content = path.read_bytes()
    with pytest.raises(ProjectVersionError) as info:
        ProjectStore.open(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and "schema version 99" in text and f"supports ({schema.CURRENT_VERSION})" in text
    assert path.read_bytes() == content
    assert not list(tmp_path.glob("*.bak"))


def test_open_of_a_locked_file_names_it(tmp_path):
    path = tmp_path / "locked.dpproj"
    ProjectStore.create(path).close()
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(
            ProjectLockedError, match=r"locked.dpproj: the project is locked by another program"
        ):
            ProjectStore.open(path, timeout=0.1)
    finally:
        holder.close()
    ProjectStore.open(path, timeout=0.1).close()  # free again once the other program lets go


def test_edit_while_another_connection_writes_is_a_locked_error_and_changes_nothing(tmp_path):
    path = tmp_path / "busy.dpproj"
    with ProjectStore.create(path, timeout=0.1) as store:
        media = store.add_media(tmp_path / "a.jpg", must_exist=False)
        frame = store.add_frame(media)
        started, release = threading.Event(), threading.Event()

        def worker() -> None:  # a worker thread uses its own store (its own connection) on the same file
            with ProjectStore.open(path) as mine, mine.transaction("long batch"):
                started.set()
                release.wait(10)

        thread = threading.Thread(target=worker)
        thread.start()
        try:
            assert started.wait(10)
            with pytest.raises(ProjectLockedError, match="busy.dpproj"):
                store.add_instance(frame, person())
            assert store.instances(frame) == []  # reading still works under WAL, and nothing was added
        finally:
            release.set()
            thread.join()
        assert store.add_instance(frame, person()) > 0


def test_a_store_belongs_to_its_thread(tmp_path):
    store = ProjectStore.create(tmp_path / "t.dpproj")
    errors: list[BaseException] = []

    def other() -> None:
        try:
            store.counts()
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    store.close()
    assert len(errors) == 1 and isinstance(errors[0], sqlite3.ProgrammingError)
    assert "same thread" in str(errors[0])
