"""Image reading for the app: RGB output, non-ASCII paths, and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from distilpose.app.media import is_image_path, read_image
from distilpose.errors import MediaError


def _write_bgr(path: Path, bgr: np.ndarray) -> None:
    ok, buf = cv2.imencode(path.suffix, bgr)
    assert ok
    buf.tofile(path)  # tofile: cv2.imwrite cannot write non-ASCII paths everywhere either


def test_reads_rgb_channel_order(tmp_path: Path) -> None:
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[:] = (10, 20, 30)  # B, G, R
    path = tmp_path / "c.png"
    _write_bgr(path, bgr)
    rgb = read_image(path)
    assert rgb.shape == (4, 6, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == (30, 20, 10)
    assert not rgb.flags.writeable


def test_reads_non_ascii_path_and_grey_images(tmp_path: Path) -> None:
    folder = tmp_path / "données ü 写真"
    folder.mkdir()
    path = folder / "größe.png"
    _write_bgr(path, np.full((3, 5), 77, np.uint8))
    rgb = read_image(path)
    assert rgb.shape == (3, 5, 3)
    assert (rgb == 77).all()


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: None, "file not found"),
        (lambda p: p.write_bytes(b""), "the file is empty"),
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(2000)), "not a readable image"),
        (lambda p: p.mkdir(), "is a folder"),
    ],
    ids=["missing", "empty", "corrupt", "folder"],
)
def test_bad_files_raise_media_error_naming_the_file(tmp_path: Path, make, problem: str) -> None:
    path = tmp_path / "bad.jpg"
    make(path)
    with pytest.raises(MediaError) as info:
        read_image(path)
    assert str(info.value).startswith(f"{path}: ")
    assert problem in str(info.value)


def test_truncated_jpeg_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    _write_bgr(path, np.full((64, 64, 3), 128, np.uint8))
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(MediaError, match="not a readable image"):
        read_image(path)


def test_is_image_path() -> None:
    assert is_image_path("a/B.JPG") and is_image_path("x.png")
    assert not is_image_path("x.json") and not is_image_path("noext")
