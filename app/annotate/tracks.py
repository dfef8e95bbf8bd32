"""The Tracks menu: fix who is who in a video (set a track's id from this frame on, swap two ids from this
frame on, merge two tracks, split a track here) and interpolate a person between two corrected frames.

Edits act on the whole track from the shown frame on, as CVAT's track edits do (changing one frame's id
would leave the rest of the track under the old id, and a later interpolation would then add a second copy
of the person). Each action is ONE undo command around one library edit (:mod:`distilpose.project.tracks`),
so Ctrl+Z undoes a whole id change, swap, merge, split or interpolation. The target is the selected person
of the shown frame; numbers and options are asked through the window's injectable ``dialogs`` (tests answer
without a dialog). A refused edit (two people with one id in a frame, a track missing from a keyframe) is
reported and changes nothing.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from distilpose.app.annotate import commands
from distilpose.interpolation import is_keyframe
from distilpose.project import Edit
from distilpose.project.tracks import SEQUENCE_KINDS
from distilpose.types import Instance


class TrackActions(QObject):
    """See the module docs. ``window`` gives the state, ``dialogs``, the ``make_action`` factory and
    ``report_error``."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.state = window.state
        a = self.window.make_action
        self.set_id_action = a("tracks.set_id", self.ask_set_id)
        self.swap_action = a("tracks.swap", self.ask_swap)
        self.merge_action = a("tracks.merge", self.ask_merge)
        self.split_action = a("tracks.split", self.split_here)
        self.interpolate_action = a("tracks.interpolate", self.interpolate_from_previous)

    # ---------------------------------------------------------------- the target
    def _target(self, what: str, need_track: bool = True) -> tuple[int, Instance] | None:
        """(media id, selected person) of a video frame of the project, or None after telling why."""
        state = self.state
        title = f"Cannot {what}"
        if state.project is None:
            return self._fail(title, "No project is open.")
        media_id = state.current_media_id()
        if state.frame_id is None or media_id is None:
            return self._fail(title, "Show a frame of the project first.")
        if state.project.media(media_id).kind not in SEQUENCE_KINDS:
            return self._fail(title, "Tracks belong to videos (and image folders); this is a single image.")
        iid = state.selected_instance_id()
        person = state.instance_by_id(iid) if iid is not None else None
        if person is None:
            return self._fail(title, "Select a person first (click one of the skeletons).")
        if need_track and person.track_id is None:
            return self._fail(title, "This person has no track id: give it one first (Tracks > Set Track Id).")
        return media_id, person

    def _fail(self, title: str, text: str) -> None:
        self.state.editFailed.emit(title, text)
        return None

    def _push(self, text: str, edit: Edit, person: Instance) -> bool:
        focus = commands.Focus(self.state.frame_id, person.extras.get("id"))
        return self.state.push(commands.StoreCommand(text, [edit], focus))

    # ---------------------------------------------------------------- id edits
    def ask_set_id(self) -> bool:
        target = self._target("set the track id", need_track=False)
        if target is None:
            return False
        media_id, person = target
        default = person.track_id if person.track_id is not None else self.state.project.tracking.next_track_id(media_id)
        label = (
            "Track id of this person:"
            if person.track_id is None
            else f"New id of track {person.track_id} from frame {self.state.frame_index} on:"
        )
        value = self.window.dialogs.integer(self.window, "Track Id", label, default, 1)
        if value is None or value == person.track_id:
            return False
        return self.set_id(value)

    def set_id(self, track_id: int) -> bool:
        """The selected person's track becomes ``track_id`` from the shown frame on (a person without a
        track gets the id on this frame); refused where a frame would hold two people with one id."""
        target = self._target("set the track id", need_track=False)
        if target is None:
            return False
        media_id, person = target
        if person.track_id is None:
            edit = Edit("set_tracks", {"changes": {person.extras["id"]: int(track_id)}})
            return self._push(f"Set track id {track_id}", edit, person)
        here = self.state.frame_index
        args = {"media_id": media_id, "track_id": person.track_id, "at_index": here,
                "new_track_id": int(track_id)}  # fmt: skip
        text = f"Set track {person.track_id} to id {track_id} from frame {here} on"
        return self._push(text, Edit("split_track", args), person)

    def ask_swap(self) -> bool:
        target = self._target("swap tracks")
        if target is None:
            return False
        _media, person = target
        other = self.window.dialogs.integer(
            self.window, "Swap Tracks", f"Swap track {person.track_id} with track (from this frame on):", 1, 1
        )
        return False if other is None else self.swap(other)

    def swap(self, other: int) -> bool:
        """Exchange the selected person's track id and ``other`` from the shown frame on."""
        target = self._target("swap tracks")
        if target is None:
            return False
        media_id, person = target
        args = {"media_id": media_id, "a": person.track_id, "b": int(other), "from_index": self.state.frame_index}
        return self._push(f"Swap tracks {person.track_id} and {other}", Edit("swap_tracks", args), person)

    def ask_merge(self) -> bool:
        target = self._target("merge tracks")
        if target is None:
            return False
        _media, person = target
        other = self.window.dialogs.integer(self.window, "Merge Tracks", f"Track to merge into track {person.track_id}:", 1, 1)
        return False if other is None else self.merge(other)

    def merge(self, other: int) -> bool:
        """Track ``other`` becomes part of the selected person's track, in every frame of the video."""
        target = self._target("merge tracks")
        if target is None:
            return False
        media_id, person = target
        args = {"media_id": media_id, "keep": person.track_id, "other": int(other)}
        return self._push(f"Merge track {other} into {person.track_id}", Edit("merge_tracks", args), person)

    def split_here(self) -> bool:
        """From the shown frame on, the selected person's track gets a new id."""
        target = self._target("split the track")
        if target is None:
            return False
        media_id, person = target
        args = {"media_id": media_id, "track_id": person.track_id, "at_index": self.state.frame_index}
        return self._push(f"Split track {person.track_id}", Edit("split_track", args), person)

    # ---------------------------------------------------------------- interpolation
    def previous_keyframe(self, media_id: int, person: Instance) -> int | None:
        """The nearest earlier frame index where the person's track has a keyframe."""
        here = self.state.frame_index
        have = self.state.project.tracking.track_instances(media_id, person.track_id)
        earlier = [i for i, inst in have.items() if i < here - 1 and is_keyframe(inst)]
        return max(earlier) if earlier else None

    def interpolate_from_previous(self) -> bool:
        """Interpolate the selected person from its previous keyframe to this frame (one undo step)."""
        target = self._target("interpolate")
        if target is None:
            return False
        media_id, person = target
        start = self.previous_keyframe(media_id, person)
        if start is None:
            return self._fail(
                "Cannot interpolate",
                f"Track {person.track_id} has no keyframe (a person you placed or verified) at least two "
                "frames before this one.",
            ) or False
        end = self.state.frame_index
        inside, missing = self.state.project.tracking.frames_between(media_id, start, end)
        add_frames = False
        if missing:
            options = [f"Fill the {inside} project frame(s)"] if inside else []
            options.append(f"Add the {missing} video frame(s) and fill them too")
            text = (
                f"Track {person.track_id} from frame {start} to {end}: {inside} frame(s) of the project lie "
                f"between, and {missing} frame(s) of the video that are not in the project."
            )
            answer = self.window.dialogs.option(self.window, "Interpolate", text, options)
            if answer is None:
                return False
            add_frames = options[answer].startswith("Add")
        args = {"media_id": media_id, "track_id": person.track_id, "start_index": start, "end_index": end,
                "add_frames": add_frames}  # fmt: skip
        filled = inside + (missing if add_frames else 0)
        text = f"Interpolate track {person.track_id} ({start}–{end})"
        if not self._push(text, Edit("interpolate_track", args), person):
            return False
        added = f", {missing} frame(s) added" if add_frames else ""
        self.window.statusBar().showMessage(
            f"Interpolated track {person.track_id} on the {filled} frame(s) between {start} and {end}{added}",
            10_000,
        )
        return True
