"""Kill safety: a process editing a project is SIGKILLed mid-loop; every edit it reported as done is in the
project when it is opened again, and the file passes SQLite's integrity check."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from distilpose.project.store import ProjectStore

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

# Each round: add an instance (track id n, keypoints at x = n), then move its nose to (n + 0.5, -1); print
# n + 1 once both edits returned (both are committed by then).
EDITOR = textwrap.dedent(
    """
    import sys
    import numpy as np
    from distilpose.project.store import ProjectStore
    from distilpose.types import Instance

    store = ProjectStore.open(sys.argv[1])
    frame = int(sys.argv[2])
    n = int(sys.argv[3])
    while True:
        kp = np.zeros((17, 3))
        kp[:, 0] = n
        kp[:, 1] = np.arange(17)
        kp[:, 2] = 2
        iid = store.add_instance(frame, Instance(kp, track_id=n))
        store.move_keypoint(iid, 0, n + 0.5, -1.0)
        n += 1
        print(n, flush=True)
    """
)


def _run_and_kill(path, frame: int, start: int, at_least: int) -> int:
    """Start the editor, SIGKILL it once it reported ``at_least`` more edits; the last count it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", EDITOR, str(path), str(frame), str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    last = start
    deadline = time.monotonic() + 60
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            last = int(line)
            if last >= start + at_least or time.monotonic() > deadline:
                break
        os.kill(proc.pid, signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    for line in rest.split():  # counts printed between our last read and the kill
        last = int(line)
    assert proc.returncode == -signal.SIGKILL, err
    return last


def test_sigkill_loses_no_reported_edit(tmp_path):
    path = tmp_path / "k.dpproj"
    with ProjectStore.create(path) as store:
        frame = store.add_frame(store.add_media(tmp_path / "a.jpg", must_exist=False))
    reported = 0
    for rnd, count in enumerate((25, 40, 10)):  # three kills, each at a different point of the loop
        with ProjectStore.open(path) as store:
            start = store.counts()["instances"]
        reported = _run_and_kill(path, frame, start, count)
        assert reported >= start + count
        with ProjectStore.open(path) as store:
            insts = store.instances(frame)
            tracks = sorted(i.track_id for i in insts)
            # every reported edit is there; at most the add of the one after it committed too
            assert tracks[:reported] == list(range(reported)), rnd
            assert len(insts) in (reported, reported + 1)
            for inst in insts:
                n = inst.track_id
                if n < reported:  # its move was reported as done
                    assert tuple(inst.keypoints[0]) == (n + 0.5, -1.0, 2.0)
                np.testing.assert_array_equal(inst.keypoints[1:, 0], np.full(16, float(n)))
            if len(insts) == reported + 1:  # the last add made it but its move did not: undo-able leftovers
                store.delete_instance(max(insts, key=lambda i: i.track_id).extras["id"])
            assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn = sqlite3.connect(str(path))  # a plain SQLite client reads the result too
    assert conn.execute("SELECT COUNT(*) FROM instances").fetchone()[0] == reported
    conn.close()
