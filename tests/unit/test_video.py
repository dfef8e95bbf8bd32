"""Frame sources: frame-accurate video seeking (B-frames, short GOPs), the index cache, damaged files, folders
and cameras."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from distilpose.errors import MediaError
from distilpose.video import Camera, ImageFolder, VideoReader, open_source, read_image

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "sports2d-demo-640.mp4"
BITS = 6
W, H = 96, 48


def numbered_frame(i: int) -> np.ndarray:
    """A frame whose index is written as 6 black/white bands (robust to H.264 compression)."""
    rgb = np.zeros((H, W, 3), np.uint8)
    band = W // BITS
    for b in range(BITS):
        if (i >> b) & 1:
            rgb[:, b * band : (b + 1) * band] = 255
    return rgb


def read_number(rgb: np.ndarray) -> int:
    band = W // BITS
    bits = [rgb[H // 4 : 3 * H // 4, b * band + 3 : (b + 1) * band - 3].mean() > 128 for b in range(BITS)]
    return sum(1 << b for b, on in enumerate(bits) if on)


def write_numbered_video(
    path: Path, n: int, gop: int = 8, faststart: bool = False, codec: str = "libx264"
) -> None:
    """H.264 with B-frames and a keyframe every ``gop`` frames, so seeking must decode forward. The container
    follows the suffix (an ``.avi`` stores no presentation times); ``codec="mpeg4"``: MPEG-4 Part 2, 2
    B-frames."""
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        if codec == "libx264":
            params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=2"
            stream.options = {"x264-params": params, "crf": "18"}
        else:
            stream.options = {"g": str(gop), "bf": "2", "qscale": "2"}
        for i in range(n):
            for packet in stream.encode(av.VideoFrame.from_ndarray(numbered_frame(i), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.fixture
def numbered(tmp_path: Path) -> Path:
    path = tmp_path / "numbered.mp4"
    write_numbered_video(path, 40)
    return path


def test_every_frame_is_exact_in_any_access_order(numbered: Path) -> None:
    with VideoReader(numbered, index_cache=None) as video:
        assert len(video) == 40 and (video.width, video.height) == (W, H)
        assert video.fps == pytest.approx(25.0)
        assert video.index.keyframes == (0, 8, 16, 24, 32)
        assert not video.truncated
        sequential = [rgb.copy() for _, rgb in video.frames()]
        assert [read_number(f) for f in sequential] == list(range(40))
        order = [37, 3, 3, 8, 7, 9, 31, 0, 39, 16, 15, 17, 24, 2, 30]
        for i in order:
            got = video.frame(i)
            assert read_number(got) == i
            np.testing.assert_array_equal(got, sequential[i])  # bit-identical to sequential decoding
        assert video.time_of(10) == pytest.approx(10 / 25)
        with pytest.raises(MediaError, match=r"frame 40 out of range \(0..39\)"):
            video.frame(40)


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_avi_with_b_frames_gives_every_frame_in_display_order(tmp_path: Path, codec: str) -> None:
    """Found on an NTU RGB+D sample (H.264 in AVI): AVI stores no presentation times, so the demuxer's stamps
    count packets in decode order, and the picture shown third carries stamp 4. Indexed by sorted stamps,
    frames were looked for at the wrong place: 'frame 1 is missing from the file' for a file that decodes
    whole. (MPEG-4 Part 2 in AVI gets real stamps from its parser: the ordinary index, kept.)"""
    path = tmp_path / "numbered.avi"
    write_numbered_video(path, 40, codec=codec)
    with VideoReader(path, index_cache=None) as video:
        assert len(video) == 40 and not video.truncated
        assert video.index.keyframes[0] == 0 and len(video.index.keyframes) >= 5  # seeks decode forward
        sequential = [rgb.copy() for _, rgb in video.frames()]
        assert [read_number(f) for f in sequential] == list(range(40))
        assert video.check_frames().undecodable == ()
        assert [video.time_of(i) for i in (0, 1, 2, 3, 39)] == pytest.approx([0, 0.04, 0.08, 0.12, 1.56])
    with VideoReader(path, index_cache=None) as video:  # random access, seeking back and forward
        for i in [37, 3, 2, 8, 7, 9, 31, 0, 39, 16, 15, 17, 1, 24, 2, 30, 10, 11]:
            got = video.frame(i)
            assert read_number(got) == i, f"frame {i}"
            np.testing.assert_array_equal(got, sequential[i])


def test_avi_index_is_cached_with_its_check(tmp_path: Path, monkeypatch) -> None:
    """The decode-order AVI is decoded once to index it; that pass is also the frame check, cached with the
    index, so ``project add`` and the next open decode nothing more."""
    path = tmp_path / "numbered.avi"
    write_numbered_video(path, 24)
    cache = tmp_path / "cache"
    first = VideoReader(path, index_cache=cache)
    monkeypatch.setattr(VideoReader, "_build_index", lambda self: pytest.fail("index rebuilt despite cache"))
    second = VideoReader(path, index_cache=cache)
    assert second.index == first.index and second.index.pts != tuple(sorted(second.index.pts))
    monkeypatch.setattr(VideoReader, "_seek", lambda self, k: pytest.fail("decoded again to check"))
    assert second.check_frames().undecodable == ()
    monkeypatch.undo()
    assert [read_number(second.frame(i)) for i in (23, 5, 6)] == [23, 5, 6]


def test_cut_avi_reads_its_whole_gops(tmp_path: Path) -> None:
    """An AVI cut inside its fourth GOP (so without the index at its end) seeks exactly to the decode time
    asked for, keyframe or not: a seek by stamp began decoding one packet after the keyframe, and every
    frame was 'missing from the file'. The GOPs before the cut read exactly, at their numbers; a frame of the
    cut GOP is the frame of its stamp in the whole file, or a MediaError naming the file."""
    whole = tmp_path / "whole.avi"
    write_numbered_video(whole, 40)
    data = whole.read_bytes()
    cut = tmp_path / "cut.avi"
    with av.open(str(whole)) as container:
        at = [packet.pos for packet in container.demux(video=0) if packet.size][28]  # 29th, decode order
    cut.write_bytes(data[: at + 10])
    with VideoReader(whole, index_cache=None) as video:
        number_of_stamp = {p: i for i, p in enumerate(video.index.pts)}
    with VideoReader(cut, index_cache=None) as video:
        assert video.truncated and 24 < len(video) < 32
        readable = set()
        for i in [*range(len(video) - 1, -1, -1), 3, 20, 9, 17, 0]:
            try:
                rgb = video.frame(i)
            except MediaError as exc:
                assert str(exc).startswith(f"{cut}: frame {i} ")
                continue
            assert read_number(rgb) == number_of_stamp[video.index.pts[i]], f"frame {i}"
            readable.add(i)
        assert set(range(24)) <= readable
        assert all(read_number(video.frame(i)) == i for i in range(24))


def test_avi_frame_that_does_not_decode_keeps_its_place(tmp_path: Path) -> None:
    """A B-frame packet of an AVI replaced by bytes that do not decode: it never comes out of the decoder, so
    the index pass puts it just after the packet decoded before it (the reference frame it is shown before):
    the frames after it keep their numbers, and that one frame says it cannot be decoded."""
    whole = tmp_path / "whole.avi"
    write_numbered_video(whole, 24)
    damaged = tmp_path / "damaged.avi"
    with av.open(str(whole)) as inp, av.open(str(damaged), "w") as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for n, packet in enumerate(p for p in inp.demux(video=0) if p.size):
            if n == 11:  # decode order: I P B B P ...; the 12th packet is the B-frame shown 11th
                junk = av.Packet(b"\x00\x00\x00\x01\x01" + bytes(range(7, 2 + packet.size)))
                junk.pts, junk.dts, junk.time_base = packet.pts, packet.dts, packet.time_base
                packet = junk
            packet.stream = stream
            out.mux(packet)
    with VideoReader(damaged, index_cache=None) as video:
        assert len(video) == 24 and video.check_frames().undecodable == (10,)
        for i in [*range(24), 12, 9, 17, 3]:
            if i == 10:
                with pytest.raises(MediaError, match=f"{damaged}: frame 10 cannot be decoded"):
                    video.frame(i)
            else:
                assert read_number(video.frame(i)) == i, f"frame {i}"


def test_mpeg_ts_seeks_land_on_keyframes(tmp_path: Path) -> None:
    """MPEG-TS seeks to the exact decode time asked for, keyframe or not: asked for a keyframe's pts, it
    landed on the P-frame decoded at that time, and no frame of a .ts file was readable. The reader sees
    the packet it landed on is no keyframe and asks again for the keyframe's dts."""
    path = tmp_path / "numbered.ts"
    write_numbered_video(path, 40)
    with VideoReader(path, index_cache=None) as video:
        assert len(video) == 40 and video.index.keyframes == (0, 8, 16, 24, 32)
        assert [read_number(rgb) for _, rgb in video.frames()] == list(range(40))
        for i in [37, 3, 8, 7, 31, 0, 39, 16, 15, 24, 2]:
            assert read_number(video.frame(i)) == i, f"frame {i}"


def test_sequential_reads_do_not_seek(numbered: Path, monkeypatch) -> None:
    video = VideoReader(numbered, index_cache=None)
    seeks: list[int] = []
    real = video._seek
    monkeypatch.setattr(video, "_seek", lambda k: (seeks.append(k), real(k))[1])
    for i in range(5, 20):
        assert read_number(video.frame(i)) == i
    assert seeks == [0]  # one seek to the keyframe before frame 5, then straight decoding across keyframes
    video.frame(3)  # going back must seek again
    assert seeks == [0, 0]
    video.frame(30)  # a jump past a later keyframe seeks to it rather than decoding 27 frames
    assert seeks == [0, 0, 24]


def test_frame_index_is_cached_on_disk(numbered: Path, tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    first = VideoReader(numbered, index_cache=cache)
    files = list(cache.glob("*.json"))
    assert len(files) == 1
    monkeypatch.setattr(VideoReader, "_build_index", lambda self: pytest.fail("index rebuilt despite cache"))
    second = VideoReader(numbered, index_cache=cache)
    assert second.index == first.index
    assert read_number(second.frame(21)) == 21
    # A changed file (new size/mtime) gets a new index.
    write_numbered_video(numbered, 12)
    monkeypatch.undo()
    third = VideoReader(numbered, index_cache=cache)
    assert len(third) == 12 and len(list(cache.glob("*.json"))) == 2


def test_sample_video_opens_with_default_cache(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DISTILPOSE_HOME", str(tmp_path))
    video = open_source(SAMPLE)
    assert isinstance(video, VideoReader)
    assert (len(video), video.width, video.height) == (230, 640, 360)
    assert video.frame(30).shape == (360, 640, 3)
    assert len(list((tmp_path / "video-index").glob("*.json"))) == 1


def test_truncated_sample_is_reported(tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(SAMPLE.read_bytes()[: SAMPLE.stat().st_size // 2])  # the moov atom at the end is lost
    with pytest.raises(MediaError, match=r"cut.mp4: not a readable video \(corrupt, truncated"):
        VideoReader(cut, index_cache=None)


def _remux_streamable(src: Path, dst: Path) -> None:
    """The same packets with the header (moov) first, as streaming sites serve MP4s."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)


def test_truncated_streamable_video_keeps_its_readable_frames(tmp_path: Path) -> None:
    whole = tmp_path / "whole.mp4"
    _remux_streamable(SAMPLE, whole)
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    video = VideoReader(cut, index_cache=None)
    assert video.truncated and 50 < len(video) < 230
    assert video.index.declared_frames == 230
    reference = VideoReader(SAMPLE, index_cache=None)
    np.testing.assert_array_equal(video.frame(40), reference.frame(40))
    last = len(video) - 1
    try:  # the last packet may be cut mid-way: then it is reported, never returned wrong
        np.testing.assert_array_equal(video.frame(last), reference.frame(last))
    except MediaError as exc:
        assert f"frame {last}" in str(exc)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: None, "file not found"),
        (lambda p: p.write_bytes(b""), "the file is empty"),
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(5000)), "not a readable video"),
        (lambda p: p.mkdir(), "is a folder"),
    ],
    ids=["missing", "empty", "garbage", "folder"],
)
def test_bad_video_files(tmp_path: Path, make, problem: str) -> None:
    path = tmp_path / "bad.mp4"
    make(path)
    with pytest.raises(MediaError) as info:
        VideoReader(path, index_cache=None)
    assert str(info.value).startswith(f"{path}: ") and problem in str(info.value)


def test_image_without_video_stream_is_not_a_video(tmp_path: Path) -> None:
    wav = tmp_path / "sound.mp4"
    with av.open(str(wav), "w") as out:
        stream = out.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with pytest.raises(MediaError, match="has no video stream"):
        VideoReader(wav, index_cache=None)


def test_folder_of_images_in_natural_order(tmp_path: Path) -> None:
    for name, value in (("img10.png", 10), ("img2.png", 2), ("img1.jpg", 1)):
        assert cv2.imwrite(str(tmp_path / name), np.full((8, 8, 3), value * 10, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    folder = open_source(tmp_path)
    assert isinstance(folder, ImageFolder) and len(folder) == 3
    assert [folder.frame_name(i) for i in range(3)] == ["img1.jpg", "img2.png", "img10.png"]
    assert folder.frame(2)[0, 0, 0] == 100
    empty = tmp_path / "sub"
    with pytest.raises(MediaError, match=f"{empty}: no images in this folder"):
        ImageFolder(empty)


def test_unreadable_image_in_a_folder_names_the_file(tmp_path: Path) -> None:
    assert cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "b.png").write_bytes(b"\x89PNG broken")
    folder = ImageFolder(tmp_path)
    folder.frame(0)
    with pytest.raises(MediaError, match=r"b.png: not a readable image"):
        folder.frame(1)


def test_read_image_is_rgb(tmp_path: Path) -> None:
    path = tmp_path / "c.png"
    assert cv2.imwrite(str(path), np.array([[[10, 20, 30]]], np.uint8))
    assert tuple(read_image(path)[0, 0]) == (30, 20, 10)


def test_camera_that_cannot_open_is_reported() -> None:
    with pytest.raises(MediaError, match=r"camera 99: cannot be opened"):
        Camera(99)


def test_camera_frames_and_disconnect(numbered: Path, tmp_path: Path) -> None:
    """OpenCV's capture opens a file like a device: the camera path without hardware."""
    clip = tmp_path / "clip.mp4"
    shutil.copy(numbered, clip)
    camera = Camera(str(clip))
    first = camera.read()
    assert first.shape == (H, W, 3) and read_number(first) == 0
    for _ in range(39):
        camera.read()
    with pytest.raises(MediaError, match="no frame"):
        camera.read()  # the device "stopped"
    camera.close()
