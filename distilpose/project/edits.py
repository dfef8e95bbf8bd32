"""Undoable edits as data, for a GUI whose every edit is a ``QUndoCommand``.

An :class:`Edit` names one :class:`~distilpose.project.store.ProjectStore` operation and its arguments.
``edit.apply(store)`` performs it (one committed transaction) and returns the Edit that undoes it; applying
*that* returns the Edit that redoes it, with the same ids (a deleted instance comes back under its old id, so
later commands on the stack that refer to it stay valid). A command is therefore::

    def redo(self):  self.undo_edit = self.edit.apply(store)
    def undo(self):  self.edit = self.undo_edit.apply(store)

If ``apply`` raises (a :class:`ProjectError`, e.g. the file is locked), nothing changed: don't push the
command.

Undo never reverts another writer (a second window, the CLI, a worker on the same file). An inverse sets back
only what its edit changed, and only while that still holds what the edit wrote: an instance edit's inverse is
:meth:`~distilpose.project.store.ProjectStore.patch_instance` of the changed fields, the undo of an add deletes
only the person (frame, media) as it was added, a track edit's inverse expects the ids it wrote. Otherwise it is
refused with :class:`~distilpose.project.errors.EditConflictError` naming what changed, and nothing changes. An
edit and the reading of what it wrote are one transaction, so nothing lands in between.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from distilpose.keypoints import NAMES
from distilpose.project.errors import ProjectError
from distilpose.project.records import FrameRecord, Snapshot, instance_fields
from distilpose.types import Instance


class TrackIds(Protocol):
    """What the inverse of a track edit asks of the store's track part (``store.tracking``)."""

    def track_ids_of(self, instance_ids: Sequence[int]) -> dict[int, int | None]: ...


class EditTarget(Protocol):
    """What an edit and its inverse use of :class:`distilpose.project.store.ProjectStore` (the operations
    themselves are looked up by name: :func:`operation`). A protocol, so that the store, which applies edits,
    and this module do not import each other."""

    path: Path

    @property
    def tracking(self) -> TrackIds: ...

    def transaction(self, op: str | None = None, payload: dict | None = None) -> AbstractContextManager[Any]: ...

    def instance(self, instance_id: int) -> Instance: ...

    def frame(self, frame_id: int) -> FrameRecord: ...

    def _snapshot(self, table: str, row_id: int) -> Snapshot: ...


@dataclass(frozen=True)
class Edit:
    op: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, store: EditTarget) -> Edit:
        """Do this edit; return its inverse."""
        entry = _OPS.get(self.op)
        if entry is None:
            raise ProjectError(f"{store.path}: unknown edit {self.op!r}; known: {', '.join(sorted(_OPS))}")
        inverse, _ = entry
        with store.transaction():  # the op logs itself; what it wrote is read before anyone else writes
            result = operation(store, self.op)(**self.args)
            return inverse(self.args, result, store)

    @property
    def text(self) -> str:
        """A short label for the Edit menu ('Undo Move keypoint left_wrist')."""
        label = _OPS[self.op][1] if self.op in _OPS else self.op
        k = self.args.get("k")
        return f"{label} {NAMES[k]}" if isinstance(k, int) and 0 <= k < len(NAMES) else label


def undo_instance_edit(store: EditTarget, before: Instance) -> Edit:
    """The inverse of an edit of one instance whose previous state is ``before``: a patch of the fields it
    changed (read in the edit's transaction)."""
    iid = before.extras["id"]
    old, new = instance_fields(before), instance_fields(store.instance(iid))
    return Edit("patch_instance", {"instance_id": iid, "fields": {f: (new[f], old[f]) for f in old if old[f] != new[f]}})


def undo_add(store: EditTarget, instance_id: int) -> Edit:
    """The inverse of adding (or restoring) an instance: delete it, if it is still as added."""
    return Edit("delete_instance", {"instance_id": instance_id, "expect": instance_fields(store.instance(instance_id))})


def _patch(args: Mapping, before: Any, store: EditTarget) -> Edit:
    return undo_instance_edit(store, before)


def _patch_back(args: Mapping, fields: Any, store: EditTarget) -> Edit:
    return Edit("patch_instance", {"instance_id": args["instance_id"], "fields": fields})


def _restore_snapshot(args: Mapping, snapshot: Any, store: EditTarget) -> Edit:
    return Edit("restore", {"snapshot": snapshot})


def undo_add_row(store: EditTarget, table: str, row_id: int) -> Edit:
    """The inverse of adding a media or frame (``table`` 'media' or 'frames'): remove it, if it and what is
    under it are still as added."""
    if table == "media":
        return Edit("delete_media", {"media_id": row_id, "expect": store._snapshot(table, row_id)})
    return Edit("delete_frame", {"frame_id": row_id, "expect": store._snapshot(table, row_id)})


def _delete_restored(args: Mapping, _: Any, store: EditTarget) -> Edit:
    snap = args["snapshot"]
    if snap.table == "media":
        return Edit("delete_media", {"media_id": snap.id, "expect": snap})
    return Edit("delete_frame", {"frame_id": snap.id, "expect": snap})


def _relink_back(args: Mapping, previous: str, store: EditTarget) -> Edit:
    return Edit("relink_media", {"media_id": args["media_id"], "stored": previous, "expect": args["stored"]})


def _tracks_back(args: Mapping, previous: Any, store: EditTarget) -> Edit:
    """The inverse of a track id edit: the previous id of every instance it touched, expecting the ids it
    wrote."""
    return Edit("set_tracks", {"changes": previous, "expect": store.tracking.track_ids_of(previous)})


def _edits_back(args: Mapping, inverses: Any, store: EditTarget) -> Edit:
    return Edit("apply_edits", {"edits": inverses})


def _split_back(args: Mapping, previous: str, store: EditTarget) -> Edit:
    return Edit("set_split", {"frame_id": args["frame_id"], "split": previous, "expect": args["split"]})


def _splits_back(args: Mapping, previous: Any, store: EditTarget) -> Edit:
    return Edit("set_splits", {"splits": previous, "expect": dict(args["splits"])})


def _suggested_back(args: Mapping, previous: Any, store: EditTarget) -> Edit:
    frame = store.frame(args["frame_id"])
    return Edit(
        "set_suggested",
        {"frame_id": args["frame_id"], "suggested": previous[0], "reason": previous[1],
         "expect": (frame.suggested, frame.suggest_reason)},
    )  # fmt: skip


#: op -> (inverse builder from (args, result, store), in the edit's transaction; menu label)
_OPS: dict[str, tuple[Callable[[Mapping, Any, EditTarget], Edit], str]] = {
    "add_media": (lambda a, r, s: undo_add_row(s, "media", r), "Add media"),
    "delete_media": (_restore_snapshot, "Remove media"),
    "relink_media": (_relink_back, "Relink media"),
    "add_frame": (lambda a, r, s: undo_add_row(s, "frames", r), "Add frame"),
    "delete_frame": (_restore_snapshot, "Remove frame"),
    "restore": (_delete_restored, "Restore"),
    "add_instance": (lambda a, r, s: undo_add(s, r), "Add person"),
    "restore_instance": (lambda a, r, s: undo_add(s, r), "Restore person"),
    "delete_instance": (lambda a, r, s: Edit("restore_instance", {"instance": r}), "Delete person"),
    "reject_prediction": (lambda a, r, s: Edit("restore_instance", {"instance": r}), "Reject prediction"),
    "patch_instance": (_patch_back, "Change person"),
    "replace_instance": (_patch, "Change person"),
    "move_keypoint": (_patch, "Move keypoint"),
    "set_visibility": (_patch, "Set visibility"),
    "set_keypoint": (_patch, "Set keypoint"),
    "move_instance": (_patch, "Move person"),
    "set_bbox": (_patch, "Set box"),
    "set_track": (_patch, "Set track"),
    "set_verified": (_patch, "Verify person"),
    "accept_prediction": (_patch, "Accept prediction"),
    # track edits (distilpose.project.tracks, on store.tracking: _PARTS)
    "set_tracks": (_tracks_back, "Change track id"),
    "swap_tracks": (_tracks_back, "Swap tracks"),
    "merge_tracks": (_tracks_back, "Merge tracks"),
    "split_track": (_tracks_back, "Split track"),
    "interpolate_track": (_edits_back, "Interpolate track"),
    "apply_edits": (_edits_back, "Apply edits"),
    "set_split": (_split_back, "Set split"),
    "set_splits": (_splits_back, "Set splits"),
    "set_suggested": (_suggested_back, "Suggest frame"),
}

#: The operations an Edit can name.
EDIT_OPS: tuple[str, ...] = tuple(_OPS)

#: op -> the attribute of the composed part of the store it lives on (docs/adr/0025); every other op is a
#: method of the store itself. The op keeps its name there, so history entries and saved edits are unchanged.
_PARTS: dict[str, str] = {
    op: "tracking" for op in ("set_tracks", "swap_tracks", "merge_tracks", "split_track", "interpolate_track")
}


def operation(store: EditTarget, op: str) -> Callable[..., Any]:
    """The bound method that performs ``op`` on ``store``: on the part it lives on, else on the store."""
    return getattr(getattr(store, _PARTS[op]) if op in _PARTS else store, op)
