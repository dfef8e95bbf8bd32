"""Corrupt and truncated media: images and videos cut at many points, header-only files, random bytes and
a folder named like an image. Each gives a MediaError naming the file, or frames that are exactly right."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from distilpose.errors import MediaError
from distilpose.video import VideoReader, open_source, read_image
from tests.hardening.support import FUZZ, assert_names_file
from tests.unit.test_video import read_number, write_numbered_video

FRAMES = 24


def _picture() -> np.ndarray:
    """A smooth RGB test card (compresses well, so a cut lands inside real image data)."""
    y, x = np.mgrid[0:48, 0:64]
    return np.stack([x * 4, y * 5, (x + y) * 2], axis=-1).astype(np.uint8)


def _encoded(ext: str, progressive: bool = False) -> bytes:
    params = [int(cv2.IMWRITE_JPEG_PROGRESSIVE), 1] if progressive else []
    ok, buf = cv2.imencode(ext, cv2.cvtColor(_picture(), cv2.COLOR_RGB2BGR), params)
    assert ok
    return buf.tobytes()


IMAGES = {
    "png": _encoded(".png"),
    "jpg": _encoded(".jpg"),
    "progressive.jpg": _encoded(".jpg", progressive=True),
}


def _image_or_error(path: Path, reference: np.ndarray) -> str:
    """read_image and open_source agree: both raise MediaError naming the file, or both give ``reference``."""
    outcomes = []
    for read in (read_image, lambda p: open_source(p).frame(0)):
        try:
            pixels = read(path)
        except Exception as exc:  # noqa: BLE001
            assert_names_file(exc, path)
            assert isinstance(exc, MediaError)
            outcomes.append("error")
        else:
            assert pixels.dtype == np.uint8 and pixels.shape == reference.shape
            np.testing.assert_array_equal(pixels, reference)  # a cut file never gives half a picture
            outcomes.append("image")
    assert outcomes[0] == outcomes[1], outcomes
    return outcomes[0]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", sorted(IMAGES))
def test_every_truncation_of_an_image(tmp_path, kind):
    data = IMAGES[kind]
    whole = tmp_path / f"whole.{kind}"
    whole.write_bytes(data)
    reference = read_image(whole)
    np.testing.assert_array_equal(reference, _picture()) if kind == "png" else None
    cut = tmp_path / f"cut.{kind}"
    seen = set()
    for size in range(0, len(data), max(1, len(data) // 150)):
        cut.write_bytes(data[:size])
        seen.add(_image_or_error(cut, reference))
    assert "error" in seen


@pytest.mark.timeout(120)
@FUZZ
@given(
    kind=st.sampled_from(sorted(IMAGES)),
    edit=st.sampled_from(["random", "flip", "head+random"]),
    data=st.data(),
)
def test_damaged_images(tmp_path, kind, edit, data):
    """Random bytes under an image name, and real images with bytes changed: MediaError or a picture."""
    raw = bytearray(IMAGES[kind])
    if edit == "random":
        raw = bytearray(data.draw(st.binary(max_size=400), label="bytes"))
    elif edit == "head+random":
        raw = raw[:32] + bytearray(data.draw(st.binary(max_size=400), label="tail"))
    else:
        for _ in range(data.draw(st.integers(1, 8), label="flips")):
            raw[data.draw(st.integers(0, len(raw) - 1), label="at")] = data.draw(
                st.integers(0, 255), label="b"
            )
    path = tmp_path / f"damaged.{kind}"
    path.write_bytes(bytes(raw))
    try:
        pixels = read_image(path)
    except Exception as exc:  # noqa: BLE001
        assert_names_file(exc, path)
        assert isinstance(exc, MediaError)
    else:  # damaged pixels can decode (JPEG has no checksum): still a well-formed RGB image
        assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.write_bytes(b""), "the file is empty"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: None, "file not found"),
    ],
    ids=["zero-bytes", "folder-named-x.jpg", "missing"],
)
def test_empty_missing_and_folder_images(tmp_path, make, problem):
    path = tmp_path / "x.jpg"
    make(path)
    with pytest.raises(MediaError) as info:
        read_image(path)
    assert str(info.value).startswith(f"{path}: ") and problem in str(info.value)
    if path.is_dir():  # open_source takes a folder as an image folder: an empty one is reported as such
        with pytest.raises(MediaError, match="no images in this folder") as info:
            open_source(path)
        assert str(path) in str(info.value)


class _Bytes(bytes):
    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing case: keep it short
        return f"<{len(self)} bytes of video>"


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, tuple[bytes, list[int]]]:
    """H.264 (B-frames) MP4s with the header at the end (default) and at the front (faststart), an AVI (header
    first, index at the end, stamps in decode order), and the pts of every frame, which identify the frame a
    reader returns."""
    folder = tmp_path_factory.mktemp("videos")
    out = {}
    for name, faststart in (("tail-header", False), ("faststart", True), ("avi", False)):
        path = folder / (f"{name}.mp4" if name != "avi" else "numbered.avi")
        write_numbered_video(path, FRAMES, gop=6, faststart=faststart)
        with VideoReader(path, index_cache=None) as video:
            assert len(video) == FRAMES and [read_number(video.frame(k)) for k in range(FRAMES)] == list(
                range(FRAMES)
            )
            pts = list(video.index.pts)
        out[name] = (_Bytes(path.read_bytes()), pts)
    return out


def _check_video(path: Path, pts: list[int]) -> tuple[str, int]:
    """Open and read every frame (forwards, then backwards to force seeks): each frame is the original
    frame of the same timestamp (identified by its number bands), or a MediaError naming the file."""
    try:
        video = VideoReader(path, index_cache=None)
    except Exception as exc:  # noqa: BLE001
        assert_names_file(exc, path)
        assert isinstance(exc, MediaError)
        return "refused", 0
    good = 0
    with video:
        assert 0 < len(video) <= len(pts)
        for k in [*range(len(video)), *range(len(video) - 1, -1, -1)]:
            try:
                rgb = video.frame(k)
            except Exception as exc:  # noqa: BLE001
                assert_names_file(exc, path)
                assert isinstance(exc, MediaError)
                continue
            assert rgb.shape == (48, 96, 3)
            assert read_number(rgb) == pts.index(video.index.pts[k]), f"frame {k} shows another frame"
            good += 1
    return "opened", good


@pytest.mark.timeout(150)
@pytest.mark.parametrize("name", ["tail-header", "faststart", "avi"])
def test_videos_truncated_at_many_points(tmp_path, videos, name):
    """For the AVI, found with issue 'avi-order': a cut AVI (no index at its end) seeks exactly to the decode
    time asked for, keyframe or not, so a seek by stamp began mid-GOP and no frame was readable; and the
    demuxer hands over the cut last packet, whose picture came out as another frame's."""
    data, pts = videos[name]
    path = tmp_path / (f"cut-{name}.mp4" if name != "avi" else "cut.avi")
    outcomes = []
    for size in sorted({*range(1, len(data), max(1, len(data) // 40)), 8, 40, len(data) - 1}):
        path.write_bytes(data[:size])
        outcomes.append(_check_video(path, pts))
    assert ("refused", 0) in outcomes
    if name in ("faststart", "avi"):  # the header is first: a cut file keeps the frames before the cut
        assert any(kind == "opened" and good > FRAMES for kind, good in outcomes)


def test_video_cut_before_its_sample_description_is_a_media_error(tmp_path, videos):
    """Found by the truncation sweep: an MP4 cut inside its header, before the sample description (stsd),
    opened a stream with no codec context and raised AttributeError ('NoneType' object has no attribute
    'width') out of VideoReader and open_source."""
    for name in ("tail-header", "faststart"):
        data, _ = videos[name]
        path = tmp_path / f"no-stsd-{name}.mp4"
        path.write_bytes(data[: data.index(b"stsd")])
        with pytest.raises(MediaError) as info:
            VideoReader(path, index_cache=None)
        assert str(info.value).startswith(f"{path}: ")
        with pytest.raises(MediaError):
            open_source(path)


def test_metadata_that_is_not_utf8_does_not_make_a_video_unreadable(tmp_path, videos):
    """Found by the fuzz: one changed byte in the encoder tag ('Lavf...' -> b'\\x80avf...') made av.open raise
    UnicodeDecodeError out of VideoReader. Tags in other encodings are common; the frames are fine."""
    data, pts = videos["tail-header"]
    at = data.rindex(b"Lavf")
    path = tmp_path / "latin1-tag.mp4"
    path.write_bytes(data[:at] + b"\x80" + data[at + 1 :])
    assert _check_video(path, pts) == ("opened", 2 * FRAMES)


@pytest.mark.timeout(120)
@FUZZ
@given(data=st.data(), name=st.sampled_from(["tail-header", "faststart"]))
def test_damaged_videos(tmp_path, videos, data, name):
    """Random bytes, or a real video with bytes changed inside: MediaError, or frames that are right where
    they decode (H.264 has no checksum, so a changed frame may decode differently: only the shape is
    checked for those, never a crash)."""
    raw, pts = videos[name]
    if data.draw(st.booleans(), label="random"):
        blob = data.draw(st.binary(max_size=600), label="bytes")
    else:
        blob = bytearray(raw)
        for _ in range(data.draw(st.integers(1, 6), label="flips")):
            blob[data.draw(st.integers(0, len(blob) - 1), label="at")] = data.draw(
                st.integers(0, 255), label="b"
            )
        blob = bytes(blob)
    path = tmp_path / "damaged.mp4"
    path.write_bytes(blob)
    try:
        video = open_source(path)
    except Exception as exc:  # noqa: BLE001
        assert_names_file(exc, path)
        return
    with video:
        for k in range(min(len(video), 8)):
            try:
                assert video.frame(k).ndim == 3
            except MediaError as exc:
                assert_names_file(exc, path)
