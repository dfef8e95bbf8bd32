"""The report of a finished job, computed off the GUI thread: its student beside the student it started
from, MoveNet Lightning and the teacher on the job's val split, and their live FPS on a project video.

The work is the Qt-free :func:`distilpose.training.project_report.make_report`, the same as at the end of
`distilpose project distil`; the result is ``report.json`` in the job folder, so a reopened project shows it
without recomputing.
"""

from __future__ import annotations

from pathlib import Path

from distilpose.app.tasks import BackgroundTask
from distilpose.training.project_report import BENCH_FRAMES, make_report


def comparison_task(
    job_id: int,
    config_path: Path,
    new_weights: Path,
    out: Path,
    *,
    video: str | None = None,
    name: str = "",
    frames: int = BENCH_FRAMES,
    parent=None,
) -> BackgroundTask:
    """A task running :func:`make_report` into ``out``: ``status`` carries a line, ``succeeded`` the saved
    file; :meth:`BackgroundTask.cancel` stops it between images, and nothing is saved."""

    def progress(label: str, done: int, total: int) -> None:
        task.say(f"Scoring on the validation split: {label}, image {done}/{total}…")

    def work(task: BackgroundTask) -> str:
        task.say("Scoring the new student, its start, Lightning and the teacher…")
        make_report(
            Path(config_path),
            Path(new_weights),
            Path(out),
            video=video,
            name=name,
            frames=frames,
            progress=progress,
            should_stop=task.is_cancelled,
        )
        return str(out)

    task = BackgroundTask(f"report-job-{job_id}", work, parent)
    return task
