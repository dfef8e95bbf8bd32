"""Exports never touch files they should not (issue 15, defects 1, 2 and 8).

- Re-exporting over a ``--images link`` export replaces the linked names; it never writes into them, so the
  user's originals (the other names of those links) keep their bytes.
- Media paths are resolved once, at import, inside the images folder the user named: a COCO ``file_name``
  that is absolute, climbs out with ``..`` or leads out through a symbolic link is refused, naming the COCO
  file, the image id and the name. An export reads only image files the project owns: a project whose media
  path names any other file (a text file, a link out of an image folder) is refused before a byte is written.
- A full disk blames the file being written, leaves no partial image, and a killed export's temp files are
  removed by the next export of the same folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from distilpose.cli import main
from distilpose.errors import CocoFormatError, DistilPoseError
from distilpose.project import ProjectStore
from distilpose.project.coco_io import ANNOTATION_FILE, export_coco, import_coco
from distilpose.project.yolo_io import export_yolo
from tests.conftest import REPO_ROOT
from tests.hardening.support import digest, fill_disk, small_disk
from tests.unit.test_project_support import person, write_jpeg, write_json

pytestmark = pytest.mark.timeout(120)


def _one_image_project(folder: Path, seed: int) -> Path:
    """A project holding one real image ``x.jpg`` (its own, different for each seed) with one person."""
    folder.mkdir(parents=True)
    image = write_jpeg(folder / "images" / "x.jpg", 64, 48, seed=seed)
    with ProjectStore.create(folder / "p.dpproj") as store:
        frame = store.add_frame(store.add_media(image, width=64, height=48))
        store.add_instance(frame, person(), verified=True)
    return folder / "p.dpproj"


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".tmp" in p.name]


# ------------------------------------------------------------------------------------------------ defect 1


@pytest.mark.parametrize("second_mode", ["copy", "link"])
@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_reexport_over_a_link_export_leaves_the_originals_alone(tmp_path, fmt, second_mode):
    """Found by the attack: A's x.jpg held B's image after `export A --images link`, `export B --force`."""
    a, b = _one_image_project(tmp_path / "a", seed=1), _one_image_project(tmp_path / "b", seed=2)
    original_a, original_b = a.parent / "images" / "x.jpg", b.parent / "images" / "x.jpg"
    before_a, before_b = digest(original_a), digest(original_b)
    out = tmp_path / "out"
    export = {"coco": export_coco, "yolo": export_yolo}[fmt]
    with ProjectStore.open(a) as store:
        export(store, out, images="link")
    exported = out / "images" / ("train/x.jpg" if fmt == "yolo" else "x.jpg")
    assert os.path.samefile(exported, original_a)  # the first export really linked
    with ProjectStore.open(b) as store:
        export(store, out, images=second_mode, overwrite=True)
    assert digest(original_a) == before_a, "the re-export wrote into A's original through the link"
    assert digest(original_b) == before_b
    assert digest(exported) == before_b and not _temps(out)


def test_cli_reexport_over_a_link_export(tmp_path, capsys):
    a, b = _one_image_project(tmp_path / "a", seed=3), _one_image_project(tmp_path / "b", seed=4)
    before = digest(a.parent / "images" / "x.jpg")
    out = tmp_path / "out"
    assert main(["project", "export-coco", str(a), str(out), "--images", "link"]) == 0
    assert main(["project", "export-coco", str(b), str(out), "--force"]) == 0
    assert digest(a.parent / "images" / "x.jpg") == before


# ------------------------------------------------------------------------------------------------ defect 2


def _coco_with(file_name: str, image_id: int = 7) -> dict:
    kp = [v for k in range(17) for v in (10.0 + k, 20.0 + k, 2)]
    return {
        "images": [{"id": image_id, "file_name": file_name, "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": image_id, "category_id": 1, "keypoints": kp, "num_keypoints": 17,
                         "bbox": [10, 20, 16, 16], "area": 256, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "person"}],
    }  # fmt: skip


@pytest.fixture
def layout(tmp_path) -> Path:
    """tmp/images (the folder the user names), tmp/outside/secret.txt and a real image outside."""
    (tmp_path / "images").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("the user's secret\n")
    write_jpeg(tmp_path / "outside" / "private.jpg", 64, 48, seed=9)
    write_jpeg(tmp_path / "images" / "ok.jpg", 64, 48, seed=8)
    return tmp_path


@pytest.mark.parametrize(
    ("file_name", "words"),
    [
        ("../outside/secret.txt", "climbs out of the images folder"),
        ("sub/../../outside/private.jpg", "climbs out of the images folder"),
        ("{abs}/outside/secret.txt", "is an absolute path"),
        ("C:\\outside\\secret.txt", "is an absolute path"),
        ("link-out/private.jpg", "leads (through a link) out of the images folder"),
        ("secret-link.jpg", "leads (through a link) out of the images folder"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "windows-drive", "folder-link-out", "file-link-out"],
)
def test_import_refuses_names_outside_the_images_folder(layout, file_name, words):
    (layout / "images" / "link-out").symlink_to(layout / "outside")
    (layout / "images" / "secret-link.jpg").symlink_to(layout / "outside" / "secret.txt")
    file_name = file_name.replace("{abs}", str(layout))
    ann = write_json(layout / "hostile.json", _coco_with(file_name))
    with ProjectStore.create(layout / "p.dpproj") as store:
        with pytest.raises(CocoFormatError) as info:
            import_coco(store, ann, layout / "images")
        assert store.counts()["media"] == 0 and store.counts()["instances"] == 0
    text = str(info.value)
    assert text.startswith(str(ann)) and "image id 7" in text and words in text
    assert json.dumps(file_name)[:20] in text


def test_import_accepts_names_that_stay_inside(layout):
    (layout / "images" / "sub").mkdir()
    (layout / "images" / "alias.jpg").symlink_to(layout / "images" / "ok.jpg")  # a link that stays inside
    for i, name in enumerate(["sub/../ok.jpg", "alias.jpg"]):
        ann = write_json(layout / f"fine{i}.json", _coco_with(name, image_id=10 + i))
        with ProjectStore.open(layout / "p.dpproj") if i else ProjectStore.create(layout / "p.dpproj") as store:
            import_coco(store, ann, layout / "images")
    with ProjectStore.open(layout / "p.dpproj") as store:
        assert sorted(m.path for m in store.media_list()) == ["images/alias.jpg", "images/ok.jpg"]


def test_cli_import_of_a_traversal_name_exits_2_and_changes_nothing(layout, capsys):
    ann = write_json(layout / "hostile.json", _coco_with("../outside/secret.txt"))
    assert main(["project", "create", str(layout / "p.dpproj")]) == 0
    assert main(["project", "import-coco", str(layout / "p.dpproj"), str(ann), "--images", str(layout / "images")]) == 2
    err = capsys.readouterr().err
    assert str(ann) in err and "image id 7" in err and "../outside/secret.txt" in err
    assert main(["project", "export-coco", str(layout / "p.dpproj"), str(layout / "out")]) == 0
    assert not (layout / "out" / "images").exists() or list((layout / "out" / "images").iterdir()) == []


@pytest.mark.parametrize("mode", ["copy", "link"])
@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_export_refuses_media_that_is_not_an_image(layout, fmt, mode):
    """A project is data: a media record naming a text file (absolute, or climbing out with ../) must not
    put that file into a dataset. Refused before anything is written."""
    with ProjectStore.create(layout / "p.dpproj") as store:
        store.add_frame(store.add_media(layout / "images" / "ok.jpg"))
        store.add_frame(store.add_media(layout / "outside" / "secret.txt", "image", width=64, height=48))
        store.conn.execute("UPDATE media SET path = ? WHERE id = 2", (str(layout / "outside" / "secret.txt"),))
        out = layout / "out"
        export = {"coco": export_coco, "yolo": export_yolo}[fmt]
        with pytest.raises(DistilPoseError) as info:
            export(store, out, images=mode)
    text = str(info.value)
    assert "secret.txt" in text and "not a readable image" in text
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]


def test_export_refuses_a_link_out_of_an_image_folder(layout):
    """Found by the attack: a symbolic link inside an image folder was followed, its target copied, and the
    copy left behind when the export failed later."""
    folder = layout / "images"
    (folder / "zz-private.jpg").symlink_to(layout / "outside" / "private.jpg")  # an image, but not owned
    with ProjectStore.create(layout / "p.dpproj") as store:
        media = store.add_media(folder, "folder")
        for index in (0, 1):
            store.add_instance(store.add_frame(media, index), person())
        out = layout / "out"
        with pytest.raises(DistilPoseError) as info:
            export_coco(store, out)
    assert "zz-private.jpg" in str(info.value) and "outside its image folder" in str(info.value)
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]


def test_export_refuses_a_device_or_pipe_as_an_image(layout):
    fifo = layout / "images" / "pipe.jpg"
    os.mkfifo(fifo)
    with ProjectStore.create(layout / "p.dpproj") as store:
        store.add_frame(store.add_media(fifo, "image", width=4, height=4))
        with pytest.raises(DistilPoseError, match="not a regular file"):
            export_coco(store, layout / "out")


# ------------------------------------------------------------------------------------------------ defect 8


def test_export_to_a_full_disk_blames_the_destination(tmp_path, capsys):
    project = _one_image_project(tmp_path / "a", seed=5)
    source = project.parent / "images" / "x.jpg"
    before = digest(source)
    with small_disk(tmp_path / "disk", "256k") as disk:
        fill_disk(disk)
        out = disk / "export"
        assert main(["project", "export-coco", str(project), str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert "No space left on device" in err and str(out) in err, err
        assert str(source) not in err, f"the error blames the source image: {err}"
        assert not _temps(disk), "a partial image or temp file was left"
        assert not (out / ANNOTATION_FILE).exists()
    assert digest(source) == before


def test_a_killed_export_leaves_temp_files_that_the_next_export_removes(tmp_path):
    """SIGKILL in the middle of writing an image (its temp file written, not yet renamed): the next export
    of the same folder removes the leftovers; files of other names stay."""
    project = _one_image_project(tmp_path / "a", seed=6)
    out = tmp_path / "out"
    script = (
        "import os, signal, sys\n"
        "import distilpose.atomic as atomic\n"
        "from distilpose.project import ProjectStore\n"
        "from distilpose.project.coco_io import export_coco\n"
        "atomic.os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)\n"
        "with ProjectStore.open(sys.argv[1]) as store:\n"
        "    export_coco(store, sys.argv[2])\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(project), str(out)], cwd=REPO_ROOT, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    left = _temps(out)
    assert left, "the kill did not land inside an image write"
    (out / "images" / ".keep.tmp").write_text("a user's file, not ours")
    with ProjectStore.open(project) as store:
        export_coco(store, out, overwrite=True)
    assert _temps(out) == [out / "images" / ".keep.tmp"]
    assert (out / ANNOTATION_FILE).exists()


def test_stale_temp_files_of_every_export_folder_are_removed(tmp_path):
    project = _one_image_project(tmp_path / "a", seed=7)
    out = tmp_path / "out"
    stale = [
        out / "annotations" / ".person_keypoints.json.abcd1234.tmp.json",
        out / "images" / "sub" / ".x.jpg.k2j4h5g6.tmp.jpg",
        out / "labels" / "train" / ".x.txt.zz99yy88.tmp.txt",
        out / ".data.yaml.a1b2c3d4.tmp.yaml",
    ]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    with ProjectStore.open(project) as store:
        export_coco(store, out)
        assert [p for p in stale if p.exists()] == stale[2:]
        export_yolo(store, out)
    assert not _temps(out)


def test_a_failed_image_copy_leaves_no_partial_file(tmp_path, monkeypatch):
    """A write that fails half-way (EFBIG from the kernel, like a full disk) removes its temp file; images
    completed before it stay whole."""
    import errno

    import distilpose.atomic as atomic

    project = _one_image_project(tmp_path / "a", seed=8)
    with ProjectStore.open(project) as store:
        frame = store.add_frame(store.add_media(write_jpeg(tmp_path / "a" / "images" / "y.jpg", 64, 48, seed=3)))
        store.add_instance(frame, person())
        calls = []

        real_fsync = os.fsync

        def fsync(fd):
            if ".tmp" in os.readlink(f"/proc/self/fd/{fd}"):
                calls.append(fd)
                if len(calls) == 2:  # the second image fills the disk
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_fsync(fd)

        monkeypatch.setattr(atomic.os, "fsync", fsync)
        out = tmp_path / "out"
        with pytest.raises(OSError) as info:
            export_coco(store, out)
    assert str(out / "images") in str(info.value) and str(tmp_path / "a" / "images") not in str(info.value)
    assert not _temps(out)
    written = [p.name for p in (out / "images").iterdir()]
    assert len(written) == 1
    assert np.array_equal(
        np.frombuffer((out / "images" / written[0]).read_bytes(), np.uint8),
        np.frombuffer((tmp_path / "a" / "images" / written[0]).read_bytes(), np.uint8),
    )
