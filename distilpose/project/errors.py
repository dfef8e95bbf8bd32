"""Errors of the project store. Each message starts with the project file, so a user knows which one."""

from __future__ import annotations

from distilpose.errors import DistilPoseError


class ProjectError(DistilPoseError):
    """A project file that cannot be used, or an edit that refers to something the project does not hold."""


class ProjectLockedError(ProjectError):
    """Another process (or another connection) holds the project's write lock longer than the busy timeout."""


class ProjectVersionError(ProjectError):
    """The project was written by a newer DistilPose Studio whose schema this code does not know."""


class EditConflictError(ProjectError):
    """An undo or redo refused because another writer (a second window, the CLI, a worker) changed what it
    would set back since the edit was made: applying it would revert their work. Nothing was changed."""


class ProjectUnwritableError(ProjectError):
    """The project cannot be written (its disk is full, its file or folder is read-only); it can be read:
    ``ProjectStore.open(read_only=True)``."""


class ProjectReadOnlyError(ProjectError):
    """An edit of a project opened read-only; nothing was changed."""
