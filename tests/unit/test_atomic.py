"""Atomic writes: all or nothing, normal permissions, no temp files left behind."""

from __future__ import annotations

import os

import pytest

from distilpose.atomic import atomic_write_json, atomic_write_text, atomic_write_with


def test_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "doc.json"
    atomic_write_json(target, {"a": 1})

    def broken(tmp: str) -> None:
        with open(tmp, "w") as handle:
            handle.write("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write_with(target, broken)
    assert target.read_text() == '{"a": 1}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.json"]


def test_unencodable_json_never_touches_the_disk(tmp_path):
    target = tmp_path / "doc.json"
    with pytest.raises(ValueError):
        atomic_write_json(target, {"x": float("nan")})
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_new_files_get_umask_permissions_and_existing_keep_theirs(tmp_path):
    new = tmp_path / "new.txt"
    atomic_write_text(new, "x")
    umask = os.umask(0o022)
    os.umask(umask)
    assert new.stat().st_mode & 0o777 == 0o666 & ~umask
    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o640)
    atomic_write_text(kept, "new")
    assert kept.read_text() == "new" and kept.stat().st_mode & 0o777 == 0o640
