"""What a distillation job is made of, as the app sees it: the job building itself is Qt-free and shared
with `distilpose project distil` (:mod:`distilpose.training.project_job`); this module keeps the names the
app imports and the per-split counts of verified people."""

from __future__ import annotations

from distilpose.project import ProjectStore
from distilpose.training.project_job import (  # noqa: F401  (the app's names for the shared job code)
    CONFIG_NAME,
    TRAIN_DATA,
    TRAIN_SPLITS,
    VAL_DATA,
    VAL_SPLITS,
    DistilSpec,
    ProjectData,
    build_config,
    prepare_job,
    project_data,
    student_section,
    teacher_section,
    write_gpu_bundle,
)


def verified_per_split(store: ProjectStore) -> dict[str, int]:
    """Verified people per split (``none`` for unsplit frames)."""
    return store.read.verified_per_split()


def data_counts(store: ProjectStore) -> tuple[int, int]:
    """(verified people in the training splits, in the val split)."""
    counts = verified_per_split(store)
    return sum(counts.get(s, 0) for s in TRAIN_SPLITS), sum(counts.get(s, 0) for s in VAL_SPLITS)
