"""``distilpose train``: load the config, set up the process (group), run the trainer, report failures.

Every failure is also an ``error`` event (message + traceback tail) so a watcher that only reads the
event stream learns why the process ended. User errors (DistilPoseError) are re-raised for the CLI to
print as one line with exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Sequence
from pathlib import Path

from distilpose.errors import DistilPoseError
from distilpose.training.config import check_files, find_config, load_config
from distilpose.training.distributed import init_distributed, shutdown
from distilpose.training.events import EventWriter

DEFAULT_RUNS_DIR = Path("runs")


def default_out_dir(config: str | os.PathLike) -> Path:
    """``runs/<config stem>`` (relative to the working directory)."""
    return DEFAULT_RUNS_DIR / Path(config).stem


def _traceback_tail(exc: BaseException, lines: int = 12) -> str:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return "\n".join(text.rstrip().splitlines()[-lines:])


def train_main(
    config: str | os.PathLike,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    device: str | None = None,
    events: str | None = None,
    show_progress: bool | None = None,
    overrides: Sequence[str] = (),
) -> int:
    """Run one training process; returns the exit code (0 done, 128+signal when stopped by a signal)."""
    out_dir = (Path(out) if out is not None else default_out_dir(config)).absolute()
    target = events if events is not None else str(out_dir / "events.jsonl")
    rank = int(os.environ.get("RANK", "0"))
    writer = EventWriter(target, enabled=rank == 0)
    env = None
    trainer = None
    try:
        env = init_distributed(device)
        cfg = load_config(find_config(config), overrides)
        check_files(cfg)
        from distilpose.training.trainer import Trainer  # heavy imports after the cheap checks

        trainer = Trainer(cfg, out_dir, env, writer, resume=resume, show_progress=show_progress)
        trainer.setup()
        return trainer.train()
    except BaseException as exc:
        step = trainer.state.step if trainer is not None else 0
        epoch = trainer.state.epoch if trainer is not None else 0
        user_error = isinstance(exc, DistilPoseError)
        message = str(exc) if user_error else f"{type(exc).__name__}: {exc}"
        writer.emit(
            "error",
            step,
            epoch,
            message=message,
            kind="user"
            if user_error
            else ("interrupted" if isinstance(exc, KeyboardInterrupt) else "internal"),
            traceback=None if user_error else _traceback_tail(exc),
        )
        traceback.clear_frames(exc.__traceback__)  # its frames' locals hold the DDP wrappers (see shutdown)
        raise
    finally:
        writer.close()
        try:
            if trainer is not None:
                trainer.release()  # the DDP wrappers hold the process group: let them go before it is destroyed
            trainer = None
        finally:
            if env is not None:
                shutdown(env)
