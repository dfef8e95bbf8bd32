"""Decompression bombs (issue 15, defect 4): a 1 MB PNG declaring 30000 x 30000 pixels peaked at 5.2-5.4 GB
and ~50 s in the app's source loader, pseudo-label and exports; 60000 x 60000 gave a raw ``cv2.error``.

One image reader (:func:`distilpose.video.read_image`) reads the declared size from the header first and
refuses anything over :data:`distilpose.video.MAX_IMAGE_PIXELS`, naming the file and the size. Each caller is
run under a 1 GiB address-space cap: a reader that decodes the bomb fails the test instead of the machine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import distilpose.video as video
from distilpose.errors import DistilPoseError, MediaError
from distilpose.project import ProjectStore
from distilpose.project.coco_io import export_coco
from distilpose.project.yolo_io import export_yolo
from distilpose.pseudolabel import pseudo_label
from distilpose.video import image_size, open_source, read_image
from tests.hardening.support import address_space_headroom, png_bomb, skip_unless_linux
from tests.unit.test_project_support import person, write_jpeg

pytestmark = pytest.mark.timeout(120)

CAP = 1 << 30


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A real, decodable 30000 x 30000 PNG of ~110 KB (2.7 GB once decoded)."""
    path = png_bomb(tmp_path_factory.mktemp("bomb") / "bomb.png", 30000, 30000)
    assert path.stat().st_size < 1_000_000
    return path


def _refused(exc: BaseException, path: Path, size: str) -> None:
    assert isinstance(exc, DistilPoseError), f"{type(exc).__name__}: {exc}"
    assert str(path) in str(exc) and size in str(exc) and "MP" in str(exc), str(exc)


@pytest.mark.parametrize(
    "reader", [read_image, lambda p: open_source(p).frame(0)], ids=["read_image", "open_source"]
)
def test_the_reader_refuses_a_bomb_from_its_header(bomb, reader):
    skip_unless_linux()
    with address_space_headroom(CAP), pytest.raises(Exception) as info:  # noqa: PT011 - checked below
        reader(bomb)
    _refused(info.value, bomb, "30000 x 30000")


def test_a_60000_pixel_header_gives_a_media_error_not_cv2_error(tmp_path):
    """Found by the attack: a raw `cv2.error` traceback (over OpenCV's own 2^30 pixel limit)."""
    path = png_bomb(tmp_path / "huge.png", 60000, 60000, pixels=False)
    with pytest.raises(MediaError) as info:
        read_image(path)
    _refused(info.value, path, "60000 x 60000")


def test_an_image_just_under_the_limit_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(video, "MAX_IMAGE_PIXELS", 64 * 48)
    path = write_jpeg(tmp_path / "ok.jpg", 64, 48)
    assert read_image(path).shape == (48, 64, 3)
    assert image_size(path.read_bytes(), path) == (64, 48)
    monkeypatch.setattr(video, "MAX_IMAGE_PIXELS", 64 * 48 - 1)
    with pytest.raises(MediaError, match="64 x 48"):
        read_image(path)


@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_export_of_an_image_without_a_recorded_size_refuses_a_bomb(tmp_path, bomb, fmt):
    skip_unless_linux()
    with ProjectStore.create(tmp_path / "p.dpproj") as store:
        frame = store.add_frame(store.add_media(bomb, "image"))  # no width/height: the export must look
        store.add_instance(frame, person())
        out = tmp_path / "out"
        export = {"coco": lambda: export_coco(store, out, images="none"), "yolo": lambda: export_yolo(store, out)}
        with address_space_headroom(CAP), pytest.raises(DistilPoseError) as info:
            export[fmt]()
    _refused(info.value, bomb, "30000 x 30000")
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]


def test_pseudo_label_refuses_a_bomb(tmp_path, bomb):
    skip_unless_linux()

    from distilpose.pipeline import LivePipeline

    class Never:
        name = "never"

        def detect(self, *args):
            raise AssertionError("a model was run on a bomb")

        predict = detect

    never = LivePipeline(Never(), Never())  # type: ignore[arg-type]
    with address_space_headroom(CAP), pytest.raises(MediaError) as info:
        pseudo_label([bomb], tmp_path / "out", pipeline=never, teacher_name="none")
    _refused(info.value, bomb, "30000 x 30000")


def test_the_app_reports_a_bomb_and_keeps_its_image(qtbot, tmp_path, bomb):
    """The app's source loader goes through the same reader: an error dialog, the previous image stays."""
    skip_unless_linux()
    from distilpose.app.main_window import MainWindow
    from distilpose.app.state import AppState

    errors: list[tuple[str, str]] = []
    window = MainWindow(AppState(), error_sink=lambda _parent, title, text: errors.append((title, text)))
    window.errors = errors
    qtbot.addWidget(window)
    good = write_jpeg(tmp_path / "good.jpg", 64, 48)
    assert window.open_image(good)
    with address_space_headroom(CAP):
        assert not window.open_image(bomb)
    _refused(MediaError(window.errors[-1][1]), bomb, "30000 x 30000")
    assert window.state.image_path == good and np.asarray(window.state.image).shape == (48, 64, 3)
