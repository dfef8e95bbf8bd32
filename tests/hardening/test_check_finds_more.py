"""``distilpose project check`` finds what it missed (issue 23, defect 8): a person whose keypoint rows were
deleted (export wrote it with all-zero keypoints), and tables, views, indexes and triggers the schema does
not define (one trigger ran its SQL during the app's edits). The known objects come from the migrations in
``distilpose.project.schema``, so an object a later schema step adds is known without a list to update."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from distilpose.cli import main
from distilpose.project import ProjectStore
from distilpose.project.integrity import check_project
from distilpose.project.schema import CURRENT_VERSION, MIGRATIONS, migrate, unknown_schema
from tests.hardening.support import coco_project

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def project(tmp_path) -> Path:
    return coco_project(tmp_path)


def _sql(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def test_a_person_missing_keypoint_rows_is_reported(project, capsys):
    conn = sqlite3.connect(project)
    ids = [row[0] for row in conn.execute("SELECT id FROM instances ORDER BY id LIMIT 2")]
    conn.close()
    _sql(
        project,
        f"DELETE FROM keypoints WHERE instance_id = {ids[0]} AND k >= 12",
        f"DELETE FROM keypoints WHERE instance_id = {ids[1]}",
    )
    assert main(["project", "check", str(project)]) == 1
    out = capsys.readouterr().out
    assert "2 person(s) lack keypoint rows" in out, out
    assert f"instance {ids[0]} (12 of 17)" in out and f"instance {ids[1]} (0 of 17)" in out


def test_objects_the_schema_does_not_define_are_listed(project, capsys):
    _sql(
        project,
        "CREATE TRIGGER spy AFTER UPDATE ON keypoints BEGIN INSERT INTO meta VALUES ('x' || random(), 'y'); END",
        "CREATE VIEW people AS SELECT * FROM instances",
        "CREATE TABLE notes (text TEXT)",
        "CREATE INDEX media_kind ON media(kind)",
    )
    assert main(["project", "check", str(project)]) == 1
    out = capsys.readouterr().out
    assert "4 object(s) this project does not define" in out, out
    for name in ("trigger 'spy'", "view 'people'", "table 'notes'", "index 'media_kind'"):
        assert name in out, out
    with ProjectStore.open(project) as store:  # listed, never removed
        assert len(check_project(store)) == 1


def test_every_object_of_every_schema_version_is_known(tmp_path):
    """The reference is the migrations themselves: a file built by them has nothing unknown at any version,
    and SQLite's own objects (sqlite_sequence, autoindexes, sqlite_stat1) are not listed."""
    for migration in MIGRATIONS:
        conn = sqlite3.connect(tmp_path / f"v{migration.version}.db", isolation_level=None)
        migrate(conn, 0, up_to=migration.version)
        conn.execute("ANALYZE")
        assert unknown_schema(conn, migration.version) == []
        if migration.version < CURRENT_VERSION:  # what a later version adds is unknown to an earlier one
            migrate(conn, migration.version)
            assert unknown_schema(conn, migration.version)
        conn.close()
