"""Every command of the window in one table: its words, keys and tip, and where it sits in the menus.

Why: the menus, the toolbar, the shortcut table in the user guide and the menu test used to spell the same
~70 strings each in their own place (SLEAP's ``AppCommand`` list is the model for this). Owners still bind
behaviour (``window.make_action(command_id, slot)``), but they no longer choose words or keys; the menus are
laid out from :data:`MENUS` and checked against it. Qt-free on purpose: the guide's table and the tests read
it without a window.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

#: A key that names one of Qt's platform-standard sequences (``QKeySequence.StandardKey``) instead of fixed
#: keys, e.g. ``"std:Open"`` (Ctrl+O here, Cmd+O on macOS).
STANDARD_PREFIX = "std:"
#: In a menu layout: a separator.
SEPARATOR = "-"
#: In a menu layout: a submenu filled when it opens (its owner makes it), e.g. ``"@recent_files"``.
SUBMENU_PREFIX = "@"


@dataclass(frozen=True)
class Command:
    """One thing a user can ask the window to do. ``keys``: shortcuts, first is the one shown in menus."""

    id: str
    text: str
    keys: tuple[str, ...] = ()
    tip: str = ""
    checkable: bool = False
    #: What the user guide's shortcut table says, when not ``text`` without its ``&`` (e.g. "(on/off)").
    guide: str = ""

    @property
    def plain_text(self) -> str:
        """The text as a person reads it: no mnemonic ``&``."""
        return self.text.replace("&&", "\0").replace("&", "").replace("\0", "&")

    @property
    def guide_text(self) -> str:
        return self.guide or self.plain_text


@dataclass(frozen=True)
class Submenu:
    """A submenu whose entries change (recent files): its owner fills it when it opens."""

    id: str
    text: str


_COMMANDS: tuple[Command, ...] = (
    # File
    Command("file.open_image", "Open &Image…", ("std:Open",)),
    Command("file.open_video", "Open &Video…", ("Ctrl+Shift+V",)),
    Command("file.open_folder", "Open &Folder of Images…", ("Ctrl+Shift+F",)),
    Command("file.open_camera", "Open &Camera…"),
    Command("file.open_annotations", "Open &Annotations…", ("Ctrl+Shift+O",)),
    Command("file.export_predictions", "&Export Predictions…", ("Ctrl+E",)),
    # Ctrl+Q, not std:Quit: Qt gives StandardKey.Quit no key on Windows and on some Linux themes.
    Command("file.quit", "&Quit", ("Ctrl+Q",)),
    # Edit
    Command("edit.undo", "&Undo", ("std:Undo",)),
    Command("edit.redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y")),
    Command("edit.mark_visible", "Mark &Visible (v=2)", ("2",)),
    Command("edit.mark_occluded", "Mark &Occluded (v=1)", ("1",)),
    Command("edit.delete_keypoint", "&Delete Keypoint (v=0)", ("0", "std:Delete")),
    Command(
        "edit.snap",
        "&Snap to Heatmap Peak",
        ("S",),
        tip="Move the joint to the teacher heatmap's nearest peak",
    ),
    Command("edit.heatmap_assist", "&Heatmap Assist", ("Shift+H",), checkable=True),
    Command("edit.new_person", "&New Person (Template)…", ("N",), tip="Draw a box (or click) for the person"),
    Command("edit.accept_live", "Accept &Live Predictions"),
    Command("edit.copy_previous", "&Copy People from Previous Frame", ("Ctrl+D",)),
    Command("edit.delete_person", "Delete &Person", ("Shift+Delete",)),
    Command("edit.accept", "&Accept Prediction", ("A",)),
    Command("edit.reject", "&Reject Prediction", ("R",)),
    Command(
        "edit.verify",
        "&Verify",
        ("V",),
        tip="Mark the selected person (or the whole frame) checked; never un-verifies",
        guide="Verify (never un-verifies)",
    ),
    Command("edit.unverify", "&Unverify", ("Shift+V",)),
    Command("edit.next_person", "Next Person", ("Tab",)),
    Command("edit.previous_person", "Previous Person", ("Shift+Tab",)),
    # View
    Command("view.fit", "&Fit to Window", ("F",)),
    Command("view.zoom_in", "Zoom &In", ("std:ZoomIn", "+")),
    Command("view.zoom_out", "Zoom &Out", ("std:ZoomOut", "-")),
    Command(
        "view.live_layer",
        "&Live Predictions Over Project",
        ("L",),
        tip="Draw the live model's people, dimmed, behind the stored people of a project frame",
        checkable=True,
        guide="Live Predictions Over Project (on/off)",
    ),
    Command("view.model_panel", "&Model Panel", checkable=True),
    Command("view.heatmaps", "&Heatmaps", ("H",), checkable=True, guide="Heatmaps (show or hide the dock)"),
    Command("view.frames", "F&rames", checkable=True),
    Command("view.review_queue", "Re&view Queue", checkable=True),
    Command("view.instances", "I&nstances", checkable=True),
    Command("view.dataset", "&Dataset", checkable=True),
    # Project
    Command("project.new", "&New Project…", ("std:New",)),
    Command("project.open", "Open &Project…", ("Ctrl+Shift+P",)),
    Command("project.close", "C&lose Project"),
    Command("project.add_images", "Add Images to Project…", ("Ctrl+I",)),
    Command("project.add_folder", "Add Folder to Project…"),
    Command("project.add_video", "Add Video Frames to Project…"),
    Command(
        "project.relink",
        "&Relink Missing Media…",
        tip="Find the project's media files that moved (by name and content, under a folder you choose)",
    ),
    Command("project.next_frame", "Next Project Frame", ("std:MoveToNextPage",)),
    Command("project.previous_frame", "Previous Project Frame", ("std:MoveToPreviousPage",)),
    Command(
        "project.next_to_check",
        "Next Frame to Check",
        ("J",),
        tip="The next project frame with predictions to accept or reject, or suggested and not verified",
    ),
    Command("project.prelabel_frame", "Pre-label This &Frame…", ("Ctrl+L",), guide="Pre-label This Frame"),
    Command(
        "project.prelabel_all", "Pre-label &All Frames…", ("Ctrl+Shift+L",), guide="Pre-label All Frames"
    ),
    Command(
        "project.freeze",
        "&Freeze and Add to Project",
        ("Ctrl+Shift+A",),
        tip="Add the shown video or camera frame with its live predictions to the project",
    ),
    # Training
    Command("training.distil", "&Distil a Student…"),
    Command("training.run_config", "&Run Training Config…"),
    Command("training.monitor", "Training &Monitor", checkable=True),
    # Tracks
    Command(
        "tracks.set_id",
        "Set &Track Id From This Frame On…",
        tip="Give the selected person's track another id in this frame and every later one",
    ),
    Command("tracks.swap", "S&wap Two Tracks From This Frame On…"),
    Command("tracks.merge", "&Merge a Track Into This Person's…"),
    Command("tracks.split", "S&plit This Person's Track Here"),
    Command(
        "tracks.interpolate",
        "&Interpolate From the Previous Keyframe",
        tip="Fill the frames between this person's previous keyframe and this frame (linear per joint)",
    ),
    # Inference
    Command(
        "inference.live", "&Live Inference", ("Ctrl+R",), checkable=True, guide="Live Inference (on/off)"
    ),
    Command(
        "inference.run_on_open",
        "&Run Inference on What I Open",
        tip="Turn live inference on for every image, video, folder or camera you open",
        checkable=True,
    ),
    Command("inference.draw_boxes", "&Draw Person Boxes", ("B",), checkable=True),
    Command("inference.clear_boxes", "&Clear Person Boxes"),
    # Playback
    Command("playback.play", "&Play / Pause", ("K",)),
    Command("playback.next_frame", "&Next Frame", ("Right",)),
    Command("playback.previous_frame", "P&revious Frame", ("Left",)),
    Command("playback.forward_10", "Forward 10 Frames", ("Shift+Right",)),
    Command("playback.back_10", "Back 10 Frames", ("Shift+Left",)),
    Command("playback.jump", "&Jump to Frame…", ("Ctrl+G",)),
)

#: Every command by id.
COMMANDS: dict[str, Command] = {c.id: c for c in _COMMANDS}

#: The submenus whose entries change.
SUBMENUS: dict[str, Submenu] = {
    s.id: s for s in (Submenu("recent_files", "Open &Recent"), Submenu("recent_projects", "Recent Pro&jects"))
}

#: The menu bar, left to right: each menu's title and its entries (command ids, ``SEPARATOR``, or
#: ``SUBMENU_PREFIX`` + a :data:`SUBMENUS` id).
MENUS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("&File", (
        "file.open_image", "file.open_video", "file.open_folder", "file.open_camera", "file.open_annotations",
        "@recent_files", SEPARATOR, "file.export_predictions", SEPARATOR, "file.quit",
    )),
    ("&Edit", (
        "edit.undo", "edit.redo", SEPARATOR,
        "edit.mark_visible", "edit.mark_occluded", "edit.delete_keypoint", "edit.snap", "edit.heatmap_assist",
        SEPARATOR,
        "edit.new_person", "edit.accept_live", "edit.copy_previous", "edit.delete_person", SEPARATOR,
        "edit.accept", "edit.reject", "edit.verify", "edit.unverify", SEPARATOR,
        "edit.next_person", "edit.previous_person",
    )),
    ("&View", (
        "view.fit", "view.zoom_in", "view.zoom_out", "view.live_layer", SEPARATOR,
        "view.model_panel", "view.heatmaps", "view.frames", "view.review_queue", "view.instances", "view.dataset",
    )),
    ("&Project", (
        "project.new", "project.open", "@recent_projects", "project.close", SEPARATOR,
        "project.add_images", "project.add_folder", "project.add_video", "project.relink", SEPARATOR,
        "project.next_frame", "project.previous_frame", "project.next_to_check", SEPARATOR,
        "project.prelabel_frame", "project.prelabel_all", "project.freeze",
    )),
    ("&Training", ("training.distil", "training.run_config", SEPARATOR, "training.monitor")),
    ("Trac&ks", ("tracks.set_id", "tracks.swap", "tracks.merge", "tracks.split", SEPARATOR, "tracks.interpolate")),
    ("&Inference", ("inference.live", "inference.run_on_open", SEPARATOR, "inference.draw_boxes", "inference.clear_boxes")),
    ("&Playback", (
        "playback.play", "playback.next_frame", "playback.previous_frame", "playback.forward_10",
        "playback.back_10", "playback.jump",
    )),
)  # fmt: skip

#: The main toolbar, left to right (command ids and ``SEPARATOR``).
TOOLBAR: tuple[str, ...] = (
    "file.open_image", "file.open_video", "file.open_annotations", SEPARATOR,
    "view.fit", "view.zoom_in", "view.zoom_out", SEPARATOR,
    "inference.live", "inference.draw_boxes",
)  # fmt: skip

#: The order of the user guide's shortcut table: rows of commands that share a line ("Next Frame, Previous
#: Frame"). Every command with keys appears once.
GUIDE_ROWS: tuple[tuple[str, ...], ...] = (
    ("file.open_image",), ("file.open_video",), ("file.open_folder",), ("file.open_annotations",),
    ("file.export_predictions",), ("file.quit",), ("project.new",), ("project.open",), ("project.add_images",),
    ("view.fit",), ("view.zoom_in",), ("view.zoom_out",), ("view.live_layer",), ("view.heatmaps",),
    ("inference.live",), ("inference.draw_boxes",), ("playback.play",),
    ("playback.next_frame", "playback.previous_frame"), ("playback.forward_10", "playback.back_10"),
    ("playback.jump",), ("project.next_frame", "project.previous_frame"), ("project.next_to_check",),
    ("edit.next_person", "edit.previous_person"), ("edit.undo",), ("edit.redo",), ("edit.mark_visible",),
    ("edit.mark_occluded",), ("edit.delete_keypoint",), ("edit.snap",), ("edit.heatmap_assist",),
    ("edit.new_person",), ("edit.delete_person",), ("edit.copy_previous",), ("edit.accept",),
    ("edit.reject",), ("edit.verify",), ("edit.unverify",), ("project.prelabel_frame",),
    ("project.prelabel_all",), ("project.freeze",),
)  # fmt: skip


def command(command_id: str) -> Command:
    """The command ``command_id``; a KeyError names the id (a typo in an owner shows at start-up)."""
    try:
        return COMMANDS[command_id]
    except KeyError:
        raise KeyError(f"no command {command_id!r} in app/command_registry.py") from None


def menu_commands() -> Iterator[tuple[str, str]]:
    """(menu title, command id) for every command placed in a menu, in menu order."""
    for title, entries in MENUS:
        for entry in entries:
            if entry != SEPARATOR and not entry.startswith(SUBMENU_PREFIX):
                yield title, entry
