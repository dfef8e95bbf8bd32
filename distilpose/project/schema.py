"""The project file's schema as an ordered list of migrations, and the code that applies them.

A new project runs every migration from nothing, so the upgrade path is exercised on every project ever
created, not only on old ones. A step is a tuple of SQL statements (or a callable for data fixes) and is never
edited once released: change the schema by appending a step. All pending steps run in one transaction, so an
upgrade either completes or leaves the file exactly as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

_T = TypeVar("_T")

#: ``PRAGMA application_id``: lets ``file(1)`` and other tools tell a DistilPose project from any SQLite file.
APPLICATION_ID = 0x44505354  # "DPST"


@dataclass(frozen=True)
class Migration:
    version: int  # the schema version after this step
    description: str
    steps: Sequence[str | Callable[[sqlite3.Connection], None]]


# Version 1: the architecture sketch's tables (meta, media, frames, instances, keypoints, jobs, history).
V1_STATEMENTS: tuple[str, ...] = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE media (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('image', 'video', 'folder')),
        size INTEGER,
        hash TEXT,
        added TEXT NOT NULL
    )""",
    """CREATE TABLE frames (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL CHECK (idx >= 0),
        split TEXT NOT NULL DEFAULT 'none' CHECK (split IN ('train', 'val', 'test', 'none')),
        UNIQUE (media_id, idx)
    )""",
    """CREATE TABLE instances (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        frame_id INTEGER NOT NULL REFERENCES frames(id) ON DELETE CASCADE,
        source TEXT NOT NULL CHECK (source IN ('user', 'student', 'teacher', 'import')),
        track_id INTEGER,
        bbox_x REAL, bbox_y REAL, bbox_w REAL, bbox_h REAL,
        score REAL,
        verified INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    )""",
    "CREATE INDEX instances_frame ON instances(frame_id)",
    """CREATE TABLE keypoints (
        instance_id INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
        k INTEGER NOT NULL CHECK (k >= 0),
        x REAL NOT NULL,
        y REAL NOT NULL,
        v INTEGER NOT NULL CHECK (v IN (0, 1, 2)),
        score REAL,
        PRIMARY KEY (instance_id, k)
    ) WITHOUT ROWID""",
    """CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        config TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
        pid INTEGER,
        paths TEXT NOT NULL DEFAULT '{}',
        metrics TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,
        op TEXT NOT NULL,
        payload TEXT NOT NULL
    )""",
)

# Version 2: what annotation review needs (suggested frames, student uncertainty, COCO fields kept for exact
# round trips, image size) and job bookkeeping for the job manager.
V2_STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE media ADD COLUMN width INTEGER",
    "ALTER TABLE media ADD COLUMN height INTEGER",
    "ALTER TABLE media ADD COLUMN extra TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE frames ADD COLUMN suggested INTEGER NOT NULL DEFAULT 0 CHECK (suggested IN (0, 1))",
    "ALTER TABLE frames ADD COLUMN suggest_reason TEXT",
    "ALTER TABLE frames ADD COLUMN extra TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE instances ADD COLUMN extra TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE keypoints ADD COLUMN sigma_x REAL",
    "ALTER TABLE keypoints ADD COLUMN sigma_y REAL",
    "ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'train'",
    "ALTER TABLE jobs ADD COLUMN created TEXT",
    "ALTER TABLE jobs ADD COLUMN updated TEXT",
    "CREATE INDEX keypoints_score ON keypoints(score) WHERE score IS NOT NULL",
    "CREATE INDEX frames_split ON frames(split)",
    "CREATE INDEX frames_suggested ON frames(suggested) WHERE suggested = 1",
)

# Version 3: person tracks in videos (track_id existed since version 1, unused): the track queries and id
# edits look instances up by track.
V3_STATEMENTS: tuple[str, ...] = (
    "CREATE INDEX instances_track ON instances(track_id) WHERE track_id IS NOT NULL",
)

#: What the version 4 triggers say when a write would give two people of one frame the same track id.
TRACK_CLASH_MESSAGE = "a track id names one person per frame: this frame already has a person with that track id"

# Version 4: one track id per person per frame, as a rule of the file (issue 23): the store checks first and
# names the frame, these refuse any write that slips past (another program, a bug). Triggers, not a UNIQUE
# index: an index cannot be built on a project that already breaks the rule (an import of older versions
# let it in), which must still open so that `project check` can name the frames and the user can fix them.
V4_STATEMENTS: tuple[str, ...] = (
    f"""CREATE TRIGGER instances_one_track_insert BEFORE INSERT ON instances
    WHEN NEW.track_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM instances WHERE frame_id = NEW.frame_id AND track_id = NEW.track_id)
    BEGIN SELECT RAISE(ABORT, '{TRACK_CLASH_MESSAGE}'); END""",
    f"""CREATE TRIGGER instances_one_track_update BEFORE UPDATE OF frame_id, track_id ON instances
    WHEN NEW.track_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM instances WHERE frame_id = NEW.frame_id AND track_id = NEW.track_id AND id != NEW.id)
    BEGIN SELECT RAISE(ABORT, '{TRACK_CLASH_MESSAGE}'); END""",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial tables", V1_STATEMENTS),
    Migration(2, "review fields, sigmas, COCO extras, job kind and times", V2_STATEMENTS),
    Migration(3, "index of person tracks", V3_STATEMENTS),
    Migration(4, "one track id per person per frame", V4_STATEMENTS),
)

#: The schema version this code writes; a project with a larger one is refused (it may hold data we'd lose).
CURRENT_VERSION: int = MIGRATIONS[-1].version


def read_version(conn: sqlite3.Connection) -> int | None:
    """The schema version recorded in ``meta``; None when the database has no ``meta`` table (not a
    project)."""
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        return None
    value = row[0]
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    if isinstance(value, bool) or not (text.strip().isascii() and text.strip().isdigit()) or int(text) < 1:
        raise ValueError(f"its schema version {text[:40]!r} is not a version number (1, 2, ...)")
    return int(text)


def _reference(version: int, read: Callable[[sqlite3.Connection], _T]) -> _T:
    """``read`` of schema ``version`` as the migrations build it in memory: the reference the checks compare
    a file against, so it can never drift from the real schema."""
    ref = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(ref, 0, up_to=version)
        return read(ref)
    finally:
        ref.close()


def missing_schema(conn: sqlite3.Connection, version: int) -> list[str]:
    """Tables and columns that schema ``version`` has but the database lacks (read-only check)."""
    expected = _reference(version, _columns)
    found = _columns(conn)
    missing = []
    for table, columns in expected.items():
        if table not in found:
            missing.append(f"table {table!r}")
        else:
            missing += [f"column {table}.{c}" for c in sorted(columns - found[table])]
    return missing


def unknown_schema(conn: sqlite3.Connection, version: int) -> list[str]:
    """Tables, indexes, views and triggers in the file that schema ``version`` does not define (SQLite's own
    ``sqlite_*`` objects aside), as "trigger 'name'": something else changed the file, and a trigger runs its
    SQL on every edit."""
    expected = _reference(version, _objects)
    return [f"{kind} {name!r}" for kind, name in sorted(_objects(conn) - expected)]


def _objects(conn: sqlite3.Connection) -> set[tuple[str, str]]:
    return {
        (str(kind), str(name))
        for kind, name in conn.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite!_%' ESCAPE '!'"
        )
    }


def _columns(conn: sqlite3.Connection) -> dict[str, set[str]]:
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
        )
    ]
    return {t: {r[1] for r in conn.execute(f"PRAGMA table_info({_quote(t)})")} for t in tables}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def migrate(conn: sqlite3.Connection, from_version: int, up_to: int = CURRENT_VERSION) -> list[Migration]:
    """Apply every step after ``from_version`` (up to ``up_to``) in one transaction (the connection must be in
    autocommit mode, ``isolation_level=None``). Returns the steps applied."""
    pending = [m for m in MIGRATIONS if from_version < m.version <= up_to]
    if not pending:
        return []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for migration in pending:
            for step in migration.steps:
                if callable(step):
                    step(conn)
                else:
                    conn.execute(step)
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(pending[-1].version),),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return pending
