"""Media files that moved: which of a project's media are missing, where they went, and the edit that points
the project at them again (ADR 0032).

A project stores media paths relative to its folder, so a project moved together with its media still
opens; one moved without them, or media moved on their own, leave paths to nothing. Every frame of such a
media then fails on its own ("frame 12: ... not found", a hundred times). Here a missing media is found once,
by name under folders the user names, and accepted only when it is the same file: the kind matches and, where
the project recorded them, the size and content hash (:func:`distilpose.project.files.file_digest`) too; a
folder must hold as many images as the project's frames of it need. A media with no recorded content (added
before its file existed) is linked only when one candidate fits best (most trailing folder names in common
with the stored path); a tie is reported, never guessed. Qt-free; the app and ``distilpose project relink``
use the same functions, and the change is an :class:`~distilpose.project.edits.Edit` (undoable).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from distilpose.project import files
from distilpose.project.edits import Edit
from distilpose.project.errors import ProjectError
from distilpose.project.records import MediaRecord

#: Directory entries a search looks at before it stops (a user pointing at "/" must not wait forever).
MAX_SEARCHED = 200_000


@dataclass(frozen=True)
class MissingMedia:
    """A media whose file is not where the project says, where that is now, and (a folder) how many images
    its frames need."""

    record: MediaRecord
    looked_at: Path
    images_needed: int = 0

    @property
    def name(self) -> str:
        """The file (or folder) name the search matches on."""
        return PurePosixPath(self.record.path).name

    def describe(self) -> str:
        return f"{self.record.path} ({self.record.kind}): not found at {self.looked_at}"


@dataclass
class SearchResult:
    """What a search found: one path per media it could link, the media with several equally good
    candidates (nothing recorded to tell them apart), and whether it stopped at :data:`MAX_SEARCHED`."""

    found: dict[int, Path] = field(default_factory=dict)
    ambiguous: dict[int, list[Path]] = field(default_factory=dict)
    stopped: bool = False


def _images_needed(store, record: MediaRecord) -> int:
    """A folder media's frames are images by position: the folder must hold at least the last index + 1."""
    if record.kind != "folder":
        return 0
    indices = [f.index for f in store.frames(media_id=record.id)]
    return max(indices) + 1 if indices else 0


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
            out.append(MissingMedia(record, path, _images_needed(store, record)))
    return out


def replacement_problem(record: MediaRecord, candidate: str | os.PathLike, images_needed: int = 0) -> str | None:
    """Why ``candidate`` is not the file ``record`` names (None: it is): not there, another kind, another
    size or content than the project recorded, or a folder with fewer images than its frames need."""
    path = Path(candidate)
    if record.kind == "folder":
        if not path.is_dir():
            return f"{path}: not a folder"
        images = sum(1 for p in path.iterdir() if p.suffix.lower() in files.IMAGE_SUFFIXES)
        if images < images_needed:
            return f"{path}: {images} image(s), but the project's frames of this folder need {images_needed}"
        return None
    if not path.is_file():
        return f"{path}: not a file"
    kind = files.guess_kind(path)
    if kind != record.kind:
        return f"{path}: a {kind or 'file of unknown kind'}, not the {record.kind} the project had"
    size = path.stat().st_size
    if record.size is not None and size != record.size:
        return f"{path}: {size} bytes, not the {record.size} the project recorded: another file"
    if record.hash and files.file_digest(path) != record.hash:
        return f"{path}: same name and size but other content than the project recorded: another file"
    return None


def _common_tail(stored: str, candidate: Path) -> int:
    """How many trailing path names ``candidate`` shares with the stored path (the file name counts)."""
    a, b = PurePosixPath(stored).parts[::-1], candidate.parts[::-1]
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def search(
    missing: Sequence[MissingMedia],
    folders: Sequence[str | os.PathLike],
    taken: Iterable[Path] = (),
    progress: Callable[[int, Path], None] | None = None,
) -> SearchResult:
    """Look for each missing media under ``folders`` (walked recursively, links not followed): entries of
    the same name that :func:`replacement_problem` accepts, none of them in ``taken`` (files that are media of
    the project already) and no file given to two media.

    ``progress(entries seen, folder)`` is called after each folder is looked through: a caller shows it, and
    stops the search by raising from it (nothing is returned then, so nothing is half-relinked)."""
    by_name: dict[str, list[MissingMedia]] = {}
    for m in missing:
        by_name.setdefault(m.name, []).append(m)
    candidates: dict[int, list[Path]] = {m.record.id: [] for m in missing}
    used = {Path(os.path.abspath(p)) for p in taken}
    result = SearchResult()
    if not missing:
        return result  # nothing to look for: no walk
    seen = 0
    for folder in folders:
        for root, dirs, names in os.walk(folder):
            seen += len(dirs) + len(names)
            for entry in (*names, *dirs):
                for m in by_name.get(entry, ()):
                    path = Path(os.path.abspath(Path(root) / entry))
                    if path not in used and _is_it(m, path):
                        candidates[m.record.id].append(path)
            if progress is not None:
                progress(seen, Path(root))
            if seen > MAX_SEARCHED:
                result.stopped = True
                break
        if result.stopped:
            break
    for m in missing:
        ranked = sorted((p for p in candidates[m.record.id] if p not in used),
                        key=lambda p: -_common_tail(m.record.path, p))  # fmt: skip
        if not ranked:
            continue
        best = [p for p in ranked if _common_tail(m.record.path, p) == _common_tail(m.record.path, ranked[0])]
        if len(best) > 1 and not m.record.hash:  # nothing recorded tells them apart: say so, never guess
            result.ambiguous[m.record.id] = best
            continue
        result.found[m.record.id] = best[0]
        used.add(best[0])
    return result


def _is_it(m: MissingMedia, path: Path) -> bool:
    """Whether ``path`` is the missing file; one that cannot be read (no permission, a dropped network
    share) is not it, and does not end the search for the others."""
    try:
        return replacement_problem(m.record, path, m.images_needed) is None
    except OSError:
        return False


def relink_edit(store, media_id: int, path: str | os.PathLike) -> Edit:
    """The edit that points media ``media_id`` at ``path`` (given by hand), after checking it is the same
    file (raises :class:`~distilpose.project.errors.ProjectError` naming the problem)."""
    record = store.media(media_id)
    problem = replacement_problem(record, path, _images_needed(store, record))
    if problem:
        raise ProjectError(f"{store.path}: cannot relink {record.path}: {problem}")
    return _edit(store, record, path)


def found_edits(store, found: dict[int, Path]) -> list[Edit]:
    """The edits for what :func:`search` found: it checked each file already (hashing a video twice would
    double the wait)."""
    return [_edit(store, store.media(media_id), path) for media_id, path in found.items()]


def _edit(store, record: MediaRecord, path: str | os.PathLike) -> Edit:
    stored = files.to_stored(path, store.folder)
    return Edit("relink_media", {"media_id": int(record.id), "stored": stored, "expect": record.path})


def present_media_paths(store) -> list[Path]:
    """The files and folders of the project's media that are there: a search never offers them again."""
    paths = (store.media_path(r.id) for r in store.media_list())
    return [p for p in paths if p.exists()]
