"""The PySide6 6.12 work-around: on CPython 3.11 the binding drops references to None and True it never took
(one per ``undo_stack.undo()``, ``action.setEnabled()``, ``signal.emit()`` ...); importing the app makes
those singletons immortal, as CPython 3.12 does, so a long session cannot abort the interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from distilpose.app import compat

CALLS = textwrap.dedent(
    """
    import sys
    {prelude}
    from PySide6.QtCore import QCoreApplication, QObject, Signal
    from PySide6.QtGui import QUndoStack
    app = QCoreApplication([])
    class Probe(QObject):
        ping = Signal(int)
    probe, stack = Probe(), QUndoStack()
    for i in range(200_000):  # far more than the references None and True start with
        probe.ping.emit(i)
        stack.undo()
    import gc
    gc.collect()
    print("survived")
    """
)


def _run(prelude: str) -> subprocess.CompletedProcess:
    code = CALLS.format(prelude=prelude)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_singletons_are_immortal_after_importing_the_app() -> None:
    if not compat.needs_immortal_singletons():
        assert compat.make_singletons_immortal() == []
        return
    for obj in compat.SINGLETONS:
        assert sys.getrefcount(obj) >= compat.IMMORTAL_REFCNT // 2


def test_many_binding_calls_survive_with_the_work_around() -> None:
    done = _run("import distilpose.app")
    assert done.returncode == 0 and done.stdout.strip() == "survived", done.stderr[-2000:]


def test_the_work_around_is_still_needed() -> None:
    """Fails when a fixed binding (or CPython 3.12+) makes the work-around unnecessary: then remove it."""
    if not compat.needs_immortal_singletons():
        return
    done = _run("")
    assert done.returncode != 0 and "dealloc" in done.stderr, (
        "PySide6 no longer drops references to None/True: distilpose.app.compat can go"
    )
