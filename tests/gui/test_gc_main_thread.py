"""Garbage is collected on the GUI thread, never by a worker's allocation (app/gc_main_thread.py)."""

from __future__ import annotations

import gc
import threading
import weakref

from distilpose.app import gc_main_thread


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_collection_happens_on_the_gui_thread_only(qtbot, qapp) -> None:
    collector = gc_main_thread.install(qapp)
    assert gc_main_thread.install(qapp) is collector  # once per application
    assert not gc.isenabled()  # a worker's allocations can no longer trigger a collection

    collected_on: list[str] = []
    dead = []

    def in_a_worker() -> None:  # allocate far past the threshold: nothing is collected here
        garbage = _Cycle()
        dead.append(weakref.ref(garbage, lambda _ref: collected_on.append(threading.current_thread().name)))
        del garbage
        junk = [_Cycle() for _ in range(3 * gc.get_threshold()[0])]
        del junk

    worker = threading.Thread(target=in_a_worker, name="worker")
    worker.start()
    worker.join()
    assert dead[0]() is not None and collected_on == []

    qtbot.waitUntil(lambda: dead[0]() is None, timeout=5000)  # the GUI thread's timer collected it
    assert collected_on == [threading.main_thread().name]

    gc_main_thread.uninstall()
    assert gc.isenabled() and qapp.findChild(gc_main_thread.MainThreadCollector) is None
