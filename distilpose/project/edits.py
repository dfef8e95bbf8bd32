"""Undoable edits as data, for a GUI whose every edit is a ``QUndoCommand``.

An :class:`Edit` names one :class:`~distilpose.project.store.ProjectStore` operation and its arguments.
``edit.apply(store)`` performs it (one committed transaction) and returns the Edit that undoes it; applying
*that* returns the Edit that redoes it, with the same ids (a deleted instance comes back under its old id, so
later commands on the stack that refer to it stay valid). A command is therefore::

    def redo(self):  self.undo_edit = self.edit.apply(store)
    def undo(self):  self.edit = self.undo_edit.apply(store)

If ``apply`` raises (a :class:`ProjectError`, e.g. the file is locked), nothing changed: don't push the
command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from distilpose.keypoints import NAMES
from distilpose.project.errors import ProjectError

if TYPE_CHECKING:
    from distilpose.project.store import ProjectStore


@dataclass(frozen=True)
class Edit:
    op: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, store: ProjectStore) -> Edit:
        """Do this edit; return its inverse."""
        entry = _OPS.get(self.op)
        if entry is None:
            raise ProjectError(f"{store.path}: unknown edit {self.op!r}; known: {', '.join(sorted(_OPS))}")
        inverse, _ = entry
        result = getattr(store, self.op)(**self.args)
        return inverse(self.args, result)

    @property
    def text(self) -> str:
        """A short label for the Edit menu ('Undo Move keypoint left_wrist')."""
        label = _OPS[self.op][1] if self.op in _OPS else self.op
        k = self.args.get("k")
        return f"{label} {NAMES[k]}" if isinstance(k, int) and 0 <= k < len(NAMES) else label


def _replace(args: Mapping, before: Any) -> Edit:
    return Edit("replace_instance", {"instance": before})


def _restore_snapshot(args: Mapping, snapshot: Any) -> Edit:
    return Edit("restore", {"snapshot": snapshot})


def _delete_restored(args: Mapping, _: Any) -> Edit:
    snap = args["snapshot"]
    if snap.table == "media":
        return Edit("delete_media", {"media_id": snap.id})
    return Edit("delete_frame", {"frame_id": snap.id})


def _tracks_back(args: Mapping, previous: Any) -> Edit:
    """The inverse of a track id edit: the previous id of every instance it touched."""
    return Edit("set_tracks", {"changes": previous})


def _edits_back(args: Mapping, inverses: Any) -> Edit:
    return Edit("apply_edits", {"edits": inverses})


#: op -> (inverse builder from (args, result), menu label)
_OPS: dict[str, tuple[Callable[[Mapping, Any], Edit], str]] = {
    "add_media": (lambda a, r: Edit("delete_media", {"media_id": r}), "Add media"),
    "delete_media": (_restore_snapshot, "Remove media"),
    "add_frame": (lambda a, r: Edit("delete_frame", {"frame_id": r}), "Add frame"),
    "delete_frame": (_restore_snapshot, "Remove frame"),
    "restore": (_delete_restored, "Restore"),
    "add_instance": (lambda a, r: Edit("delete_instance", {"instance_id": r}), "Add person"),
    "restore_instance": (lambda a, r: Edit("delete_instance", {"instance_id": r}), "Restore person"),
    "delete_instance": (lambda a, r: Edit("restore_instance", {"instance": r}), "Delete person"),
    "reject_prediction": (lambda a, r: Edit("restore_instance", {"instance": r}), "Reject prediction"),
    "replace_instance": (_replace, "Change person"),
    "move_keypoint": (_replace, "Move keypoint"),
    "set_visibility": (_replace, "Set visibility"),
    "set_keypoint": (_replace, "Set keypoint"),
    "move_instance": (_replace, "Move person"),
    "set_bbox": (_replace, "Set box"),
    "set_track": (_replace, "Set track"),
    "set_verified": (_replace, "Verify person"),
    "accept_prediction": (_replace, "Accept prediction"),
    # track edits (distilpose.project.tracks)
    "set_tracks": (_tracks_back, "Change track id"),
    "swap_tracks": (_tracks_back, "Swap tracks"),
    "merge_tracks": (_tracks_back, "Merge tracks"),
    "split_track": (_tracks_back, "Split track"),
    "interpolate_track": (_edits_back, "Interpolate track"),
    "apply_edits": (_edits_back, "Apply edits"),
    "set_split": (lambda a, r: Edit("set_split", {"frame_id": a["frame_id"], "split": r}), "Set split"),
    "set_splits": (lambda a, r: Edit("set_splits", {"splits": r}), "Set splits"),
    "set_suggested": (
        lambda a, r: Edit("set_suggested", {"frame_id": a["frame_id"], "suggested": r[0], "reason": r[1]}),
        "Suggest frame",
    ),
}

#: The operations an Edit can name.
EDIT_OPS: tuple[str, ...] = tuple(_OPS)
