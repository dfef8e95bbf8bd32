"""Opening a project for a ``distilpose project`` command: read-only for the commands that only read (stats,
check, exports), and what the open did that the user must hear of (a stray write-ahead log moved aside) on
stderr."""

from __future__ import annotations

import os
import sys

from distilpose.project.store import ProjectStore


def open_project(path: str | os.PathLike, *, read_only: bool = False) -> ProjectStore:
    store = ProjectStore.open(path, read_only=read_only)
    for notice in store.notices:
        print(f"warning: {notice}", file=sys.stderr)
    return store
