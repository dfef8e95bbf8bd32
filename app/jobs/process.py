"""Starting, finding and stopping a training process, independent of Qt.

Each job runs in its own session (``start_new_session``): its process group id is its pid, so Cancel can
signal the whole tree (data-loader workers included) and an app restart can still find it by pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

#: The flag a frozen ``distilpose-studio`` understands as "run the ``distilpose train`` CLI instead".
RUN_TRAIN_FLAG = "--run-train"


def train_command(config: Path, out: Path, events: Path, resume: bool = False) -> list[str]:
    """The argv for one job: ``python -m distilpose.cli train ...``, or the frozen app re-invoking itself."""
    if getattr(sys, "frozen", False):
        head = [sys.executable, RUN_TRAIN_FLAG]
    else:
        head = [sys.executable, "-m", "distilpose.cli", "train"]
    argv = [*head, str(config), "--out", str(out), "--events", str(events), "--no-progress"]
    return [*argv, "--resume"] if resume else argv


def spawn(argv: list[str], log_path: Path) -> subprocess.Popen:
    """Start ``argv`` in a new session with stdout and stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:  # the child keeps its own descriptor; ours can close
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )


def _proc_state(pid: int) -> str | None:
    """The one-letter state from /proc (``Z`` = zombie); None when /proc has no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split()[0]


def is_job_process(pid: int | None, config: str | os.PathLike) -> bool:
    """Is ``pid`` alive and running this job's config? A recycled pid running something else is not."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: a recycled pid
    if not Path("/proc").is_dir():  # no /proc (macOS, Windows): trust the pid
        return True
    if _proc_state(pid) in (None, "Z", "X"):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return os.fsencode(str(config)) in cmdline


def signal_tree(pid: int, sig: int) -> bool:
    """Send ``sig`` to the job's process group; False when it is already gone."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def describe_exit(code: int | None) -> str:
    """``exit code 2`` / ``killed by SIGKILL (exit code -9)`` for the job list and error messages."""
    if code is None:
        return "exit code unknown (the process was not started by this window)"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name} (exit code {code})"
    if code > 128:
        try:
            return f"exit code {code} (stopped by {signal.Signals(code - 128).name})"
        except ValueError:
            pass
    return f"exit code {code}"


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a job's log (read from the end: logs can be long)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 16384))
            data = fh.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").rstrip().splitlines()[-lines:])
