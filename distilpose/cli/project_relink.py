"""`distilpose project relink`: point a project at media files that moved (:mod:`distilpose.project.relink`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from distilpose.project.relink import MAX_SEARCHED


def register_relink(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "relink",
        help="find media files that moved and point the project at them again",
        description="Lists the media whose file is not where the project says. --search looks for each one "
        "by name under the folders given and links it only when it is the same file (kind, size and content "
        "as recorded); --media ID PATH links one by hand, with the same check. Exit status 0 when no media "
        "is missing afterwards, 1 otherwise.",
    )
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("--search", action="append", default=[], metavar="DIR", help="folder to search (repeatable)")
    p.add_argument("--media", nargs=2, action="append", default=[], metavar=("ID", "PATH"),
                   help="link media ID to PATH (repeatable)")  # fmt: skip
    p.set_defaults(func=_relink)


def _relink(args: argparse.Namespace) -> int:
    from distilpose.cli.project_open import open_project
    from distilpose.errors import DistilPoseError
    from distilpose.project.relink import found_edits, missing_media, present_media_paths, relink_edit, search

    listing = not args.search and not args.media
    with open_project(args.project, read_only=listing) as store:  # listing never writes the project
        chosen: dict[int, str] = {}
        for media_id, path in args.media:
            if not media_id.isdigit():
                raise DistilPoseError(f"--media {media_id} {path}: the media id must be a number")
            chosen[int(media_id)] = path
        missing = missing_media(store)
        wanted = [m for m in missing if m.record.id not in chosen]
        with _entries_bar(bool(args.search and wanted)) as tick:  # Ctrl-C while searching: nothing written
            result = search(wanted, args.search, present_media_paths(store), tick)
        edits = found_edits(store, result.found) + [relink_edit(store, i, path) for i, path in chosen.items()]
        if edits:
            store.apply_edits(edits)  # every link checked first; all or nothing
        for edit in edits:
            print(f"{edit.args['expect']} -> {edit.args['stored']}")
        still = missing_media(store)
    for m in still:
        print(f"missing: {m.describe()}", file=sys.stderr)
        for path in result.ambiguous.get(m.record.id, []):
            print(f"  could be {path} (nothing recorded to tell; link it with --media {m.record.id} PATH)",
                  file=sys.stderr)  # fmt: skip
    if result.stopped:
        print(f"the search stopped after {MAX_SEARCHED:,} entries: name a smaller folder", file=sys.stderr)
    if still and listing:
        print(f"find them with: distilpose project relink {args.project} --search FOLDER", file=sys.stderr)
    print(f"{args.project}: {len(edits)} media relinked, {len(still)} missing")
    return 1 if still else 0


@contextmanager
def _entries_bar(shown: bool) -> Iterator[Callable[[int, Path], None] | None]:
    """A tqdm counter of the entries a search looked at (on stderr, and only on a terminal): a search of a
    large folder takes a while, and says so."""
    if not shown:
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=None, unit=" entries", desc="searching", disable=None, file=sys.stderr) as bar:

        def tick(seen: int, _folder: Path) -> None:
            bar.update(seen - bar.n)

        yield tick
