"""Incremental reader of a job's ``events.jsonl``: each poll reads only the bytes added since the last one.

A writer may be caught mid-line (or killed there), so an unterminated last line is kept back until its
newline arrives; a line that never parses (a torn line the next writer ended) is skipped, as in
``distilpose.training.events.read_events``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: Most bytes read per poll, so a huge backlog (reattaching to a long run) never stalls the GUI thread.
CHUNK_BYTES = 1 << 20


class EventTail:
    """Follows one event file from ``offset`` (0 = the beginning)."""

    def __init__(self, path: str | Path, offset: int = 0) -> None:
        self.path = Path(path)
        self.offset = offset
        self._partial = b""

    def poll(self) -> list[dict[str, Any]]:
        """The complete events written since the last call (an empty list when nothing new)."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read(CHUNK_BYTES)
        except FileNotFoundError:
            return []
        if not data:
            return []
        self.offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()  # b"" when the data ended with a newline
        events = []
        for line in lines:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(event, dict) and "type" in event:
                events.append(event)
        return events
