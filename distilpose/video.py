"""Frame sources without Qt: still images, folders of images, video files (frame-accurate) and cameras.

Video seeking is frame-accurate: a one-time index of every frame's presentation timestamp (built by demuxing,
no decoding, and cached on disk) maps a frame number to its pts; a seek jumps to the nearest keyframe at or
before it and decodes forward to that exact pts. Sequential reads never seek, so playback and batch export
decode each frame once. A container that stores no presentation times (AVI: the demuxer stamps packets in
decode order) holding a codec that reorders frames (B-frames) is indexed once by decoding, in the decoder's
output order, which is the display order; each frame is still found by the stamp its picture carries.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

import cv2
import numpy as np

from distilpose.atomic import atomic_write_json
from distilpose.errors import MediaError

if TYPE_CHECKING:
    import av

#: Suffixes of still images the app and the pipeline open (lower case).
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: Suffixes treated as video files (anything FFmpeg reads works; these are offered in dialogs).
VIDEO_SUFFIXES: tuple[str, ...] = (
    ".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv",
    ".ts", ".mts", ".m2ts",  # MPEG transport streams (camcorders, broadcast): the reader seeks them by dts
)  # fmt: skip
#: Bump when the on-disk index format changes, so stale cache files are ignored (2: AVI with B-frames is
#: indexed in output order; a version 1 index of such a file lists its frames in decode order).
INDEX_VERSION = 2
#: A seek costs about this many decoded frames; below that, decoding forward past a keyframe is cheaper.
SEEK_COST_FRAMES = 8


def is_image_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def is_video_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


#: The most pixels (width x height, as the file's header declares them) an image may have: Pillow's own
#: refusal threshold (2 x ``PIL.Image.MAX_IMAGE_PIXELS``, about 179 MP, a 537 MB BGR buffer). A 1 MB PNG can
#: declare 30000 x 30000 pixels and take gigabytes to decode; an image over this is refused from its header,
#: before a byte is decoded. Read at call time, so a caller may raise it for a known, trusted source.
MAX_IMAGE_PIXELS = 178_956_970


def image_size(data: bytes | np.ndarray | BinaryIO, name: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` an encoded image declares in its header, checked against :data:`MAX_IMAGE_PIXELS`.

    ``data``: the file's bytes, or a binary file open at any position (only the header is read). The header
    is read with ``imagesize`` (pure Python, no decoding, no network: it is given bytes or an open file,
    never a name, which it could take for a URL); it knows PNG, JPEG, BMP, TIFF, WebP, GIF, JPEG 2000, PNM
    and AVIF/HEIF. Raises :class:`MediaError` naming ``name`` for an unknown or damaged header and for a
    size over the limit (a decompression bomb)."""
    import io

    import imagesize

    handle = io.BytesIO(memoryview(data).cast("B")) if isinstance(data, (bytes, np.ndarray)) else data
    width, height = imagesize.get(handle)
    if width <= 0 or height <= 0:
        raise MediaError(f"{name}: not a readable image (corrupt file or unsupported format)")
    if width * height > MAX_IMAGE_PIXELS:
        raise MediaError(
            f"{name}: the image declares {width} x {height} pixels ({width * height / 1e6:.0f} MP), more than "
            f"the {MAX_IMAGE_PIXELS / 1e6:.0f} MP this tool decodes (a decompression bomb, or a picture far "
            "larger than pose work needs: shrink it first)"
        )
    return int(width), int(height)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as an RGB ``uint8`` array of shape (H, W, 3): the one image reader of the project.

    The header's declared size is checked first (:func:`image_size`), so a decompression bomb is refused
    before it is decoded. ``cv2.imdecode`` of the bytes instead of ``cv2.imread`` because imread cannot open
    non-ASCII paths on every platform. Raises :class:`MediaError` naming the file and the problem.
    """
    p = Path(path)
    if not p.exists():
        raise MediaError(f"{p}: file not found")
    if p.is_dir():
        raise MediaError(f"{p}: is a folder, not an image file")
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except OSError as exc:
        raise MediaError(f"{p}: cannot read the file ({exc.strerror or exc})") from exc
    if data.size == 0:
        raise MediaError(f"{p}: the file is empty")
    image_size(data, p)
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as exc:  # OpenCV's own limits, or a decoder that gives up loudly
        raise MediaError(f"{p}: not a readable image ({str(exc).strip().splitlines()[-1]})") from None
    if bgr is None or bgr.size == 0:
        raise MediaError(f"{p}: not a readable image (corrupt file or unsupported format)")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    rgb.setflags(write=False)
    return rgb


class FrameSource(Protocol):
    """Anything the live pipeline and batch export read frames from."""

    kind: str  # "image", "folder", "video" or "camera"
    name: str  # what to show the user

    def __len__(self) -> int:
        """Number of frames (0 for a camera: unknown)."""
        ...

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as RGB uint8 (H, W, 3); MediaError when it cannot be read."""
        ...

    def frame_name(self, index: int) -> str:
        """A stable name for frame ``index`` (file name, or video name + frame number) for exported files."""
        ...

    def close(self) -> None: ...


# ----------------------------------------------------------------------------------------- still images


class ImageFile:
    """One still image as a one-frame source."""

    kind = "image"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self.fps: float | None = None
        self._image = read_image(self.path)

    def __len__(self) -> int:
        return 1

    def frame(self, index: int) -> np.ndarray:
        _check_index(index, 1, self.name)
        return self._image

    def frame_name(self, index: int) -> str:
        return self.path.name

    def frame_path(self, index: int) -> Path:
        return self.path

    def close(self) -> None:
        pass


def _natural_key(path: Path) -> list:
    """``img2.png`` before ``img10.png``, as file managers sort."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


class ImageFolder:
    """The images directly inside a folder, in natural name order, as frames."""

    kind = "folder"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise MediaError(f"{self.path}: folder not found")
        if not self.path.is_dir():
            raise MediaError(f"{self.path}: not a folder")
        try:
            files = [p for p in self.path.iterdir() if p.is_file() and is_image_path(p)]
        except OSError as exc:
            raise MediaError(f"{self.path}: cannot list the folder ({exc.strerror or exc})") from exc
        if not files:
            raise MediaError(
                f"{self.path}: no images in this folder (looked for {', '.join(IMAGE_SUFFIXES)})"
            )
        self.files = sorted(files, key=_natural_key)
        self.name = self.path.name
        self.fps: float | None = None

    def __len__(self) -> int:
        return len(self.files)

    def frame(self, index: int) -> np.ndarray:
        _check_index(index, len(self.files), self.name)
        return read_image(self.files[index])

    def frame_name(self, index: int) -> str:
        return self.files[index].name

    def frame_path(self, index: int) -> Path:
        return self.files[index]

    def close(self) -> None:
        pass


def _check_index(index: int, count: int, name: str) -> None:
    if not 0 <= index < count:
        raise MediaError(f"{name}: frame {index} out of range (0..{count - 1})")


# ----------------------------------------------------------------------------------------- video files


@dataclass(frozen=True)
class FrameIndex:
    """The timestamp each frame's picture carries, in display order, and which frames are keyframes. For most
    files these are presentation timestamps, ascending; for an AVI with B-frames they are decode-order stamps,
    so not ascending (the picture shown third may carry stamp 4)."""

    pts: tuple[int, ...]
    keyframes: tuple[int, ...]  # frame numbers (indices into pts), ascending
    declared_frames: int  # what the container header claims (0 when it does not say)
    #: The decode time (dts) of each keyframe's packet, parallel to ``keyframes``: where to seek in a
    #: container that seeks to the exact decode time asked for, keyframe or not (MPEG-TS, a cut AVI).
    key_dts: tuple[int, ...] = ()

    def decode_time(self, keyframe: int) -> int | None:
        """The dts of frame ``keyframe``'s packet when it is a keyframe and known."""
        if self.key_dts and keyframe in self.keyframes:
            return self.key_dts[self.keyframes.index(keyframe)]
        return None

    def keyframe_at_or_before(self, index: int) -> int:
        """Frame number of the last keyframe not after ``index`` (0 when none is: decode from the start)."""
        import bisect

        i = bisect.bisect_right(self.keyframes, index) - 1
        return self.keyframes[i] if i >= 0 else 0


@dataclass(frozen=True)
class FrameCheck:
    """Which frames of a video decode, found by decoding every one (:meth:`VideoReader.check_frames`): a
    container's header can declare frames the file no longer holds, and hold packets that do not decode."""

    frames: int  # frames the container holds packets for (the reader's length)
    declared: int  # frames the header declares (0 when it does not say)
    undecodable: tuple[int, ...]  # frame numbers the decoder cannot produce

    @property
    def decodable(self) -> int:
        return self.frames - len(self.undecodable)

    def problem(self, path: Path) -> str | None:
        """The video's damage in words, naming the file; None when every declared frame decodes."""
        bad = self.undecodable
        listed = ", ".join(str(i) for i in bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        if self.declared > self.frames:
            text = f"{path}: the file looks truncated: {self.decodable} of {self.declared} frames are readable"
            frames = "frame" if len(bad) == 1 else "frames"
            return text + (f" ({frames} {listed} of those it holds cannot be decoded)" if bad else "")
        if bad:
            return f"{path}: {len(bad)} of its {self.frames} frames cannot be decoded: {listed}"
        return None


def index_cache_dir() -> Path:
    """Where frame indexes are cached: ``$DISTILPOSE_HOME/video-index`` or the user cache folder."""
    from distilpose.zoo.fetch import cache_root  # the one place that knows the cache convention

    return cache_root() / "video-index"


def _index_cache_file(path: Path, folder: Path) -> Path:
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|v{INDEX_VERSION}"
    return folder / (hashlib.sha256(key.encode("utf-8")).hexdigest()[:32] + ".json")


class VideoReader:
    """Frame-accurate random access to a video file with PyAV.

    ``index_cache``: a folder for the frame-index cache, None to disable it, or "default" for
    :func:`index_cache_dir`. The index is keyed by absolute path, size and modification time.
    """

    kind = "video"

    def __init__(self, path: str | os.PathLike, index_cache: str | os.PathLike | None = "default") -> None:
        import av

        self.path = Path(path)
        self.name = self.path.name
        if not self.path.exists():
            raise MediaError(f"{self.path}: file not found")
        if self.path.is_dir():
            raise MediaError(f"{self.path}: is a folder, not a video file")
        if self.path.stat().st_size == 0:
            raise MediaError(f"{self.path}: the file is empty")
        try:
            # Metadata tags in another encoding (Latin-1 titles are common) must not make a video unreadable.
            self._container = av.open(str(self.path), metadata_errors="replace")
        except av.error.FFmpegError as exc:
            raise MediaError(
                f"{self.path}: not a readable video (corrupt, truncated or unsupported format)"
            ) from exc
        except OSError as exc:
            raise MediaError(f"{self.path}: cannot read the file ({exc.strerror or exc})") from exc
        if not self._container.streams.video:
            self._container.close()
            raise MediaError(f"{self.path}: the file has no video stream")
        self._stream = self._container.streams.video[0]
        ctx = self._stream.codec_context
        if ctx is None or not ctx.width or not ctx.height:  # e.g. an MP4 cut inside its header
            self._container.close()
            raise MediaError(
                f"{self.path}: the video stream cannot be decoded (truncated or unsupported codec)"
            )
        self.width, self.height = int(ctx.width), int(ctx.height)
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else 30.0
        self._time_base = float(self._stream.time_base) if self._stream.time_base else 1.0 / self.fps
        cache = index_cache_dir() if index_cache == "default" else index_cache
        self.index = self._load_or_build_index(Path(cache) if cache is not None else None)
        if not self.index.pts:
            self.close()
            raise MediaError(f"{self.path}: the video has no decodable frames (corrupt or truncated)")
        # Presentation times: the stamps ascending (the same tuple for most files; for a decode-order stamped
        # AVI the stamps count frames, so their ascending order is the display clock).
        self._times = tuple(sorted(self.index.pts))
        self._frame_of_pts = {p: i for i, p in enumerate(self.index.pts)}
        self._decoder: Iterator | None = None
        self._last: int | None = None  # frame number the decoder produced last
        self._damage: str | None = None  # what the decoder said of a damaged packet since the last seek

    # -- metadata ------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.index.pts)

    @property
    def truncated(self) -> bool:
        """True when the header declares more frames than the file holds (a cut-off download, say)."""
        return self.index.declared_frames > len(self.index.pts)

    def check_frames(self) -> FrameCheck:
        """Decode every frame once (no colour conversion) and record which cannot be decoded; cached with the
        frame index, so a video checked once (``project add`` does) is not decoded again."""
        if self._check is not None:
            return self._check
        seen: set[int] = set()
        self._seek(0)
        assert self._decoder is not None
        for frame in self._decoder:
            if frame.pts is not None and int(frame.pts) in self._frame_of_pts:
                seen.add(self._frame_of_pts[int(frame.pts)])
        self._decoder, self._last = None, None
        bad = tuple(i for i in range(len(self)) if i not in seen)
        self._check = FrameCheck(len(self), self.index.declared_frames, bad)
        if self._cache_file is not None:
            self._save_index(self._cache_file, self.index, self._check)
        return self._check

    def problem(self) -> str | None:
        """What is wrong with the file, in words naming it (truncated, frames that cannot be decoded); None
        when nothing is known to be. A truncated file is decoded to count its frames; for another, only a
        check done before (:meth:`check_frames`, cached) is known."""
        if self._check is None and not self.truncated:
            return None
        return self.check_frames().problem(self.path)

    def time_of(self, index: int) -> float:
        """Presentation time of frame ``index`` in seconds from the first frame."""
        return (self._times[index] - self._times[0]) * self._time_base

    def frame_name(self, index: int) -> str:
        return f"{self.path.name}#frame={index}"

    # -- the index ----------------------------------------------------------------------------------------
    def _load_or_build_index(self, cache: Path | None) -> FrameIndex:
        cache_file = _index_cache_file(self.path, cache) if cache is not None else None
        self._cache_file, self._check = cache_file, None
        if cache_file is not None and cache_file.is_file():
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                doc = json.loads(cache_file.read_text(encoding="utf-8"))
                if doc.get("version") == INDEX_VERSION:
                    pts, keys = tuple(doc["pts"]), tuple(doc["keyframes"])
                    key_dts = tuple(int(t) for t in doc.get("key_dts", ()))
                    index = FrameIndex(pts, keys, int(doc["declared_frames"]), key_dts)
                    if "undecodable" in doc:
                        undecodable = tuple(int(i) for i in doc["undecodable"])
                        self._check = FrameCheck(len(index.pts), index.declared_frames, undecodable)
                    return index
        index = self._build_index()
        if cache_file is not None:
            self._save_index(cache_file, index, self._check)  # an index built by decoding knows the check
        return index

    def _save_index(self, cache_file: Path, index: FrameIndex, check: FrameCheck | None) -> None:
        doc = {
            "version": INDEX_VERSION,
            "path": str(self.path.resolve()),
            "pts": list(index.pts),
            "keyframes": list(index.keyframes),
            "declared_frames": index.declared_frames,
        }
        if index.key_dts:
            doc["key_dts"] = list(index.key_dts)
        if check is not None:
            doc["undecodable"] = list(check.undecodable)
        with contextlib.suppress(OSError):  # a read-only cache only costs the next open some time
            atomic_write_json(cache_file, doc)

    def _build_index(self) -> FrameIndex:
        """Demux every packet of the stream: pts and keyframe flags, sorted into display order. No decoding,
        except for a file whose stamps are not presentation times.

        Stamps that ascend in decode order while the codec reorders frames (B-frames) are decode-order stamps:
        AVI stores no presentation times, and its demuxer counts packets. Sorting them would put a B-frame's
        picture at its decode position, so such a file is decoded in the same pass and indexed in the
        decoder's output order, the display order. A file with presentation stamps shows a stamp lower than
        the one before at its first B-frame, and its decoding stops there."""
        import av

        entries: list[tuple[int, bool]] = []
        decode_time: dict[int, int] = {}  # stamp -> dts of the keyframe packets
        ascending = bool(getattr(self._stream.codec_context, "has_b_frames", False))

        def packets() -> Iterator:
            nonlocal ascending
            for packet in self._container.demux(self._stream):
                if packet.pts is not None and packet.size > 0:  # not the flush packet, nor one without timing
                    stamp = int(packet.pts)
                    ascending = ascending and (not entries or stamp > entries[-1][0])
                    entries.append((stamp, bool(packet.is_keyframe)))
                    if packet.is_keyframe and packet.dts is not None:
                        decode_time[stamp] = int(packet.dts)
                yield packet

        demuxed = packets()
        shown: list[int] = []  # the stamps of the decoded pictures in output order, while ``ascending``
        if ascending:
            for frame in self._decoded(demuxed):
                if not ascending:
                    break
                if frame.pts is not None:
                    shown.append(int(frame.pts))
        try:
            for _ in demuxed:
                pass
        except av.error.FFmpegError:
            pass  # a damaged tail: keep the frames found before it (reported through ``truncated``)
        self._decoder, self._damage = None, None  # demuxing consumed the container: the first read seeks
        declared = int(self._stream.frames or 0)
        if ascending and len(entries) > 1:
            pts = self._in_output_order(entries, shown, declared)
        else:
            pts = tuple(sorted(p for p, _ in entries))
        key_stamps = {p for p, key in entries if key}
        keys = tuple(i for i, p in enumerate(pts) if p in key_stamps) or (0,)
        key_dts = tuple(decode_time.get(pts[k], pts[k]) for k in keys) if pts else ()
        return FrameIndex(pts, keys, declared, key_dts)

    def _in_output_order(
        self, entries: list[tuple[int, bool]], shown: list[int], declared: int
    ) -> tuple[int, ...]:
        """The stamps of a file with decode-order stamps in display order, from its packets (``entries``,
        decode order) and the stamps its pictures came out with (``shown``). Every frame was decoded, so this
        is also the frame check (:meth:`check_frames`), kept. A packet that did not decode keeps a place just after the packet
        decoded before it, so reading that frame says it cannot be decoded."""
        stamps = [p for p, _ in entries]
        held = set(stamps)
        order = list(dict.fromkeys(p for p in shown if p in held))
        missing = held.difference(order)
        for before, stamp in zip([None, *stamps[:-1]], stamps, strict=True):
            if stamp in missing:
                order.insert(0 if before is None else order.index(before) + 1, stamp)
        self._check = FrameCheck(len(order), declared, tuple(sorted(order.index(p) for p in missing)))
        return tuple(order)

    # -- decoding -----------------------------------------------------------------------------------------
    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (display order) as RGB uint8; exact, whatever the GOP structure."""
        _check_index(index, len(self), self.name)
        keyframe = self.index.keyframe_at_or_before(index)
        # Decode forward from where the decoder is unless seeking to a later keyframe saves real work.
        forward = self._last is not None and self._last < index
        if forward and keyframe > self._last:
            forward = index - self._last <= index - keyframe + SEEK_COST_FRAMES
        if not forward:
            self._seek(keyframe)
        return self._decode_until(index)

    def _seek(self, keyframe: int) -> None:
        """Set decoding up from frame ``keyframe`` (a keyframe, or 0). The container is asked for the
        keyframe's pts; where it lands on a packet that is not a keyframe at or before it (MPEG-TS and a cut
        AVI seek to the exact decode time asked for, keyframe or not), it is asked again for the keyframe's
        dts, and failing that the first answer is kept (decoding then says what is missing)."""
        import itertools

        pts, dts = self.index.pts[keyframe], self.index.decode_time(keyframe)
        targets = [pts] if dts is None or dts == pts else [pts, dts]
        for target in targets:
            head, packets = self._packets_from(target, keyframe)
            if head and self._starts_at_or_before(head[0], keyframe):
                break
        else:
            if len(targets) > 1:
                head, packets = self._packets_from(targets[0], keyframe)
        self._decoder = self._decoded(itertools.chain(head, packets))
        self._last = None

    def _packets_from(self, target: int, keyframe: int) -> tuple[list, Iterator]:
        """Seek to ``target`` and demux: the first packet there (none at the end) and the packets after it."""
        import av

        self._damage = None
        try:
            self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError as exc:
            raise MediaError(f"{self.path}: cannot seek to frame {keyframe} ({exc})") from exc
        packets = self._container.demux(self._stream)
        try:
            return [next(packets)], packets
        except StopIteration:
            return [], iter(())
        except av.error.FFmpegError as exc:  # damaged right there: decoding says so
            self._damage = str(exc)
            return [], iter(())

    def _starts_at_or_before(self, packet: av.Packet, keyframe: int) -> bool:
        """Whether decoding from ``packet`` produces frame ``keyframe``: a keyframe at or before it."""
        number = None if packet.pts is None else self._frame_of_pts.get(int(packet.pts))
        return bool(packet.is_keyframe) and number is not None and number <= keyframe

    def _decoded(self, packets: Iterator | None = None) -> Iterator:
        """The stream's frames from the current position (or from ``packets``, the stream's). A packet that
        does not decode (cut short, damaged) is skipped, not the end: the frames the decoder holds for
        reordering (B-frames) still come out, and frames after it that decode are kept; what was skipped is
        reported by the frame asked for."""
        import av

        packets = self._container.demux(self._stream) if packets is None else packets
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.FFmpegError as exc:  # the container is damaged here: drain the decoder, stop
                self._damage = str(exc)
                with contextlib.suppress(av.error.FFmpegError):
                    yield from self._stream.codec_context.decode(None)
                return
            if packet.is_corrupt:  # the file ends inside it (a cut AVI): its picture would be part guesswork
                self._damage = "the file ends inside this frame's data"
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                self._damage = str(exc)
                continue
            yield from frames

    def _decode_until(self, index: int) -> np.ndarray:
        """Decode forward to frame ``index``, telling frames by their stamp's place in the index (not by stamp
        order: an AVI's stamps are in decode order, its pictures come out in display order)."""
        import av

        assert self._decoder is not None
        try:
            for frame in self._decoder:
                number = None if frame.pts is None else self._frame_of_pts.get(int(frame.pts))
                if number is None:
                    continue
                self._last = number
                if number < index:
                    continue
                if number > index:  # the exact frame was not produced: the file is damaged there
                    break
                rgb = frame.to_ndarray(format="rgb24")
                rgb.setflags(write=False)
                return rgb
        except av.error.FFmpegError as exc:
            self._decoder = None
            self._last = None
            raise MediaError(
                f"{self.path}: frame {index} cannot be decoded (corrupt or truncated file: {exc})"
            ) from exc
        self._decoder = None
        self._last = None
        if self._damage is not None:
            raise MediaError(
                f"{self.path}: frame {index} cannot be decoded (corrupt or truncated file: {self._damage})"
            )
        raise MediaError(f"{self.path}: frame {index} is missing from the file (corrupt or truncated)")

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, rgb)`` for frames ``start..stop-1`` in order, decoding each once."""
        stop = len(self) if stop is None else min(stop, len(self))
        for i in range(start, stop):
            yield i, self.frame(i)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._container.close()
        self._decoder = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------------------------------- cameras

CaptureFactory = Callable[[int | str], object]


class Camera:
    """An OpenCV capture device. ``capture_factory`` builds the capture (tests pass a fake or a file path)."""

    kind = "camera"
    fps: float | None = None

    def __init__(self, device: int | str = 0, capture_factory: CaptureFactory | None = None) -> None:
        self.device = device
        self.name = f"camera {device}"
        factory = capture_factory or cv2.VideoCapture
        try:
            self._capture = factory(device)
        except cv2.error as exc:
            raise MediaError(f"{self.name}: cannot be opened ({exc})") from exc
        if not self._capture.isOpened():
            self._capture.release()
            raise MediaError(f"{self.name}: cannot be opened (no such device, or it is in use)")
        self.frames_read = 0

    def __len__(self) -> int:
        return 0

    def read(self) -> np.ndarray:
        """The next frame as RGB; MediaError when the device stops delivering."""
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            raise MediaError(f"{self.name}: no frame (the camera was disconnected or stopped)")
        self.frames_read += 1
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        rgb.setflags(write=False)
        return rgb

    def frame(self, index: int) -> np.ndarray:
        return self.read()

    def frame_name(self, index: int) -> str:
        return f"camera{self.device}#frame={index}"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._capture.release()


def open_source(path: str | os.PathLike) -> FrameSource:
    """An image, a folder of images or a video, chosen from what ``path`` is."""
    p = Path(path)
    if p.is_dir():
        return ImageFolder(p)
    if is_video_path(p):
        return VideoReader(p)
    if is_image_path(p) or not p.exists():
        return ImageFile(p)
    # An unknown suffix: try it as a video (FFmpeg sniffs the content), else report it as an image problem.
    try:
        return VideoReader(p)
    except MediaError:
        return ImageFile(p)
