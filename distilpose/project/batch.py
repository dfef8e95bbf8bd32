"""Which frames a batch job (pre-labelling) works on; torch-free, so the command line's parser can name the
choices without loading a model."""

from __future__ import annotations

from distilpose.errors import DistilPoseError
from distilpose.project.store import ProjectStore

#: Which frames ``distilpose project prelabel --frames`` means.
FRAME_CHOICES = ("all", "unlabelled")


def select_frames(store: ProjectStore, which: str = "all") -> list[int]:
    """Frame ids in list order: every frame, or the ``unlabelled`` ones (no person on them at all)."""
    if which not in FRAME_CHOICES:
        raise DistilPoseError(f"unknown frame choice {which!r}; expected one of {', '.join(FRAME_CHOICES)}")
    frames = store.frames()
    if which == "all":
        return [f.id for f in frames]
    held = {r[0] for r in store.conn.execute("SELECT DISTINCT frame_id FROM instances")}
    return [f.id for f in frames if f.id not in held]
