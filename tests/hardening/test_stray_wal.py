"""A write-ahead log (``-wal``) beside a project that is not its own is never replayed (issue 23, defect 2).

Found by the attack: a ``-wal`` from another database rewrote a 77,824-byte project to 8,192 bytes, even
through the read-only ``project stats``; restoring an older copy of a project while a killed session's
``-wal`` lay beside it gave "database disk image is malformed". Users restore backups and copy folders.

Each case below is made for real: a session SIGKILLed after its edits leaves its log as SQLite left it. The
project's own log (a killed writer of this very file) must still be replayed, and one another connection is
using must be left alone.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from distilpose.cli import main
from distilpose.project import ProjectStore
from distilpose.project.coco_io import import_coco
from distilpose.project.errors import ProjectReadOnlyError
from tests.conftest import REPO_ROOT
from tests.hardening.support import digest
from tests.unit.coco_factory import make_coco_doc
from tests.unit.test_project_support import write_json

pytestmark = [
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)"),
    pytest.mark.timeout(180),
]

#: Opens a project, adds media, prints how many it holds and kills itself: its -wal stays as SQLite left it.
_KILLED_SESSION = """
import os, signal, sys
from pathlib import Path
from distilpose.project import ProjectStore
store = ProjectStore.open(sys.argv[1])
for i in range(int(sys.argv[2])):
    store.add_media(Path(sys.argv[1]).parent / f"killed-{i}.jpg", "image", must_exist=False,
                    extra={"pad": "x" * 3000})
print(store.counts()["media"], flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed_session(project: Path, adds: int = 40) -> int:
    """Media count the killed session had acknowledged; its -wal is left beside ``project``."""
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_SESSION, str(project), str(adds)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert Path(f"{project}-wal").stat().st_size > 0
    return int(proc.stdout.split()[0])


def _project(folder: Path, seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "images").mkdir(exist_ok=True)
    ann = write_json(folder / "ann.json", make_coco_doc(seed=seed))
    with ProjectStore.create(folder / "p.dpproj") as store:
        import_coco(store, ann, folder / "images")
    return folder / "p.dpproj"


def _media_count(path: Path) -> int:
    with ProjectStore.open(path) as store:
        return store.counts()["media"]


def _stray(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.stray-*"))


def _foreign_wal(tmp_path: Path, kind: str) -> Path:
    """A killed session's -wal of another database: another project, or a plain SQLite file."""
    if kind == "another-project":
        other = _project(tmp_path / "other", seed=9)
        _killed_session(other)
        return Path(f"{other}-wal")
    other = tmp_path / "other" / "notes.db"
    other.parent.mkdir()
    script = (
        "import os, signal, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA journal_mode = WAL'); c.execute('CREATE TABLE notes (text TEXT)')\n"
        "c.execute(\"INSERT INTO notes VALUES ('hello')\")\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(other)], timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return Path(f"{other}-wal")


@pytest.mark.parametrize("kind", ["another-project", "plain-sqlite"])
def test_a_wal_from_another_database_is_moved_aside_and_never_replayed(tmp_path, kind, capsys):
    project = _project(tmp_path / "mine", seed=3)
    media = _media_count(project)
    foreign = _foreign_wal(tmp_path, kind)
    shutil.copyfile(foreign, f"{project}-wal")
    shutil.copyfile(f"{foreign.with_suffix('')}{foreign.suffix.replace('-wal', '-shm')}", f"{project}-shm")
    before = digest(project)

    assert main(["project", "stats", str(project)]) == 0  # read-only: the file is never written
    captured = capsys.readouterr()
    assert digest(project) == before
    assert f"media      {media} (" in captured.out
    moved = _stray(project.parent)
    assert [m.name.split(".stray-")[0] for m in moved] == ["p.dpproj-shm", "p.dpproj-wal"]
    wal_moved = next(m for m in moved if "-wal" in m.name)
    assert wal_moved.read_bytes() == foreign.read_bytes()  # moved, not lost
    warning = captured.err.strip()
    assert warning.startswith(
        f"warning: {project}: the write-ahead log beside it (p.dpproj-wal) does not belong"
    )
    assert str(wal_moved) in warning and f"rename {wal_moved.name} back to p.dpproj-wal" in warning

    with ProjectStore.open(project) as store:  # an editing open finds nothing left to move
        assert store.notices == [] and store.counts()["media"] == media
        store.add_media(tmp_path / "after.jpg", "image", must_exist=False)
    assert _media_count(project) == media + 1


@pytest.mark.parametrize("later", ["much", "one-edit"])
def test_an_older_copy_restored_beside_a_killed_sessions_wal(tmp_path, later):
    """The backup is older than the file the log was written for: replayed, pages of two versions mix. After
    much later work the mix is a damaged file ("malformed"); after one edit it is a sound-looking file that
    silently holds part of the newer version: only the edit stamp tells them apart."""
    project = _project(tmp_path / "mine", seed=3)
    backup = tmp_path / "backup.dpproj"
    shutil.copyfile(project, backup)
    media = _media_count(backup)
    with ProjectStore.open(project) as store:  # later work, folded into the file when it closes
        if later == "much":
            import_coco(store, write_json(tmp_path / "more.json", make_coco_doc(seed=5)), tmp_path / "mine")
        for i in range(60 if later == "much" else 1):
            store.add_media(tmp_path / f"later-{i}.jpg", "image", must_exist=False, extra={"pad": "z" * 2000})
    _killed_session(project, adds=40 if later == "much" else 1)
    shutil.copyfile(backup, project)  # the user restores the backup; the killed session's -wal stays

    with ProjectStore.open(project, check=True) as store:
        assert store.counts()["media"] == media
        assert len(store.notices) == 1 and "does not belong to this file" in store.notices[0]
        assert "another copy of this project" in store.notices[0]
    assert _media_count(project) == media
    assert [m.name.split(".stray-")[0] for m in _stray(project.parent)] == ["p.dpproj-shm", "p.dpproj-wal"]
    assert main(["project", "check", str(project)]) == 0


def test_the_projects_own_wal_is_replayed(tmp_path, capsys):
    """A killed writer of this very file: every edit it acknowledged is there, read-only too, and the
    read-only open leaves the file and its log as they were."""
    project = _project(tmp_path / "mine", seed=3)
    acknowledged = _killed_session(project)
    before, log = digest(project), Path(f"{project}-wal").read_bytes()

    assert main(["project", "stats", str(project), "--json"]) == 0
    assert sum(json.loads(capsys.readouterr().out)["media"].values()) == acknowledged
    assert digest(project) == before and Path(f"{project}-wal").read_bytes() == log

    with ProjectStore.open(project) as store:
        assert store.notices == [] and store.counts()["media"] == acknowledged
    assert _stray(project.parent) == []
    assert _media_count(project) == acknowledged


def test_a_wal_in_use_by_an_open_project_is_left_alone(tmp_path):
    """Another window (here: another connection of this process) has the project open with edits in its
    log: a second open reads them and moves nothing."""
    project = _project(tmp_path / "mine", seed=3)
    media = _media_count(project)
    with ProjectStore.open(project) as first:
        first.add_media(tmp_path / "live.jpg", "image", must_exist=False)
        with ProjectStore.open(project, read_only=True) as second:
            assert second.notices == [] and second.counts()["media"] == media + 1
        with ProjectStore.open(project) as third:
            assert third.notices == [] and third.counts()["media"] == media + 1
    assert _stray(project.parent) == []


def test_a_read_only_open_refuses_edits(tmp_path):
    project = _project(tmp_path / "mine", seed=3)
    with ProjectStore.open(project) as store:
        pass
    before = digest(project)
    with (
        ProjectStore.open(project, read_only=True) as store,
        pytest.raises(ProjectReadOnlyError, match="open read-only"),
    ):
        store.add_media(tmp_path / "x.jpg", "image", must_exist=False)
    assert digest(project) == before


def test_read_only_commands_never_upgrade_an_older_project(tmp_path, capsys):
    """An upgrade writes the file: `stats` of a schema-1 project says so and leaves it byte for byte; the
    app's open (for editing) upgrades it as before."""
    from tests.unit.test_project_schema import _make_v1_project

    project = tmp_path / "old.dpproj"
    _make_v1_project(project)
    before, files = digest(project), sorted(p.name for p in tmp_path.iterdir())
    assert main(["project", "stats", str(project)]) == 2
    err = capsys.readouterr().err
    assert "schema version 1 must be upgraded" in err and "open it once in the app" in err
    assert digest(project) == before and sorted(p.name for p in tmp_path.iterdir()) == files
    with ProjectStore.open(project) as store:
        assert store.schema_version > 1
    assert main(["project", "stats", str(project)]) == 0
