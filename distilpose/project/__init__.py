"""The SQLite project store: schema, migrations, undoable edits, COCO/YOLO I/O, splits, stats. No Qt.

Start with :class:`ProjectStore` (open/create, edits, queries) and :class:`Edit` (edits as undoable data).
"""

from distilpose.project.edits import Edit
from distilpose.project.errors import EditConflictError, ProjectError, ProjectLockedError, ProjectVersionError
from distilpose.project.store import ProjectStore

__all__ = ["Edit", "EditConflictError", "ProjectError", "ProjectLockedError", "ProjectStore", "ProjectVersionError"]
