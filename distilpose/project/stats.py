"""Dataset statistics of a project: what a user checks before training (how much is labelled, verified, split,
and which joints are rarely visible)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from distilpose.keypoints import NAMES
from distilpose.project.errors import ProjectError
from distilpose.project.records import MEDIA_KINDS, SPLITS
from distilpose.project.store import ProjectStore
from distilpose.types import SOURCES


@dataclass
class ProjectStats:
    project: str
    schema_version: int
    media: dict[str, int]  # by kind
    frames: int
    labelled_frames: int  # frames with at least one instance
    suggested_frames: int
    split_frames: dict[str, int]  # frames per split
    split_instances: dict[str, int]  # instances per split of their frame
    instances: int
    instances_by_source: dict[str, int]
    verified: int
    keypoints: dict[str, dict[str, int]]  # joint name -> {"v0", "v1", "v2"} counts

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        """A plain-text report for the terminal."""
        media = ", ".join(f"{k} {v}" for k, v in self.media.items())
        splits = ", ".join(
            f"{k} {v} frames / {self.split_instances[k]} instances" for k, v in self.split_frames.items()
        )
        sources = ", ".join(f"{k} {v}" for k, v in self.instances_by_source.items())
        lines = [
            f"project    {self.project} (schema {self.schema_version})",
            f"media      {sum(self.media.values())} ({media})",
            f"frames     {self.frames} ({self.labelled_frames} labelled, {self.suggested_frames} suggested)",
            f"splits     {splits}",
            f"instances  {self.instances} ({sources}; {self.verified} verified)",
            "keypoints by joint (v=0 not labelled / v=1 occluded / v=2 visible):",
        ]  # fmt: skip
        width = max(len(n) for n in NAMES)
        for name, c in self.keypoints.items():
            lines.append(f"  {name:<{width}}  {c['v0']:>7} {c['v1']:>7} {c['v2']:>7}")
        return "\n".join(lines)


def project_stats(store: ProjectStore) -> ProjectStats:
    q = store.conn.execute
    media = dict.fromkeys(MEDIA_KINDS, 0)
    media.update(dict(q("SELECT kind, COUNT(*) FROM media GROUP BY kind").fetchall()))
    split_frames = dict.fromkeys(SPLITS, 0)
    split_frames.update(dict(q("SELECT split, COUNT(*) FROM frames GROUP BY split").fetchall()))
    split_instances = dict.fromkeys(SPLITS, 0)
    split_instances.update(
        dict(
            q("SELECT f.split, COUNT(*) FROM instances i JOIN frames f ON f.id = i.frame_id GROUP BY f.split")
        )
    )
    by_source = dict.fromkeys(SOURCES, 0)
    by_source.update(dict(q("SELECT source, COUNT(*) FROM instances GROUP BY source").fetchall()))
    keypoints = {name: {"v0": 0, "v1": 0, "v2": 0} for name in NAMES}
    for k, v, n in q("SELECT k, v, COUNT(*) FROM keypoints GROUP BY k, v"):
        if not (type(k) is int and 0 <= k < len(NAMES) and v in (0, 1, 2)):
            raise ProjectError(
                f"{store.path}: keypoint rows with k={k!r}, v={v!r} are damaged; "
                f"`distilpose project check {store.path}` lists everything that is"
            )
        keypoints[NAMES[k]][f"v{v}"] = n
    return ProjectStats(
        project=str(store.path),
        schema_version=store.schema_version,
        media=media,
        frames=q("SELECT COUNT(*) FROM frames").fetchone()[0],
        labelled_frames=q("SELECT COUNT(DISTINCT frame_id) FROM instances").fetchone()[0],
        suggested_frames=q("SELECT COUNT(*) FROM frames WHERE suggested = 1").fetchone()[0],
        split_frames=split_frames,
        split_instances=split_instances,
        instances=q("SELECT COUNT(*) FROM instances").fetchone()[0],
        instances_by_source=by_source,
        verified=q("SELECT COUNT(*) FROM instances WHERE verified = 1").fetchone()[0],
        keypoints=keypoints,
    )
