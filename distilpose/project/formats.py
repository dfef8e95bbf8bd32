"""The dataset export formats, in one registry read by the CLI (``distilpose project export-<name>``), the
app's dataset panel and the tests alike.

Every format is written by a function of one signature::

    write(store, out_dir, *, only_verified=False, splits=None, images="copy", overwrite=False, **options)
        -> a report with .summary()

A format lists the image modes it accepts (COCO can leave the images out, YOLO-pose needs them) and its
own switches as :class:`ExportOption` (a CLI flag and a panel checkbox each): fields a variant of the format
adds, such as PoseTrack's ``track_id``/``vid_id``/``frame_id`` for COCO, join that format's ``options``
and its writer's keyword arguments; nothing else changes. A new format is one entry in :data:`EXPORTERS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from distilpose.errors import DistilPoseError
from distilpose.project.coco_io import ANNOTATION_FILE, export_coco
from distilpose.project.exporting import IMAGE_MODES
from distilpose.project.store import ProjectStore
from distilpose.project.yolo_io import YOLO_IMAGE_MODES, export_yolo


@dataclass(frozen=True)
class ExportOption:
    """A yes/no switch of one format, passed to its writer as the keyword ``name`` (default False)."""

    name: str
    help: str


@dataclass(frozen=True)
class DatasetFormat:
    name: str  # the registry key: `export-<name>` on the CLI
    title: str  # what the panel's button and messages call it
    help: str  # one line for the CLI's command list and the button's tooltip
    description: str  # the CLI command's longer description
    image_modes: tuple[str, ...]  # the first is the default
    done: str  # the file whose presence means a complete export (written last)
    check_note: str  # what the writer checked, for the success message ('' when nothing)
    write: Callable[..., Any]
    options: tuple[ExportOption, ...] = ()

    def export(
        self,
        store: ProjectStore,
        out_dir: str | os.PathLike,
        *,
        only_verified: bool = False,
        splits: Sequence[str] | None = None,
        images: str | None = None,
        overwrite: bool = False,
        options: Mapping[str, bool] | None = None,
    ) -> Any:
        """Write the dataset; unknown options and image modes are refused before anything is written."""
        images = images or self.image_modes[0]
        if images not in self.image_modes:
            raise DistilPoseError(
                f"{self.title} export: unknown image mode {images!r}; expected one of {', '.join(self.image_modes)}"
            )
        known = {o.name for o in self.options}
        unknown = sorted(set(options or {}) - known)
        if unknown:
            raise DistilPoseError(
                f"{self.title} export has no option {', '.join(unknown)}"
                + (f"; it has {', '.join(sorted(known))}" if known else "")
            )
        return self.write(
            store,
            out_dir,
            only_verified=only_verified,
            splits=list(splits) if splits else None,
            images=images,
            overwrite=overwrite,
            **dict(options or {}),
        )


EXPORTERS: dict[str, DatasetFormat] = {
    f.name: f
    for f in (
        DatasetFormat(
            name="coco",
            title="COCO",
            help=f"write OUT_DIR/images and OUT_DIR/{ANNOTATION_FILE.as_posix()}",
            description="Image ids are frame ids and annotation ids instance ids, so they stay the same from "
            "one export to the next. The written file is read back with pycocotools before the command "
            "succeeds.",
            image_modes=IMAGE_MODES,
            done=ANNOTATION_FILE.as_posix(),
            check_note="read back with pycocotools",
            write=export_coco,
        ),
        DatasetFormat(
            name="yolo",
            title="YOLO-pose",
            help="write an Ultralytics YOLO-pose dataset (images, labels, data.yaml)",
            description="images/<split>/, labels/<split>/ with one normalised line per person, and data.yaml "
            "with kpt_shape and flip_idx. Frames of split 'none' go to train.",
            image_modes=YOLO_IMAGE_MODES,
            done="data.yaml",
            check_note="",
            write=export_yolo,
        ),
    )
}


def dataset_format(name: str) -> DatasetFormat:
    """The format registered as ``name``; DistilPoseError listing the known ones otherwise."""
    try:
        return EXPORTERS[name]
    except KeyError:
        raise DistilPoseError(
            f"unknown dataset format {name!r}; known: {', '.join(sorted(EXPORTERS))}"
        ) from None
