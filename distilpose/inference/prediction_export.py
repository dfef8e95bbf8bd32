"""Batch export of a video's or folder's predictions: the live pipeline over every frame, written as COCO
keypoint results (plus the images file that makes them usable, and optionally a rendered video).

Written only when every frame is done; a cancel or a failure leaves nothing on disk.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from distilpose.coco import CocoDataset, CocoImage, KeypointResult, save_coco, save_keypoint_results
from distilpose.errors import DistilPoseError
from distilpose.pipeline import LivePipeline, render_result
from distilpose.render import H264Writer, fit_frame
from distilpose.video import FrameSource, VideoReader


class ExportCancelled(DistilPoseError):
    """The user cancelled an export; nothing was written."""


@dataclass
class ExportResult:
    results_path: Path
    images_path: Path
    video_path: Path | None
    frames: int
    instances: int


def images_path_for(results_path: str | os.PathLike) -> Path:
    """``out.json`` -> ``out.images.json``: the COCO images list that makes the results file usable."""
    p = Path(results_path)
    return p.with_name(p.stem + ".images.json")


def export_predictions(
    source: FrameSource,
    pipeline: LivePipeline,
    results_path: str | os.PathLike,
    *,
    video_path: str | os.PathLike | None = None,
    threshold: float = 0.0,
    frames: Sequence[int] | None = None,
    fps: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ExportResult:
    """Run the pipeline over ``frames`` (default: all) of ``source`` and write, only when every frame is done:

    - ``results_path``: COCO keypoint results (image_id = frame index + 1), and beside it
    - ``<stem>.images.json``: a COCO file listing those images (file names, sizes, frame numbers), so that
      ``COCO(images).loadRes(results)`` works and each result can be traced to its frame;
    - ``video_path`` (optional): the frames with the predictions drawn, H.264.

    ``should_stop`` is polled between frames; when it returns True, :class:`ExportCancelled` is raised and
    nothing is left on disk.
    """
    indices = list(range(len(source))) if frames is None else list(frames)
    if not indices:
        raise DistilPoseError(f"{source.name}: nothing to export (no frames)")
    results: list[KeypointResult] = []
    images: list[CocoImage] = []
    writer: H264Writer | None = None
    size_wh: tuple[int, int] | None = None
    n_instances = 0
    try:
        for done, index in enumerate(indices):
            if should_stop is not None and should_stop():
                raise ExportCancelled(
                    f"{source.name}: export cancelled after {done} of {len(indices)} frames"
                )
            image = source.frame(index)
            t = source.time_of(index) if isinstance(source, VideoReader) else index / (fps or 30.0)
            result = pipeline.process(image, index=index, t=t)
            h, w = image.shape[:2]
            image_id = index + 1
            extra = {"frame_index": index, "source": source.name}
            images.append(
                CocoImage(id=image_id, file_name=source.frame_name(index), width=w, height=h, extra=extra)
            )
            for inst in result.instances:
                results.append(KeypointResult.from_instance(inst, image_id))
            n_instances += len(result.instances)
            if video_path is not None:
                if writer is None:
                    size_wh = (w, h)
                    rate = fps or getattr(source, "fps", None) or (30.0 if source.kind == "video" else 5.0)
                    writer = H264Writer(video_path, rate, size_wh)
                assert size_wh is not None
                writer.write(fit_frame(render_result(image, result, threshold), size_wh))
            if progress is not None:
                progress(done + 1, len(indices))
        written_video = writer.close() if writer is not None else None
        results_path = Path(results_path)
        images_path = images_path_for(results_path)
        save_coco(CocoDataset(images=images, annotations=[]), images_path)
        save_keypoint_results(results, results_path)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return ExportResult(results_path, images_path, written_video, len(indices), n_instances)
