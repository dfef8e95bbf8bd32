"""ReadAhead: the frames of a source, decoded in a thread of their own, in order, a bounded number ahead; a
decoding error reaches the consumer at its frame; close stops the thread wherever it is."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from distilpose.errors import MediaError
from distilpose.read_ahead import ReadAhead, read_ahead
from distilpose.video import ImageFolder, VideoReader

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "sports2d-demo-640.mp4"
WAIT = 10.0  # seconds a test waits for the reader's thread at most


class Frames:
    """A source of ``count`` small frames (frame i filled with i) that records which thread read which frame;
    ``fail_at`` cannot be decoded, ``hold`` blocks reading until released (explicit steps, no sleeps)."""

    kind = "video"
    name = "fake.mp4"

    def __init__(self, count: int, fail_at: int | None = None, hold: bool = False) -> None:
        self.count = count
        self.fail_at = fail_at
        self.read: list[tuple[int, str]] = []
        self.asked = threading.Condition()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.closed = False

    def __len__(self) -> int:
        return self.count

    def frame(self, index: int) -> np.ndarray:
        with self.asked:
            self.read.append((index, threading.current_thread().name))
            self.asked.notify_all()
        self.release.wait(WAIT)
        if index == self.fail_at:
            raise MediaError(f"{self.name}: frame {index} cannot be decoded (corrupt or truncated file)")
        return np.full((4, 4, 3), index, np.uint8)

    def frame_name(self, index: int) -> str:
        return f"{self.name}#frame={index}"

    def close(self) -> None:
        self.closed = True

    def wait_read(self, n: int) -> None:
        with self.asked:
            assert self.asked.wait_for(lambda: len(self.read) >= n, WAIT)


def take_all(reader: ReadAhead) -> list[int]:
    out = []
    while (frame := reader.take(timeout=WAIT)) is not None:
        out.append(frame.index)
    return out


def test_frames_come_in_order_from_the_start_decoded_in_the_readers_thread() -> None:
    source = Frames(8)
    reader = ReadAhead(lambda: source, start=3)
    try:
        assert take_all(reader) == [3, 4, 5, 6, 7]  # then None: the source is exhausted
        assert reader.take() is None and reader.next_index == 8
        assert {name for _, name in source.read} == {"frame-reader"}
    finally:
        reader.close()
    assert source.closed and not reader.running  # what it opened, it closes


def test_a_video_read_ahead_gives_the_frames_the_reader_gives() -> None:
    """Mid-video (a seek to a keyframe, then forward), through a decoder of its own."""
    with VideoReader(SAMPLE) as video:
        reader = read_ahead(video, 100, depth=3)
        try:
            for index in range(100, 106):
                frame = reader.take(timeout=WAIT)
                assert frame is not None and frame.index == index and frame.decode_ms > 0
                assert np.array_equal(frame.image, video.frame(index))
        finally:
            reader.close()
        assert video.frame(0).shape == (video.height, video.width, 3)  # the caller's reader is untouched


def test_an_image_folder_is_read_through_the_source_itself(tmp_path: Path) -> None:
    import cv2

    for i in range(3):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), np.full((6, 8, 3), 40 * i, np.uint8))
    folder = ImageFolder(tmp_path)
    reader = read_ahead(folder, 1)
    try:
        frames = [reader.take(timeout=WAIT) for _ in range(2)]
        assert [f.index for f in frames] == [1, 2] and [int(f.image[0, 0, 0]) for f in frames] == [40, 80]
    finally:
        reader.close()
    assert folder.frame(0).shape == (6, 8, 3)  # shared, not closed


def test_it_decodes_at_most_depth_frames_ahead_of_the_consumer() -> None:
    source = Frames(50)
    reader = ReadAhead(lambda: source, start=0, depth=2)
    try:
        source.wait_read(2)
        assert reader.take(timeout=WAIT).index == 0
        source.wait_read(3)  # one taken: room for one more
    finally:
        reader.close()
    assert [i for i, _ in source.read] == [0, 1, 2]  # never a fourth while only one was taken


def test_a_frame_that_cannot_be_decoded_reaches_the_consumer_after_the_good_ones() -> None:
    source = Frames(6, fail_at=2)
    reader = ReadAhead(lambda: source, start=0)
    try:
        assert reader.take(timeout=WAIT).index == 0
        assert reader.take(timeout=WAIT).index == 1
        with pytest.raises(MediaError, match=r"fake.mp4: frame 2 cannot be decoded"):
            reader.take(timeout=WAIT)
        assert reader.take(timeout=WAIT) is None  # it stopped there
    finally:
        reader.close()
    assert [i for i, _ in source.read] == [0, 1, 2]


def test_a_source_that_cannot_be_opened_is_reported_by_take(tmp_path: Path) -> None:
    missing = tmp_path / "gone.mp4"

    def open_missing():
        return VideoReader(missing)

    reader = ReadAhead(open_missing, 0)
    try:
        with pytest.raises(MediaError, match="gone.mp4: file not found"):
            reader.take(timeout=WAIT)
    finally:
        reader.close()


def test_close_stops_the_thread_while_it_waits_for_room_or_decodes() -> None:
    full = Frames(50)
    reader = ReadAhead(lambda: full, start=0, depth=1)
    full.wait_read(1)
    reader.take(timeout=WAIT)
    full.wait_read(2)  # the buffer holds frame 1: the thread waits for room
    reader.close()
    assert not reader.running and reader.take() is None  # nothing more comes after close

    held = Frames(50, hold=True)
    reader = ReadAhead(lambda: held, start=0)
    held.wait_read(1)  # inside a decode
    reader.close(timeout=0)  # asked to stop while it decodes (not waiting for it)
    held.release.set()  # the decode ends; the thread sees the close and stops
    reader.close()  # now wait for it
    assert not reader.running and reader.take() is None
    assert [i for i, _ in held.read] == [0]  # nothing read after the close
