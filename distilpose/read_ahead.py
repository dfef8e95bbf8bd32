"""Frames decoded ahead, in order, in a thread of their own: the consumer takes them without decoding.

The app's played video (ADR 0020, amendment 4): decoding a frame on the GUI thread (7 ms for a 1088x1920 frame
on a quiet core, 15-40 ms on a busy one) made a result that arrived meanwhile wait for the decode to finish
before it was drawn. A :class:`ReadAhead` decodes frames ``start, start + 1, ...`` of its own copy of the
source (:func:`~distilpose.video.thread_copy`), at most ``depth`` ahead of what was taken, and stops at the end
of the source or on :meth:`ReadAhead.close`. A frame that cannot be decoded is raised by the :meth:`take` that
reaches it, in the consumer's thread; the frames before it are delivered first. A seek is a new ReadAhead.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from distilpose.video import FrameSource, VideoReader

#: Frames decoded ahead of the consumer: one for the model's next frame, one to cover a slow decode.
READ_AHEAD_FRAMES = 2


@dataclass(frozen=True)
class DecodedFrame:
    index: int
    image: np.ndarray  # RGB uint8, read-only for a video
    decode_ms: float  # the decode alone, in the reader's thread


class ReadAhead:
    """Decodes the frames of ``open_source()`` from ``start`` on, ``depth`` at most ahead of :meth:`take`.

    ``open_source`` runs in the reader's thread (opening a video costs time too); what it returns is closed
    with the reader unless it is ``shared`` (a source that other threads read as well, like an image folder).
    """

    def __init__(
        self,
        open_source: Callable[[], FrameSource],
        start: int,
        depth: int = READ_AHEAD_FRAMES,
        shared: bool = False,
        name: str = "frame-reader",
    ) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.start = start
        self.depth = depth
        self._open = open_source
        self._shared = shared
        self._cond = threading.Condition()
        self._ready: deque[DecodedFrame | BaseException] = deque()
        self._next = start  # the index the next take() returns
        self._closed = False
        self._done = False  # the reader reached the end of the source (or an error) and stopped
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def next_index(self) -> int:
        """The frame the next successful :meth:`take` returns."""
        return self._next

    def take(self, timeout: float = 0.0) -> DecodedFrame | None:
        """The next frame when decoded (waiting up to ``timeout`` seconds for it), else None. Raises the
        decoding error of the frame it reached; None for good once the source is exhausted."""
        with self._cond:
            if not self._ready and timeout > 0:
                self._cond.wait_for(lambda: self._ready or self._done or self._closed, timeout)
            if not self._ready:
                return None
            item = self._ready.popleft()
            self._cond.notify_all()  # room for one more
        if isinstance(item, BaseException):
            raise item
        self._next = item.index + 1
        return item

    def close(self, timeout: float = 10.0) -> None:
        """Stop decoding and wait for the thread (a decode in progress ends first)."""
        with self._cond:
            self._closed = True
            self._ready.clear()
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        source: FrameSource | None = None
        try:
            source = self._open()
            for index in range(self.start, len(source)):
                with self._cond:
                    self._cond.wait_for(lambda: self._closed or len(self._ready) < self.depth)
                    if self._closed:
                        return
                begin = time.perf_counter()
                image = source.frame(index)
                decoded = DecodedFrame(index, image, (time.perf_counter() - begin) * 1000.0)
                with self._cond:
                    if self._closed:
                        return
                    self._ready.append(decoded)
                    self._cond.notify_all()
        except BaseException as exc:  # handed to the consumer, who reports it (a bad frame, a vanished file)
            with self._cond:
                if not self._closed:
                    self._ready.append(exc)
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()
            if source is not None and not self._shared:
                source.close()


def read_ahead(source: FrameSource, start: int, depth: int = READ_AHEAD_FRAMES) -> ReadAhead:
    """A :class:`ReadAhead` over the frames of ``source`` from ``start``: a video gets a decoder of its own,
    opened from its file (a PyAV container must not be read by two threads); an image folder's files are read
    through ``source`` itself (each read opens its own file)."""
    if isinstance(source, VideoReader):
        path = source.path
        return ReadAhead(lambda: VideoReader(path), start, depth)
    return ReadAhead(lambda: source, start, depth, shared=True)
