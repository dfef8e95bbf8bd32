"""Errors the library raises for bad input. Each message names the file or object and the problem."""

from __future__ import annotations


class DistilPoseError(Exception):
    """Base class: a clear, user-facing problem (bad file, unknown model, ...), never a bug."""


class UnknownModelError(DistilPoseError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CheckpointError(DistilPoseError):
    """A checkpoint that cannot be loaded: unreadable, pickled code, or keys/shapes that do not match."""


class CocoFormatError(DistilPoseError):
    """A COCO file with one or more problems; ``problems`` lists each one precisely."""

    def __init__(self, path: str, problems: list[str]):
        self.path = str(path)
        self.problems = list(problems)
        head = f"{self.path}: {len(self.problems)} problem(s)"
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in self.problems))


class MediaError(DistilPoseError):
    """An image or video that cannot be read."""
