"""Docks that redraw from the project store only while someone can see them.

A hidden dock that re-queried the store on every edit would tax each keystroke for nothing; it marks itself
dirty instead and refreshes when shown.
"""

from __future__ import annotations


class RefreshWhenVisible:
    """Mixin for a QDockWidget with a ``refresh()``: call ``watch_store(state)`` once from ``__init__``."""

    _dirty = True

    def watch_store(self, state) -> None:
        state.storeChanged.connect(self._store_changed)
        self.visibilityChanged.connect(self._on_visible)

    def _store_changed(self) -> None:
        if self.isVisible():
            self.refresh()
        else:
            self._dirty = True

    def _on_visible(self, visible: bool) -> None:
        if visible and self._dirty:
            self.refresh()

    def refresh(self) -> None:  # pragma: no cover - provided by the dock
        raise NotImplementedError
