"""Dataset work on the project off the GUI thread (COCO and YOLO export): copying images and reloading the
export with pycocotools can take a while, and the window must stay responsive.

The job opens its own store connection (one per thread); it only reads, so edits in the window go on.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from distilpose.app.tasks import BackgroundTask
from distilpose.project import ProjectStore


def store_task(
    project_path: str | os.PathLike, job: Callable[[ProjectStore], Any], name: str, parent=None
) -> BackgroundTask:
    """A task that runs ``job(store)`` on a fresh connection to ``project_path``; ``succeeded`` carries its
    result."""

    def work(_task: BackgroundTask) -> Any:
        with ProjectStore.open(project_path) as store:
            return job(store)

    return BackgroundTask(name, work, parent)
