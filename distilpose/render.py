"""Drawing poses onto numpy frames (cv2) and writing H.264 videos (PyAV), for exports and the pipeline bench.

The app draws with Qt items instead; both use the colours of :mod:`distilpose.keypoints`, so an exported video
looks like the live view. cv2.VideoWriter cannot write H.264 on this platform (no libx264 in OpenCV's FFmpeg),
so videos go through PyAV's bundled libx264.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from distilpose.atomic import give_normal_mode
from distilpose.errors import DistilPoseError
from distilpose.keypoints import KEYPOINT_COLORS, LIMB_COLORS, SKELETON
from distilpose.types import Instance

TEACHER_COLOR = (240, 240, 240)
BOX_COLOR = (255, 230, 0)


def keypoint_scores(instance: Instance) -> np.ndarray:
    """Per-keypoint confidence: model scores, or 1 for labelled / 0 for unlabelled user keypoints."""
    if instance.scores is not None:
        return np.asarray(instance.scores, dtype=np.float64)
    return (instance.keypoints[:, 2] > 0).astype(np.float64)


def visible_mask(instance: Instance, threshold: float) -> np.ndarray:
    """Keypoints to draw: labelled (v > 0) and scoring at least ``threshold``."""
    return (instance.keypoints[:, 2] > 0) & (keypoint_scores(instance) >= threshold)


def draw_instances(
    image_rgb: np.ndarray,
    instances: Sequence[Instance],
    threshold: float = 0.0,
    *,
    radius: int | None = None,
    thickness: int | None = None,
    sigmas: bool = False,
    boxes: bool = False,
    color: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """A copy of ``image_rgb`` with each instance's skeleton: limbs then keypoints, below-threshold ones left out.

    ``color`` draws everything in one colour (the teacher in comparison videos); ``sigmas`` adds the
    student's 1-sigma uncertainty ellipses; sizes default to about 1/120 of the image height.
    """
    out = np.ascontiguousarray(image_rgb, dtype=np.uint8).copy()
    h = out.shape[0]
    radius = radius or max(2, round(h / 120))
    thickness = thickness or max(1, round(h / 240))
    for inst in instances:
        kp = inst.keypoints
        ok = visible_mask(inst, threshold)
        if boxes and inst.bbox is not None:
            x, y, w, bh = inst.bbox
            cv2.rectangle(out, (round(x), round(y)), (round(x + w), round(y + bh)), BOX_COLOR, 1, cv2.LINE_AA)
        for limb, (a, b) in enumerate(SKELETON):
            if ok[a] and ok[b]:
                pa = (round(kp[a, 0]), round(kp[a, 1]))
                pb = (round(kp[b, 0]), round(kp[b, 1]))
                cv2.line(out, pa, pb, color or LIMB_COLORS[limb], thickness, cv2.LINE_AA)
        if sigmas and inst.sigmas is not None:
            for k in np.flatnonzero(ok):
                axes = (max(1, round(inst.sigmas[k, 0])), max(1, round(inst.sigmas[k, 1])))
                centre = (round(kp[k, 0]), round(kp[k, 1]))
                cv2.ellipse(out, centre, axes, 0, 0, 360, color or KEYPOINT_COLORS[k], 1, cv2.LINE_AA)
        for k in np.flatnonzero(ok):
            centre = (round(kp[k, 0]), round(kp[k, 1]))
            cv2.circle(out, centre, radius, color or KEYPOINT_COLORS[k], -1, cv2.LINE_AA)
    return out


def fit_frame(image_rgb: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """``image_rgb`` scaled to fit ``size_wh`` keeping its aspect ratio, centred on black (mixed-size folders)."""
    w, h = size_wh
    ih, iw = image_rgb.shape[:2]
    if (iw, ih) == (w, h):
        return image_rgb
    scale = min(w / iw, h / ih)
    nw, nh = max(1, round(iw * scale)), max(1, round(ih * scale))
    out = np.zeros((h, w, 3), np.uint8)
    x0, y0 = (w - nw) // 2, (h - nh) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(image_rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


class H264Writer:
    """Writes RGB frames to an H.264 MP4 (libx264, yuv420p) atomically.

    Frames go to a temp file beside ``path``; :meth:`close` moves it into place, :meth:`abort` (or an
    exception inside ``with``) removes it, so a cancelled or failed export never leaves a broken video.
    Odd frame sizes are padded by one black pixel (yuv420p needs even sizes).
    """

    def __init__(self, path: str | os.PathLike, fps: float, size_wh: tuple[int, int], crf: int = 23) -> None:
        import av

        self.path = Path(path)
        w, h = int(size_wh[0]), int(size_wh[1])
        if w <= 0 or h <= 0:
            raise DistilPoseError(f"{self.path}: video size must be positive, got {w}x{h}")
        self.size_wh = (w, h)
        self._even = (w + w % 2, h + h % 2)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".mp4", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        try:
            self._container = av.open(tmp, "w", format="mp4")
            rate = Fraction(fps).limit_denominator(1001) if fps and fps > 0 else Fraction(30)
            self._stream = self._container.add_stream("libx264", rate=rate)
            self._stream.width, self._stream.height = self._even
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(crf), "preset": "veryfast"}
        except Exception as exc:
            self._tmp.unlink(missing_ok=True)
            raise DistilPoseError(f"{self.path}: cannot start the H.264 video ({exc})") from exc
        self.frames = 0
        self._closed = False

    def write(self, frame_rgb: np.ndarray) -> None:
        import av

        h, w = frame_rgb.shape[:2]
        if (w, h) != self.size_wh:
            raise DistilPoseError(
                f"{self.path}: frame {self.frames} is {w}x{h}, the video is {self.size_wh[0]}x{self.size_wh[1]}"
            )
        rgb = np.ascontiguousarray(frame_rgb, dtype=np.uint8)
        if self._even != self.size_wh:
            padded = np.zeros((self._even[1], self._even[0], 3), np.uint8)
            padded[:h, :w] = rgb
            rgb = padded
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> Path:
        """Flush, finish the file and move it to ``path``."""
        if self._closed:
            return self.path
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            give_normal_mode(str(self._tmp), self.path)  # mkstemp's 0600 -> what the JSON files get
            os.replace(self._tmp, self.path)
        except Exception as exc:
            self.abort()
            raise DistilPoseError(f"{self.path}: cannot write the video ({exc})") from exc
        self._closed = True
        return self.path

    def abort(self) -> None:
        """Stop and delete the partial file."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._container.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
