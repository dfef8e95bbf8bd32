"""Recently opened files and folders, kept in a small JSON file in the user's config folder.

A JSON file rather than QSettings: it is written atomically, readable by a person, and tests point it at a
temp folder with ``DISTILPOSE_STUDIO_CONFIG`` instead of touching the user's real settings.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import platformdirs

from distilpose.atomic import atomic_write_json

MAX_RECENT = 10


def config_dir() -> Path:
    """``$DISTILPOSE_STUDIO_CONFIG`` if set, else the user config folder (``~/.config/distilpose-studio``)."""
    env = os.environ.get("DISTILPOSE_STUDIO_CONFIG", "").strip()
    return Path(env).expanduser() if env else Path(platformdirs.user_config_dir("distilpose-studio"))


class RecentFiles:
    """Most recent first, no duplicates, at most ``limit`` entries; a damaged file is treated as empty."""

    def __init__(self, path: Path | None = None, limit: int = MAX_RECENT) -> None:
        self.path = path if path is not None else config_dir() / "recent.json"
        self.limit = limit
        self.entries: list[Path] = self._load()

    def _load(self) -> list[Path]:
        with contextlib.suppress(OSError, ValueError, TypeError):
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            return [Path(p) for p in doc.get("recent", []) if isinstance(p, str)][: self.limit]
        return []

    def add(self, path: str | os.PathLike) -> None:
        p = Path(path).resolve()
        self.entries = [p] + [e for e in self.entries if e != p]
        del self.entries[self.limit :]
        self._save()

    def existing(self) -> list[Path]:
        """Entries still on disk (a moved file is not offered)."""
        return [p for p in self.entries if p.exists()]

    def clear(self) -> None:
        self.entries = []
        self._save()

    def _save(self) -> None:
        with contextlib.suppress(OSError):  # a read-only config folder must not break opening files
            atomic_write_json(self.path, {"recent": [str(p) for p in self.entries]}, indent=1)
