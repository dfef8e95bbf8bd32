"""SIGKILL safety through the GUI path: a process that edits the project with the app's own undo commands is
killed mid-way; every edit it reported as done is in the file when it is opened again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import cv2
import numpy as np

from distilpose.app.annotate.template import template_instance
from distilpose.project import ProjectStore

EDITOR_SCRIPT = textwrap.dedent(
    """
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication
    from distilpose.app.annotate import commands
    from distilpose.app.state import AppState

    app = QApplication([])
    state = AppState()
    state.open_project(sys.argv[1])
    state.go_to_position(0)
    frame_id, iid = state.frame_id, state.instances[0].extras["id"]
    print("ready", flush=True)
    for i in range(100_000):
        command = commands.move_keypoint(frame_id, iid, i % 17, 1000.0 + i, 2000.0 + i)
        if not state.push(command):
            sys.exit(f"edit {i} failed")
        print(i + 1, flush=True)  # printed only after the store committed the edit
    """
)
KILL_AFTER = 40


def test_killed_editor_loses_no_completed_edit(tmp_path) -> None:
    image = tmp_path / "frame.png"
    assert cv2.imwrite(str(image), np.zeros((64, 48, 3), np.uint8))
    path = tmp_path / "kill.dpproj"
    with ProjectStore.create(path) as store:
        media = store.add_media(image)
        frame = store.add_frame(media, 0)
        iid = store.add_instance(frame, template_instance((0, 0, 40, 60)))
    script = tmp_path / "editor.py"
    script.write_text(EDITOR_SCRIPT, encoding="utf-8")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    done = 0
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        while done < KILL_AFTER:
            line = proc.stdout.readline()
            assert line, f"the editor stopped early: {proc.stderr.read()}"
            done = int(line)
        os.kill(proc.pid, signal.SIGKILL)
        for line in proc.stdout:  # lines printed before the kill landed
            done = int(line)
    finally:
        proc.kill()
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    with ProjectStore.open(path) as store:
        kp = store.instance(iid).keypoints
        history = [e for e in store.history() if e.op == "move_keypoint"]
    assert len(history) in (done, done + 1)  # the edit in flight at the kill may have committed too
    for k in range(17):
        last = max(i for i in range(done) if i % 17 == k)  # the last reported edit of joint k
        in_flight = done if done % 17 == k else None
        allowed = [(1000.0 + last, 2000.0 + last)] + (
            [(1000.0 + in_flight, 2000.0 + in_flight)] if in_flight else []
        )
        assert tuple(kp[k, :2]) in allowed, (k, kp[k], allowed)
        assert kp[k, 2] == 2
