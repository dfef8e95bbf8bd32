"""Dataset work on the project off the GUI thread (COCO and YOLO export): copying images and reloading the
export with pycocotools can take a while, and the window must stay responsive.

The job opens its own store connection (one per thread); it only reads, so edits in the window go on.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThread, Signal

from distilpose.app.workers import _message
from distilpose.project import ProjectStore


class StoreJobThread(QThread):
    """Runs ``job(store)`` on a fresh connection to ``project_path``; ``succeeded`` carries its result."""

    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(
        self, project_path: str | os.PathLike, job: Callable[[ProjectStore], Any], name: str, parent=None
    ) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.project_path = project_path
        self.job = job

    def run(self) -> None:
        try:
            with ProjectStore.open(self.project_path) as store:
                result = self.job(store)
        except Exception as exc:
            self.failed.emit(_message(exc))
        else:
            self.succeeded.emit(result)
