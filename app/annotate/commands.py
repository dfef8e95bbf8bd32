"""Undo commands: every edit of the project is one :class:`StoreCommand` on AppState's ``QUndoStack``.

A command holds store :class:`~distilpose.project.Edit` s and their inverses; it never touches a view. The
edits of one command run in ONE store transaction (a multi-person copy or a pre-label batch is all or
nothing, one fsync); ``Edit.apply`` returns the inverse, so undo and redo only swap the two lists.

Doing first, pushing second. :meth:`distilpose.app.state.AppState.push` applies the command *before* it goes
on the stack and pushes only when the store accepted it, so a failed write (read-only file, locked project)
leaves no phantom command behind; undo and redo go through AppState the same way. ``redo()``/``undo()``
called by Qt after such a prepared step do nothing; called directly (e.g. ``QUndoStack.redo()``) they apply
the edits themselves and report a failure instead of raising into Qt.

Undo and redo never revert another window's (or process's) edit: the store refuses them with
:class:`~distilpose.project.EditConflictError` (see :mod:`distilpose.project.edits`), and AppState then drops
the step from the history as it is, reporting what changed.

A step may be a callable that builds its Edit from the inverses of the steps before it: an instance added to a
frame that the same command creates needs the new frame id. Callables exist only until the first apply; from
then on the lists hold plain Edits (inverses restore the same ids).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtGui import QUndoCommand

from distilpose.keypoints import NAMES
from distilpose.project import Edit, ProjectStore
from distilpose.types import Instance


class CommandRunner(Protocol):
    """What a command needs of the state that pushed it (``AppState`` is one). A protocol, not an import:
    the state imports the commands, and imports never go round in a circle."""

    def run_command(self, command: StoreCommand, forward: bool) -> bool: ...


#: An Edit, or a function of the inverses of the earlier steps of the same command that returns one.
Step = Edit | Callable[[list[Edit]], Edit]


@dataclass(frozen=True)
class Focus:
    """What to show after the command runs (either way): its frame, and the person and joint it changed."""

    frame_id: int | None
    instance_id: int | None = None
    k: int | None = None


def apply_steps(store: ProjectStore, steps: Sequence[Step], label: str) -> list[Edit]:
    """Apply ``steps`` in order, in one transaction when there are several; returns their inverses in the
    order to apply them (reversed). On any error nothing has changed and the error propagates."""
    inverses: list[Edit] = []

    def run() -> None:
        for step in steps:
            edit = step(inverses) if callable(step) else step
            inverses.append(edit.apply(store))

    if len(steps) == 1:
        run()
    else:
        with store.transaction("command", {"text": label, "edits": len(steps)}):
            run()
    return inverses[::-1]


class StoreCommand(QUndoCommand):
    """One user action on the project; see the module docs."""

    def __init__(
        self,
        text: str,
        steps: Sequence[Step],
        focus: Focus | None = None,
        *,
        undo_edits: Sequence[Edit] | None = None,
    ) -> None:
        """``undo_edits`` instead of ``steps``: the work is already written (a pre-label batch a worker
        committed) and only its inverse is known; the command starts out done."""
        super().__init__(text)
        if not steps and not undo_edits:
            raise ValueError(f"command {text!r} has no edits")
        self._forward: list[Step] = list(steps)
        self._backward: list[Edit] = list(undo_edits or [])
        self.focus = focus or Focus(None)
        self.state: CommandRunner | None = None  # set by AppState.push
        self._prepared = False
        self.done = undo_edits is not None
        self.conflict = False  # the store refused to undo/redo it: another writer changed what it set

    # -- called by AppState: the edit happens here, before the stack moves --------------------------
    def forward(self, store: ProjectStore) -> None:
        self._backward = apply_steps(store, self._forward, self.text())
        self.done = True

    def backward(self, store: ProjectStore) -> None:
        self._forward = apply_steps(store, self._backward, f"undo {self.text()}")  # type: ignore[arg-type]
        self.done = False

    def created_instance_ids(self) -> list[int]:
        """Ids of the people this command added (while it is done)."""
        return [e.args["instance_id"] for e in self._backward if e.op == "delete_instance" and self.done]

    def prepare(self) -> None:
        """The next redo()/undo() from the stack only records what AppState already applied."""
        self._prepared = True

    # -- QUndoCommand ---------------------------------------------------------------------------------
    def redo(self) -> None:
        self._from_stack(forward=True)

    def undo(self) -> None:
        self._from_stack(forward=False)

    def _from_stack(self, forward: bool) -> None:
        if self._prepared:
            self._prepared = False
            return
        if self.state is None or not self.state.run_command(self, forward):
            self.setObsolete(True)  # the store did not change: drop the command rather than lie about it


# --------------------------------------------------------------------------------------------- builders


@dataclass(frozen=True)
class NewFrame:
    """A frame that the command itself adds: of a media already in the project (``media_id``), or of a new
    media (``path`` and ``kind``)."""

    index: int = 0
    media_id: int | None = None
    path: str | None = None
    kind: str = "image"


#: Where new instances go: an existing frame id, or a frame the same command adds.
FrameTarget = int | NewFrame


def frame_steps(target: FrameTarget) -> tuple[list[Step], Callable[[list[Edit]], int]]:
    """Steps that create the target frame (none for an existing one) and how to get its id from the
    inverses of those steps."""
    if isinstance(target, int):
        return [], lambda _inv: target
    if target.media_id is not None:
        steps: list[Step] = [Edit("add_frame", {"media_id": target.media_id, "index": target.index})]
        return steps, lambda inv: inv[0].args["frame_id"]
    steps = [
        Edit("add_media", {"path": target.path, "kind": target.kind}),
        lambda inv: Edit("add_frame", {"media_id": inv[0].args["media_id"], "index": target.index}),
    ]
    return steps, lambda inv: inv[1].args["frame_id"]


def _frame_of(target: FrameTarget) -> int | None:
    return target if isinstance(target, int) else None


def move_keypoint(frame_id: int, instance_id: int, k: int, x: float, y: float) -> StoreCommand:
    edit = Edit("move_keypoint", {"instance_id": instance_id, "k": k, "x": float(x), "y": float(y)})
    return StoreCommand(edit.text, [edit], Focus(frame_id, instance_id, k))


def set_visibility(frame_id: int, instance_id: int, k: int, v: int) -> StoreCommand:
    edit = Edit("set_visibility", {"instance_id": instance_id, "k": k, "v": int(v)})
    label = {0: "Delete keypoint", 1: "Mark occluded", 2: "Mark visible"}[int(v)]
    return StoreCommand(f"{label} {NAMES[k]}", [edit], Focus(frame_id, instance_id, k))


def place_keypoint(frame_id: int, instance_id: int, k: int, x: float, y: float) -> StoreCommand:
    edit = Edit("set_keypoint", {"instance_id": instance_id, "k": k, "x": float(x), "y": float(y), "v": 2})
    return StoreCommand(f"Place keypoint {NAMES[k]}", [edit], Focus(frame_id, instance_id, k))


def move_instance(
    frame_id: int, instance_id: int, dx: float, dy: float, scale: float = 1.0, center: tuple | None = None
) -> StoreCommand:
    args: dict[str, Any] = {
        "instance_id": instance_id,
        "dx": float(dx),
        "dy": float(dy),
        "scale": float(scale),
    }
    if center is not None:
        args["center"] = (float(center[0]), float(center[1]))
    text = "Move person" if scale == 1.0 else "Scale person"
    return StoreCommand(text, [Edit("move_instance", args)], Focus(frame_id, instance_id))


def add_instances(
    frame: FrameTarget, instances: Sequence[Instance], text: str, verified: bool = False
) -> StoreCommand:
    """Add people to a frame: a frame id, or a :class:`NewFrame` the same command adds first."""
    steps, frame_id_of = frame_steps(frame)
    for inst in instances:
        steps.append(
            lambda inv, inst=inst: Edit(
                "add_instance", {"frame_id": frame_id_of(inv), "instance": inst, "verified": verified}
            )
        )
    return StoreCommand(text, steps, Focus(_frame_of(frame)))


def delete_instance(frame_id: int, instance_id: int) -> StoreCommand:
    return StoreCommand(
        "Delete person", [Edit("delete_instance", {"instance_id": instance_id})], Focus(frame_id)
    )


def accept_predictions(frame_id: int, instance_ids: Sequence[int]) -> StoreCommand:
    edits = [Edit("accept_prediction", {"instance_id": i}) for i in instance_ids]
    text = "Accept prediction" if len(edits) == 1 else f"Accept {len(edits)} predictions"
    return StoreCommand(text, edits, Focus(frame_id, instance_ids[0] if len(edits) == 1 else None))


def reject_predictions(frame_id: int, instance_ids: Sequence[int]) -> StoreCommand:
    edits = [Edit("reject_prediction", {"instance_id": i}) for i in instance_ids]
    text = "Reject prediction" if len(edits) == 1 else f"Reject {len(edits)} predictions"
    return StoreCommand(text, edits, Focus(frame_id))


def set_verified(frame_id: int, instance_ids: Sequence[int], verified: bool) -> StoreCommand:
    edits = [Edit("set_verified", {"instance_id": i, "verified": bool(verified)}) for i in instance_ids]
    what = "person" if len(edits) == 1 else f"{len(edits)} persons"
    return StoreCommand(f"{'Verify' if verified else 'Unverify'} {what}", edits, Focus(frame_id))


def set_splits(splits: dict[int, str]) -> StoreCommand:
    return StoreCommand(f"Split {len(splits)} frames", [Edit("set_splits", {"splits": dict(splits)})])


def suggest_frames(suggestions: Sequence[tuple[int, str]], text: str) -> StoreCommand:
    edits = [Edit("set_suggested", {"frame_id": f, "suggested": True, "reason": r}) for f, r in suggestions]
    return StoreCommand(text, edits)


def clear_suggestions(frame_ids: Sequence[int]) -> StoreCommand:
    edits = [Edit("set_suggested", {"frame_id": f, "suggested": False}) for f in frame_ids]
    return StoreCommand("Clear suggestions", edits)


def add_media_frames(entries: Sequence[tuple[str, str, list[int]]], text: str) -> StoreCommand:
    """Add media with frames: ``(path, kind, frame indices)`` each (an image has the one index 0)."""
    steps: list[Step] = []
    for path, kind, indices in entries:
        media_step = len(steps)
        steps.append(Edit("add_media", {"path": path, "kind": kind}))
        for index in indices:
            steps.append(
                lambda inv, m=media_step, i=index: Edit(
                    "add_frame", {"media_id": inv[m].args["media_id"], "index": i}
                )
            )
    return StoreCommand(text, steps)


def add_frames(media_id: int, indices: Sequence[int], text: str) -> StoreCommand:
    return StoreCommand(text, [Edit("add_frame", {"media_id": media_id, "index": int(i)}) for i in indices])


def recorded(text: str, undo_edits: Sequence[Edit], focus: Focus | None = None) -> StoreCommand:
    """A command for work already written (a pre-label batch in a worker): only its inverse is known."""
    return StoreCommand(text, [], focus, undo_edits=undo_edits)
