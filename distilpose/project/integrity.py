"""What is damaged in a project file, in plain words: ``distilpose project check`` and the full check behind
the cheap one every open runs (:func:`distilpose.project.connection.quick_check`).

Three layers, each catching what the one before cannot: SQLite's ``integrity_check`` (pages, records,
indexes, NOT NULL and CHECK constraints), ``foreign_key_check`` (rows whose parent is gone), and value checks
of what SQLite's type affinity lets through (text in a number column, JSON that does not parse or is not an
object) and the store's own rules that have no CHECK constraint (keypoint index 0..16, 17 keypoint rows per
person, one person per track id and frame), and objects in the file that the schema
(:mod:`distilpose.project.schema`) does not define.
"""

from __future__ import annotations

import sqlite3

from distilpose.keypoints import NUM_KEYPOINTS
from distilpose.project.errors import ProjectError
from distilpose.project.schema import unknown_schema
from distilpose.project.store import ProjectStore

#: How many damaged rows of one kind are named before "and N more".
_SHOWN = 5

#: (table, row label SQL, column, what the column must hold) for every typed column SQLite would not check.
_NUMBER = "typeof({c}) NOT IN ('integer', 'real'{null})"
_INTEGER = "typeof({c}) NOT IN ('integer'{null})"
_TEXT = "typeof({c}) NOT IN ('text'{null})"
_JSON = "(typeof({c}) != 'text' OR NOT json_valid({c}) OR json_type({c}) != 'object')"
_VALUE_RULES: tuple[tuple[str, str, str, str, bool], ...] = (
    # table, row label, column, rule, nullable
    ("media", "'media ' || id", "path", _TEXT, False),
    ("media", "'media ' || id", "size", _INTEGER, True),
    ("media", "'media ' || id", "width", _INTEGER, True),
    ("media", "'media ' || id", "height", _INTEGER, True),
    ("media", "'media ' || id", "extra", _JSON, False),
    ("frames", "'frame ' || id", "idx", _INTEGER, False),
    ("frames", "'frame ' || id", "extra", _JSON, False),
    *(("instances", "'instance ' || id", c, _NUMBER, True) for c in ("bbox_x", "bbox_y", "bbox_w", "bbox_h", "score")),
    ("instances", "'instance ' || id", "track_id", _INTEGER, True),
    ("instances", "'instance ' || id", "extra", _JSON, False),
    *(("keypoints", "'instance ' || instance_id || ' keypoint ' || k", c, _NUMBER, False) for c in ("x", "y")),
    *(("keypoints", "'instance ' || instance_id || ' keypoint ' || k", c, _NUMBER, True)
      for c in ("score", "sigma_x", "sigma_y")),
    *(("jobs", "'job ' || id", c, _JSON, False) for c in ("config", "paths", "metrics")),
    ("history", "'history entry ' || id", "payload", _JSON, False),
)  # fmt: skip


def check_project(store: ProjectStore) -> list[str]:
    """Every problem found, one line each (the first few rows of each kind named); [] when the file is
    sound. A check that cannot run (the damage stops SQLite) is itself reported, never raised."""
    problems: list[str] = []
    conn = store.conn
    try:
        rows = conn.execute("PRAGMA integrity_check(50)").fetchall()
        problems += [f"SQLite integrity check: {r[0]}" for r in rows if r[0] != "ok"]
    except ProjectError as exc:
        return [f"SQLite cannot even check the file: {exc}"]
    try:
        orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
    except ProjectError as exc:
        problems.append(f"the foreign-key check could not run: {exc}")
        orphans = []
    by_table: dict[tuple[str, str], list[str]] = {}
    for table, rowid, parent, _ in orphans:
        by_table.setdefault((table, parent), []).append(str(rowid))
    for (table, parent), ids in sorted(by_table.items()):
        problems.append(f"{len(ids)} {table} row(s) refer to a {parent} row that is gone: rowid {_few(ids)}")
    rules = [
        *((t, label, c, rule.format(c=c, null=", 'null'" if nullable else "")) for t, label, c, rule, nullable in _VALUE_RULES),
        ("keypoints", "'instance ' || instance_id || ' keypoint ' || k", "k",
         f"(typeof(k) != 'integer' OR k < 0 OR k >= {NUM_KEYPOINTS})"),
    ]  # fmt: skip
    for table, label, column, condition in rules:
        try:
            bad = [r[0] for r in conn.execute(f"SELECT {label} FROM {table} WHERE {condition}").fetchall()]
        except ProjectError as exc:
            problems.append(f"{table}.{column} could not be checked: {exc}")
            continue
        if bad:
            problems.append(f"{table}.{column}: {len(bad)} damaged value(s): {_few(bad)}")
    problems += _shared_track_ids(store) + _incomplete_people(store) + _unknown_objects(store)
    return problems


def _shared_track_ids(store: ProjectStore) -> list[str]:
    """Frames where two people share a track id (a track names one person per frame; older imports let it
    in), by media and frame index."""
    try:
        rows = store.conn.execute(
            "SELECT frame_id, track_id, group_concat(id, ' and ') FROM instances WHERE track_id IS NOT NULL "
            "GROUP BY frame_id, track_id HAVING COUNT(*) > 1 ORDER BY frame_id, track_id"
        ).fetchall()
        found = [f"{store.frame_label(f)}: persons {ids} share track id {t}" for f, t, ids in rows]
    except ProjectError as exc:
        return [f"track ids could not be checked: {exc}"]
    if not found:
        return []
    return [
        f"{len(found)} frame(s) give two people one track id (a track names one person per frame; change "
        f"one of them): {_few(found)}"
    ]


def _incomplete_people(store: ProjectStore) -> list[str]:
    """Every person has one keypoint row per joint: with rows deleted, an export writes the joints as
    unlabelled zeros and nothing says a person was damaged."""
    try:
        rows = store.conn.execute(
            "SELECT i.id, COUNT(DISTINCT k.k) FROM instances i LEFT JOIN keypoints k ON k.instance_id = i.id "
            f"AND typeof(k.k) = 'integer' AND k.k BETWEEN 0 AND {NUM_KEYPOINTS - 1} "
            f"GROUP BY i.id HAVING COUNT(DISTINCT k.k) != {NUM_KEYPOINTS}"
        ).fetchall()
    except ProjectError as exc:
        return [f"the keypoint rows of each person could not be counted: {exc}"]
    if not rows:
        return []
    named = [f"instance {iid} ({count} of {NUM_KEYPOINTS})" for iid, count in rows]
    return [f"keypoints: {len(rows)} person(s) lack keypoint rows (each has {NUM_KEYPOINTS}): {_few(named)}"]


def _unknown_objects(store: ProjectStore) -> list[str]:
    """Tables, views, indexes and triggers the project's schema does not define (another program added them;
    a trigger would run its SQL on every edit): listed, never removed."""
    try:
        unknown = unknown_schema(store.conn.raw, store.schema_version)
    except (ProjectError, sqlite3.Error) as exc:
        return [f"the schema could not be compared with the project's: {exc}"]
    if not unknown:
        return []
    return [f"schema: {len(unknown)} object(s) this project does not define: {_few(unknown)}"]


def _few(items: list[str]) -> str:
    shown = ", ".join(str(i) for i in items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")
