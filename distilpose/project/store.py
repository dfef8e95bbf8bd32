"""The project store: one portable SQLite file holding media, frames, instances, keypoints, jobs and an audit
log.

Durability. Every edit is one ``BEGIN IMMEDIATE ... COMMIT`` transaction, committed when it is made
(autosave): killing the process loses nothing that an edit call returned from. The journal is WAL (readers
never block the writer, a commit appends to one file) with ``synchronous=FULL``: each commit is fsynced, so an
edit survives a power cut as well as a killed process. NORMAL would only survive the latter; one fsync per
user edit costs a few milliseconds, nothing next to the edit, and a bulk import is one transaction (one fsync)
however large.

Undo. Each edit returns what its inverse needs: ``add_*`` returns the new id (inverse: ``delete_*``), a delete
returns the removed rows (inverse: ``restore_instance`` / ``restore``, which bring back the SAME ids), an edit
of one instance returns the full previous :class:`Instance`. :mod:`distilpose.project.edits` wraps this as data
for a ``QUndoCommand``, and its inverses compare and set: :meth:`ProjectStore.patch_instance` sets back only
the fields the edit changed, and only while they still hold what it wrote (the deletes and track edits take
the state they expect the same way), so an undo never reverts another writer's later edit
(:class:`EditConflictError` instead); with no other writer it gives back the exact previous state, ``updated``
time included.

Threads. A :class:`ProjectStore` (one SQLite connection) belongs to the thread that opened it; SQLite's
``check_same_thread`` enforces it. A worker thread or process opens its own store on the same file: WAL lets
it read while the GUI writes, and writers wait for each other up to ``timeout`` seconds, then get a
:class:`ProjectLockedError` naming who holds the lock (the edit did not happen: the GUI keeps its undo stack as
it was). An edit takes the write lock before it reads what it changes and writes only the columns that
changed, so two writers never revert each other (docs/adr/0011).

Damage. Every query's SQLite error is a :class:`ProjectError` naming the file; ``open(check=True)`` (the app)
runs SQLite's quick check first; :mod:`distilpose.project.integrity` says what is damaged. Every write
transaction stamps the file header, so that a ``-wal`` beside the file that is not its own is moved aside
before SQLite would replay it (:mod:`distilpose.project.wal`); ``open(read_only=True)`` never writes the file
(docs/adr/0016).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import math
import os
import secrets
import sqlite3
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distilpose.atomic import fsync_dir, is_temp_name
from distilpose.keypoints import NUM_KEYPOINTS
from distilpose.project import files, wal
from distilpose.project.connection import (
    application_id,
    backup,
    check_file,
    configure,
    connect,
    now,
    quick_check,
    translate_error,
)
from distilpose.project.edits import Edit
from distilpose.project.errors import (
    EditConflictError,
    ProjectError,
    ProjectUnwritableError,
    ProjectVersionError,
)
from distilpose.project.jobs import JobRecords
from distilpose.project.queries import StoreQueries
from distilpose.project.read_model import ReadModel
from distilpose.project.records import (
    EDITABLE_INSTANCE_COLUMNS,
    INSTANCE_COLUMNS,
    INT64_MAX,
    KEYPOINT_COLUMNS,
    MEDIA_KINDS,
    PREDICTION_SOURCES,
    FieldKey,
    Snapshot,
    check_instance,
    field_words,
    instance_fields,
    instance_values,
    keypoint_rows,
)
from distilpose.project.schema import APPLICATION_ID, CURRENT_VERSION, migrate, missing_schema, read_version
from distilpose.project.tracks import Tracking
from distilpose.project.transform import copy_instance, moved_instance
from distilpose.types import SOURCES, Instance

PathLike = str | os.PathLike

_INSERT_INSTANCE = "INSERT INTO instances ({}) VALUES ({})".format(
    ", ".join(INSTANCE_COLUMNS), ", ".join("?" * len(INSTANCE_COLUMNS))
)
_INSERT_KEYPOINT = "INSERT INTO keypoints ({}) VALUES ({})".format(
    ", ".join(KEYPOINT_COLUMNS), ", ".join("?" * len(KEYPOINT_COLUMNS))
)
#: Tables of a media's subtree, parents first (the order rows are restored in).
_TREE = ("media", "frames", "instances", "keypoints")


class ProjectStore(StoreQueries):
    """An open project file. Make one with :meth:`create` or :meth:`open`; use it as a context manager or call
    :meth:`close`. Its parts: the queries (:class:`~distilpose.project.queries.StoreQueries`, its base) and,
    composed, the track queries and edits (:attr:`tracking`), the read model (:attr:`read`) and the job
    records (:attr:`job_records`)."""

    @functools.cached_property
    def tracking(self) -> Tracking:
        """Person identity in videos: track queries and the undoable track edits (``Edit`` finds those ops
        here by name), a composed part of the store (docs/adr/0025)."""
        return Tracking(self)

    @functools.cached_property
    def read(self) -> ReadModel:
        """The questions the app asks (frame list, review queues, job data): a composed part of the store,
        the one place outside the edits that queries it (docs/adr/0025)."""
        return ReadModel(self)

    @functools.cached_property
    def job_records(self) -> JobRecords:
        """The training and export jobs recorded in the project (add, update, get, all): a composed part of
        the store, bookkeeping rather than edits (docs/adr/0025)."""
        return JobRecords(self)

    # ----------------------------------------------------------------------------------------- open / close

    @classmethod
    def create(cls, path: PathLike, *, timeout: float = 5.0) -> ProjectStore:
        """A new, empty project at ``path`` (which must not exist yet, or be a project whose creation was
        interrupted: that one is replaced).

        Atomic: the file is built complete in a temp file beside ``path`` and then linked into place, so a
        killed ``create`` leaves either nothing at ``path`` or a whole project, never a file nothing opens."""
        p = Path(path)
        if p.exists() or p.is_symlink():
            if not _half_made(p):
                raise ProjectError(f"{p}: already exists; open it, or choose another file name")
            _remove_project_files(p)
        if not p.parent.is_dir():
            raise ProjectError(f"{p}: the folder {p.parent} does not exist")
        for stale in p.parent.glob(f".{glob.escape(p.name)}.*.tmp*"):  # what a killed create left
            if is_temp_name(stale.name):
                stale.unlink(missing_ok=True)
        tmp = p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp{p.suffix}")
        try:
            _build_empty(tmp, timeout)
            _publish(tmp, p)
        except sqlite3.Error as exc:
            raise translate_error(exc, p, timeout) from None
        except OSError as exc:
            raise ProjectError(f"{p}: cannot create the project file: {exc.strerror or exc}") from None
        finally:
            _remove_project_files(tmp)
        return cls.open(p, timeout=timeout)

    @classmethod
    def open(
        cls,
        path: PathLike,
        *,
        timeout: float = 5.0,
        check: bool = False,
        read_only: bool = False,
        or_read_only: bool = False,
    ) -> ProjectStore:
        """Open an existing project, upgrading an older schema (after copying the file to
        ``<name>.v<old>.bak``). Refuses, without touching the file, anything that is not a project of a
        schema version this code knows, and with ``check`` (the app's open) a file SQLite's time-boxed
        ``quick_check`` finds damaged: :func:`distilpose.project.integrity.check_project` then says what is.
        Without it, damage met later is still a ProjectError naming the file, from whichever query meets it.

        A write-ahead log beside the file that is not the project's own is moved aside first
        (:mod:`distilpose.project.wal`; ``notices`` says where). ``read_only`` (stats, check, exports) never
        writes the file, and reads a project on a full disk or in a read-only folder; ``or_read_only`` (the
        app) opens for editing, or read-only when the project cannot be written (``read_only`` says why)."""
        p = Path(path)
        check_file(p)
        notices = wal.guard(p)
        if or_read_only and not read_only:
            try:
                store = cls.open(p, timeout=timeout, check=check)
            except ProjectUnwritableError as exc:
                store = cls.open(p, timeout=timeout, check=check, read_only=True)
                store.read_only = str(exc).removeprefix(f"{p}: ")
            store.notices[:0] = notices
            return store
        sidecars = [Path(f"{p}{suffix}") for suffix in ("-wal", "-shm")]
        had = [s.exists() for s in sidecars]
        try:
            conn = _connect_read_only(p, timeout, sidecars, had) if read_only else connect(p, timeout)
        except sqlite3.Error as exc:
            if read_only:
                _remove_new_sidecars(sidecars, had)
                raise translate_error(exc, p, timeout) from None
            raise ProjectError(f"{p}: cannot open: {exc}") from None
        try:
            version = read_version(conn)
            if version is None and application_id(p) == APPLICATION_ID:
                raise ProjectError(
                    f"{p}: an unfinished project (its creation was interrupted, it holds nothing); create "
                    "it again to replace it"
                )
            if version is None:
                raise ProjectError(
                    f"{p}: a SQLite database but not a DistilPose project (it has no schema version in a "
                    "'meta' table)"
                )
            if version > CURRENT_VERSION:
                raise ProjectVersionError(
                    f"{p}: project schema version {version} is newer than this DistilPose Studio supports "
                    f"({CURRENT_VERSION}); open it with a newer version of the app"
                )
            if check:
                quick_check(conn, p)  # read-only: a damaged file is refused before anything writes to it
            # Before anything writes: a refused file stays as it was. Read-only, an older schema is read as it
            # is, which works when the upgrade only adds indexes.
            missing = missing_schema(conn, CURRENT_VERSION if read_only else version)
            if missing and read_only and not missing_schema(conn, version):
                raise ProjectError(
                    f"{p}: project schema version {version} must be upgraded to {CURRENT_VERSION} before it "
                    "can be read, and an upgrade writes the file while this command only reads; open it once in "
                    "the app, which upgrades it and keeps a copy of the old file"
                )
            if missing:
                raise ProjectError(
                    f"{p}: not a usable project: schema version {version} but the file lacks "
                    + ", ".join(missing[:10])
                    + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
                )
            if version < CURRENT_VERSION and not read_only:
                # Upgrade before switching to WAL: a failed upgrade rolls back to the exact old bytes, and
                # its backup, then identical to the file, is removed.
                saved = backup(conn, p, version)
                try:
                    migrate(conn, version)
                except BaseException:
                    saved.unlink(missing_ok=True)
                    raise
            if not read_only:
                configure(conn)
        except BaseException as exc:
            conn.close()
            _remove_new_sidecars(sidecars, had)
            if isinstance(exc, sqlite3.Error):
                raise translate_error(exc, p, timeout) from None
            if isinstance(exc, UnicodeDecodeError):  # SQLite's message quotes a damaged schema's bytes
                raise ProjectError(
                    f"{p}: not a usable project: the database is damaged (text that is not UTF-8)"
                ) from None
            if isinstance(exc, ValueError):  # a schema version that is not a number
                raise ProjectError(f"{p}: not a usable project: {exc}") from None
            raise
        store = cls(p, conn, timeout)
        store.notices = notices
        store.read_only = "opened for reading only" if read_only else None
        return store

    # ----------------------------------------------------------------------------------------- media

    def add_media(
        self,
        path: PathLike,
        kind: str | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
        extra: Mapping | None = None,
        must_exist: bool = True,
        media_id: int | None = None,
    ) -> int:
        """Register an image, video or image folder; returns its id. The path is stored relative to the
        project folder. ``must_exist=False`` records a file that is not there (yet), without size or hash."""
        p = Path(path)
        exists = p.exists()
        if must_exist and not exists:
            raise ProjectError(f"{self.path}: cannot add media {p}: file not found")
        kind = kind or files.guess_kind(p)
        if kind not in MEDIA_KINDS:
            raise ProjectError(
                f"{self.path}: cannot add media {p}: not an image, a video or a folder (kind {kind!r}); "
                f"known image suffixes {', '.join(files.IMAGE_SUFFIXES)}, "
                f"video suffixes {', '.join(files.VIDEO_SUFFIXES)}"
            )
        stored = files.to_stored(p, self.folder)
        existing = self.find_media(p)
        if existing is not None:
            raise ProjectError(f"{self.path}: {p} is already in the project (media {existing.id})")
        if media_id is not None and self.exists("media", media_id):
            raise ProjectError(f"{self.path}: media id {media_id} is taken")
        size = p.stat().st_size if exists and p.is_file() else None
        digest = files.file_digest(p) if exists and p.is_file() else None
        extra_json = self._json(extra or {}, "media extra")
        payload = {"path": stored, "kind": kind}
        with self.transaction("add_media", payload) as conn:
            cur = conn.execute(
                "INSERT INTO media (id, path, kind, size, hash, width, height, added, extra) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self._new_id("media") if media_id is None else int(media_id),
                    stored,
                    kind,
                    size,
                    digest,
                    _opt_int(width),
                    _opt_int(height),
                    now(),
                    extra_json,
                ),
            )
            payload["media_id"] = int(cur.lastrowid)
        return payload["media_id"]

    def delete_media(self, media_id: int, expect: Snapshot | None = None) -> Snapshot:
        """Remove a media with its frames and instances; the snapshot lets :meth:`restore` bring them back.
        ``expect`` (undo): refused unless the media's rows are exactly these."""
        self._require("media", media_id)
        with self.transaction("delete_media", {"media_id": media_id}) as conn:
            snap = self._snapshot("media", media_id)
            self._expect_snapshot(snap, expect)
            conn.execute("DELETE FROM media WHERE id = ?", (int(media_id),))
        return snap

    def relink_media(self, media_id: int, stored: str, expect: str | None = None) -> str:
        """Point a media at another file (``stored``: the stored form, :func:`files.to_stored`) and return
        the path it had, for undo. ``expect`` (undo): refused unless the media still has that path. What the
        new file must be (found, same kind and content) is :mod:`distilpose.project.relink`'s to check: undo
        puts back a path whose file is gone."""
        with self.transaction("relink_media", {"media_id": media_id, "path": stored}) as conn:
            before = self.media(media_id).path
            if expect is not None and before != expect:
                raise EditConflictError(
                    f"{self.path}: another window relinked this media to {before} since this edit (expected {expect}); "
                    "nothing was changed"
                )
            row = conn.execute("SELECT id FROM media WHERE path = ? AND id != ?", (stored, int(media_id))).fetchone()
            if row is not None:
                raise ProjectError(f"{self.path}: {stored} is another media of the project already")
            conn.execute("UPDATE media SET path = ? WHERE id = ?", (stored, int(media_id)))
        return before

    def restore(self, snapshot: Snapshot) -> None:
        """Put back what :meth:`delete_media` or :meth:`delete_frame` removed, with the same ids."""
        if self.exists(snapshot.table, snapshot.id):
            raise ProjectError(
                f"{self.path}: cannot restore {snapshot.table} {snapshot.id}: the id is in use"
            )
        with self.transaction("restore", {"table": snapshot.table, "id": snapshot.id}) as conn:
            for table in _TREE:
                if table in snapshot.rows:
                    columns, rows = snapshot.rows[table]
                    marks = ", ".join("?" * len(columns))
                    conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    # ----------------------------------------------------------------------------------------- frames

    def add_frame(
        self,
        media_id: int,
        index: int = 0,
        *,
        split: str = "none",
        extra: Mapping | None = None,
        frame_id: int | None = None,
    ) -> int:
        """A frame of a media (an image has one frame, index 0; a video one per frame index annotated)."""
        media = self.media(media_id)
        if not isinstance(index, (int, np.integer)) or index < 0:
            raise ProjectError(f"{self.path}: frame index must be an integer >= 0, got {index!r}")
        if media.kind == "image" and index != 0:
            raise ProjectError(
                f"{self.path}: media {media_id} is an image: its only frame index is 0, not {index}"
            )
        self._check_split(split)
        if self.frame_at(media_id, int(index)) is not None:
            raise ProjectError(f"{self.path}: media {media_id} already has a frame {index}")
        if frame_id is not None and self.exists("frames", frame_id):
            raise ProjectError(f"{self.path}: frame id {frame_id} is taken")
        extra_json = self._json(extra or {}, "frame extra")
        payload = {"media_id": media_id, "index": int(index)}
        with self.transaction("add_frame", payload) as conn:
            cur = conn.execute(
                "INSERT INTO frames (id, media_id, idx, split, extra) VALUES (?, ?, ?, ?, ?)",
                (
                    self._new_id("frames") if frame_id is None else int(frame_id),
                    int(media_id),
                    int(index),
                    split,
                    extra_json,
                ),
            )
            payload["frame_id"] = int(cur.lastrowid)
        return payload["frame_id"]

    def delete_frame(self, frame_id: int, expect: Snapshot | None = None) -> Snapshot:
        """Remove a frame with its instances (``expect``: as :meth:`delete_media`)."""
        self._require("frames", frame_id)
        with self.transaction("delete_frame", {"frame_id": frame_id}) as conn:
            snap = self._snapshot("frames", frame_id)
            self._expect_snapshot(snap, expect)
            conn.execute("DELETE FROM frames WHERE id = ?", (int(frame_id),))
        return snap

    def set_split(self, frame_id: int, split: str, expect: str | None = None) -> str:
        """Returns the previous split."""
        return self.set_splits({frame_id: split}, None if expect is None else {frame_id: expect})[frame_id]

    def set_splits(self, splits: Mapping[int, str], expect: Mapping[int, str] | None = None) -> dict[int, str]:
        """Assign many frames at once (one transaction); returns the previous split of each. ``expect`` (undo):
        refused unless each frame still has the split given there."""
        for split in set(splits.values()):
            self._check_split(split)
        with self.transaction("set_splits", {"count": len(splits)}) as conn:
            previous = {frame_id: self.frame(frame_id).split for frame_id in splits}  # under the write lock
            changed = [f for f, s in (expect or {}).items() if previous.get(f, s) != s]
            if changed:
                raise EditConflictError(
                    f"{self.path}: another window changed the split of {self.frame_label(changed[0])}"
                    + (f" and {len(changed) - 1} more frame(s)" if len(changed) > 1 else "")
                    + " since this edit; nothing was changed"
                )
            conn.executemany(
                "UPDATE frames SET split = ? WHERE id = ?", [(s, int(f)) for f, s in splits.items()]
            )
        return previous

    def set_suggested(
        self,
        frame_id: int,
        suggested: bool,
        reason: str | None = None,
        expect: tuple[bool, str | None] | None = None,
    ) -> tuple[bool, str | None]:
        """Flag a frame for review (e.g. 'teacher/student disagree'); returns the previous (flag, reason).
        ``expect`` (undo): refused unless the frame still has this (flag, reason)."""
        reason = reason if suggested else None
        with self.transaction("set_suggested", {"frame_id": frame_id, "suggested": bool(suggested)}) as conn:
            before = self.frame(frame_id)
            if expect is not None and (before.suggested, before.suggest_reason) != tuple(expect):
                raise EditConflictError(
                    f"{self.path}: another window changed the review flag of {self.frame_label(frame_id)} since "
                    "this edit; nothing was changed"
                )
            conn.execute(
                "UPDATE frames SET suggested = ?, suggest_reason = ? WHERE id = ?",
                (int(bool(suggested)), reason, int(frame_id)),
            )
        return before.suggested, before.suggest_reason

    # ----------------------------------------------------------------------------------------- instances

    def add_instance(
        self, frame_id: int, instance: Instance, *, verified: bool = False, instance_id: int | None = None
    ) -> int:
        """Store a new instance on a frame; returns its id (a fresh one unless ``instance_id`` is given).
        ``extras`` keys the store owns (id, frame_id, ...) are ignored: use :meth:`restore_instance` to put a
        deleted instance back under its old id."""
        self._require("frames", frame_id)
        if instance_id is not None and self.exists("instances", instance_id):
            raise ProjectError(f"{self.path}: instance id {instance_id} is taken")
        stamp = now()
        return self._insert_instance(
            "add_instance", frame_id, instance, _opt_int(instance_id), bool(verified), stamp, stamp
        )

    def restore_instance(self, instance: Instance) -> int:
        """Put back an instance returned by :meth:`delete_instance`: same id, frame, flags and times."""
        ex = instance.extras
        missing = [k for k in ("id", "frame_id", "verified", "created", "updated") if k not in ex]
        if missing:
            raise ProjectError(f"{self.path}: cannot restore an instance without extras {missing}")
        if self.exists("instances", ex["id"]):
            raise ProjectError(f"{self.path}: cannot restore instance {ex['id']}: the id is in use")
        if not self.exists("frames", ex["frame_id"]):
            raise EditConflictError(
                f"{self.path}: cannot restore person {ex['id']}: another window removed the frame it was on; "
                "nothing was changed"
            )
        return self._insert_instance(
            "restore_instance",
            ex["frame_id"],
            instance,
            ex["id"],
            bool(ex["verified"]),
            ex["created"],
            ex["updated"],
        )

    def _insert_instance(
        self,
        op: str,
        frame_id: int,
        inst: Instance,
        iid: int | None,
        verified: bool,
        created: str,
        updated: str,
    ) -> int:
        self._check_instance(inst)
        row = copy_instance(inst)
        row.extras.update(verified=verified, updated=updated)
        try:
            values = instance_values(row)
        except ValueError as exc:
            raise ProjectError(f"{self.path}: {exc}") from None
        payload: dict[str, Any] = {"frame_id": frame_id, "source": inst.source}
        with self.transaction(op, payload) as conn:
            values.update(id=self._new_id("instances") if iid is None else iid, frame_id=int(frame_id), created=created)
            self._check_track_free(int(frame_id), values["track_id"])
            cur = conn.execute(_INSERT_INSTANCE, [values[c] for c in INSTANCE_COLUMNS])
            new_id = int(cur.lastrowid)
            conn.executemany(_INSERT_KEYPOINT, keypoint_rows(new_id, inst))
            payload["instance_id"] = new_id
        return new_id

    def delete_instance(self, instance_id: int, expect: Mapping[FieldKey, Any] | None = None) -> Instance:
        """Remove an instance; returns it whole (with its id, frame and times in ``extras``) for undo.
        ``expect`` (the undo of an add): refused unless the instance still holds these
        :func:`~distilpose.project.records.instance_fields` (its ``updated`` time aside)."""
        with self.transaction("delete_instance", {"instance_id": instance_id}) as conn:
            before = self._instance_for_undo(instance_id, expect)
            if expect is not None:
                current = instance_fields(before)
                self._refuse_changed(before, [f for f, v in expect.items() if f != "updated" and current[f] != v])
            conn.execute("DELETE FROM instances WHERE id = ?", (int(instance_id),))
        return before

    def replace_instance(self, instance: Instance) -> Instance:
        """Overwrite the stored state of instance ``extras['id']`` (keypoints, box, scores, source, flags,
        times when given); returns the previous state. The universal inverse of every single-instance edit."""
        iid = instance.extras.get("id")
        if iid is None:
            raise ProjectError(f"{self.path}: replace_instance needs extras['id']")

        def change(before: Instance) -> Instance:
            frame_id = instance.extras.get("frame_id", before.extras["frame_id"])
            if frame_id != before.extras["frame_id"]:
                raise ProjectError(
                    f"{self.path}: instance {iid} is on frame {before.extras['frame_id']}, not {frame_id}; "
                    "moving an instance between frames is delete + add"
                )
            after = copy_instance(instance)
            after.extras["verified"] = bool(instance.extras.get("verified", before.extras["verified"]))
            after.extras["updated"] = instance.extras.get("updated", now())
            return after

        return self._edit_instance("replace_instance", iid, change, {"instance_id": iid}, keep_updated=True)

    def patch_instance(self, instance_id: int, fields: Mapping[FieldKey, tuple[Any, Any]]) -> dict:
        """Compare and set, the undo (and redo) of an instance edit: ``fields`` maps each field the edit
        changed (:func:`~distilpose.project.records.instance_fields`: a column, or a keypoint index for its
        row) to (the value it wrote, the value to set). Refused with :class:`EditConflictError`, changing
        nothing, when any of them no longer holds what the edit wrote: another writer changed it since, and
        setting it back would revert their work. Fields the edit did not change are never written.
        ``updated`` is not compared: it is set back when it still holds the edit's time, else it becomes now.
        Returns the fields for the inverse patch."""
        payload = {"instance_id": instance_id, "fields": [str(f) for f in fields]}
        with self.transaction("patch_instance", payload):
            before = self._instance_for_undo(instance_id, {})
            current = instance_fields(before)
            self._refuse_changed(before, [f for f, (wrote, _) in fields.items() if f != "updated" and current[f] != wrote])
            target = {f: new for f, (_, new) in fields.items()}
            if "updated" in fields and current["updated"] != fields["updated"][0]:
                target["updated"] = now()
            target.setdefault("updated", now())
            columns = {f: v for f, v in target.items() if isinstance(f, str)}
            self._update_fields(instance_id, **columns)
            self.conn.executemany(
                "UPDATE keypoints SET x = ?, y = ?, v = ?, score = ?, sigma_x = ?, sigma_y = ? "
                "WHERE instance_id = ? AND k = ?",
                [(*row, int(instance_id), k) for k, row in target.items() if isinstance(k, int)],
            )
        return {f: (target[f], current[f]) for f in target}

    def move_keypoint(self, instance_id: int, k: int, x: float, y: float) -> Instance:
        """Put keypoint ``k`` at (x, y); a keypoint that was not labelled (v = 0) becomes visible (v = 2)."""
        return self._edit_keypoint("move_keypoint", instance_id, k, x, y, None)

    def set_visibility(self, instance_id: int, k: int, v: int) -> Instance:
        """COCO visibility of keypoint ``k``: 0 not labelled, 1 occluded, 2 visible. The position is kept (an
        export writes 0, 0 for v = 0), so toggling back to 1 or 2 finds the point where it was."""
        return self._edit_keypoint("set_visibility", instance_id, k, None, None, v)

    def set_keypoint(self, instance_id: int, k: int, x: float, y: float, v: int) -> Instance:
        return self._edit_keypoint("set_keypoint", instance_id, k, x, y, v)

    def _edit_keypoint(
        self, op: str, instance_id: int, k: int, x: float | None, y: float | None, v: int | None
    ) -> Instance:
        """Keypoint ``k`` gets (x, y, v); None keeps the stored position, or (for v) the stored visibility
        with an unlabelled point becoming visible."""
        k = self._check_k(k)
        if v is not None and v not in (0, 1, 2):
            raise ProjectError(f"{self.path}: visibility must be 0, 1 or 2, got {v!r}")
        if x is not None and not (math.isfinite(float(x)) and math.isfinite(float(y))):  # type: ignore[arg-type]
            raise ProjectError(f"{self.path}: keypoint position must be finite, got ({x!r}, {y!r})")
        payload: dict[str, Any] = {"instance_id": instance_id, "k": k}

        def change(before: Instance) -> Instance:
            old_x, old_y, old_v = before.keypoints[k]
            new = (
                float(old_x if x is None else x),
                float(old_y if y is None else y),
                int(old_v) or 2 if v is None else int(v),
            )
            payload.update(x=new[0], y=new[1], v=new[2])
            after = copy_instance(before)
            after.keypoints[k] = new
            return after

        return self._edit_instance(op, instance_id, change, payload)

    def move_instance(
        self,
        instance_id: int,
        dx: float = 0.0,
        dy: float = 0.0,
        scale: float = 1.0,
        center: tuple[float, float] | None = None,
    ) -> Instance:
        """Scale about ``center`` (default: the box centre, else the labelled keypoints' mean), then translate
        by (dx, dy): labelled keypoints, box, sigmas and the COCO area/polygons follow; an RLE mask, which
        cannot follow, is dropped."""
        if not all(math.isfinite(float(t)) for t in (dx, dy, scale)) or scale <= 0:
            raise ProjectError(
                f"{self.path}: move needs finite dx, dy and a scale > 0, got {dx!r}, {dy!r}, {scale!r}"
            )
        payload: dict[str, Any] = {"instance_id": instance_id, "dx": dx, "dy": dy, "scale": scale}

        def change(before: Instance) -> Instance:
            after, (cx, cy) = moved_instance(before, dx, dy, scale, center)
            payload["center"] = [cx, cy]
            return after

        return self._edit_instance("move_instance", instance_id, change, payload)

    def set_bbox(self, instance_id: int, bbox: tuple[float, float, float, float] | None) -> Instance:
        box = None if bbox is None else tuple(float(b) for b in bbox)
        return self._update_instance("set_bbox", instance_id, bbox=box)

    def set_track(self, instance_id: int, track_id: int | None) -> Instance:
        return self._update_instance("set_track", instance_id, track_id=None if track_id is None else int(track_id))

    def set_verified(self, instance_id: int, verified: bool = True) -> Instance:
        """Mark an instance as checked by a person (only verified instances go into ``--only-verified``)."""
        return self._update_instance("set_verified", instance_id, verified=bool(verified))

    def accept_prediction(self, instance_id: int) -> Instance:
        """A person accepts a model's instance: it becomes a verified 'user' instance;
        ``extras['accepted_from']`` keeps which model made it."""

        def change(before: Instance) -> Instance:
            self._require_prediction(before, "accept")
            after = copy_instance(before)
            after.source = "user"
            after.extras["accepted_from"] = before.source
            after.extras["verified"] = True
            return after

        return self._edit_instance("accept_prediction", instance_id, change, {"instance_id": instance_id})

    def reject_prediction(self, instance_id: int) -> Instance:
        """Delete a model's instance; returns it for undo (:meth:`restore_instance`)."""
        with self.transaction("reject_prediction", {"instance_id": instance_id}) as conn:
            before = self.instance(instance_id)
            self._require_prediction(before, "reject")
            conn.execute("DELETE FROM instances WHERE id = ?", (int(instance_id),))
        return before

    # ----------------------------------------------------------------------------------------- batches

    def apply_edits(self, edits: Sequence[Edit]) -> list[Edit]:
        """Apply edits in order in one transaction; returns their inverses in the order that undoes them."""
        inverses: list[Edit] = []
        with self.transaction("apply_edits", {"edits": len(edits)}):
            for edit in edits:
                inverses.append(edit.apply(self))
        return inverses[::-1]

    # ----------------------------------------------------------------------------------------- edit machinery

    def _update_instance(self, op: str, instance_id: int, **fields: Any) -> Instance:
        """Set :class:`Instance` attributes (``verified``: the flag in ``extras``) of one instance; returns
        the previous state. A new instance field needs only its name here and a column in the records."""
        payload = {"instance_id": instance_id, **fields}

        def change(before: Instance) -> Instance:
            after = copy_instance(before)
            for name, value in fields.items():
                if name == "verified":
                    after.extras["verified"] = value
                else:
                    setattr(after, name, value)
            return after

        return self._edit_instance(op, instance_id, change, payload)

    def _edit_instance(
        self,
        op: str,
        instance_id: int,
        change: Callable[[Instance], Instance],
        payload: dict,
        keep_updated: bool = False,
    ) -> Instance:
        """Read the instance under the write lock (``BEGIN IMMEDIATE`` comes first), let ``change`` make the
        new state, and write only the columns and keypoint rows that differ; returns the state before. The
        ``updated`` time becomes now unless ``keep_updated`` (``change`` set it: undo restores it).

        Reading before taking the lock would let another writer's edit land in between, and writing the whole
        row back would silently revert it (a lost update)."""
        with self.transaction(op, payload):
            before = self.instance(instance_id)
            after = change(before)
            if not keep_updated:
                after.extras["updated"] = now()
            self._check_instance(after)
            self._write_changes(before, after)
        return before

    def _write_changes(self, before: Instance, after: Instance) -> None:
        iid = before.extras["id"]
        try:
            old, new = instance_values(before), instance_values(after)
        except ValueError as exc:
            raise ProjectError(f"{self.path}: {exc}") from None
        self._update_fields(iid, **{c: v for c, v in new.items() if old[c] != v})
        changed = [
            n[2:] + (iid, n[1])
            for o, n in zip(keypoint_rows(iid, before), keypoint_rows(iid, after), strict=True)
            if o != n
        ]
        self.conn.executemany(
            "UPDATE keypoints SET x = ?, y = ?, v = ?, score = ?, sigma_x = ?, sigma_y = ? "
            "WHERE instance_id = ? AND k = ?",
            changed,
        )

    def _update_fields(self, instance_id: int, **fields: Any) -> None:
        """``UPDATE instances SET <these columns>`` for one instance, in the caller's transaction (or one of
        its own): only the named columns are written."""
        unknown = set(fields) - set(EDITABLE_INSTANCE_COLUMNS)
        if unknown:
            raise ProjectError(f"{self.path}: instances have no editable column(s) {', '.join(sorted(unknown))}")
        if not fields:
            return
        assignments = ", ".join(f"{column} = ?" for column in fields)
        with self.transaction() as conn:
            if fields.get("track_id") is not None:
                row = conn.execute("SELECT frame_id FROM instances WHERE id = ?", (int(instance_id),)).fetchone()
                if row is not None:
                    self._check_track_free(row[0], fields["track_id"], int(instance_id))
            conn.execute(
                f"UPDATE instances SET {assignments} WHERE id = ?", (*fields.values(), int(instance_id))
            )

    # ----------------------------------------------------------------------------------------- helpers

    def _require(self, table: str, row_id: int) -> None:
        if not self.exists(table, row_id):
            what = {"media": "media", "frames": "frame", "instances": "instance"}[table]
            raise ProjectError(f"{self.path}: no {what} {row_id} in this project")

    def _new_id(self, table: str) -> int | None:
        """The id for a new row: None (SQLite's AUTOINCREMENT takes the largest + 1) unless the largest is
        SQLite's largest integer (an id a file brought in), where AUTOINCREMENT fails with "database or disk
        is full": then the largest id below it + 1 (one index lookup), or, where that is taken too, the lowest
        free id."""
        top = self.conn.execute(
            f"SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM {table} UNION ALL "
            "SELECT seq FROM sqlite_sequence WHERE name = ?)",
            (table,),
        ).fetchone()[0]
        if top is None or top < INT64_MAX:
            return None
        below = self.conn.execute(f"SELECT MAX(id) FROM {table} WHERE id < ?", (INT64_MAX,)).fetchone()[0]
        if below is None or below + 1 < INT64_MAX:
            return 1 if below is None or below < 1 else below + 1
        if not self.exists(table, 1):
            return 1
        row = self.conn.execute(
            f"SELECT MIN(id) + 1 FROM {table} a WHERE id >= 1 AND id < ? "
            f"AND NOT EXISTS (SELECT 1 FROM {table} b WHERE b.id = a.id + 1)",
            (INT64_MAX,),
        ).fetchone()
        return int(row[0])

    def _check_track_free(self, frame_id: int, track_id: int | None, instance_id: int | None = None) -> None:
        """A track id names one person per frame (the schema's triggers refuse it too; this says where)."""
        if track_id is None:
            return
        other = self.conn.execute(
            "SELECT id FROM instances WHERE frame_id = ? AND track_id = ? AND id IS NOT ?",
            (int(frame_id), int(track_id), instance_id),
        ).fetchone()
        if other is not None:
            raise ProjectError(
                f"{self.path}: {self.frame_label(frame_id)} already has a person with track id {track_id} "
                f"(person {other[0]}); a track names one person per frame"
            )

    def _instance_for_undo(self, instance_id: int, expect: Mapping | None) -> Instance:
        """The instance an undo works on; a person another writer deleted is a conflict, not damage."""
        if expect is not None and not self.exists("instances", instance_id):
            raise EditConflictError(
                f"{self.path}: another window deleted person {instance_id}; nothing was changed"
            )
        return self.instance(instance_id)

    def _refuse_changed(self, inst: Instance, changed: list[FieldKey]) -> None:
        if changed:
            text = field_words(changed)
            raise EditConflictError(
                f"{self.path}: another window changed this person (person {inst.extras['id']} on "
                f"{self.frame_label(inst.extras['frame_id'])}): its {text} no longer "
                f"{'hold' if ' and ' in text else 'holds'} what this edit wrote; nothing was changed"
            )

    def _expect_snapshot(self, snap: Snapshot, expect: Snapshot | None) -> None:
        if expect is not None and snap.rows != expect.rows:
            what = "media " + self.media(snap.id).path if snap.table == "media" else self.frame_label(snap.id)
            raise EditConflictError(
                f"{self.path}: another window changed {what} (or the people on it) since this edit; "
                "nothing was changed"
            )

    def _require_prediction(self, inst: Instance, verb: str) -> None:
        if inst.source not in PREDICTION_SOURCES:
            raise ProjectError(
                f"{self.path}: cannot {verb} instance {inst.extras['id']}: it is not a model prediction "
                f"(source {inst.source!r})"
            )

    def _check_k(self, k: int) -> int:
        if not isinstance(k, (int, np.integer)) or not 0 <= k < NUM_KEYPOINTS:
            raise ProjectError(f"{self.path}: keypoint index must be 0..{NUM_KEYPOINTS - 1}, got {k!r}")
        return int(k)

    def _check_instance(self, inst: Instance) -> None:
        if inst.source not in SOURCES:
            raise ProjectError(f"{self.path}: unknown instance source {inst.source!r}")
        try:
            check_instance(inst)
        except ValueError as exc:
            raise ProjectError(f"{self.path}: invalid instance: {exc}") from None

    def _snapshot(self, table: str, row_id: int) -> Snapshot:
        """Every row of the subtree under one media or frame, parents first."""
        conn = self.conn
        if table == "media":
            media_sel, frame_sel = "id = ?", "media_id = ?"
        else:
            media_sel, frame_sel = None, "id = ?"
        frames = f"SELECT id FROM frames WHERE {frame_sel}"
        queries = {
            "frames": f"SELECT * FROM frames WHERE {frame_sel}",
            "instances": f"SELECT * FROM instances WHERE frame_id IN ({frames})",
            "keypoints": f"SELECT * FROM keypoints WHERE instance_id IN "
            f"(SELECT id FROM instances WHERE frame_id IN ({frames}))",
        }
        if media_sel:
            queries = {"media": f"SELECT * FROM media WHERE {media_sel}", **queries}
        rows = {}
        for name, sql in queries.items():
            cur = conn.execute(sql, (int(row_id),))
            rows[name] = (tuple(d[0] for d in cur.description), cur.fetchall())
        return Snapshot(table=table, id=row_id, rows=rows)


# --------------------------------------------------------------------------------------------- module helpers


def _build_empty(tmp: Path, timeout: float) -> None:
    """A complete, empty project in ``tmp`` (rollback journal: nothing is left beside it once closed)."""
    conn = connect(tmp, timeout)
    try:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {wal.next_stamp(0)}")  # the edit stamp's random start
        conn.execute("PRAGMA synchronous = FULL")
        migrate(conn, 0)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("created", now()), ("project_id", uuid.uuid4().hex)],
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def _publish(tmp: Path, p: Path) -> None:
    """Put the finished file at ``p``: a hard link never replaces a file someone made there meanwhile; where
    the file system has no hard links, a rename (after checking again)."""
    try:
        os.link(tmp, p)
    except FileExistsError:
        raise ProjectError(f"{p}: already exists; open it, or choose another file name") from None
    except OSError:
        if p.exists():
            raise ProjectError(f"{p}: already exists; open it, or choose another file name") from None
        os.replace(tmp, p)
    fsync_dir(p.parent)


def _half_made(p: Path) -> bool:
    """An empty file, or a project file whose creation was interrupted (our application id, no schema
    version): nothing in it to lose, so ``create`` may replace it."""
    try:
        if p.is_file() and p.stat().st_size == 0:
            return True
    except OSError:
        return False
    if application_id(p) != APPLICATION_ID:
        return False
    try:
        conn = sqlite3.connect(str(p))
        try:
            return read_version(conn) is None
        finally:
            conn.close()
    except (sqlite3.Error, ValueError, UnicodeDecodeError):
        return False


def _remove_project_files(p: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            Path(f"{p}{suffix}").unlink()


def _connect_read_only(p: Path, timeout: float, sidecars: list[Path], had: list[bool]) -> sqlite3.Connection:
    """A connection that never writes the project file (``mode=ro``: it replays the project's log into its
    index but never checkpoints). Where that needs a log index (``-shm``) SQLite cannot make (a full disk, a
    read-only folder) and there is no log to replay, the file alone is read (``immutable=1``): with no log
    beside it, no connection has the project open, so the file holds every committed edit."""
    conn = sqlite3.connect(wal.uri(p, mode="ro"), uri=True, timeout=timeout, isolation_level=None)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # the first read opens log and index
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        name = getattr(exc, "sqlite_errorname", "")
        unwritable = ("SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_FULL")
        if had[0] or not name.startswith(unwritable):
            raise
    _remove_new_sidecars(sidecars, had)
    return sqlite3.connect(wal.uri(p, immutable="1"), uri=True, timeout=timeout, isolation_level=None)


def _remove_new_sidecars(sidecars: list[Path], had: list[bool]) -> None:
    """A refused WAL-mode file can leave an empty -wal/-shm that opening it created: remove only those."""
    wal, shm = sidecars
    with contextlib.suppress(OSError):
        if not had[0] and wal.exists() and wal.stat().st_size == 0:
            wal.unlink()
        if not had[1] and shm.exists() and not wal.exists():
            shm.unlink()


def _opt_int(value: Any) -> int | None:
    """numpy integers (a tracker's ids) as plain ints: sqlite3 cannot bind them."""
    return None if value is None else int(value)
