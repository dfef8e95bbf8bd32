"""Work-around for the Qt binding on CPython 3.11, applied once when ``distilpose.app`` is imported.

PySide6 6.12.0 (stable-ABI wheels) returns ``None``, ``True`` and ``False`` from many calls without taking a
reference, as CPython 3.12+ allows for its immortal singletons: every ``action.trigger()``,
``undo_stack.undo()``, ``widget.setEnabled(...)`` and ``signal.emit(...)`` made from Python code drops one
reference it never took. On 3.12+ nothing happens; on 3.11 the count of ``None`` or ``True`` reaches zero
after some thousands of such calls and the interpreter aborts ("Fatal Python error: none_dealloc" /
"bool_dealloc"), typically in garbage collection after a long session or test run.

The work-around gives those three singletons the reference count CPython 3.12 gives immortal objects, so
the missing references never matter; that is exactly the invariant the binding was compiled for. Nothing is
done on 3.12+ or on other interpreters.
"""

from __future__ import annotations

import ctypes
import sys

#: CPython 3.12's immortal reference count on 64-bit builds: far from zero and from overflow either way.
IMMORTAL_REFCNT = (1 << 32) - 1
SINGLETONS = (None, True, False)


def needs_immortal_singletons() -> bool:
    return sys.implementation.name == "cpython" and sys.version_info < (3, 12)


def make_singletons_immortal() -> list[object]:
    """Raise the reference count of None, True and False to :data:`IMMORTAL_REFCNT` (CPython < 3.12 only);
    returns the objects changed."""
    if not needs_immortal_singletons():
        return []
    changed = []
    for obj in SINGLETONS:
        refcnt = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field of every PyObject
        if refcnt.value < IMMORTAL_REFCNT // 2:
            refcnt.value = IMMORTAL_REFCNT
            changed.append(obj)
    return changed


def apply() -> None:
    make_singletons_immortal()
