"""A project on a full disk can be read (issue 23, defect 6): ``stats``, ``check`` and an export to another
disk open it read-only and work, and the app opens it read-only with a banner saying why. Found by the
attack: all of them were refused with "the project cannot save its work", so nothing could be rescued.

The disk is a real one that fills: a small tmpfs (as in test_damaged_projects), filled to the last byte."""

from __future__ import annotations

import json

import pytest

from distilpose.cli import main
from distilpose.project import ProjectStore
from distilpose.project.coco_io import ANNOTATION_FILE, import_coco
from distilpose.project.errors import ProjectReadOnlyError
from tests.hardening.support import digest, fill_disk, listing, small_disk
from tests.unit.coco_factory import make_coco_doc
from tests.unit.test_project_support import write_json

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def full_disk_project(tmp_path):
    """A project with people on a disk with no byte left; the disk is freed after the test."""
    with small_disk(tmp_path / "disk", "512k") as disk:
        (tmp_path / "images").mkdir()
        ann = write_json(tmp_path / "ann.json", make_coco_doc(seed=3))
        with ProjectStore.create(disk / "p.dpproj") as store:
            import_coco(store, ann, tmp_path / "images")
            people = store.counts()["instances"]
        fill_disk(disk)
        yield disk / "p.dpproj", people
        (disk / "filler").unlink()


def test_stats_check_and_export_elsewhere_read_a_project_on_a_full_disk(tmp_path, full_disk_project, capsys):
    project, people = full_disk_project
    before, files = digest(project), listing(project.parent)

    assert main(["project", "stats", str(project), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["instances"] == people
    assert main(["project", "check", str(project)]) == 0
    assert capsys.readouterr().out.strip() == f"{project}: no damage found"
    out = tmp_path / "rescued"
    assert main(["project", "export-coco", str(project), str(out), "--images", "none"]) == 0
    exported = json.loads((out / ANNOTATION_FILE).read_text())
    assert len(exported["annotations"]) >= people - 2 and exported["annotations"]

    assert digest(project) == before and listing(project.parent) == files  # nothing written, nothing left


def test_an_edit_on_a_full_disk_still_says_the_disk_is_full(full_disk_project, capsys):
    project, _ = full_disk_project
    assert main(["project", "split", str(project)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(project) in err and "is full" in err, err


def test_the_app_opens_a_project_on_a_full_disk_read_only_with_a_banner(qtbot, full_disk_project):
    from distilpose.app.main_window import MainWindow
    from distilpose.app.state import AppState

    project, people = full_disk_project
    errors: list[tuple[str, str]] = []
    window = MainWindow(AppState(), error_sink=lambda _parent, title, text: errors.append((title, text)))
    qtbot.addWidget(window)
    window.show()
    assert window.project.open_project(project), errors
    store = window.state.project
    assert store is not None and "is full" in (store.read_only or "")
    assert sum(len(v) for v in store.instances_by_frame().values()) == people
    banner = window.read_only_banner
    assert banner.isVisible() and "read-only" in banner.text() and "is full" in banner.text()
    with pytest.raises(ProjectReadOnlyError, match="open read-only"):
        store.set_split(window.state.frames[0].frame_id, "val")
    window.project.close_project()
    assert not banner.isVisible()


def test_a_writable_project_has_no_banner(qtbot, tmp_path):
    from distilpose.app.main_window import MainWindow
    from distilpose.app.state import AppState

    ProjectStore.create(tmp_path / "p.dpproj").close()
    window = MainWindow(AppState(), error_sink=lambda *a: None)
    qtbot.addWidget(window)
    window.show()
    assert window.project.open_project(tmp_path / "p.dpproj")
    assert window.state.project.read_only is None and not window.read_only_banner.isVisible()


def test_a_stray_wal_on_a_full_disk_is_moved_aside_and_said_in_the_app(qtbot, tmp_path):
    """Both at once: the open that moves the stray log aside is the one that finds the disk full; the
    read-only project still tells what was moved."""
    import shutil

    from distilpose.app.main_window import MainWindow
    from distilpose.app.state import AppState
    from tests.hardening.test_stray_wal import _foreign_wal

    (tmp_path / "elsewhere").mkdir()
    foreign = _foreign_wal(tmp_path / "elsewhere", "plain-sqlite")
    with small_disk(tmp_path / "disk", "512k") as disk:
        project = disk / "p.dpproj"
        ProjectStore.create(project).close()
        shutil.copyfile(foreign, f"{project}-wal")
        fill_disk(disk)
        errors: list[tuple[str, str]] = []
        window = MainWindow(AppState(), error_sink=lambda _parent, title, text: errors.append((title, text)))
        qtbot.addWidget(window)
        assert window.project.open_project(project), errors
        assert "is full" in window.state.project.read_only
        title, text = errors[-1]
        assert title == "The project was opened with a warning" and "does not belong to this file" in text
        assert [p.name.split(".stray-")[0] for p in disk.glob("*.stray-*")] == ["p.dpproj-wal"]
        window.project.close_project()
        (disk / "filler").unlink()
