"""Score a finished job's student beside the previous student and the teacher, off the GUI thread.

The models and the validation split come from the job's own config (the split the dialog exported when the
job started), so the table answers "is the new student better than what I use now, and how far from the
teacher" on the project's data. The result is saved beside the job's run output so a reopened project shows
it without recomputing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QThread, Signal

from distilpose.app.workers import _message
from distilpose.compare import (
    COMPARISON_FILE,
    Comparison,
    ComparisonCancelled,
    ModelEntry,
    compare_models,
    is_trained_student,
    save_comparison,
)

NEW_STUDENT = "new student"
PREVIOUS_STUDENT = "previous student"
TEACHER = "teacher"
NO_VAL_SPLIT = "no validation split"


@dataclass
class ComparisonPlan:
    """What to score, or ``note`` saying why nothing can be (no validation split in the config)."""

    models: list[ModelEntry]
    ann: Path | None
    images: Path | None
    note: str = ""


def comparison_file(run_dir: Path) -> Path:
    return Path(run_dir) / COMPARISON_FILE


def plan_comparison(config_path: Path, new_weights: Path, previous: str | None) -> ComparisonPlan:
    """The rows: the job's final student; the previous live model when it is another trained student; the
    job's teacher (its weights file when the config names one). The split: the config's validation data."""
    from distilpose.training.config import load_config

    cfg = load_config(config_path)  # paths resolved against the config's folder, as the trainer did
    models = [ModelEntry(NEW_STUDENT, str(new_weights))]
    if previous and not _same_file(previous, new_weights) and is_trained_student(previous):
        models.append(ModelEntry(PREVIOUS_STUDENT, previous))
    if cfg.teacher is not None:
        models.append(ModelEntry(TEACHER, str(cfg.teacher.weights or cfg.teacher.name)))
    if cfg.data.val_ann is None or cfg.data.val_images is None:
        return ComparisonPlan(models, None, None, f"{NO_VAL_SPLIT}: {config_path} has no data.val_ann")
    return ComparisonPlan(models, Path(cfg.data.val_ann), Path(cfg.data.val_images))


def _same_file(a: str, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


class ComparisonThread(QThread):
    """Runs :func:`plan_comparison` and :func:`~distilpose.compare.compare_models`, then writes the file.

    ``progressed`` carries a status line; ``succeeded`` the saved file; ``failed`` a message (also on
    cancel: :meth:`requestInterruption` stops it between images, and nothing is saved).
    """

    progressed = Signal(int, str)
    succeeded = Signal(int, str)
    failed = Signal(int, str)

    def __init__(
        self,
        job_id: int,
        config_path: Path,
        new_weights: Path,
        previous: str | None,
        out: Path,
        threads: int = 1,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"compare-job-{job_id}")
        self.job_id = job_id
        self.config_path = Path(config_path)
        self.new_weights = Path(new_weights)
        self.previous = previous
        self.out = Path(out)
        self.threads = threads

    def run(self) -> None:
        try:
            plan = plan_comparison(self.config_path, self.new_weights, self.previous)
            if plan.ann is None or plan.images is None:
                comparison = Comparison(note=plan.note)
            else:
                self.progressed.emit(
                    self.job_id, f"Comparing {len(plan.models)} models on the validation split…"
                )
                rows = compare_models(
                    plan.models,
                    plan.ann,
                    plan.images,
                    threads=self.threads,
                    progress=self._progress,
                    should_stop=self.isInterruptionRequested,
                )
                comparison = Comparison(rows, ann=str(plan.ann))
            if self.isInterruptionRequested():  # e.g. the job is re-run: its run folder is not ours any more
                raise ComparisonCancelled("comparison cancelled")
            save_comparison(self.out, comparison)
        except ComparisonCancelled:
            self.failed.emit(self.job_id, "comparison cancelled")
        except Exception as exc:
            self.failed.emit(self.job_id, _message(exc))
        else:
            self.succeeded.emit(self.job_id, str(self.out))

    def _progress(self, label: str, done: int, total: int) -> None:
        self.progressed.emit(
            self.job_id, f"Comparing on the validation split: {label}, image {done}/{total}…"
        )
