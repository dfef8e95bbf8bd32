"""Dataset splits (seeded, by frame or by media) and project statistics, checked against hand counts."""

from __future__ import annotations

import numpy as np
import pytest

from distilpose.errors import DistilPoseError
from distilpose.project.splits import compute_splits, dataset_frames, split_project
from distilpose.project.stats import project_stats
from distilpose.project.store import ProjectStore
from tests.unit.test_project_support import person


@pytest.fixture
def store(tmp_path):
    with ProjectStore.create(tmp_path / "p.dpproj") as s:
        yield s


def _images(store: ProjectStore, n: int) -> list[int]:
    return [
        store.add_frame(store.add_media(store.folder / f"img{i}.jpg", must_exist=False)) for i in range(n)
    ]


def _videos(store: ProjectStore, sizes: list[int]) -> dict[int, list[int]]:
    """Videos with ``size`` labelled frames each, plus one unlabelled frame each (not a dataset frame)."""
    out = {}
    for v, size in enumerate(sizes):
        media = store.add_media(store.folder / f"clip{v}.mp4", must_exist=False)
        frames = [store.add_frame(media, i) for i in range(size)]
        for f in frames:
            store.add_instance(f, person())
        store.add_frame(media, 1000)
        out[media] = frames
    return out


def test_split_by_frame_takes_exact_counts_and_is_seeded(store):
    frames = _images(store, 10)
    split = compute_splits(store, val=0.2, test=0.1, seed=3)
    values = [split[f] for f in frames]
    assert (values.count("val"), values.count("test"), values.count("train")) == (2, 1, 7)
    assert compute_splits(store, val=0.2, test=0.1, seed=3) == split  # same seed, same split
    others = {
        tuple(sorted(k for k, v in compute_splits(store, val=0.2, seed=s).items() if v == "val"))
        for s in range(6)
    }
    assert len(others) > 1  # the seed matters
    # the permutation is numpy's: frames at the first two positions of permutation(10) go to val
    order = np.random.default_rng(7).permutation(10)
    assert {f for f, v in compute_splits(store, val=0.2, seed=7).items() if v == "val"} == {
        frames[order[0]],
        frames[order[1]],
    }


def test_split_by_media_keeps_each_video_whole(store):
    videos = _videos(store, [6, 3, 2, 1])  # 12 dataset frames
    assert len(dataset_frames(store)) == 12
    for seed in range(8):
        split = compute_splits(store, val=0.25, seed=seed, by="media")  # target: 3 val frames
        for frames in videos.values():
            assert len({split[f] for f in frames}) == 1, seed
        val = sum(1 for v in split.values() if v == "val")
        assert val in (2, 3, 4), (seed, val)  # the media sizes only allow 1, 2, 3, 4, 6, ... frames near 3
        unlabelled = [f.id for f in store.frames() if f.index == 1000]
        assert {split[f] for f in unlabelled} == {"none"}


def test_split_project_stores_and_returns_the_previous(store):
    frames = _images(store, 5)
    store.set_split(frames[0], "test")
    previous = split_project(store, val=0.4, seed=1)
    assert previous == {f: ("test" if f == frames[0] else "none") for f in frames}
    assert sorted(f.split for f in store.frames()) == ["train", "train", "train", "val", "val"]
    store.set_splits(previous)  # undo
    assert [f.split for f in store.frames()] == ["test", "none", "none", "none", "none"]
    with pytest.raises(DistilPoseError, match="adding up to at most 1"):
        compute_splits(store, val=0.8, test=0.3)
    with pytest.raises(DistilPoseError, match="unknown split unit 'clip'"):
        compute_splits(store, by="clip")


def test_stats_count_by_hand(store):
    frames = _images(store, 3)
    video = store.add_media(store.folder / "clip.mp4", must_exist=False)
    vf = store.add_frame(video, 4, split="val")
    a = person()
    a.keypoints[0, 2] = 0
    a.keypoints[1, 2] = 1
    store.add_instance(frames[0], a, verified=True)
    store.add_instance(frames[0], person(source="student", scores=True))
    b = person(source="teacher")
    b.keypoints[:, 2] = 1
    store.add_instance(vf, b)
    store.set_suggested(frames[2], True, "why")
    stats = project_stats(store)
    assert stats.media == {"image": 3, "video": 1, "folder": 0}
    assert (stats.frames, stats.labelled_frames, stats.suggested_frames) == (4, 2, 1)
    assert stats.split_frames == {"train": 0, "val": 1, "test": 0, "none": 3}
    assert stats.split_instances == {"train": 0, "val": 1, "test": 0, "none": 2}
    assert stats.instances_by_source == {"user": 1, "student": 1, "teacher": 1, "import": 0}
    assert (stats.instances, stats.verified) == (3, 1)
    assert stats.keypoints["nose"] == {"v0": 1, "v1": 1, "v2": 1}
    assert stats.keypoints["left_eye"] == {"v0": 0, "v1": 2, "v2": 1}
    assert stats.keypoints["right_ankle"] == {"v0": 0, "v1": 1, "v2": 2}
    text = stats.format()
    assert "frames     4 (2 labelled, 1 suggested)" in text and "nose" in text
    assert stats.to_dict()["keypoints"]["nose"]["v0"] == 1
