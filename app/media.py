"""Media for the app: the library's readers, re-exported where the app has always found them.

Reading lives in :mod:`distilpose.video` (no Qt) so that batch export and the bench read frames exactly as
the window does.
"""

from __future__ import annotations

from distilpose.video import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    Camera,
    ImageFile,
    ImageFolder,
    VideoReader,
    is_image_path,
    is_video_path,
    read_image,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "Camera",
    "ImageFile",
    "ImageFolder",
    "VideoReader",
    "is_image_path",
    "is_video_path",
    "read_image",
]
