"""Fuzzing ProjectStore.open: random bytes, truncated and byte-flipped real projects, SQLite files with wrong
tables or meta values. Each opens as a usable project or raises a ProjectError naming the file, and a file
it refuses is left byte for byte as it was, with nothing created beside it (no backup, no -wal/-shm)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distilpose.project import ProjectError, ProjectStore
from distilpose.project.coco_io import import_coco
from distilpose.project.schema import MIGRATIONS
from tests.hardening.support import FUZZ, JSON_VALUES, assert_names_file, digest, listing
from tests.unit.coco_factory import make_coco_doc

MAGIC = b"SQLite format 3\x00"


class _Bytes(bytes):
    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing case: keep it short
        return f"<{len(self)} bytes of a real project>"


@pytest.fixture(scope="module")
def real_project(tmp_path_factory) -> bytes:
    """The bytes of a closed project holding 4 images and their imported instances."""
    folder = tmp_path_factory.mktemp("real")
    (folder / "ann.json").write_text(json.dumps(make_coco_doc(seed=5)))
    (folder / "images").mkdir()
    with ProjectStore.create(folder / "p.dpproj") as store:
        import_coco(store, folder / "ann.json", folder / "images")
        assert store.counts()["instances"] > 5
    return _Bytes((folder / "p.dpproj").read_bytes())


def _open_or_refuse(path: Path) -> ProjectStore | None:
    """Open ``path``; on refusal check the contract (ours, names the file, file untouched, nothing added)."""
    before, files = digest(path), listing(path.parent)
    try:
        store = ProjectStore.open(path, timeout=0.5)
    except Exception as exc:  # noqa: BLE001
        assert isinstance(exc, ProjectError), f"{type(exc).__name__} escaped: {exc}"
        assert_names_file(exc, path)
        assert digest(path) == before, "a refused file was modified"
        assert listing(path.parent) == files, "a refused file left files beside it"
        return None
    return store


def _fresh(tmp_path: Path, name: str, data: bytes) -> Path:
    folder = tmp_path / "case"
    if folder.exists():
        for p in folder.iterdir():
            p.unlink()
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.timeout(120)
@FUZZ
@given(head=st.sampled_from([b"", MAGIC, MAGIC + b"\x10\x00"]), body=st.binary(max_size=2048))
def test_random_bytes(tmp_path, head, body):
    path = _fresh(tmp_path, "random.dpproj", head + body)
    store = _open_or_refuse(path)
    assert store is None, "random bytes opened as a project"


@pytest.mark.timeout(150)
@FUZZ
@given(data=st.data())
def test_truncated_and_flipped_real_project(tmp_path, real_project, data):
    raw = bytearray(real_project)
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="cut")]
    else:  # flip bytes in the middle: past the 100-byte header, inside the pages
        for _ in range(data.draw(st.integers(1, 24), label="flips")):
            at = data.draw(st.integers(100, len(raw) - 1), label="at")
            raw[at] = data.draw(st.integers(0, 255), label="byte")
    path = _fresh(tmp_path, "damaged.dpproj", bytes(raw))
    store = _open_or_refuse(path)
    if store is not None:
        with store:
            assert store.schema_version == MIGRATIONS[-1].version


_TABLES = ("meta", "media", "frames", "instances", "keypoints", "jobs", "history")


@pytest.mark.timeout(150)
@FUZZ
@given(
    keep=st.sets(st.sampled_from(_TABLES)),
    version=st.one_of(
        st.sampled_from(["1", "2", "3", " 2", "0", "-1", "1.0", "²", "", "99999999999999999999"]),
        st.integers(-5, 5),
        JSON_VALUES.map(lambda v: json.dumps(v, allow_nan=True)),
        st.binary(max_size=6),
        st.none(),
    ),
    meta_strict=st.booleans(),
    drop_column=st.booleans(),
)
def test_wrong_tables_and_meta_values(tmp_path, real_project, keep, version, meta_strict, drop_column):
    """A real schema with some tables missing (or a column gone), and any value as the schema version."""
    path = _fresh(tmp_path, "odd.dpproj", b"")
    path.unlink()
    ref = _fresh(tmp_path, "ref.dpproj", real_project)
    source = sqlite3.connect(ref)
    schema = dict(source.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
    source.close()
    ref.unlink()
    conn = sqlite3.connect(path)
    for table in _TABLES:
        if table == "meta" and (not meta_strict or version is None):
            conn.execute("CREATE TABLE meta (key, value)")  # untyped: any value, NULL included
        elif table in keep or table == "meta":
            sql = schema[table]
            if drop_column and table == "instances":
                sql = sql.replace("score REAL,", "")
            conn.execute(sql)
    conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (version,))
    conn.commit()
    conn.close()
    store = _open_or_refuse(path)
    if store is not None:  # only a complete schema may open, and then it works
        with store:
            assert keep >= set(_TABLES) - {"meta"} and not drop_column
            assert store.counts()["media"] == 0 and store.frames() == []


@pytest.mark.parametrize(
    ("version", "problem"),
    [("abc", "is not a version number"), (None, "is not a version number"), ("0", "is not a version number"),
     ("2", "lacks table 'media'")],
)  # fmt: skip
def test_meta_only_database_is_refused_untouched(tmp_path, version, problem):
    """Found by the fuzz: 'abc' raised ValueError, NULL TypeError; '0' and '2' with no tables were
    switched to WAL and backed up (file changed, .bak left) before failing, or opened as an empty shell."""
    path = tmp_path / "meta.dpproj"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE meta (key, value)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (version,))
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(ProjectError, match=problem) as info:
        ProjectStore.open(path)
    assert str(path) in str(info.value)
    assert digest(path) == before and listing(tmp_path) == ["meta.dpproj"]
