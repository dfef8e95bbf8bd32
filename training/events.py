"""JSON-lines training events: the contract between a training process and whoever watches it (the app).

One object per line, flushed per line, always with ``type``, ``time``, ``step`` and ``epoch``. Types:
start, step, epoch, eval, checkpoint, done, error. ``start`` carries ``format_version`` so readers can
refuse a format they do not know. Non-finite floats become ``null`` (JSON has no NaN).
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import IO, Any

#: Bump when a field changes meaning or disappears (adding fields does not need a bump).
EVENTS_FORMAT_VERSION = 1
EVENT_TYPES = ("start", "step", "epoch", "eval", "checkpoint", "done", "error")


class StepClock:
    """Seconds per training step as an exponential average, for a steady ETA (``step`` events' ``eta_s``).

    Each step's own time jumps (data loading, a checkpoint, an evaluation at an epoch's end), and an ETA read
    from the last few steps jumped with it by minutes. A window of ``n`` steps taking ``seconds`` counts as
    ``n`` updates of factor ``alpha`` each: the estimate follows a real change of speed within ~1/alpha steps
    whatever the logging interval.
    """

    def __init__(self, alpha: float = 0.05) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self.seconds_per_step: float | None = None

    def update(self, seconds: float, steps: int) -> float:
        """Add a window of ``steps`` steps that took ``seconds``; returns the averaged seconds per step."""
        per_step = max(float(seconds), 0.0) / max(int(steps), 1)
        if self.seconds_per_step is None:
            self.seconds_per_step = per_step
        else:
            keep = (1.0 - self.alpha) ** max(int(steps), 1)
            self.seconds_per_step = keep * self.seconds_per_step + (1.0 - keep) * per_step
        return self.seconds_per_step

    def eta(self, remaining_steps: int) -> float | None:
        """Seconds left for ``remaining_steps`` more steps (None before the first update)."""
        if self.seconds_per_step is None:
            return None
        return max(int(remaining_steps), 0) * self.seconds_per_step


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _jsonable(value.item())
    return value


def _ends_mid_line(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    with open(path, "rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) != b"\n"


class EventWriter:
    """Writes events to a file (appending, so a resumed run continues its log) or to stdout (``-``).

    A disabled writer (non-zero DDP ranks) accepts and drops everything, so callers never branch.
    """

    def __init__(self, target: str | Path | None, enabled: bool = True):
        self.target = target
        self.enabled = enabled and target is not None
        self._handle: IO[str] | None = None
        self._owns = False
        if not self.enabled:
            return
        if str(target) == "-":
            self._handle = sys.stdout
        else:
            path = Path(target)  # type: ignore[arg-type]
            path.parent.mkdir(parents=True, exist_ok=True)
            torn = _ends_mid_line(path)
            self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the writer
            if torn:  # a killed writer left half a line: end it so the next event stays parseable
                self._handle.write("\n")
            self._owns = True

    @property
    def to_stdout(self) -> bool:
        return self.enabled and str(self.target) == "-"

    def emit(self, type_: str, step: int, epoch: int, **fields: Any) -> dict[str, Any] | None:
        if type_ not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type_!r}")
        if not self.enabled or self._handle is None:
            return None
        event = {"type": type_, "time": time.time(), "step": int(step), "epoch": int(epoch)}
        event.update(_jsonable(fields))
        self._handle.write(json.dumps(event, allow_nan=False) + "\n")
        self._handle.flush()
        return event

    def close(self) -> None:
        if self._owns and self._handle is not None:
            self._handle.close()
        self._handle = None

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """All complete events in a file (a torn last line from a killed writer is ignored)."""
    events = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events
