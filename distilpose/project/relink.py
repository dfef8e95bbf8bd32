"""Media files that moved: which of a project's media are missing, where they went, and the edit that points
the project at them again.

A project stores media paths relative to its folder, so a project moved together with its media still
opens; one moved without them, or media moved on their own, leave paths to nothing. Every frame of such a
media then fails on its own ("frame 12: ... not found", a hundred times). Here a missing media is found once,
by name under folders the user names, and accepted only when it is the same file: the kind matches and, where
the project recorded them, the size and content hash (:func:`distilpose.project.files.file_digest`) too, so a
different clip that happens to share a name is never linked. Qt-free; the app and ``distilpose project
relink`` use the same functions, and the change is an :class:`~distilpose.project.edits.Edit` (undoable).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from distilpose.project import files
from distilpose.project.edits import Edit
from distilpose.project.records import MediaRecord

#: Directory entries a search looks at before it gives up (a user pointing at "/" must not wait forever).
MAX_SEARCHED = 200_000


@dataclass(frozen=True)
class MissingMedia:
    """A media whose file is not where the project says, and where that is now."""

    record: MediaRecord
    looked_at: Path

    @property
    def name(self) -> str:
        """The file (or folder) name the search matches on."""
        return PurePosixPath(self.record.path).name

    def describe(self) -> str:
        return f"media {self.record.id} ({self.record.kind}) {self.record.path}: not found at {self.looked_at}"


def missing_media(store, media_ids: Iterable[int] | None = None) -> list[MissingMedia]:
    """The project's media (or those of ``media_ids``) whose file or folder is not there."""
    wanted = None if media_ids is None else set(media_ids)
    out = []
    for record in store.media_list():
        if wanted is not None and record.id not in wanted:
            continue
        path = store.media_path(record.id)
        present = path.is_dir() if record.kind == "folder" else path.is_file()
        if not present:
            out.append(MissingMedia(record, path))
    return out


def replacement_problem(record: MediaRecord, candidate: str | os.PathLike) -> str | None:
    """Why ``candidate`` is not the file ``record`` names (None: it is): not there, another kind, or another
    size or content than the project recorded."""
    path = Path(candidate)
    if record.kind == "folder":
        return None if path.is_dir() else f"{path}: not a folder"
    if not path.is_file():
        return f"{path}: not a file"
    kind = files.guess_kind(path)
    if kind != record.kind:
        return f"{path}: a {kind or 'file of unknown kind'}, not the {record.kind} the project had"
    if record.size is not None and path.stat().st_size != record.size:
        return f"{path}: {path.stat().st_size} bytes, not the {record.size} the project recorded: another file"
    if record.hash and files.file_digest(path) != record.hash:
        return f"{path}: same name and size but other content than the project recorded: another file"
    return None


def search(missing: Sequence[MissingMedia], folders: Sequence[str | os.PathLike]) -> dict[int, Path]:
    """``{media id: path}`` of each missing media found under ``folders`` (walked recursively, links not
    followed): the first entry of the same name that :func:`replacement_problem` accepts."""
    by_name: dict[str, list[MissingMedia]] = {}
    for m in missing:
        by_name.setdefault(m.name, []).append(m)
    found: dict[int, Path] = {}
    seen = 0
    for folder in folders:
        for root, dirs, names in os.walk(folder):
            seen += len(dirs) + len(names)
            for entry in (*names, *dirs):
                for m in by_name.get(entry, ()):
                    if m.record.id in found:
                        continue
                    candidate = Path(root) / entry
                    if replacement_problem(m.record, candidate) is None:
                        found[m.record.id] = candidate
            if len(found) == len(missing) or seen > MAX_SEARCHED:
                return found
    return found


def relink_edit(store, media_id: int, path: str | os.PathLike) -> Edit:
    """The edit that points media ``media_id`` at ``path``, after checking it is the same file (raises
    :class:`~distilpose.project.errors.ProjectError` naming the problem)."""
    from distilpose.project.errors import ProjectError

    record = store.media(media_id)
    problem = replacement_problem(record, path)
    if problem:
        raise ProjectError(f"{store.path}: cannot relink media {media_id} ({record.path}): {problem}")
    stored = files.to_stored(path, store.folder)
    return Edit("relink_media", {"media_id": int(media_id), "stored": stored, "expect": record.path})
