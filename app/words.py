"""The words the window uses for people and frames, in one place (issue 25, item 7): the status vocabulary
with its legend, what a person is called, and plurals.

Frames and people share one vocabulary, so the Frames list, the Instances dock, the status bar and the guide
say the same thing: *to check* (a model's prediction nobody accepted yet, or a frame holding one),
*labelled* (drawn or edited by a person, not verified yet) and *verified* (checked by a person; an accepted
prediction is verified). A frame with nobody on it is *empty*; a COCO file's people are *from file*.
"""

from __future__ import annotations

TO_CHECK, LABELLED, VERIFIED, EMPTY, FROM_FILE = "to check", "labelled", "verified", "empty", "from file"

#: Status -> (what it means, RGB colour); the order is the legend's.
STATUS_MEANING: dict[str, tuple[str, tuple[int, int, int]]] = {
    TO_CHECK: ("a model's guess, not accepted yet (A / R)", (230, 160, 0)),
    LABELLED: ("drawn or edited, not verified yet", (90, 160, 230)),
    VERIFIED: ("checked by a person (accepting verifies)", (70, 180, 70)),
    EMPTY: ("nobody on the frame", (150, 150, 150)),
    FROM_FILE: ("a COCO file's person (read-only)", (150, 150, 150)),
}
#: How a frame's status follows from its people (the Frames list's legend says it).
FRAME_RULE = "A frame has the status of its least-checked person."


def status_color(status: str) -> tuple[int, int, int]:
    return STATUS_MEANING.get(status, ("", (150, 150, 150)))[1]


def legend_html(statuses: tuple[str, ...] = (TO_CHECK, LABELLED, VERIFIED)) -> str:
    """The statuses in their colours, one short line for a dock's legend (what each means: the tooltip)."""
    words = []
    for status in statuses:
        r, g, b = STATUS_MEANING[status][1]
        words.append(f'<span style="color: rgb({r},{g},{b}); font-weight: bold">{status}</span>')
    return "Status: " + " · ".join(words)


def legend_tooltip(statuses: tuple[str, ...] = (TO_CHECK, LABELLED, VERIFIED), rule: str = "") -> str:
    """What each status of the legend means (and how a frame's follows from its people)."""
    lines = [f"{status}: {STATUS_MEANING[status][0]}" for status in statuses]
    return "\n".join([*lines, rule] if rule else lines)


def person_name(position: int, track_id: int | None) -> str:
    """What a person is called in the docks and on the canvas: ``track 3`` when it has an id (a person of a
    tracked video), else ``person 2`` (its position in the frame, counted from 0 like every number here)."""
    return f"track {track_id}" if track_id is not None else f"person {position}"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 step``, ``2 steps``, ``0 people`` (``many`` for irregular plurals)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
