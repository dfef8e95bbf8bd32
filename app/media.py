"""Reading still images for the app (no Qt), with errors a user can act on."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from distilpose.errors import MediaError

#: Suffixes offered in the open dialog and accepted by drag and drop (lower case).
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def is_image_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as an RGB ``uint8`` array of shape (H, W, 3).

    ``np.fromfile`` + ``cv2.imdecode`` instead of ``cv2.imread`` because imread cannot open non-ASCII paths on
    every platform. Raises :class:`MediaError` naming the file and the problem.
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
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise MediaError(f"{p}: not a readable image (corrupt file or unsupported format)")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    rgb.setflags(write=False)
    return rgb
