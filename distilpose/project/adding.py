"""Which media and frames adding files to a project creates: images (one frame each), every image of a folder
(each an image, as the app's Add Folder does), and every N-th frame of a video. Planned first, with every
problem listed before anything is written, so the app (one undo command) and ``distilpose project add``
(one transaction) add exactly the same things.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from distilpose.errors import DistilPoseError
from distilpose.project.store import ProjectStore

PathLike = str | os.PathLike


@dataclass
class MediaAddition:
    """Frames to add to one media: a new one (``media_id`` None) or one already in the project."""

    path: Path
    kind: str  # image or video
    indices: list[int]
    media_id: int | None = None
    #: A truncated video, frames that do not decode, in words (only the frames that decode are added).
    problem: str | None = None


@dataclass
class AdditionPlan:
    additions: list[MediaAddition] = field(default_factory=list)
    already: int = 0  # images, or video frames, that were in the project already

    problems: list[str] = field(default_factory=list)  # each addition's ``problem``

    @property
    def frames(self) -> int:
        return sum(len(a.indices) for a in self.additions)

    def summary(self) -> str:
        media = sum(1 for a in self.additions if a.media_id is None)
        return f"{media} new media, {self.frames} frame(s) added, {self.already} already in the project"


def image_additions(store: ProjectStore, images: Sequence[PathLike]) -> tuple[list[MediaAddition], int]:
    """New images (one frame each), and how many were already in the project."""
    new = [Path(p) for p in images if store.find_media(p) is None]
    return [MediaAddition(p, "image", [0]) for p in new], len(images) - len(new)


def video_addition(store: ProjectStore, video: PathLike, every: int = 1) -> tuple[MediaAddition | None, int]:
    """Frames 0, every, 2*every, ... of a video not in the project yet (None when all are), and how many of
    them were there already. Every frame is decoded once to count those that decode (a container's header
    may claim frames a truncated file does not hold, or hold packets that do not decode): only those are
    added, and ``problem`` says what is wrong. MediaError names a file that cannot be read at all."""
    from distilpose.video import VideoReader

    if every < 1:
        raise DistilPoseError(f"the frame step must be at least 1, got {every}")
    p = Path(video)
    with VideoReader(p) as reader:
        check = reader.check_frames()
    bad = set(check.undecodable)
    indices = [i for i in range(0, check.frames, every) if i not in bad]
    problem = check.problem(p)
    media = store.find_media(p)
    if media is None:
        return MediaAddition(p, "video", indices, problem=problem), 0
    have = {f.index for f in store.frames(media.id)}
    new = [i for i in indices if i not in have]
    addition = MediaAddition(p, "video", new, media.id, problem) if new else None
    return addition, len(indices) - len(new)


def plan_additions(store: ProjectStore, paths: Sequence[PathLike], every: int = 1) -> AdditionPlan:
    """What adding ``paths`` (images, folders of images, videos) creates; DistilPoseError lists every path
    that is none of these, or that cannot be read, before anything is added."""
    from distilpose.video import ImageFolder, is_image_path, is_video_path

    plan = AdditionPlan()
    problems: list[str] = []
    images: list[Path] = []
    for raw in paths:
        p = Path(raw)
        try:
            if p.is_dir():
                images += list(ImageFolder(p).files)
            elif not p.exists():
                problems.append(f"{p}: not found")
            elif is_image_path(p):
                images.append(p)
            elif is_video_path(p):
                addition, already = video_addition(store, p, every)
                plan.already += already
                if addition is not None:
                    plan.additions.append(addition)
                    plan.problems += [addition.problem] if addition.problem else []
            else:
                problems.append(f"{p}: not an image, a video or a folder of images")
        except DistilPoseError as exc:
            problems.append(str(exc))
    if problems:
        raise DistilPoseError("cannot add:\n" + "\n".join(f"  - {m}" for m in problems[:50]))
    unique = list(dict.fromkeys(images))
    new, already = image_additions(store, unique)
    plan.additions = new + plan.additions
    plan.already += already
    return plan


def apply_additions(store: ProjectStore, plan: AdditionPlan) -> None:
    """Add the planned media and frames in one transaction (all or nothing)."""
    with store.transaction("add_media_frames", {"media": len(plan.additions), "frames": plan.frames}):
        for addition in plan.additions:
            media_id = addition.media_id
            if media_id is None:
                media_id = store.add_media(addition.path, addition.kind)
            for index in addition.indices:
                store.add_frame(media_id, index)
