"""The one background-task helper (app/tasks.py): each task ends with exactly one of succeeded, failed or
cancelled, with a message a person can act on."""

from __future__ import annotations

import threading

import pytest

from distilpose.app.tasks import BackgroundTask, TaskCancelled
from distilpose.errors import DistilPoseError

WAIT_MS = 30_000


def _ends(qtbot, task: BackgroundTask) -> list[tuple[str, object]]:
    """Run ``task`` and return every ending signal it sent, in order."""
    seen: list[tuple[str, object]] = []
    task.succeeded.connect(lambda r: seen.append(("succeeded", r)))
    task.failed.connect(lambda m: seen.append(("failed", m)))
    task.cancelled.connect(lambda m: seen.append(("cancelled", m)))
    with qtbot.waitSignal(task.finished, timeout=WAIT_MS):
        task.start()
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT_MS)
    return seen


def test_the_result_arrives_in_the_gui_thread_with_progress_first(qtbot) -> None:
    calls: list[str] = []

    def work(task: BackgroundTask) -> int:
        calls.append(threading.current_thread().name)
        task.report(1, 2)
        task.say("half way")
        return 42

    task = BackgroundTask("probe", work)
    progress: list[tuple[int, int]] = []
    status: list[str] = []
    task.progress.connect(lambda d, t: progress.append((d, t)))
    task.status.connect(status.append)
    assert _ends(qtbot, task) == [("succeeded", 42)]
    assert progress == [(1, 2)] and status == ["half way"]
    assert calls and calls[0] != threading.main_thread().name  # the work ran off the GUI thread
    assert task.objectName() == "probe"


@pytest.mark.parametrize(
    "error, message",
    [
        (DistilPoseError("clip.mp4: not a readable video"), "clip.mp4: not a readable video"),
        (OSError(28, "No space left on device", "/data/out.json"), "/data/out.json: No space left on device"),
        (ZeroDivisionError("division by zero"), "unexpected error: ZeroDivisionError: division by zero"),
    ],
)
def test_a_failure_ends_in_one_message_that_names_the_problem(qtbot, error, message) -> None:
    def work(_task: BackgroundTask) -> None:
        raise error

    assert _ends(qtbot, BackgroundTask("probe", work)) == [("failed", message)]


def test_cancel_is_seen_by_the_work_and_ends_as_cancelled(qtbot) -> None:
    started, go_on = threading.Event(), threading.Event()

    def work(task: BackgroundTask) -> None:
        started.set()
        go_on.wait(WAIT_MS / 1000)
        task.check_cancelled()
        raise AssertionError("check_cancelled did not stop the work")

    task = BackgroundTask("probe", work)
    seen: list[tuple[str, object]] = []
    task.cancelled.connect(lambda m: seen.append(("cancelled", m)))
    task.failed.connect(lambda m: seen.append(("failed", m)))
    with qtbot.waitSignal(task.finished, timeout=WAIT_MS):
        task.start()
        assert started.wait(WAIT_MS / 1000)
        task.cancel()
        assert task.is_cancelled()
        go_on.set()
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT_MS)
    assert seen == [("cancelled", "cancelled")]


class _LibraryStopped(Exception):
    """A library's own "the caller asked me to stop" error."""


def test_a_library_s_own_cancel_error_ends_as_cancelled_with_its_words(qtbot) -> None:
    def work(_task: BackgroundTask) -> None:
        raise _LibraryStopped("export stopped at frame 12 of 40")

    task = BackgroundTask("probe", work, cancel_types=(_LibraryStopped,))
    assert _ends(qtbot, task) == [("cancelled", "export stopped at frame 12 of 40")]
    plain = BackgroundTask("probe", lambda _t: (_ for _ in ()).throw(TaskCancelled("user stop")))
    assert _ends(qtbot, plain) == [("cancelled", "user stop")]
